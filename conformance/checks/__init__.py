"""The suite's own checks, one module per concern; importing this package registers them all."""

from conformance.checks import (  # noqa: F401
    determinism,
    devices,
    hygiene,
    inputs,
    params,
    persistence,
)
