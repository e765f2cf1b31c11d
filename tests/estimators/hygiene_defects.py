"""Estimators that leak one process-wide setting each; all are ``TinyTorchClassifier`` plus one line."""

from __future__ import annotations

import numpy as np
import torch

from tests.estimators.base import TinyTorchClassifier


class LeaksDefaultDtype(TinyTorchClassifier):
    """Defect: switches torch's default dtype to float64 at the end of ``fit`` and leaves it."""

    def fit(self, X, y):
        super().fit(X, y)
        torch.set_default_dtype(torch.float64)
        return self


class DisablesGradInPredict(TinyTorchClassifier):
    """Defect: ``torch.set_grad_enabled(False)`` in ``predict_proba`` instead of ``with torch.no_grad()``."""

    def predict_proba(self, X):
        torch.set_grad_enabled(False)
        return super().predict_proba(X)


class PinsThreads(TinyTorchClassifier):
    """Defect: pins torch to one thread in ``fit`` and leaves it pinned."""

    def fit(self, X, y):
        torch.set_num_threads(1)
        return super().fit(X, y)


class SilencesNumpy(TinyTorchClassifier):
    """Defect: ``np.seterr(all="ignore")`` in ``fit`` instead of ``with np.errstate(...)``."""

    def fit(self, X, y):
        np.seterr(all="ignore")
        return super().fit(X, y)


class EnablesDeterminism(TinyTorchClassifier):
    """Defect: turns on ``torch.use_deterministic_algorithms`` in ``fit`` and leaves it on."""

    def fit(self, X, y):
        torch.use_deterministic_algorithms(True)
        return super().fit(X, y)
