"""GridSearchCV tunes lr, max_epochs and a module hyperparameter together, in parallel, and refits."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reference_estimators import TorchClassifier, TorchRegressor


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return rng.normal(size=(n, 3)) + 3.0 * y[:, None], np.array(["no", "yes"])[y]


def test_grid_search_over_lr_max_epochs_and_module_hyperparameter_refits_in_parallel():
    X, y = blobs()
    grid = {"lr": [0.003, 0.03], "max_epochs": [2, 8], "module__hidden_sizes": [(4,), (16,)]}
    search = GridSearchCV(TorchClassifier(batch_size=16, random_state=0), grid, cv=2, n_jobs=2,
                          error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert set(search.best_params_) == set(grid)
    best = search.best_estimator_
    assert best.module_.layers[0].out_features == best.get_params()["module__hidden_sizes"][0]
    assert best.n_iter_ == search.best_params_["max_epochs"]
    assert set(search.predict(X)) <= {"no", "yes"}


def test_grid_search_reaches_module_parameters_inside_a_pipeline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = X[:, 0] - X[:, 1]
    pipe = make_pipeline(StandardScaler(), TorchRegressor(max_epochs=3, random_state=0))
    search = GridSearchCV(pipe, {"torchregressor__module__hidden_sizes": [(3,), (6,)]}, cv=2,
                          error_score="raise").fit(X, y)
    assert search.best_estimator_[-1].module_params["hidden_sizes"] in [(3,), (6,)]
