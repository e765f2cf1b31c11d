"""The suite's own checks, one module per concern; importing this package registers them all.

Each check module imports shared helpers from :mod:`conformance.checks._support` and the
suite's core modules, never another check module. ``sklearn_checks`` registers a provider that
expands into sklearn's own checks for each estimator.
"""

from conformance.checks import (  # noqa: F401
    determinism,
    devices,
    hygiene,
    inputs,
    params,
    persistence,
    sklearn_checks,
)
