"""The one tolerance policy every comparing check uses.

Comparisons come in kinds. ``bitwise`` kinds (same process, same device: refits with one seed,
pickle round-trips, repeated calls) demand identical bytes. Float-aware kinds allow what a
correct float model legitimately varies by: BLAS kernels block differently for other batch
sizes or thread counts, and GPUs use other reduction orders. Their tolerance is a multiple of
the output dtype's machine epsilon, scaled by the magnitude of the reference output::

    |observed - expected| <= rtol * |expected| + atol * max(1, max|expected|)

so a float32 model is never failed for 1-ulp differences while a float64 estimator that
silently computes in float32 is. An estimator may override a kind through its
``__conformance_tags__`` (``{"tolerances": {"threads": {"rtol": 1e-4, "atol": 1e-6}}}``);
the check's message then says an override was used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Multiples of the dtype's epsilon, per comparison kind: (rtol factor, atol factor).
FLOAT_AWARE = {
    "batch": (64, 64),  # other rows in the same call, other batch sizes, row order
    "threads": (64, 64),  # torch.set_num_threads(1) versus more
    "process": (0, 0),  # a fresh process on the same machine: bitwise
    "device": (2048, 2048),  # CPU versus CUDA, TF32 off
}
BITWISE = ("bitwise",)


@dataclass(frozen=True)
class Tolerance:
    kind: str
    rtol: float
    atol: float
    overridden: bool = False

    @property
    def exact(self) -> bool:
        return self.rtol == 0 and self.atol == 0

    def describe(self) -> str:
        if self.exact:
            text = "bitwise equality"
        else:
            text = f"rtol={self.rtol:.3g}, atol={self.atol:.3g} (x max(1, max|expected|))"
        return text + (" [tolerance override from the estimator's tags]" if self.overridden else "")


def tolerance_for(kind: str, dtype, overrides: dict | None = None) -> Tolerance:
    """The tolerance for comparing outputs of ``dtype`` in a comparison of ``kind``."""
    if overrides and kind in overrides:
        given = overrides[kind]
        return Tolerance(kind, float(given.get("rtol", 0.0)), float(given.get("atol", 0.0)), True)
    if kind in BITWISE:
        return Tolerance(kind, 0.0, 0.0)
    if kind not in FLOAT_AWARE:
        raise ValueError(f"unknown comparison kind {kind!r}; known: {sorted(FLOAT_AWARE) + list(BITWISE)}")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        return Tolerance(kind, 0.0, 0.0)
    eps = float(np.finfo(dtype).eps)
    rtol_factor, atol_factor = FLOAT_AWARE[kind]
    return Tolerance(kind, rtol_factor * eps, atol_factor * eps)


def mismatch(observed, expected, tolerance: Tolerance) -> str | None:
    """``None`` when the arrays agree within ``tolerance``, else a one-line description."""
    observed = np.asarray(observed)
    expected = np.asarray(expected)
    if observed.shape != expected.shape:
        return f"shapes differ: {observed.shape} versus {expected.shape}"
    if tolerance.exact or not np.issubdtype(expected.dtype, np.floating):
        if np.array_equal(observed, expected, equal_nan=expected.dtype.kind in "fc"):
            return None
        if expected.dtype.kind in "fc":
            diff = np.abs(observed.astype(np.float64) - expected.astype(np.float64))
            return f"not bitwise equal: {np.count_nonzero(diff)} of {diff.size} values differ, max |diff| {np.nanmax(diff):.3g}"
        return f"{np.count_nonzero(observed != expected)} of {expected.size} values differ"
    obs = observed.astype(np.float64)
    exp = expected.astype(np.float64)
    scale = max(1.0, float(np.nanmax(np.abs(exp)))) if exp.size else 1.0
    allowed = tolerance.rtol * np.abs(exp) + tolerance.atol * scale
    diff = np.abs(obs - exp)
    bad = ~(diff <= allowed) & ~(np.isnan(obs) & np.isnan(exp))
    if not bad.any():
        return None
    return (f"{int(bad.sum())} of {bad.size} values differ beyond {tolerance.describe()}; "
            f"max |diff| {float(np.nanmax(diff)):.3g}")
