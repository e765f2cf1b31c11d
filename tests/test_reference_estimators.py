"""The reference estimators keep the promises their docs make, one behaviour per test."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from reference_estimators import (DemoEncoder, PretrainedTransformer, TorchClassifier, TorchRegressor,
                                  default_estimators)

FAST = {"max_epochs": 15, "lr": 0.01, "batch_size": 32, "random_state": 0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def blobs(n=90, n_features=4, labels=(0, 1, 2), seed=0):
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % len(labels)
    centers = rng.normal(scale=4.0, size=(len(labels), n_features))
    X = centers[codes] + rng.normal(size=(n, n_features))
    return X, np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[codes]


def regression(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)


# -- labels and outputs --------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [("cat", "dog", "emu"), (3, 7, 10)])
def test_classifier_labels_round_trip_through_classes(labels):
    X, y = blobs(labels=labels)
    model = TorchClassifier(**FAST).fit(X, y)
    assert list(model.classes_) == sorted(labels)
    predicted = model.predict(X)
    assert predicted.dtype == model.classes_.dtype
    assert set(predicted) <= set(labels)
    assert np.mean(predicted == y) > 0.9


def test_predict_proba_rows_sum_to_one_in_module_dtype():
    X, y = blobs()
    proba = TorchClassifier(**FAST).fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert proba.dtype == np.float32  # honest: the module computes in float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_float64_input_trains_a_float32_module():
    X, y = blobs()
    model = TorchClassifier(**FAST).fit(X.astype(np.float64), y)
    assert next(model.module_.parameters()).dtype == torch.float32
    from_float32 = model.predict_proba(X.astype(np.float32))
    np.testing.assert_allclose(model.predict_proba(X), from_float32, atol=1e-5)


def test_classifier_does_not_mutate_or_keep_input():
    X, y = blobs()
    X_before, y_before = X.copy(), y.copy()
    model = TorchClassifier(**FAST).fit(X, y)
    model.predict_proba(X)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    assert len(pickle.dumps(model)) < 200_000  # weights and a few curves, never the data


def test_regressor_predicts_in_the_targets_units():
    X, y = regression()
    y = 1000.0 * y + 50_000.0
    model = TorchRegressor(max_epochs=60, lr=0.01, batch_size=16, random_state=0).fit(X, y)
    assert model.predict(X).shape == (len(X),)
    assert model.score(X, y) > 0.95
    assert model.target_scaler_.mean_[0] == pytest.approx(y.mean())


# -- sample weights ------------------------------------------------------------------------------

def test_zero_sample_weight_is_the_same_as_dropping_the_rows():
    X, y = blobs()
    weight = np.ones(len(X))
    weight[::4] = 0
    weighted = TorchClassifier(**FAST).fit(X, y, sample_weight=weight)
    dropped = TorchClassifier(**FAST).fit(X[weight > 0], y[weight > 0])
    np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("Estimator, data", [(TorchClassifier, blobs), (TorchRegressor, regression)])
def test_integer_sample_weight_matches_repeated_rows(Estimator, data):
    X, y = data()
    weight = np.random.default_rng(0).integers(1, 4, size=len(X)).astype(float)
    params = {**FAST, "batch_size": 512}  # one batch: the two losses are then the same sum
    weighted = Estimator(**params).fit(X, y, sample_weight=weight)
    repeated = Estimator(**params).fit(np.repeat(X, weight.astype(int), axis=0), np.repeat(y, weight.astype(int)))
    method = "predict_proba" if Estimator is TorchClassifier else "predict"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-4, atol=1e-4)


def test_sample_weight_changes_the_fit():
    X, y = blobs()
    weight = np.where(y == 0, 10.0, 0.1)
    plain = TorchClassifier(**FAST).fit(X, y).predict_proba(X)
    weighted = TorchClassifier(**FAST).fit(X, y, sample_weight=weight).predict_proba(X)
    assert weighted[:, 0].mean() > plain[:, 0].mean()


# -- seeding -------------------------------------------------------------------------------------

def test_random_state_fixes_the_fit_bitwise_and_other_seeds_differ():
    X, y = blobs()
    first = TorchClassifier(**FAST).fit(X, y).predict_proba(X)
    second = TorchClassifier(**FAST).fit(X, y).predict_proba(X)
    other = TorchClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("random_state", [0, None])
def test_fit_and_predict_leave_global_rngs_untouched(random_state):
    X, y = blobs()
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    model = TorchClassifier(**{**FAST, "random_state": random_state, "module_params": {"dropout": 0.2}}).fit(X, y)
    model.predict_proba(X)
    assert torch.equal(torch.get_rng_state(), before[0])
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]


def test_global_seed_does_not_change_a_seeded_fit():
    X, y = blobs()
    torch.manual_seed(1)
    first = TorchClassifier(**FAST).fit(X, y).predict_proba(X)
    torch.manual_seed(2)
    second = TorchClassifier(**FAST).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


# -- warm start, partial_fit, early stopping ------------------------------------------------------

def test_warm_start_continues_and_plain_refit_starts_over():
    X, y = blobs()
    warm = TorchClassifier(**{**FAST, "max_epochs": 3, "warm_start": True}).fit(X, y)
    module = warm.module_
    warm.fit(X, y)
    assert warm.n_iter_ == 6 and len(warm.loss_curve_) == 6 and warm.module_ is module

    cold = TorchClassifier(**{**FAST, "max_epochs": 3}).fit(X, y)
    cold.fit(X, y)
    fresh = TorchClassifier(**{**FAST, "max_epochs": 3}).fit(X, y)
    assert cold.n_iter_ == 3
    np.testing.assert_array_equal(cold.predict_proba(X), fresh.predict_proba(X))


def test_partial_fit_needs_classes_first_then_trains_one_epoch_per_call():
    X, y = blobs(labels=("a", "b", "c"))
    model = TorchClassifier(**FAST)
    with pytest.raises(ValueError, match="classes"):
        model.partial_fit(X, y)
    model.partial_fit(X[:30], y[:30], classes=["a", "b", "c"])
    model.partial_fit(X[30:], y[30:])
    assert model.n_iter_ == 2 and list(model.classes_) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X[:3], np.array(["a", "b", "zebra"], dtype=object))


def test_regressor_partial_fit_improves_the_fit():
    X, y = regression()
    model = TorchRegressor(lr=0.01, batch_size=16, random_state=0)
    model.partial_fit(X, y)
    first = model.score(X, y)
    for _ in range(20):
        model.partial_fit(X, y)
    assert model.score(X, y) > first


def test_early_stopping_stops_before_max_epochs_and_restores_the_best_weights():
    X, y = blobs(n=200)
    model = TorchClassifier(**{**FAST, "max_epochs": 500, "early_stopping": True, "n_iter_no_change": 3})
    model.fit(X, y)
    assert model.n_iter_ < 500
    assert len(model.validation_loss_curve_) == model.n_iter_
    assert model.best_loss_ == pytest.approx(min(model.validation_loss_curve_))


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = blobs()
    TorchClassifier(**{**FAST, "max_epochs": 4, "verbose": 1}).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 4 and "loss" in lines[0] and lines[0].endswith("s")


# -- parameters ----------------------------------------------------------------------------------

def test_module_and_optimizer_hyperparameters_are_sklearn_parameters():
    given = {"hidden_sizes": (5,)}
    model = TorchClassifier(module_params=given)
    model.set_params(module__activation="tanh", optimizer__weight_decay=0.01)
    assert given == {"hidden_sizes": (5,)}  # a new dict: the caller's is never mutated
    params = model.get_params()
    assert params["module__hidden_sizes"] == (5,) and params["module__activation"] == "tanh"
    assert params["optimizer__weight_decay"] == 0.01
    copy = clone(model)
    assert copy.module_params == model.module_params and copy.module_params is not model.module_params
    X, y = blobs()
    copy.set_params(max_epochs=2).fit(X, y)
    assert copy.module_.layers[0].out_features == 5
    assert isinstance(copy.module_.layers[1], torch.nn.Tanh)
    assert copy.optimizer_.defaults["weight_decay"] == 0.01


def test_unknown_or_reserved_module_parameters_are_refused():
    with pytest.raises(ValueError, match="module__hiden"):
        TorchClassifier().set_params(module__hiden=3)
    with pytest.raises(ValueError, match="n_outputs"):
        TorchClassifier().set_params(module__n_outputs=3)
    with pytest.raises(ValueError, match="lr="):
        TorchClassifier(optimizer_params={"lr": 0.1}, max_epochs=1).fit(*blobs())


def test_scaler_is_cloned_in_fit_never_fitted_in_place():
    scaler = MinMaxScaler()
    X, y = blobs()
    model = TorchClassifier(**{**FAST, "scaler": scaler}).fit(X, y)
    assert not hasattr(scaler, "data_min_")
    assert model.scaler_ is not scaler and hasattr(model.scaler_, "data_min_")
    assert TorchClassifier().fit(X, y).scaler_.__class__ is StandardScaler


def test_default_scaler_parameters_are_reachable_as_scaler_params():
    model = TorchClassifier(**FAST).set_params(scaler__with_mean=False)
    assert isinstance(model.scaler, StandardScaler) and model.scaler.with_mean is False
    assert TorchClassifier().scaler is None  # the default itself stays None: nothing shared
    X, y = blobs()
    np.testing.assert_allclose(model.fit(X, y).scaler_.mean_, X.mean(axis=0))


def test_passthrough_scaler_trains_on_raw_data():
    X, y = regression()
    model = TorchRegressor(**{**FAST, "scaler": "passthrough"}).fit(X, y)
    assert model.scaler_ is None and model.target_scaler_ is None


@pytest.mark.parametrize("params", [{"max_epochs": 0}, {"batch_size": -1}, {"lr": -1.0},
                                    {"device": "no-such-device"}, {"module_params": {"activation": "?"}}])
def test_bad_parameters_raise_value_error_at_fit(params):
    with pytest.raises(ValueError):
        TorchClassifier(**{**FAST, **params}).fit(*blobs())


def test_cuda_device_without_cuda_is_a_clear_value_error():
    if torch.cuda.is_available():
        X, y = blobs()
        model = TorchClassifier(**{**FAST, "device": "cuda"}).fit(X, y)
        assert next(model.module_.parameters()).is_cuda
        assert isinstance(model.predict_proba(X), np.ndarray)
        return
    with pytest.raises(ValueError, match="CUDA is not available"):
        TorchClassifier(**{**FAST, "device": "cuda"}).fit(*blobs())


def test_default_estimators_are_fresh_unfitted_instances():
    first, second = default_estimators(), default_estimators()
    assert {type(e).__name__ for e in first} == {"TorchClassifier", "TorchRegressor", "PretrainedTransformer",
                                                "PretrainedTextEncoder"}
    assert all(not hasattr(e, "n_features_in_") for e in first)
    assert all(a is not b for a, b in zip(first, second))


# -- PretrainedTransformer -----------------------------------------------------------------------

def pretrained_input(n=20):
    return np.random.default_rng(0).normal(size=(n, 8))


def forward(module, X):
    with torch.inference_mode():
        return module.eval()(torch.as_tensor(X, dtype=torch.float32)).numpy()


def test_pretrained_transform_is_the_modules_output_in_eval_mode():
    module = DemoEncoder(seed=4)
    module.train()
    X = pretrained_input()
    out = PretrainedTransformer(module=module, batch_size=7).fit(X).transform(X)
    assert module.training  # the user's instance was copied, not re-moded
    np.testing.assert_allclose(out, forward(DemoEncoder(seed=4), X), rtol=1e-6)
    assert out.dtype == np.float32 and out.shape == (20, 4)


def test_pretrained_rejects_the_wrong_width_with_a_value_error():
    with pytest.raises(ValueError, match="takes 8"):
        PretrainedTransformer(module=DemoEncoder()).fit(np.ones((5, 3)))


def test_pretrained_declares_its_input_width_from_its_parameters():
    assert PretrainedTransformer(module=DemoEncoder()).__conformance_tags__() == {"input_width": 8}
    by_class = PretrainedTransformer(module=DemoEncoder).set_params(module__in_features=5)
    assert by_class.__conformance_tags__() == {"input_width": 5}
    assert PretrainedTransformer().__conformance_tags__() == {"input_width": None}


def test_pretrained_feature_names_out():
    X = pretrained_input()
    names = PretrainedTransformer(module=DemoEncoder()).fit(X).get_feature_names_out()
    assert list(names) == [f"pretrainedtransformer{i}" for i in range(4)]


def test_pretrained_loads_a_torch_save_state_dict(tmp_path):
    path = tmp_path / "encoder.pt"
    torch.save(DemoEncoder(seed=9).state_dict(), path)
    X = pretrained_input()
    out = PretrainedTransformer(module=DemoEncoder, weights=str(path)).fit(X).transform(X)
    np.testing.assert_allclose(out, forward(DemoEncoder(seed=9), X), rtol=1e-6)


def test_pretrained_loads_safetensors_weights(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "encoder.safetensors"
    safetensors.save_file(DemoEncoder(seed=6).state_dict(), str(path))
    X = pretrained_input()
    out = PretrainedTransformer(module=DemoEncoder, weights=path).fit(X).transform(X)
    np.testing.assert_allclose(out, forward(DemoEncoder(seed=6), X), rtol=1e-6)


class _RunsCodeWhenUnpickled:
    """A 'weights file' payload that creates a marker file when unpickled: a stand-in for malware."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pretrained_refuses_a_malicious_pickle_weights_file(tmp_path):
    marker, path = tmp_path / "code-ran", tmp_path / "weights.pt"
    torch.save({"layer.weight": _RunsCodeWhenUnpickled(marker)}, path)
    torch.load(path, weights_only=False)  # proof the file is hostile: an unsafe load runs its code
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="refusing to load"):
        PretrainedTransformer(module=DemoEncoder, weights=str(path)).fit(pretrained_input())
    assert not marker.exists()


