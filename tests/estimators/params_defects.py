"""Estimators that break one parameter or cloning rule each, and the correct twins they come from.

Each defect changes exactly one thing of its twin (``TinyTorchClassifier`` from ``base``, or the
two twins defined here: ``ScalerParamClassifier``, given an sklearn scaler as a nested
estimator, and ``ModuleParamRegressor``, given its torch network as a parameter like skorch).
"""

from __future__ import annotations

import copy
import io
import logging

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from tests.estimators.base import TinyTorchClassifier

# --- __init__ does work -----------------------------------------------------------------------

_buffer = io.BytesIO()
torch.save({"weight": torch.zeros(16, 4)}, _buffer)
PRETRAINED = _buffer.getvalue()  # stands for a checkpoint file on disk


class LoadsWeightsInInit(TinyTorchClassifier):
    """Defect: ``__init__`` calls ``torch.load`` (a pretrained checkpoint)."""

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden, lr, max_epochs, batch_size, random_state)
        self._pretrained = torch.load(io.BytesIO(PRETRAINED))


class BuildsModuleInInit(TinyTorchClassifier):
    """Defect: ``__init__`` builds a torch module (allocating its weights)."""

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden, lr, max_epochs, batch_size, random_state)
        self._head = torch.nn.Linear(hidden, hidden)


# --- a nested sklearn estimator as a parameter -------------------------------------------------

class ScalerParamClassifier(TinyTorchClassifier):
    """Correct: ``scaler`` (default ``None``: a ``StandardScaler``) is cloned and fitted in ``fit``."""

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0, scaler=None):
        super().__init__(hidden, lr, max_epochs, batch_size, random_state)
        self.scaler = scaler

    def fit(self, X, y):
        X = validate_data(self, X, dtype=np.float64)
        self.scaler_ = clone(self.scaler if self.scaler is not None else StandardScaler()).fit(X)
        return super().fit(X, y)

    def _to_tensor(self, X) -> torch.Tensor:
        return torch.as_tensor(self.scaler_.transform(X), dtype=torch.float32)


_ONE_SCALER = StandardScaler()


class SharedScalerDefault(ScalerParamClassifier):
    """Defect: the default scaler is one object, created at ``def`` time, shared by every instance."""

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0, scaler=_ONE_SCALER):
        super().__init__(hidden, lr, max_epochs, batch_size, random_state, scaler)


class FlatSetParamsClassifier(ScalerParamClassifier):
    """Defect: ``set_params`` assigns every name as an attribute, so ``scaler__*`` never reaches the scaler."""

    def set_params(self, **params):
        for name, value in params.items():
            setattr(self, name, value)
        return self


# --- state shared between instances ------------------------------------------------------------

_TRAINED_BY_PARAMS: dict = {}


class MemoisedByParamsClassifier(TinyTorchClassifier):
    """Defect: trained networks are memoised by hyperparameters in a module-level dict."""

    def fit(self, X, y):
        super().fit(X, y)
        _TRAINED_BY_PARAMS[repr(sorted(self.get_params().items()))] = self.module_
        return self

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        self.module_ = _TRAINED_BY_PARAMS[repr(sorted(self.get_params().items()))]
        return super()._forward(X)


class ShallowCloneClassifier(TinyTorchClassifier):
    """Defect: ``__sklearn_clone__`` is a shallow copy, keeping the fitted network."""

    def __sklearn_clone__(self):
        return copy.copy(self)


class ScoreReturnsNoneClassifier(TinyTorchClassifier):
    """Defect: ``score`` logs the accuracy and forgets to return it."""

    def score(self, X, y, sample_weight=None):
        accuracy = super().score(X, y, sample_weight)
        logging.getLogger(__name__).info("accuracy %.3f", accuracy)


class RewritesLrInFit(TinyTorchClassifier):
    """Defect: ``fit`` writes a decayed learning rate back into the ``lr`` parameter."""

    def fit(self, X, y):
        super().fit(X, y)
        self.lr = self.lr * 0.5
        return self


# --- the network itself as a parameter (skorch-style) ------------------------------------------

class ModuleParamRegressor(RegressorMixin, BaseEstimator):
    """Correct: trains a copy of ``module`` (default: a small MLP built in ``fit``), full batch."""

    def __init__(self, module=None, lr=0.1, max_epochs=30, random_state=0):
        self.module = module
        self.lr = lr
        self.max_epochs = max_epochs
        self.random_state = random_state

    def _network(self, n_features: int) -> torch.nn.Module:
        if self.module is not None:
            return copy.deepcopy(self.module)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            return torch.nn.Sequential(torch.nn.Linear(n_features, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def _optimizer(self, parameters):
        return torch.optim.Adam(parameters, lr=self.lr)

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self.module_ = self._network(X.shape[1])
        optimizer = self._optimizer(self.module_.parameters())
        inputs = torch.as_tensor(X, dtype=torch.float32)
        target = torch.as_tensor(y, dtype=torch.float32)[:, None]
        for _ in range(self.max_epochs):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(self.module_(inputs), target).backward()
            optimizer.step()
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.inference_mode():
            return self.module_(torch.as_tensor(X, dtype=torch.float32))[:, 0].double().numpy()


class TrainsGivenModule(ModuleParamRegressor):
    """Defect: trains the module object it was given, not a copy."""

    def _network(self, n_features: int) -> torch.nn.Module:
        return self.module if self.module is not None else super()._network(n_features)


class SharedParamCloneRegressor(ModuleParamRegressor):
    """Defect: ``__sklearn_clone__`` passes the same parameter objects, so clones share the module."""

    def __sklearn_clone__(self):
        return type(self)(**self.get_params(deep=False))


class CopiesLrInInit(ModuleParamRegressor):
    """Defect: ``__init__`` copies ``lr`` and training uses the copy, so ``set_params(lr=...)`` does nothing."""

    def __init__(self, module=None, lr=0.1, max_epochs=30, random_state=0):
        super().__init__(module, lr, max_epochs, random_state)
        self._lr = lr

    def _optimizer(self, parameters):
        return torch.optim.Adam(parameters, lr=self._lr)
