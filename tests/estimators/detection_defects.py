"""Defects of the classes issue 12 names, each a correct twin with one mistake found in real projects.

Coincidences (a check passing a defect because its values equal the estimator's own), degenerate
but valid data, layouts and containers in float32 and float64, batch boundaries, and models that
run but learn nothing. Each docstring names the mistake as it is met in skorch, pytorch-tabnet,
sentence-transformers wrappers and sklearn-contrib issue trackers; ``aimed_at`` lists the checks
that catch it (tests/test_zoo.py proves each one does). They join the defect zoo
(tests/estimators/zoo.py), with the one twin of their own, :class:`BatchNormRegressor`.
"""

from __future__ import annotations

import logging
import random

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted, validate_data

from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor
from tests.estimators.device_estimators import DeviceTorchRegressor, LeakyPredictRegressor, NondeterministicOpRegressor
from tests.estimators.persistence_defects import NumpyStateClassifier, RawCudaPickle

HYGIENE = "hygiene.fit_and_predict_leave_global_state"
FLOATS = (np.float64, np.float32)


# --- the correct twin with batch norm ---------------------------------------------------------

class BatchNormRegressor(TinyTorchRegressor):
    """Correct twin with ``BatchNorm1d`` after the first layer: a last mini-batch of one row is
    skipped in training (batch norm cannot normalise a single row), as pytorch-tabnet's
    ``drop_last`` does."""

    def _build_module(self, n_in, n_out):
        return torch.nn.Sequential(torch.nn.Linear(n_in, self.hidden), torch.nn.BatchNorm1d(self.hidden),
                                   torch.nn.Tanh(), torch.nn.Linear(self.hidden, n_out))

    def _usable(self, rows) -> bool:
        return len(rows) > 1


class WeightedFullBatchRegressor(TinyTorchRegressor):
    """Correct twin taking ``sample_weight``: full-batch training on the weighted mean loss, and
    weighted statistics for the standardisation of X and y, so integer weights act exactly like
    repeated rows (up to float rounding)."""

    def __init__(self, hidden=16, lr=0.05, max_epochs=30, batch_size=100_000, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not w.sum() > 0:
            raise ValueError("sample_weight sums to zero: there is no row to fit")
        keep = w > 0
        X, y, w = X[keep], y[keep], w[keep]
        self.mean_, self.scale_ = self._statistics(X, w)
        y_mean, y_scale = self._statistics(y[:, None], w)
        self.y_mean_, self.y_scale_ = float(y_mean[0]), float(y_scale[0])
        target = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)[:, None]
        return self._fit_weighted(X, target, torch.as_tensor(w, dtype=torch.float32)[:, None])

    @staticmethod
    def _statistics(X, w):
        """The weighted mean and standard deviation of each column (1 where the deviation is 0)."""
        mean = np.average(X, axis=0, weights=w)
        std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
        return mean, np.where(std > 0, std, 1.0)

    def _fit_weighted(self, X, target, weights):
        self.module_ = self._init_module(X.shape[1], 1)
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        inputs = self._to_tensor(X)
        self.module_.train()
        for _ in range(self.max_epochs):
            optimizer.zero_grad()
            loss = (weights * (self.module_(inputs) - target) ** 2).sum() / weights.sum()
            loss.backward()
            optimizer.step()
        self.module_.eval()
        return self


# NumpyStateClassifier (tests/estimators/persistence_defects.py) pickles its network as numpy
# arrays, so skops can store it: the twin of the skops defect.
TWINS = (BatchNormRegressor, WeightedFullBatchRegressor, NumpyStateClassifier)


# --- coincidences: seeds ---------------------------------------------------------------------

class SeedsTorchWithRandomState(TinyTorchClassifier):
    """Calls ``torch.manual_seed(self.random_state)`` at the start of ``fit``, the commonest way to
    "make training reproducible": the caller's torch RNG is reset to ``random_state``'s stream."""

    aimed_at = ("determinism.global_rng_untouched",)

    def fit(self, X, y):
        torch.manual_seed(self.random_state)
        return super().fit(X, y)


