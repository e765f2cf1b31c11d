"""The outputs that stand for a fitted model, and how checks compare them."""

from __future__ import annotations

import numpy as np

from conformance.repro import params_text
from conformance.tolerance import compare_outputs, effective_dtype

# Every method whose output stands for "the fitted model", in the order checks report them.
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform", "score_samples")


def output_methods(estimator) -> list[str]:
    """The :data:`OUTPUT_METHODS` the (fitted) estimator offers; ``available_if`` hides the others."""
    return [name for name in OUTPUT_METHODS if hasattr(estimator, name)]


def raw_outputs(estimator, X) -> dict:
    """``{method: value}`` for every output method the fitted estimator has, values as returned."""
    values = {}
    for name in OUTPUT_METHODS:
        try:
            method = getattr(estimator, name)
        except AttributeError:  # absent, or hidden by sklearn's available_if
            continue
        values[name] = method(X)
    return values


def outputs(estimator, X) -> dict:
    """:func:`raw_outputs` as numpy arrays: what every comparison of fitted models compares."""
    return {name: np.asarray(value) for name, value in raw_outputs(estimator, X).items()}


def same_outputs(first: dict, second: dict) -> bool:
    """Whether two :func:`outputs` dicts have the same methods and bitwise-equal values."""
    return sorted(first) == sorted(second) and all(
        np.array_equal(first[k], second[k], equal_nan=first[k].dtype.kind in "fc") for k in first)


def assert_same_outputs(ctx, observed: dict, expected: dict, what: str, repro: str | None = None) -> None:
    """Fail unless both estimators offer the same methods and they agree bitwise."""
    if sorted(observed) != sorted(expected):
        ctx.fail(f"{what}: the output methods differ", observed=sorted(observed),
                 expected=sorted(expected), repro=repro)
    for name in expected:
        ctx.assert_close(observed[name], expected[name], "bitwise", f"{what}: {name}", repro)


def tolerance_of(ctx, kind: str, compute=None):
    """``dtype -> Tolerance`` for ``kind``, judging float outputs by the model's ``compute`` dtype."""
    return lambda dtype: ctx.tolerance(kind, effective_dtype(dtype, compute))


def fail_if_differ(ctx, observed: dict, expected: dict, kind: str, headline: str, repro: list[str],
                   compute=None) -> None:
    """Fail with ``headline`` and every differing method unless the outputs agree within ``kind``."""
    problems = compare_outputs(observed, expected, tolerance_of(ctx, kind, compute))
    if problems:
        first = next(iter(expected.values()))
        ctx.fail(f"{headline}: " + "; ".join(problems),
                 expected=tolerance_of(ctx, kind, compute)(np.asarray(first).dtype).describe(),
                 repro=ctx.repro(*repro))


__all__ = ["OUTPUT_METHODS", "output_methods", "raw_outputs", "outputs", "same_outputs",
           "assert_same_outputs", "tolerance_of", "fail_if_differ", "params_text"]
