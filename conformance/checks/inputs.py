"""inputs checks (see docs/checks/inputs.md)."""
