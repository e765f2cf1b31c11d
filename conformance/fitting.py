"""How a configuration fits: plain ``fit``, ``fit`` with sample weights, or ``partial_fit`` over batches.

A configuration of the estimator (see :mod:`conformance.variants`) may change *how* it is
trained rather than its parameters: users pass ``sample_weight``, or stream data through
``partial_fit``. Every check that fits through :meth:`CheckContext.fit` then trains that way,
so the same rules (determinism, persistence, outputs) are held on those paths too. The
reproductions printed under failures call the same functions (re-exported by
:mod:`conformance.testing`), so they are public and stay stable.
"""

from __future__ import annotations

import inspect

import numpy as np

# How a configuration fits; "fit" is the plain call every check made before configurations.
FIT_MODES = ("fit", "sample_weight", "partial_fit")
# Batches of one partial_fit pass: enough for every call after the first to continue training.
N_BATCHES = 3
# The weights are drawn from this seed, so the same target always gets the same weights.
WEIGHT_SEED = 0
MAX_WEIGHT = 3


def sample_weights_for(y, n_samples: int | None = None) -> np.ndarray:
    """Integer weights from 0 to 3, zeros included, the same for the same ``y``.

    Every class of a classification target keeps a row of positive weight (so the weighted fit
    sees every class), and at least one row is positive. ``y`` may be ``None`` for an
    estimator fitted without a target; then ``n_samples`` gives the length.
    """
    n = n_samples if y is None else len(y)
    weights = np.random.default_rng(WEIGHT_SEED).integers(0, MAX_WEIGHT + 1, size=n)
    for first in _first_row_of_each_class(y):
        weights[first] = max(1, weights[first])
    if n and not weights.any():
        weights[0] = 1
    return weights


def _first_row_of_each_class(y) -> list[int]:
    if y is None:
        return []
    from sklearn.utils.multiclass import type_of_target

    labels = np.asarray(y)
    try:
        kind = type_of_target(labels)
    except ValueError:
        return []
    if kind not in ("binary", "multiclass"):
        return []
    _, first = np.unique(labels, return_index=True)
    return [int(i) for i in first]


def partial_fit_in_batches(estimator, X, y=None, n_batches: int = N_BATCHES):
    """One pass of ``partial_fit`` over ``n_batches`` consecutive slices of the rows; returns the last call's result.

    The first call gets ``classes=np.unique(y)`` when ``partial_fit`` takes ``classes``
    (sklearn's convention for classifiers, which may not see every label in one batch).
    """
    from sklearn.utils import _safe_indexing
    from sklearn.utils.validation import _num_samples

    n = _num_samples(X)
    classes = np.unique(np.asarray(y)) if y is not None and _takes(estimator.partial_fit, "classes") else None
    result = None
    for i, rows in enumerate(np.array_split(np.arange(n), max(1, min(n_batches, n)))):
        args = [_safe_indexing(X, rows)] + ([] if y is None else [_safe_indexing(y, rows)])
        extra = {"classes": classes} if classes is not None and i == 0 else {}
        result = estimator.partial_fit(*args, **extra)
    return result


def _takes(method, name: str) -> bool:
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def fit_as(estimator, X, y=None, fit_with: str = "fit"):
    """Train ``estimator`` on ``X, y`` the way ``fit_with`` says; returns what the training call returned.

    ``"fit"``: ``estimator.fit(X, y)``. ``"sample_weight"``: the same with
    ``sample_weight=sample_weights_for(y)``. ``"partial_fit"``: :func:`partial_fit_in_batches`.
    """
    args = (X,) if y is None else (X, y)
    if fit_with == "fit":
        return estimator.fit(*args)
    if fit_with == "sample_weight":
        from sklearn.utils.validation import _num_samples

        return estimator.fit(*args, sample_weight=sample_weights_for(y, _num_samples(X)))
    if fit_with == "partial_fit":
        return partial_fit_in_batches(estimator, X, y)
    raise ValueError(f"fit_with={fit_with!r}; accepted: {', '.join(FIT_MODES)}")
