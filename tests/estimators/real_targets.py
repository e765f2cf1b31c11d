"""Estimators nobody here wrote, as targets for the suite: sklearn's built-ins and skorch's nets.

The suite must never fail a correct third-party estimator, and what it reports on one it does
not control must be explained (docs/real-estimators.md). Every name here is a zero-argument
factory, so the command line can use it: ``python -m conformance
tests.estimators.real_targets:random_forest_classifier``.

Settings are sklearn's defaults except where a default only costs time: ``RandomForestClassifier``
uses ``n_estimators=10`` (default 100). The MLPs keep their defaults (``max_iter=200``).
"""

from __future__ import annotations

# Factory names of the sklearn estimators the suite must pass; tests/test_real_estimators.py parametrizes on them.
SKLEARN_TARGETS = (
    "logistic_regression", "ridge", "standard_scaler", "pca", "k_neighbors_classifier",
    "decision_tree_regressor", "random_forest_classifier", "mlp_classifier", "mlp_regressor",
)


def logistic_regression():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


def ridge():
    from sklearn.linear_model import Ridge

    return Ridge()


def standard_scaler():
    from sklearn.preprocessing import StandardScaler

    return StandardScaler()


def pca():
    from sklearn.decomposition import PCA

    return PCA()


def k_neighbors_classifier():
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier()


def decision_tree_regressor():
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor()


def random_forest_classifier():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=10)


def mlp_classifier():
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier()


def mlp_regressor():
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor()


# skorch: the nets as a skorch user writes them, around a small module. The first layer is
# ``LazyLinear`` so the net takes any number of features (skorch re-initialises the module at
# every fit), which keeps sklearn's checks, which use many widths, about skorch and not about a
# fixed input layer. The modules do not cast their input: skorch hands the module X as it gets
# it, and the skorch docs tell users to pass float32 themselves (docs/real-estimators.md).

def _torch_modules():
    import torch

    class SkorchClassifierModule(torch.nn.Module):
        """Any width in, ``n_classes`` probabilities out (NeuralNetClassifier's NLLLoss wants them)."""

        def __init__(self, n_hidden=16, n_classes=3, cast_float32=False):
            super().__init__()
            self.cast_float32 = cast_float32
            self.layers = torch.nn.Sequential(torch.nn.LazyLinear(n_hidden), torch.nn.Tanh(),
                                              torch.nn.Linear(n_hidden, n_classes))

        def forward(self, X):
            return torch.softmax(self.layers(X.float() if self.cast_float32 else X), dim=-1)

    class SkorchRegressorModule(torch.nn.Module):
        """Any width in, one output column (NeuralNetRegressor's MSELoss compares it to y)."""

        def __init__(self, n_hidden=16, cast_float32=False):
            super().__init__()
            self.cast_float32 = cast_float32
            self.layers = torch.nn.Sequential(torch.nn.LazyLinear(n_hidden), torch.nn.Tanh(),
                                              torch.nn.Linear(n_hidden, 1))

        def forward(self, X):
            return self.layers(X.float() if self.cast_float32 else X)

    for module in (SkorchClassifierModule, SkorchRegressorModule):
        module.__qualname__ = module.__name__  # so pickle finds them as attributes of this module
    return SkorchClassifierModule, SkorchRegressorModule


def skorch_net_classifier():
    from skorch import NeuralNetClassifier

    from tests.estimators.real_targets import SkorchClassifierModule

    return NeuralNetClassifier(SkorchClassifierModule, max_epochs=3, lr=0.1, train_split=None, verbose=0)


def skorch_net_regressor():
    from skorch import NeuralNetRegressor

    from tests.estimators.real_targets import SkorchRegressorModule

    return NeuralNetRegressor(SkorchRegressorModule, max_epochs=3, lr=0.1, train_split=None, verbose=0)


def skorch_net_classifier_float32():
    """The classifier with ``module__cast_float32=True``: what the float64 finding hides."""
    return skorch_net_classifier().set_params(module__cast_float32=True)


def skorch_net_regressor_float32():
    """The regressor with ``module__cast_float32=True``: what the float64 finding hides."""
    return skorch_net_regressor().set_params(module__cast_float32=True)


def __getattr__(name):  # the module classes exist only once torch is imported, and pickle by name
    if name in ("SkorchClassifierModule", "SkorchRegressorModule"):
        classifier, regressor = _torch_modules()
        globals().update(SkorchClassifierModule=classifier, SkorchRegressorModule=regressor)
        return globals()[name]
    raise AttributeError(name)
