"""The outputs that stand for a fitted model, and how checks compare them."""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from conformance.repro import params_text
from conformance.tolerance import assertion_line, compare_outputs, effective_dtype, mismatch

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


def dense(value) -> np.ndarray:
    """An output as a numpy array: a scipy sparse matrix (a vectorizer's ``transform``) made dense."""
    return value.toarray() if hasattr(value, "toarray") else np.asarray(value)


def outputs(estimator, X) -> dict:
    """:func:`raw_outputs` as dense numpy arrays: what every comparison of fitted models compares."""
    return {name: dense(value) for name, value in raw_outputs(estimator, X).items()}


def same_outputs(first: dict, second: dict) -> bool:
    """Whether two :func:`outputs` dicts have the same methods and bitwise-equal values."""
    return sorted(first) == sorted(second) and all(
        np.array_equal(first[k], second[k], equal_nan=first[k].dtype.kind in "fc") for k in first)


@dataclass(frozen=True)
class Recipe:
    """How a reproduction rebuilds both sides of an output comparison.

    ``steps`` are the lines that build them: two fitted estimators named ``observed`` and
    ``expected``, called on ``X``; the snippet then asserts exactly the method that differed,
    within exactly the tolerance the check used.
    """

    steps: tuple
    observed: str = "observed"
    expected: str = "expected"
    X: str = "X"
    as_dict: bool = False  # the sides are {method: output} dicts, not estimators

    def call(self, side: str, method: str) -> str:
        return f"{side}[{method!r}]" if self.as_dict else f"dense({side}.{method}({self.X}))"

    def lines(self, method: str, expected, tolerance) -> list[str]:
        return ["import numpy as np", "from conformance.testing import dense", *self.steps,
                assertion_line(self.call(self.observed, method), self.call(self.expected, method), expected, tolerance)]


def assert_same_outputs(ctx, observed: dict, expected: dict, what: str, recipe: Recipe) -> None:
    """Fail unless both sides offer the same methods and they agree bitwise; the repro asserts the first difference."""
    if sorted(observed) != sorted(expected):
        missing = sorted(set(expected) - set(observed)) or sorted(set(observed) - set(expected))
        ctx.fail(f"{what}: the output methods differ", observed=sorted(observed), expected=sorted(expected),
                 repro=ctx.repro(*recipe.steps, f"assert sorted({recipe.observed}) == sorted({recipe.expected})"
                                 if recipe.as_dict else f"assert hasattr({recipe.observed}, {missing[0]!r}) == "
                                 f"hasattr({recipe.expected}, {missing[0]!r})"))
    fail_if_differ(ctx, observed, expected, "bitwise", what, recipe)


def tolerance_of(ctx, kind: str, compute=None):
    """``dtype -> Tolerance`` for ``kind``, judging float outputs by the model's ``compute`` dtype."""
    return lambda dtype: ctx.tolerance(kind, effective_dtype(dtype, compute))


def fail_if_differ(ctx, observed: dict, expected: dict, kind: str, headline: str, recipe: Recipe,
                   compute=None) -> None:
    """Fail with ``headline`` and every differing method unless the outputs agree within ``kind``.

    The reproduction asserts the first differing method with the same tolerance.
    """
    within = tolerance_of(ctx, kind, compute)
    problems = compare_outputs(observed, expected, within)
    if not problems:
        return
    differing = [m for m in expected if m not in observed
                 or mismatch(observed[m], expected[m], within(np.asarray(expected[m]).dtype)) is not None]
    method = differing[0]
    tolerance = within(np.asarray(expected[method]).dtype)
    ctx.fail(f"{headline}: " + "; ".join(problems), expected=tolerance.describe(),
             repro=ctx.repro(*recipe.lines(method, expected[method], tolerance)))


__all__ = ["OUTPUT_METHODS", "Recipe", "dense", "output_methods", "raw_outputs", "outputs", "same_outputs",
           "assert_same_outputs", "tolerance_of", "fail_if_differ", "params_text"]
