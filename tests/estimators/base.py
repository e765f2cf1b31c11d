"""Small, correct torch estimators: the twins every defective test estimator is made from.

Each defect in ``tests/estimators`` subclasses one of these and overrides exactly one thing,
so a check that fails the defect and passes the twin is proven to aim at that one mistake.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class _TinyTorchBase(BaseEstimator):
    """Standardise in float64, train a one-hidden-layer net in float32, seeded locally."""

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        self.hidden = hidden
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _to_tensor(self, X) -> torch.Tensor:
        scaled = (X - self.mean_) / self.scale_  # in float64, so float32 loses nothing that matters
        return torch.as_tensor(scaled, dtype=torch.float32)

    def _build_module(self, n_in: int, n_out: int) -> torch.nn.Module:
        """The network, built at fit under the estimator's own seed (a hook for the twins)."""
        return torch.nn.Sequential(torch.nn.Linear(n_in, self.hidden), torch.nn.Tanh(),
                                   torch.nn.Linear(self.hidden, n_out))

    def _init_module(self, n_in: int, n_out: int) -> torch.nn.Module:
        """The network seeded locally, with the caller's RNG state restored afterwards (a hook for defects)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed())
            return self._build_module(n_in, n_out)

    def _usable(self, rows) -> bool:
        """Whether a mini-batch trains the network (a hook: batch norm cannot train on one row)."""
        return True

    def _fit_module(self, X, target: torch.Tensor, n_out: int, loss_fn):
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        generator = torch.Generator().manual_seed(self._seed())
        self.module_ = self._init_module(X.shape[1], n_out)
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        inputs = self._to_tensor(X)
        self.module_.train()
        for _ in range(self.max_epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(inputs), self.batch_size):
                rows = order[start:start + self.batch_size]
                if not self._usable(rows):
                    continue
                optimizer.zero_grad()
                loss = loss_fn(self.module_(inputs[rows]), target[rows])
                loss.backward()
                optimizer.step()
        self.module_.eval()
        return self

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.inference_mode():
            return self.module_(self._to_tensor(X)).double().numpy()


class TinyTorchClassifier(ClassifierMixin, _TinyTorchBase):
    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        target = torch.as_tensor(encoded, dtype=torch.long)
        return self._fit_module(X, target, len(self.classes_), torch.nn.functional.cross_entropy)

    def predict_proba(self, X):
        return torch.softmax(torch.from_numpy(self._forward(X)), dim=1).numpy()

    def predict(self, X):
        proba = self.predict_proba(X)  # first, so an unfitted call raises NotFittedError
        return self.classes_[np.argmax(proba, axis=1)]


class TinyTorchRegressor(RegressorMixin, _TinyTorchBase):
    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self.y_mean_, self.y_scale_ = float(np.mean(y)), float(np.std(y) or 1.0)
        target = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)[:, None]
        return self._fit_module(X, target, 1, torch.nn.functional.mse_loss)

    def predict(self, X):
        return self._forward(X)[:, 0] * self.y_scale_ + self.y_mean_
