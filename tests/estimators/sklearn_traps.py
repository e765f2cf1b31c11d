"""Estimators that trip the sklearn layer's known traps."""

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class MixinAfterBaseTransformer(BaseEstimator, TransformerMixin):
    """TransformerMixin after BaseEstimator: sklearn raises while generating its checks."""

    def fit(self, X, y=None):
        validate_data(self, X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False)


class CorrectScaleTransformer(TransformerMixin, BaseEstimator):
    """The same transformer with the mixin first."""

    def fit(self, X, y=None):
        validate_data(self, X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False)


class HoldsTensorParam(TransformerMixin, BaseEstimator):
    """Holds a tensor in a parameter and never touches it: joblib.hash still differs on copies."""

    def __init__(self, weights=None):
        self.weights = weights

    def fit(self, X, y=None):
        X = validate_data(self, X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if self.weights is not None:
            return X * float(self.weights.sum())
        return X


def tensor_param_estimator():
    return HoldsTensorParam(weights=torch.ones(2))