def test_pretrained_weights_that_do_not_fit_the_module_are_a_value_error(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(DemoEncoder(in_features=3).state_dict(), path)
    with pytest.raises(ValueError, match="do not fit"):
        PretrainedTransformer(module=DemoEncoder, weights=str(path)).fit(pretrained_input())


def test_fitted_pretrained_transformer_pickles_without_the_weights_file(tmp_path):
    path = tmp_path / "encoder.pt"
    torch.save(DemoEncoder(seed=2).state_dict(), path)
    X = pretrained_input()
    fitted = PretrainedTransformer(module=DemoEncoder, weights=str(path)).fit(X)
    expected = fitted.transform(X)
    path.unlink()
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), expected)


def test_pretrained_init_reads_no_file():
    model = PretrainedTransformer(module=DemoEncoder, weights="/no/such/file.pt")  # must not raise
    with pytest.raises(FileNotFoundError):
        model.fit(pretrained_input())


# -- persistence ---------------------------------------------------------------------------------

def test_fitted_state_is_saved_as_numpy_and_rebuilt_on_load():
    X, y = blobs()
    model = TorchClassifier(**FAST).fit(X, y)
    state = model.__getstate__()
    assert "module_" not in state and "optimizer_" not in state
    assert all(isinstance(v, np.ndarray) for v in state["_module_weights"].values())
    torch.manual_seed(5)
    before = torch.get_rng_state()
    restored = pickle.loads(pickle.dumps(model))
    assert torch.equal(torch.get_rng_state(), before)  # rebuilding the module drew nothing visible
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert hasattr(model, "module_")  # saving did not strip the original


def test_warm_start_after_unpickling_continues_like_the_original():
    X, y = blobs()
    model = TorchClassifier(**{**FAST, "max_epochs": 2, "warm_start": True}).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.fit(X, y).predict_proba(X), model.fit(X, y).predict_proba(X))


@pytest.mark.parametrize("make", [lambda: TorchRegressor(**FAST), lambda: PretrainedTransformer(module=DemoEncoder)])
def test_skops_round_trip_keeps_outputs_bitwise(make):
    sio = pytest.importorskip("skops.io")
    X, y = pretrained_input(30), np.arange(30.0)
    model = make().fit(X, y)
    payload = sio.dumps(model)
    loaded = sio.loads(payload, trusted=sio.get_untrusted_types(data=payload))
    method = "predict" if hasattr(model, "predict") else "transform"
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(model, method)(X))
