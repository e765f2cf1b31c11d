"""devices checks (see docs/checks/devices.md)."""