class SeedsNumpyWithRandomState(TinyTorchRegressor):
    """Calls ``np.random.seed(self.random_state)`` in ``fit`` so that its shuffles repeat: the
    caller's numpy stream (their train/test split, their bootstrap) restarts."""

    aimed_at = ("determinism.global_rng_untouched",)

    def fit(self, X, y):
        np.random.seed(self.random_state)
        return super().fit(X, y)


class SeedsPythonRandomWithRandomState(TinyTorchClassifier):
    """Calls ``random.seed(self.random_state)`` in ``fit`` (a data-augmentation helper's habit):
    the caller's ``random`` stream restarts."""

    aimed_at = ("determinism.global_rng_untouched",)

    def fit(self, X, y):
        random.seed(self.random_state)
        return super().fit(X, y)


class ZeroSeedMeansUnseeded(TinyTorchRegressor):
    """Takes ``random_state or <a draw from numpy's global RNG>``: ``random_state=0`` is falsy, so
    the most common seed of all is silently ignored."""

    aimed_at = ("determinism.independent_of_global_seeds",)

    def _seed(self):
        return int(self.random_state or np.random.randint(0, 2**31 - 1))


# --- coincidences: "restoring" a setting to its default, not to the caller's value -----------

class RestoresMatmulPrecisionToDefault(TinyTorchClassifier):
    """Allows TF32-like matmuls for speed in ``fit`` (``set_float32_matmul_precision("high")``),
    then "restores" ``"highest"``, the default: a caller who had chosen ``"high"`` or ``"medium"``
    gets ``"highest"`` back."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.set_float32_matmul_precision("high")
        try:
            return super().fit(X, y)
        finally:
            torch.set_float32_matmul_precision("highest")


class RestoresPrintOptionsToDefault(TinyTorchRegressor):
    """Prints its losses with ``np.set_printoptions(precision=3)``, then "restores" numpy's default
    precision 8 instead of the caller's own."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        np.set_printoptions(precision=3)
        try:
            return super().fit(X, y)
        finally:
            np.set_printoptions(precision=8)


class TurnsDeterminismOffAfterFit(TinyTorchClassifier):
    """Turns ``torch.use_deterministic_algorithms(True)`` on for a reproducible fit, then off: a
    caller who runs deterministically throughout loses it after the first fit."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.use_deterministic_algorithms(True)
        try:
            return super().fit(X, y)
        finally:
            torch.use_deterministic_algorithms(False)


class RestoresRootLogLevelToWarning(TinyTorchRegressor):
    """Logs its epochs at INFO (``logging.getLogger().setLevel(logging.INFO)``), then "restores"
    ``WARNING``, logging's default, whatever level the application had configured."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        try:
            return super().fit(X, y)
        finally:
            root.setLevel(logging.WARNING)


# --- coincidences: standardised data and labels 0..k-1 ---------------------------------------

class ForgetsTargetInverseTransform(TinyTorchRegressor):
    """Trains on the standardised target and returns the network's output as the prediction,
    never transformed back (``* y_scale_ + y_mean_`` forgotten): invisible on a target that is
    already standardised, as sklearn's own checks make it."""

    aimed_at = ("inputs.learns_unstandardised_data",)

    def predict(self, X):
        return self._forward(X)[:, 0]


class ScalerNotAppliedAtPredict(TinyTorchClassifier):
    """Standardises X in ``fit`` but feeds the raw X to the network at predict (the scaler lives
    in the training loop only): invisible on data that is already standardised."""

    aimed_at = ("inputs.learns_unstandardised_data",)

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.inference_mode():
            return self.module_(torch.as_tensor(X, dtype=torch.float32)).double().numpy()


