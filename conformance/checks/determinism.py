"""determinism checks (see docs/checks/determinism.md)."""
