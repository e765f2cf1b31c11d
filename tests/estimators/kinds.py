"""Estimators whose kind signals disagree: the mixin order of the tutorials, a stray predict_proba."""

from sklearn.base import ClassifierMixin

from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor, _TinyTorchBase


class WrongMixinOrderClassifier(_TinyTorchBase, ClassifierMixin):
    """A correct classifier but for ``ClassifierMixin`` after ``BaseEstimator``: sklearn's tags never see it."""

    fit = TinyTorchClassifier.fit
    predict = TinyTorchClassifier.predict
    predict_proba = TinyTorchClassifier.predict_proba


class RegressorWithPredictProba(TinyTorchRegressor):
    """A regressor that also offers predict_proba: two signals of two kinds."""

    def predict_proba(self, X):
        return self.predict(X)


class DeclaredClassifier(_TinyTorchBase):
    """No kind mixin at all, but a classifier by the ``kind`` conformance tag."""

    fit = TinyTorchClassifier.fit
    predict = TinyTorchClassifier.predict
    predict_proba = TinyTorchClassifier.predict_proba
    score = ClassifierMixin.score

    def __conformance_tags__(self):
        return {"kind": "classifier"}