class PredictsClassIndices(TinyTorchClassifier):
    """Encodes labels correctly in ``fit`` but returns ``argmax`` indices from ``predict``
    instead of ``classes_[argmax]``: right whenever the labels are ``0..k-1``."""

    aimed_at = ("inputs.learns_unstandardised_data", "inputs.output_contract")

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)


class ShufflesFeaturesApartFromLabels(TinyTorchRegressor):
    """Shuffles the training rows of X and of y with two separate permutations (one
    ``randperm`` each): the network learns from features paired with other rows' targets."""

    aimed_at = ("inputs.learns_unstandardised_data",)

    def _fit_module(self, X, target, n_out, loss_fn):
        generator = torch.Generator().manual_seed(self._seed() + 1)
        return super()._fit_module(X, target[torch.randperm(len(target), generator=generator)], n_out, loss_fn)


class RestoresInitialWeights(TinyTorchClassifier):
    """Keeps a copy of the weights for "restore best" and loads the wrong one at the end of
    ``fit``: the initial weights, so the fitted model is the untrained one."""

    aimed_at = ("inputs.learns_unstandardised_data",)

    def _init_module(self, n_in, n_out):
        module = super()._init_module(n_in, n_out)
        self._initial_state = {k: v.clone() for k, v in module.state_dict().items()}
        return module

    def _fit_module(self, X, target, n_out, loss_fn):
        super()._fit_module(X, target, n_out, loss_fn)
        self.module_.load_state_dict(self.__dict__.pop("_initial_state"))
        return self


# --- degenerate but valid data ------------------------------------------------------------------

class StandardisesWithoutZeroGuard(TinyTorchClassifier):
    """Standardises with ``(X - mean) / std`` and no guard for a zero standard deviation: a
    constant or all-zero column, or identical rows, become NaN."""

    aimed_at = ("inputs.degenerate_data",)

    def _fit_module(self, X, target, n_out, loss_fn):
        self.std_ = X.std(axis=0)
        return super()._fit_module(X, target, n_out, loss_fn)

    def _to_tensor(self, X):
        with np.errstate(divide="ignore", invalid="ignore"):
            return torch.as_tensor((X - self.mean_) / self.std_, dtype=torch.float32)


class MinMaxScalesWithoutGuard(TinyTorchRegressor):
    """Scales features to [0, 1] with ``(X - min) / (max - min)``: a constant column divides by
    zero and the model answers NaN."""

    aimed_at = ("inputs.degenerate_data",)

    def _fit_module(self, X, target, n_out, loss_fn):
        self.min_, self.range_ = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
        return super()._fit_module(X, target, n_out, loss_fn)

    def _to_tensor(self, X):
        with np.errstate(divide="ignore", invalid="ignore"):
            return torch.as_tensor((X - self.min_) / self.range_, dtype=torch.float32)


class WhitensWithCholesky(TinyTorchClassifier):
    """Whitens the features with the Cholesky factor of their covariance (``torch.linalg.cholesky``):
    a duplicated or constant column makes the covariance singular and torch's ``LinAlgError``
    reaches the caller."""

    aimed_at = ("inputs.degenerate_data",)

    def _fit_module(self, X, target, n_out, loss_fn):
        covariance = torch.as_tensor(np.cov(X, rowvar=False).reshape(X.shape[1], X.shape[1]))
        self.whitening_ = torch.linalg.inv(torch.linalg.cholesky(covariance)).numpy()
        return super()._fit_module(X, target, n_out, loss_fn)

    def _to_tensor(self, X):
        return torch.as_tensor(((X - self.mean_) @ self.whitening_.T), dtype=torch.float32)


class MahalanobisWithInverse(TinyTorchRegressor):
    """Whitens by the inverse covariance (``np.linalg.inv(np.cov(X.T))``, "Mahalanobis
    standardisation"): duplicated columns or identical rows raise numpy's ``LinAlgError:
    Singular matrix`` instead of a message about the data."""

    aimed_at = ("inputs.degenerate_data",)

    def _fit_module(self, X, target, n_out, loss_fn):
        precision = np.linalg.inv(np.atleast_2d(np.cov(X, rowvar=False)))
        self.whitening_ = np.linalg.cholesky(precision)
        return super()._fit_module(X, target, n_out, loss_fn)

    def _to_tensor(self, X):
        return torch.as_tensor((X - self.mean_) @ self.whitening_, dtype=torch.float32)


