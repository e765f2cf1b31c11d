"""persistence checks (see docs/checks/persistence.md)."""
