"""Which checks run on an estimator: sklearn's for it, then every registered check that applies."""

from __future__ import annotations

import fnmatch

from conformance.checks.sklearn_checks import sklearn_checks
from conformance.registry import registered_checks


def plan(target, select: list[str] | None = None) -> list:
    """The entries to run on ``target``, in a stable order; ``select`` filters ids by glob."""
    profile = target.get_profile()
    entries = sklearn_checks(target) + [c for c in registered_checks() if c.applies(profile)]
    if select:
        entries = [e for e in entries if any(fnmatch.fnmatchcase(e.id, pattern) for pattern in select)]
    return entries