class TargetScaleWithoutGuard(TinyTorchRegressor):
    """Standardises the target by ``np.std(y)`` with no guard: a constant target divides by zero,
    training runs on NaN and every prediction is NaN."""

    aimed_at = ("inputs.degenerate_data",)

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self.y_mean_, self.y_scale_ = float(np.mean(y)), float(np.std(y))
        with np.errstate(divide="ignore", invalid="ignore"):
            target = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)[:, None]
        return self._fit_module(X, target, 1, torch.nn.functional.mse_loss)


class ClassStdWithOneSample(TinyTorchClassifier):
    """Calibrates each class's logit by the spread of its training rows (``std(ddof=1)`` per
    class, "temperature per class"): a class with a single sample has a NaN spread, and every
    probability becomes NaN."""

    aimed_at = ("inputs.degenerate_data",)

    def _fit_module(self, X, target, n_out, loss_fn):
        super()._fit_module(X, target, n_out, loss_fn)
        labels = target.numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            spreads = [np.nanmean(X[labels == k].std(axis=0, ddof=1)) if np.sum(labels == k) > 1 else np.nan
                       for k in range(n_out)]
        self.class_spread_ = np.asarray(spreads) / np.nanmean(spreads)
        return self

    def _forward(self, X):
        return super()._forward(X) / self.class_spread_


class HalfPrecisionInputs(TinyTorchRegressor):
    """Casts X to float16 before standardising, "to halve the memory of large batches": features
    above 65504 (a column on a scale of 1e8, float32 values near their largest) become inf, and
    the predictions NaN."""

    aimed_at = ("inputs.degenerate_data",)

    def _to_tensor(self, X):
        with np.errstate(over="ignore", invalid="ignore"):
            half = X.astype(np.float16).astype(np.float64)
            return torch.as_tensor((half - self.mean_) / self.scale_, dtype=torch.float32)


class ClassWeightsPerBatch(TinyTorchClassifier):
    """Balances each mini-batch with ``weight=1 / torch.bincount(y_batch)``, without
    ``minlength``: a batch that lacks the last class gives a weight tensor of the wrong length,
    and torch's ``RuntimeError`` reaches the caller."""

    aimed_at = ("inputs.batch_boundaries",)

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        target = torch.as_tensor(encoded, dtype=torch.long)

        def balanced(logits, labels):
            return torch.nn.functional.cross_entropy(logits, labels, weight=1.0 / torch.bincount(labels).float())
        return self._fit_module(X, target, len(self.classes_), balanced)


# --- layouts and containers, float32 and float64 ----------------------------------------------

class Float32ZeroCopy(TinyTorchClassifier):
    """Keeps float32 input as it is ("no copy for float32") and hands it to ``torch.from_numpy``:
    float64 input is copied and works, float32 arrays that are reversed, read-only or memmapped
    reach torch as they are and fail or warn."""

    aimed_at = ("inputs.valid_dtypes_and_layouts",)

    def fit(self, X, y):
        X = check_array(X, dtype=FLOATS)
        return super().fit(self._standardisable(X).astype(np.float64), y)

    def _standardisable(self, X):
        return torch.from_numpy(X).numpy() if X.dtype == np.float32 else X

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOATS)
        return super()._forward(self._standardisable(X).astype(np.float64))


