"""Prediction-time plumbing: the fast validation path agrees with ``validate_data``, and inference
never writes into the caller's array."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.utils.validation import validate_data

from reference_estimators import DemoEncoder, PretrainedTransformer, TorchClassifier, TorchRegressor, _torch

FAST = {"max_epochs": 3, "lr": 0.01, "batch_size": 32, "random_state": 0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def data(n=40, n_features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    return X, (X[:, 0] > 0).astype(int)


@pytest.fixture(scope="module")
def classifier():
    return TorchClassifier(**FAST).fit(*data())


def sklearn_validated(estimator, X):
    """What sklearn's own validation returns (or raises) for a prediction method."""
    return validate_data(estimator, X, reset=False, dtype=_torch.FLOATS)


def same_outcome(estimator, X):
    """``validated`` and ``validate_data`` return equal arrays or raise the same error."""
    try:
        expected = sklearn_validated(estimator, X)
    except ValueError as exc:
        with pytest.raises(ValueError) as raised:
            _torch.validated(estimator, X)
        assert str(raised.value) == str(exc)
        return None
    got = _torch.validated(estimator, X)
    assert type(got) is type(expected) and got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    return got


def read_only(array):
    array = array.copy()
    array.flags.writeable = False
    return array


def accepted_inputs():
    X = data()[0]
    huge = np.full((3, 4), 3e38, dtype=np.float32)  # finite entries whose float32 sum overflows
    return {"float64": X, "float32": X.astype(np.float32), "fortran": np.asfortranarray(X),
            "strided": X[::2], "reversed": X[::-1], "read-only": read_only(X.astype(np.float32)),
            "overflowing sum": huge, "list": X.tolist(), "int": (10 * X).astype(np.int64),
            "float16": X.astype(np.float16), "big-endian": X.astype(">f8"),
            "masked": np.ma.masked_array(X)}


@pytest.mark.parametrize("kind", list(accepted_inputs()))
def test_fast_validation_returns_what_validate_data_returns(classifier, kind):
    X = accepted_inputs()[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither path may warn (an overflowing sum included)
        got = same_outcome(classifier, X)
    if kind in ("float64", "float32", "fortran", "strided", "read-only", "overflowing sum"):
        assert got is X  # the fast path (or sklearn) hands back the caller's array itself


def rejected_inputs():
    X = data()[0]
    nan, inf = X.copy(), X.astype(np.float32)
    nan[3, 1], inf[0, 0] = np.nan, np.inf
    return {"nan": nan, "inf": inf, "nan read-only": read_only(nan), "nan strided": nan[::-1],
            "wrong width": X[:, :3], "1-D": X[:, 0], "empty": X[:0], "3-D": X[None],
            "complex": X.astype(np.complex128)}


@pytest.mark.parametrize("kind", list(rejected_inputs()))
def test_fast_validation_raises_sklearns_own_errors(classifier, kind):
    X = rejected_inputs()[kind]
    assert same_outcome(classifier, X) is None, f"{kind} input was accepted"
    with pytest.raises(ValueError):
        classifier.predict(X)


def test_common_input_never_reaches_validate_data(classifier, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("validate_data called on a plain float array of the fitted width")

    monkeypatch.setattr(_torch, "validate_data", refuse)
    X = data()[0]
    for array in (X, X.astype(np.float32), X[::-1], read_only(X)):
        assert _torch.validated(classifier, array) is array
    classifier.predict(X)


def test_fast_validation_honours_assume_finite(classifier):
    X = rejected_inputs()["nan"]
    with sklearn.config_context(assume_finite=True):
        assert same_outcome(classifier, X) is X


@pytest.mark.parametrize("make", [lambda: TorchClassifier(**FAST), lambda: TorchRegressor(**FAST)])
def test_predictions_agree_between_the_fast_path_and_the_fallback(make):
    X, y = data()
    model = make().fit(X, y)
    method = getattr(model, "predict_proba", model.predict)
    fast = method(X)
    np.testing.assert_array_equal(method(X.tolist()), fast)  # a list goes through validate_data
    np.testing.assert_array_equal(method(np.ma.masked_array(X)), fast)
    np.testing.assert_allclose(method(X.astype(np.float32)), fast, atol=1e-6)


def test_pretrained_transform_uses_the_same_validation():
    X = np.random.default_rng(0).normal(size=(20, 8))
    model = PretrainedTransformer(module=DemoEncoder).fit(X)
    np.testing.assert_array_equal(model.transform(X.tolist()), model.transform(X))
    for bad in (np.where(X > 2, np.nan, X), X[:, :3], X[:, 0]):
        assert same_outcome(model, bad) is None
        with pytest.raises(ValueError):
            model.transform(bad)


def test_feature_names_warning_survives_the_fast_path():
    pd = pytest.importorskip("pandas")
    X, y = data()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = TorchClassifier(**FAST).fit(frame, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = model.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(model.predict(frame), from_array)
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(frame[frame.columns[::-1]])


class ClampsItsInputInPlace(torch.nn.Module):
    """A module whose first step writes into its input tensor: legal torch, even in inference."""

    def __init__(self, n_features_in=8, n_outputs=2):
        super().__init__()
        self.linear = torch.nn.Linear(n_features_in, n_outputs)

    def forward(self, x):
        return self.linear(x.clamp_(min=0.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inference_never_writes_into_the_callers_array(dtype):
    X, y = data(n_features=8)
    X = X.astype(dtype)
    before = X.copy()
    classifier = TorchClassifier(ClampsItsInputInPlace, scaler="passthrough", **FAST).fit(X, y)
    classifier.predict(X)  # no scaler: the module gets the estimator's copy of X itself
    PretrainedTransformer(module=ClampsItsInputInPlace).fit(X).transform(X)
    np.testing.assert_array_equal(X, before)  # a from_numpy view here would have been clamped


@pytest.mark.parametrize("view", ["rows", "columns", "one_row"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tensors_are_made_from_views_with_negative_strides(view, dtype):
    X = np.arange(24, dtype=dtype).reshape(3, 8)
    reversed_view = {"rows": X[::-1], "columns": X[:, ::-1], "one_row": X[::-1][:1]}[view]
    tensor = _torch.to_tensor(reversed_view, torch.float32, torch.device("cpu"))
    assert np.array_equal(tensor.numpy(), reversed_view.astype(np.float32))
    transformer = PretrainedTransformer(module=DemoEncoder).fit(np.ones((4, 8)))
    assert np.array_equal(transformer.transform(reversed_view), transformer.transform(reversed_view.copy()))
