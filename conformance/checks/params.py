"""params checks (see docs/checks/params.md)."""