class AsTensorView(TinyTorchRegressor):
    """Validates to float64 and wraps the result with ``torch.as_tensor`` (no copy): a float64
    input is the caller's own array, so negative strides raise torch's ValueError and read-only
    arrays and memmaps warn that they are not writable; float32 input is copied and works."""

    aimed_at = ("inputs.valid_dtypes_and_layouts",)

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        tensor = torch.as_tensor(X)
        scaled = (tensor - torch.as_tensor(self.mean_)) / torch.as_tensor(self.scale_)
        with torch.inference_mode():
            return self.module_(scaled.float()).double().numpy()


class KeepsByteOrder(TinyTorchClassifier):
    """Converts with ``np.array(X, copy=True)`` to keep the caller's dtype, then
    ``torch.from_numpy``: arrays read from big-endian files (HDF5, FITS, ``'>f8'``) raise
    torch's "byte order different from the native byte order"."""

    aimed_at = ("inputs.valid_dtypes_and_layouts",)

    def _forward(self, X):
        check_is_fitted(self)
        X = torch.from_numpy(np.array(X, copy=True)).double().numpy()
        return super()._forward(X)


class FrameValuesToTorch(TinyTorchRegressor):
    """Takes ``torch.tensor(X.values, dtype=torch.float32)`` of a DataFrame: a frame of pandas'
    nullable dtypes (``Float64``, ``Int64``) has object ``.values``, and torch raises "can't
    convert np.ndarray of type numpy.object_"."""

    aimed_at = ("inputs.valid_dtypes_and_layouts",)

    @staticmethod
    def _frame_to_array(X):
        if isinstance(X, pd.DataFrame):
            return torch.tensor(X.values, dtype=torch.float64).numpy()
        return X

    def fit(self, X, y):
        return super().fit(self._frame_to_array(X), y)

    def predict(self, X):
        return super().predict(self._frame_to_array(X))


class ListsOnlyNotTuples(TinyTorchClassifier):
    """Converts nested lists with ``np.asarray`` and DataFrames with ``to_numpy``, then reads
    ``X.dtype`` ("cast only when needed"): a tuple of rows raises ``AttributeError: 'tuple'
    object has no attribute 'dtype'``."""

    aimed_at = ("inputs.valid_dtypes_and_layouts",)

    @staticmethod
    def _as_array(X):
        if isinstance(X, list):
            X = np.asarray(X)
        elif hasattr(X, "to_numpy"):
            X = X.to_numpy()
        return X if X.dtype == np.float64 else X.astype(np.float64)

    def fit(self, X, y):
        return super().fit(self._as_array(X), y)

    def _forward(self, X):
        return super()._forward(self._as_array(X))


# --- batch boundaries --------------------------------------------------------------------------

class BatchNormLastBatchOfOne(BatchNormRegressor):
    """Trains its batch-norm network on every mini-batch, the last one included: when the rows
    leave one over (n = b+1, 2b+1), batch norm raises "Expected more than 1 value per channel
    when training" (pytorch-tabnet's most reported error, fixed there by ``drop_last``)."""

    aimed_at = ("inputs.batch_boundaries",)

    def _usable(self, rows) -> bool:
        return len(rows) > 0


class LastChunkOffByOne(TinyTorchClassifier):
    """Predicts in chunks of ``batch_size`` with ``range(0, max(len(X) - 1, 1), batch_size)``: when
    one row is left over (n = b+1, 2b+1) that row gets no prediction."""

    aimed_at = ("inputs.batch_boundaries",)

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        inputs = self._to_tensor(X)
        with torch.inference_mode():
            parts = [self.module_(inputs[start:start + self.batch_size])
                     for start in range(0, max(len(X) - 1, 1), self.batch_size)]
        return torch.cat(parts).double().numpy()


# --- checks no other zoo defect reached: weights, nested names, pipelines, skops -------------

class SampleWeightOnlyInTheLoss(WeightedFullBatchRegressor):
    """Weights the loss but standardises X and y with unweighted statistics (the scaler fitted
    without ``sample_weight``, as a ``StandardScaler().fit(X)`` in front of a weighted loss does):
    weighted rows and repeated rows give two different models."""

    aimed_at = ("inputs.sample_weight_equivalence",)

    @staticmethod
    def _statistics(X, w):
        return WeightedFullBatchRegressor._statistics(X, np.ones(len(X)))


