"""Small, seeded datasets shaped to an estimator's kind and input contract.

Every check of this suite that needs "ordinary" data takes it from here, so the data honours the
estimator's declared ``input_width`` and the profile's size, and two checks asking for the same
data get the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray | None

    def fit_args(self):
        return (self.X,) if self.y is None else (self.X, self.y)

    @property
    def xy(self):
        """``(X, y)``, ``y`` being ``None`` for an estimator fitted without a target."""
        return self.X, self.y


def dataset_for(estimator, n_samples: int = 80, seed: int = 0, n_classes: int = 3) -> Dataset:
    """The suite's ordinary data for ``estimator``: what a check fitted it on, rebuilt anywhere.

    Public: the reproduction snippets printed under failures call it.
    """
    from conformance.traits import estimator_traits

    return make_dataset(estimator_traits(estimator), n_samples, seed, n_classes)


def make_dataset(traits, n_samples: int, seed: int = 0, n_classes: int = 3) -> Dataset:
    """A float64 dataset for ``traits``: labelled classes, a regression target, or features only.

    Classifiers get ``n_classes`` well-separated integer classes, regressors a smooth target of
    unit scale (2-D when sklearn's tags say multi-output only), transformers a regression target
    they may ignore.
    """
    rng = np.random.default_rng(seed)
    n_features = traits.n_features
    if traits.is_classifier:
        centers = rng.normal(scale=3.0, size=(n_classes, n_features))
        y = np.arange(n_samples) % n_classes
        rng.shuffle(y)
        X = centers[y] + rng.normal(size=(n_samples, n_features))
        return Dataset(X, y)
    X = rng.normal(size=(n_samples, n_features))
    coef = rng.normal(size=n_features)
    y = np.tanh(X @ coef / np.sqrt(n_features)) + 0.05 * rng.normal(size=n_samples)
    if _requires_2d_target(traits):
        y = np.column_stack([y, -y])
    return Dataset(X, y)


def _requires_2d_target(traits) -> bool:
    target_tags = getattr(traits.sklearn_tags, "target_tags", None)
    return bool(target_tags is not None and getattr(target_tags, "multi_output", False)
                and getattr(target_tags, "single_output", True) is False)
