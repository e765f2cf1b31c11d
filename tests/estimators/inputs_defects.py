"""Estimators with one input-handling mistake each, for the ``inputs`` checks.

Every class subclasses a correct twin from :mod:`tests.estimators.base` and changes exactly
one thing; its docstring names the mistake and the check that must catch it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor


class Float32CastRegressor(TinyTorchRegressor):
    """Casts X to float32 before standardising: 1e8 + x loses x (inputs.float64_precision)."""

    def _to_tensor(self, X):
        X32 = torch.as_tensor(X, dtype=torch.float32)
        mean = torch.as_tensor(self.mean_, dtype=torch.float32)
        return (X32 - mean) / torch.as_tensor(self.scale_, dtype=torch.float32)


class TensorOutputRegressor(TinyTorchRegressor):
    """Returns a torch tensor from predict (inputs.output_contract)."""

    def predict(self, X):
        return torch.from_numpy(super().predict(X))


class ColumnPredictRegressor(TinyTorchRegressor):
    """Returns predictions of shape (n, 1) instead of (n,) (inputs.output_contract)."""

    def predict(self, X):
        return super().predict(X)[:, None]


class SqueezingClassifier(TinyTorchClassifier):
    """Squeezes predict's output, so one row gives a 0-d scalar (inputs.output_contract)."""

    def predict(self, X):
        return np.squeeze(super().predict(X))


class LogitsAsProbaClassifier(TinyTorchClassifier):
    """Returns the network's raw logits as predict_proba (inputs.output_contract)."""

    def predict_proba(self, X):
        return self._forward(X)


class IndexLabelsClassifier(TinyTorchClassifier):
    """Returns class indices from predict instead of the labels in classes_ (inputs.output_contract)."""

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)


class InPlaceCentringClassifier(TinyTorchClassifier):
    """Centres X with ``X -= mean`` on the caller's array (inputs.input_not_mutated)."""

    def fit(self, X, y):
        X = check_array(X, dtype=np.float64)  # no copy for a float64 ndarray
        X -= X.mean(axis=0)
        return super().fit(X, y)


class NoFeatureCountClassifier(TinyTorchClassifier):
    """Validates X at predict with check_array, never checking the feature count
    (inputs.invalid_input_errors: the error comes from numpy broadcasting, or none at all)."""

    def _forward(self, X):
        check_is_fitted(self)
        X = check_array(X, dtype=np.float64)
        with torch.inference_mode():
            return self.module_(self._to_tensor(X)).double().numpy()


class CoercingClassifier(TinyTorchClassifier):
    """Coerces unreadable values (strings, NaN) to 0 at predict instead of rejecting them
    (inputs.invalid_input_errors)."""

    def _forward(self, X):
        frame = pd.DataFrame(np.asarray(X, dtype=object) if np.ndim(X) == 2 else X)
        return super()._forward(frame.apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy(float))


class ComplexDroppingRegressor(TinyTorchRegressor):
    """Drops the imaginary part of complex X silently (inputs.invalid_input_errors)."""

    def predict(self, X):
        return super().predict(np.real(X))


class FromNumpyClassifier(TinyTorchClassifier):
    """Passes X through torch.from_numpy first, so lists and DataFrames raise TypeError
    (inputs.valid_dtypes_and_layouts)."""

    def _forward(self, X):
        return super()._forward(torch.from_numpy(X).numpy())


class DropoutAtPredictClassifier(TinyTorchClassifier):
    """Adds input dropout and leaves the module in training mode at predict
    (inputs.repeat_call_stable)."""

    def fit(self, X, y):
        super().fit(X, y)
        self.module_ = torch.nn.Sequential(torch.nn.Dropout(0.2), *self.module_)
        self.module_.train()
        return self


class BatchNormTrainModeClassifier(TinyTorchClassifier):
    """Adds an input batch norm left in training mode, so predict uses each call's own
    statistics (inputs.batch_invariance)."""

    def fit(self, X, y):
        super().fit(X, y)
        self.module_ = torch.nn.Sequential(torch.nn.BatchNorm1d(self.n_features_in_), *self.module_)
        self.module_.train()
        return self


class BatchStatisticsRegressor(TinyTorchRegressor):
    """Standardises every call's X by that call's own mean and std, not the training ones
    (inputs.batch_invariance)."""

    def _to_tensor(self, X):
        std = X.std(axis=0)
        scaled = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
        return torch.as_tensor(scaled, dtype=torch.float32)


class DropsLastBatchRegressor(TinyTorchRegressor):
    """Predicts in mini-batches of batch_size and drops the last partial one
    (inputs.batch_invariance)."""

    def predict(self, X):
        X = validate_data(self, X, reset=False, dtype=np.float64)
        full = len(X) - len(X) % self.batch_size
        out = [super(DropsLastBatchRegressor, self).predict(X[i:i + self.batch_size])
               for i in range(0, full, self.batch_size)]
        return np.concatenate(out) if out else np.empty(0)


class PerBatchCentringRegressor(TinyTorchRegressor):
    """Predicts in mini-batches of batch_size, centring the predictions of each mini-batch on
    the training mean: the output depends on batch_size (inputs.batch_invariance)."""

    def predict(self, X):
        X = validate_data(self, X, reset=False, dtype=np.float64)
        parts = []
        for i in range(0, len(X), self.batch_size):
            part = super().predict(X[i:i + self.batch_size])
            parts.append(part - part.mean() + self.y_mean_)
        return np.concatenate(parts)


class HalfInputsForLargeBatchesRegressor(TinyTorchRegressor):
    """Rounds the network's input to bfloat16 when batch_size >= 16 ("memory saving for large
    batches"): no row depends on the others, but every output depends on batch_size
    (inputs.batch_invariance)."""

    def _to_tensor(self, X):
        inputs = super()._to_tensor(X)
        return inputs.to(torch.bfloat16).float() if self.batch_size >= 16 else inputs


from reference_estimators import TorchRegressor  # noqa: E402 - the twin that honours sample_weight


class IgnoresSampleWeightRegressor(TorchRegressor):
    """Accepts sample_weight and drops it: class rebalancing silently does nothing."""

    def fit(self, X, y, sample_weight=None):
        return super().fit(X, y)
