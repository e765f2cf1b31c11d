"""The one tolerance policy every comparing check uses.

Comparisons come in kinds. The exact kinds demand identical bytes: ``bitwise`` (same process,
same device: refits with one seed, pickle round-trips, repeated calls) and ``process`` (a fit
in a fresh interpreter on the same machine with the same thread count: nothing legitimate
changes the arithmetic). The float-aware kinds allow what a correct float model legitimately
varies by:

============  ===================================================================  ===========
kind          what differs                                                         eps factor
============  ===================================================================  ===========
``batch``     other rows in the same call, other batch sizes, row order            64
``threads``   ``torch.set_num_threads(1)`` versus more (reductions split in chunks) 64
``device``    the same fitted weights predicting on another device (CPU/CUDA)       2048
``device_fit``  a whole fit on another device, same seed, TF32 off                 8192
============  ===================================================================  ===========

The tolerance is the factor times the output dtype's machine epsilon, for both the relative
and the absolute part, the absolute part scaled by the magnitude of the reference output::

    |observed - expected| <= rtol * |expected| + atol * max(1, max|expected|)

so a float32 model is never failed for a few ulps while a float64 estimator that silently
computes in float32 is (float64 ``threads`` allows 1.4e-14; float32 arithmetic gives ~1e-7).
For a torch-backed estimator the epsilon is that of the precision its module computes in, when
that is coarser than the output's (:func:`effective_dtype`): a float32 network returning float64
arrays is judged by float32's epsilon.
Integer and label outputs are compared exactly under every kind; checks comparing across
threads or devices compare the continuous outputs (``predict_proba``, ``decision_function``)
where an estimator has them, since a label may legitimately flip for a point on the boundary.

Overrides
---------
An estimator may replace a kind's tolerance through its ``__conformance_tags__``::

    {"tolerances": {"device_fit": {"rtol": 1e-3, "atol": 1e-5}}}

and a project may do the same in its ``pyproject.toml``, for every estimator or for one class::

    [tool.conformance.tolerances]
    threads = {rtol = 1e-5, atol = 1e-6}          # every estimator
    [tool.conformance.tolerances.MyNet]
    device_fit = {rtol = 1e-3, atol = 1e-4}       # only estimators of class MyNet

The estimator's tag wins over the class's table, which wins over the project-wide one (see
:func:`merge_overrides`). A check's message says when an override was used and where it came
from, so a loosened tolerance is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Multiples of the dtype's epsilon, per float-aware comparison kind: (rtol factor, atol factor).
FLOAT_AWARE = {
    "batch": (64, 64),
    "threads": (64, 64),
    "device": (2048, 2048),
    "device_fit": (8192, 8192),
}
EXACT = ("bitwise", "process")
BITWISE = EXACT  # old name, kept for callers
KNOWN_KINDS = tuple(EXACT) + tuple(FLOAT_AWARE)
TAG_SOURCE = "the estimator's __conformance_tags__"
PYPROJECT_SOURCE = "pyproject.toml [tool.conformance.tolerances]"


@dataclass(frozen=True)
class Tolerance:
    """How closely two outputs must agree in one comparison kind."""

    kind: str
    rtol: float
    atol: float
    overridden: bool = False
    source: str = ""  # where an override came from; empty for the suite's own policy

    @property
    def exact(self) -> bool:
        return self.rtol == 0 and self.atol == 0

    def describe(self) -> str:
        if self.exact:
            text = f"bitwise equality ({self.kind})"
        else:
            text = f"{self.kind} tolerance rtol={self.rtol:.3g}, atol={self.atol:.3g} (x max(1, max|expected|))"
        if self.overridden:
            text += f" [tolerance override from {self.source or TAG_SOURCE}]"
        return text


def tolerance_for(kind: str, dtype, overrides: dict | None = None) -> Tolerance:
    """The tolerance for comparing outputs of ``dtype`` in a comparison of ``kind``.

    ``overrides`` maps kinds to ``{"rtol": float, "atol": float}`` (optionally ``"source"``,
    naming where it came from); a kind found there replaces the policy's value.
    """
    if kind not in KNOWN_KINDS:
        raise ValueError(f"unknown comparison kind {kind!r}; known: {', '.join(KNOWN_KINDS)}")
    if overrides and kind in overrides:
        given = _validated(kind, overrides[kind], "tolerance override")
        return Tolerance(kind, given["rtol"], given["atol"], True, str(overrides[kind].get("source", "")))
    dtype = np.dtype(dtype)
    if kind in EXACT or not np.issubdtype(dtype, np.floating):
        return Tolerance(kind, 0.0, 0.0)
    eps = float(np.finfo(dtype).eps)
    rtol_factor, atol_factor = FLOAT_AWARE[kind]
    return Tolerance(kind, rtol_factor * eps, atol_factor * eps)


def _validated(kind: str, given, where: str) -> dict:
    if not isinstance(given, dict):
        raise ValueError(f"{where} for {kind!r} must be a table {{rtol = ..., atol = ...}}, got {given!r}")
    unknown = set(given) - {"rtol", "atol", "source"}
    if unknown:
        raise ValueError(f"{where} for {kind!r} has unknown keys {sorted(unknown)}; accepted: atol, rtol")
    values = {}
    for name in ("rtol", "atol"):
        value = given.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{where} for {kind!r}: {name} must be a non-negative number, got {value!r}")
        values[name] = float(value)
    return values


def mismatch(observed, expected, tolerance: Tolerance) -> str | None:
    """``None`` when the arrays agree within ``tolerance``, else a one-line description."""
    observed = np.asarray(observed)
    expected = np.asarray(expected)
    if observed.shape != expected.shape:
        return f"shapes differ: {observed.shape} versus {expected.shape}"
    floating = expected.dtype.kind in "fc" and observed.dtype.kind in "fciub"
    if not floating:
        if np.array_equal(observed, expected):
            return None
        differ = observed != expected
        return f"{int(np.count_nonzero(differ))} of {expected.size} values differ{_first(differ, observed, expected)}"
    obs = observed.astype(np.float64)
    exp = expected.astype(np.float64)
    both_nan = np.isnan(obs) & np.isnan(exp)
    diff = np.where(both_nan, 0.0, np.abs(obs - exp))
    if tolerance.exact:
        bad = ~((obs == exp) | both_nan)
        verdict = "not bitwise equal"
    else:
        scale = max(1.0, float(np.nanmax(np.abs(exp)))) if exp.size and not np.isnan(exp).all() else 1.0
        bad = ~(diff <= tolerance.rtol * np.abs(exp) + tolerance.atol * scale)
        verdict = f"differ beyond {tolerance.describe()}"
    if not bad.any():
        return None
    score = np.where(bad, np.nan_to_num(diff, nan=np.inf), -1.0)
    worst = np.unravel_index(int(np.argmax(score)), bad.shape)
    return (f"{int(bad.sum())} of {bad.size} values {verdict}; max |diff| {float(diff[worst]):.3g} "
            f"at index {tuple(int(i) for i in worst)} (observed {float(obs[worst]):.9g}, "
            f"expected {float(exp[worst]):.9g})")


def assertion_line(observed_expr: str, expected_expr: str, expected, tolerance: Tolerance) -> str:
    """:func:`mismatch` as one line of Python for a reproduction: the same bounds, as an assertion."""
    expected = np.asarray(expected)
    if tolerance.exact or expected.dtype.kind not in "fc":
        return f"np.testing.assert_array_equal({observed_expr}, {expected_expr})  # '{tolerance.kind}': exactly equal"
    finite = np.abs(expected[np.isfinite(expected)]) if expected.size else expected
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    return (f"np.testing.assert_allclose({observed_expr}, {expected_expr}, rtol={tolerance.rtol!r}, "
            f"atol={tolerance.atol * scale!r})  # the '{tolerance.kind}' tolerance")


def _first(differ, observed, expected) -> str:
    index = tuple(int(i) for i in np.argwhere(differ)[0]) if differ.ndim else ()
    return f"; first at index {index}: observed {_item(observed[index])!r}, expected {_item(expected[index])!r}"


def _item(value):
    return value.item() if hasattr(value, "item") else value


def effective_dtype(output_dtype, compute_dtype=None) -> np.dtype:
    """The dtype whose epsilon a float-aware tolerance uses: the less precise of the two.

    A float32 network whose wrapper returns float64 still computes in float32, so its outputs
    legitimately vary by float32 ulps across threads or devices.
    """
    output_dtype = np.dtype(output_dtype)
    if compute_dtype is None or not np.issubdtype(output_dtype, np.floating):
        return output_dtype
    compute_dtype = np.dtype(compute_dtype)
    if np.issubdtype(compute_dtype, np.floating) and np.finfo(compute_dtype).eps > np.finfo(output_dtype).eps:
        return compute_dtype
    return output_dtype


def compare_outputs(observed: dict, expected: dict, tolerance_of) -> list[str]:
    """Problems, one line per output method, comparing two ``{method: array}`` dicts.

    ``tolerance_of(dtype)`` gives the :class:`Tolerance` for an output of that dtype.
    """
    problems = []
    for name in expected:
        if name not in observed:
            problems.append(f"{name}: missing from the second run")
            continue
        problem = mismatch(observed[name], expected[name], tolerance_of(np.asarray(expected[name]).dtype))
        if problem is not None:
            problems.append(f"{name}: {problem}")
    return problems


def continuous_outputs(outputs: dict) -> dict:
    """The float outputs when there are any (labels may flip on the boundary across devices)."""
    floats = {k: v for k, v in outputs.items() if np.asarray(v).dtype.kind in "fc"}
    return floats or outputs


def parse_project_tolerances(table: dict, where: str = "pyproject.toml") -> dict:
    """``[tool.conformance.tolerances]`` as overrides (``{}`` when the table is empty).

    Returns ``{"*": {kind: {...}}, "ClassName": {kind: {...}}}``; bad entries raise ``ValueError``
    naming the entry.
    """
    if not isinstance(table, dict):
        raise ValueError(f"{where}: [tool.conformance.tolerances] must be a table")
    parsed: dict = {"*": {}}
    for key, value in table.items():
        if key in KNOWN_KINDS:
            parsed["*"][key] = {**_validated(key, value, f"{where}: tolerances.{key}"), "source": PYPROJECT_SOURCE}
            continue
        if not isinstance(value, dict) or not all(k in KNOWN_KINDS for k in value):
            raise ValueError(f"{where}: [tool.conformance.tolerances] key {key!r} is neither a comparison kind "
                             f"({', '.join(KNOWN_KINDS)}) nor an estimator class's table of them")
        parsed[key] = {kind: {**_validated(kind, given, f"{where}: tolerances.{key}.{kind}"),
                              "source": f"{PYPROJECT_SOURCE} ({key})"} for kind, given in value.items()}
    return parsed


def merge_overrides(class_name: str, tag_overrides: dict | None, project: dict | None) -> dict:
    """The overrides one estimator gets: its tags over its class's pyproject table over the project's."""
    merged = dict((project or {}).get("*", {}))
    merged.update((project or {}).get(class_name, {}))
    for kind, given in (tag_overrides or {}).items():
        merged[kind] = {"source": TAG_SOURCE, **given}
    return merged