class ParamsFromInitKwargs(TinyTorchClassifier):
    """Records its constructor arguments in ``__init__`` (``self._init_kwargs``, "so subclasses
    can take ``**kwargs``") and answers ``get_params`` from that record: ``set_params`` changes the
    attribute but ``get_params`` keeps reporting the constructor's value, so ``clone`` and
    ``GridSearchCV``'s refit undo every ``set_params``."""

    aimed_at = ("params.get_set_params_roundtrip",)

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self._init_kwargs = dict(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                                 random_state=random_state)

    def get_params(self, deep=True):
        return dict(self._init_kwargs)


class ScoreFromTrainingHistory(TinyTorchRegressor):
    """Overrides ``score`` to return the last validation loss from the training history ("cheaper
    than predicting again"): without a validation split there is none, ``score`` returns None,
    and ``cross_val_score`` raises "scoring must return a number"."""

    aimed_at = ("params.works_in_pipeline_and_cross_val_score",)

    def fit(self, X, y):
        super().fit(X, y)
        self.history_ = [{"epoch": self.max_epochs, "valid_loss": None}]
        return self

    def score(self, X, y, sample_weight=None):
        return self.history_[-1]["valid_loss"]


class Float16SkopsState(NumpyStateClassifier):
    """Stores its weights as float16 arrays in ``__getstate__`` "to keep the .skops file small": a
    model loaded with ``skops.io`` (or pickle) predicts differently from the one saved."""

    aimed_at = ("persistence.skops_roundtrip", "persistence.pickle_roundtrip")

    def __getstate__(self):
        state = super().__getstate__()
        if "module_state_" in state:
            state["module_state_"] = {k: v.astype(np.float16) for k, v in state["module_state_"].items()}
        return state


# --- CUDA only: each mistake is invisible where torch sees no GPU (skipped there) --------------

class KeepsOutputsOnDevice(LeakyPredictRegressor):
    """Keeps every prediction tensor on the device in a "last outputs" history (for a progress
    callback): CUDA memory grows with every ``predict`` call until the process runs out."""

    needs_cuda = True
    aimed_at = ("devices.cuda_predict_memory_stable",)


class MaxUnpoolOnCuda(NondeterministicOpRegressor):
    """Sparsifies its hidden layer with ``max_unpool1d``, whose CUDA kernel has no deterministic
    implementation: with ``torch.use_deterministic_algorithms(True)`` a CUDA fit raises instead
    of repeating bitwise."""

    needs_cuda = True
    aimed_at = ("devices.cuda_deterministic_fits_bitwise",)


class HalfPrecisionOnCuda(DeviceTorchRegressor):
    """Predicts under ``torch.autocast`` in float16 whenever the module is on CUDA ("free speed on
    GPUs"): the same fitted model predicts differently once moved to CUDA, by far more than float32
    rounding."""

    needs_cuda = True
    aimed_at = ("devices.cuda_roundtrip_predicts_same",)

    def _forward(self, X):
        if self._device().type != "cuda":
            return super()._forward(X)
        with torch.autocast("cuda", dtype=torch.float16):
            return super()._forward(X)


class PicklesCudaTensors(RawCudaPickle):
    """Pickles the network where it lives, CUDA tensors included (no ``map_location``, no move
    to the CPU in ``__getstate__``): the pickle cannot be loaded on a machine without a GPU."""

    needs_cuda = True
    aimed_at = ("persistence.cuda_pickle_loads_without_cuda",)


DEFECTS = tuple(obj for obj in list(vars().values())
                if isinstance(obj, type) and hasattr(obj, "aimed_at") and obj.__doc__)
# What the zoo imports (``from tests.estimators.detection_defects import *``): the twin and the defects.
__all__ = [cls.__name__ for cls in (*TWINS, *DEFECTS)]
