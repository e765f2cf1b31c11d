"""The defect zoo: correct torch estimators, each given exactly one real-world mistake.

Every defect subclasses a correct twin (``TinyTorchClassifier`` / ``TinyTorchRegressor`` from
:mod:`tests.estimators.base`, one of the three parameterised twins below, or a text twin from
:mod:`tests.estimators.text`, whose defects live in :mod:`tests.estimators.text_defects`) and
overrides the smallest piece of it that carries the mistake. Its docstring names the mistake as it is found
in the wild; ``aimed_at`` lists the check ids meant to catch it. ``tests/test_zoo.py`` proves
each defect fails one of its aimed-at checks and each twin passes the whole suite;
``scripts/mutation-score`` runs the whole suite on all of them (docs/proof.md).
"""

from __future__ import annotations

import copy
import io
import sys

import numpy as np
import torch
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor
# The hygiene check's defects, one per kind of process-wide state, join the zoo (DEFECTS below).
# LeaksDefaultDtype and PinsThreads stay out: SetsDefaultDtype and SetsNumThreads are their zoo twins.
from tests.estimators.hygiene_defects import (  # noqa: F401
    AddsRootHandler, AllowsTF32, ChangesDirectory, DetectsAnomalies, DisablesGradInPredict, EnablesCudnnBenchmark,
    EnablesDeterminism, ExtendsSysPath, FlushesDenormals, IgnoresWarnings, InstallsSignalHandler,
    LeavesChildProcessRunning, LeavesThreadRunning, LowersMatmulPrecision, SetsDefaultDevice, SetsEnvironment,
    SetsEnvironmentInPredict, SetsPrintOptions, SetsRootLogLevel, SilencesNumpy, SilencesNumpyInPartialFit,
)
# Issue 12's classes (coincidences, degenerate data, layouts in both float dtypes, batch boundaries,
# models that learn nothing) join the zoo, with their twin BatchNormRegressor.
from tests.estimators.detection_defects import *  # noqa: F401,F403
from tests.estimators.detection_defects import TWINS as DETECTION_TWINS

# The defects that hide behind non-default parameters join it too, with their twins (TWINS below).
from tests.estimators.variant_defects import (  # noqa: F401
    EarlyStoppingClassifier, EarlyStoppingGlobalSplit, EarlyStoppingNeverImproves, HuberIgnoresWeights,
    IncrementalClassifier,
    LayerNormWrongWidth, LossChoiceRegressor, NormClassifier, NormTableMissesBatch, PartialFitForgets,
    PickleDropsOptimizer, WarmStartClassifier, WarmStartIgnored, WarmStartRebuildsOptimizer,
)
from tests.estimators.variant_defects import TWINS as VARIANT_TWINS
# The text twins and their defects (documents in, one mistake each) join the zoo the same way,
# by name: scripts/mutation-score looks every twin and defect up as an attribute of this module.
from tests.estimators.text import TEXT_TWINS, TinyTextClassifier, TinyTextEmbedder  # noqa: F401
from tests.estimators.text_defects import (  # noqa: F401
    AttentionWithoutPaddingMask, BuiltinHashTokens, DropsEmptyDocuments, IteratesSingleString, LambdaTokenizer,
    NormalisesCallerDocuments, OnlyListsOrArrays, PadsWithUnknownId, PercentileTruncation, RandpermVocabulary,
    RefitsVocabularyAtPredict, ReturnsEmbeddingList, ShuffledVocabulary, StrCoercesDocuments, TokenCacheOnEstimator,
    UnmaskedMeanPooling, VocabularyFromSetOrder,
)

HYGIENE = "hygiene.fit_and_predict_leave_global_state"


# --- the parameterised correct twins ----------------------------------------------------------

class ActivationRegressor(TinyTorchRegressor):
    """Correct twin taking the hidden activation as a parameter (default ``None``: ``Tanh``).

    The module given is copied in ``fit``, so training never touches the caller's object.
    """

    def __init__(self, activation=None, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.activation = activation

    def _activation(self):
        return torch.nn.Tanh() if self.activation is None else copy.deepcopy(self.activation)

    def _build_module(self, n_in, n_out):
        return torch.nn.Sequential(torch.nn.Linear(n_in, self.hidden), self._activation(),
                                   torch.nn.Linear(self.hidden, n_out))


class ScalerClassifier(TinyTorchClassifier):
    """Correct twin taking its input scaler as a nested estimator (default ``None``: StandardScaler).

    The scaler given is cloned in ``fit`` and the clone is fitted (``scaler_``).
    """

    def __init__(self, scaler=None, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.scaler = scaler

    def _scaler(self):
        return StandardScaler() if self.scaler is None else clone(self.scaler)

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.scaler_ = self._scaler().fit(X)
        return super().fit(X, y)

    def _to_tensor(self, X):
        return torch.as_tensor(self.scaler_.transform(X), dtype=torch.float32)


class DeviceClassifier(TinyTorchClassifier):
    """Correct twin with a torch ``device`` parameter: the module lives there, outputs come back as numpy."""

    def __init__(self, device="cpu", hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.device = device

    def _fit_module(self, X, target, n_out, loss_fn):
        # Train on the CPU with the twin's exact recipe, then move the fitted module to the device.
        super()._fit_module(X, target, n_out, loss_fn)
        self.module_.to(self.device)
        return self

    def _to_tensor(self, X):
        return super()._to_tensor(X).to(self.device)

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.inference_mode():
            return self.module_(self._to_tensor(X)).double().cpu().numpy()


TWINS = (TinyTorchClassifier, TinyTorchRegressor, ActivationRegressor, ScalerClassifier, DeviceClassifier,
         *VARIANT_TWINS, *TEXT_TWINS, *DETECTION_TWINS)


# --- params: __init__, defaults, set_params, clone ---------------------------------------------

_checkpoint = io.BytesIO()
torch.save({"weight": torch.zeros(16, 4)}, _checkpoint)
CHECKPOINT = _checkpoint.getvalue()  # stands for a pretrained checkpoint on disk


class BuildsModuleInInit(TinyTorchClassifier):
    """Builds the network in ``__init__`` ("so it is ready"), before set_params can change ``hidden``."""

    aimed_at = ("params.init_stores_arguments_only",)

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self._encoder = torch.nn.Linear(4, hidden)


class LoadsCheckpointInInit(TinyTorchClassifier):
    """Calls ``torch.load`` on a pretrained checkpoint in ``__init__``."""

    aimed_at = ("params.init_stores_arguments_only",)

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self._pretrained = torch.load(io.BytesIO(CHECKPOINT))


_SHARED_PRELU = torch.nn.PReLU()


class SharedPReLUDefault(ActivationRegressor):
    """``activation=nn.PReLU()`` as a default argument, put into the network as is: every instance
    trains the same PReLU weight."""

    aimed_at = ("params.defaults_are_fresh", "params.fit_does_not_mutate_params")

    def __init__(self, activation=_SHARED_PRELU, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(activation=activation, hidden=hidden, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, random_state=random_state)

    def _activation(self):
        return self.activation


_SHARED_SCALER = StandardScaler()


class SharedScalerDefault(ScalerClassifier):
    """``scaler=StandardScaler()`` as a default argument, fitted in place instead of cloned."""

    aimed_at = ("params.defaults_are_fresh",)  # fit_does_not_mutate_params does not fail it (quick profile)

    def __init__(self, scaler=_SHARED_SCALER, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(scaler=scaler, hidden=hidden, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, random_state=random_state)

    def _scaler(self):
        return self.scaler


class CopiesLrInInit(TinyTorchClassifier):
    """Copies ``lr`` into ``self._lr`` in ``__init__`` and trains with the copy, so
    ``set_params(lr=...)`` (GridSearchCV) is silently ignored."""

    aimed_at = ("params.set_params_acts_like_constructor", "params.grid_search_parallel")

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self._lr = lr

    def _fit_module(self, X, target, n_out, loss_fn):
        configured, self.lr = self.lr, self._lr
        try:
            return super()._fit_module(X, target, n_out, loss_fn)
        finally:
            self.lr = configured


class DerivedAttributeInInit(TinyTorchRegressor):
    """Computes a public attribute from a parameter in ``__init__`` (``self.n_hidden = hidden``)
    and builds the network from it, so ``set_params(hidden=...)`` changes nothing."""

    aimed_at = ("sklearn.check_no_attributes_set_in_init",)  # set_params_acts_like_constructor does not fail it

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.n_hidden = hidden

    def _fit_module(self, X, target, n_out, loss_fn):
        configured, self.hidden = self.hidden, self.n_hidden
        try:
            return super()._fit_module(X, target, n_out, loss_fn)
        finally:
            self.hidden = configured


class DecaysLrInFit(TinyTorchClassifier):
    """Halves ``self.lr`` at the end of ``fit`` ("learning-rate decay for the next fit")."""

    aimed_at = ("params.fit_does_not_mutate_params", "sklearn.check_estimators_overwrite_params")

    def fit(self, X, y):
        super().fit(X, y)
        self.lr = self.lr * 0.5
        return self


_MODEL_CACHE: dict = {}


class ModuleCachedOnClass(TinyTorchRegressor):
    """Keeps fitted networks in a module-level cache keyed by the hyper-parameters ("so refits
    are cheap"): a second instance with the same parameters overwrites the first one's model."""

    aimed_at = ("params.instances_are_independent", "params.clone_is_unfitted_and_independent")

    def fit(self, X, y):
        super().fit(X, y)
        self.key_ = repr(sorted(self.get_params().items()))
        _MODEL_CACHE[self.key_] = self.__dict__.pop("module_")
        return self

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.inference_mode():
            return _MODEL_CACHE[self.key_](self._to_tensor(X)).double().numpy()


class ShallowCloneHook(TinyTorchClassifier):
    """Overrides ``__sklearn_clone__`` with ``copy.copy(self)`` ("faster clone"): the clone is
    fitted and shares its network with the original."""

    aimed_at = ("params.clone_is_unfitted_and_independent",)

    def __sklearn_clone__(self):
        return copy.copy(self)


class FitReturnsNone(TinyTorchRegressor):
    """``fit`` forgets ``return self``, so ``est.fit(X, y).predict(X)`` breaks."""

    aimed_at = ("sklearn.check_estimators_fit_returns_self",)

    def fit(self, X, y):
        super().fit(X, y)


# --- persistence --------------------------------------------------------------------------------

class KeepsTrainingData(TinyTorchClassifier):
    """Keeps the training set on the estimator (``self.X_train_ = X``, "for later analysis")."""

    aimed_at = ("persistence.pickle_size_independent_of_n_samples",)

    def fit(self, X, y):
        super().fit(X, y)
        self.X_train_ = np.asarray(X, dtype=np.float64).copy()
        return self


class LambdaLossAttribute(TinyTorchRegressor):
    """Stores the loss as a lambda on the fitted estimator (``self.loss_fn_ = lambda ...``):
    pickle, joblib and process-based GridSearchCV all fail."""

    aimed_at = ("persistence.pickle_roundtrip", "persistence.joblib_roundtrip")

    def fit(self, X, y):
        super().fit(X, y)
        self.loss_fn_ = lambda pred, target: torch.nn.functional.mse_loss(pred, target)
        return self


class HalfPrecisionPickle(TinyTorchRegressor):
    """``__getstate__`` stores the weights in float16 "to halve the file size": the loaded model
    predicts differently."""

    aimed_at = ("persistence.pickle_roundtrip", "persistence.joblib_roundtrip", "persistence.deepcopy_roundtrip")

    def __getstate__(self):
        state = super().__getstate__()
        if "module_" in state:
            module = copy.deepcopy(state["module_"])
            with torch.no_grad():
                for p in module.parameters():
                    p.copy_(p.half().float())
            state["module_"] = module
        return state


class GetstateAssumesFitted(TinyTorchClassifier):
    """``__getstate__`` saves ``self.module_.state_dict()`` unconditionally, so an unfitted
    estimator cannot be pickled (joblib caching, process-based parallelism before fit)."""

    aimed_at = ("persistence.unfitted_roundtrip",)

    def __getstate__(self):
        state = super().__getstate__()
        state["_weights"] = {k: v.clone() for k, v in self.module_.state_dict().items()}
        return state


class NotebookDefinedClassifier(TinyTorchClassifier):
    """Defined in a notebook: the class lives in ``__main__``. Pickling inside the notebook
    works; loading the pickle in any other process fails.

    Simulated honestly: ``__module__`` is ``"__main__"`` and the class is reachable as
    ``__main__.NotebookDefinedClassifier`` in this process, exactly as a notebook cell leaves it.
    """

    aimed_at = ("persistence.fresh_process_load",)


NotebookDefinedClassifier.__module__ = "__main__"
NotebookDefinedClassifier.__qualname__ = "NotebookDefinedClassifier"
setattr(sys.modules["__main__"], "NotebookDefinedClassifier", NotebookDefinedClassifier)


# --- determinism ----------------------------------------------------------------------------------

class ReseedsGlobalTorch(TinyTorchClassifier):
    """Calls ``torch.manual_seed(self.random_state)`` in ``fit``, resetting the caller's RNG."""

    aimed_at = ("determinism.global_rng_untouched",)

    def fit(self, X, y):
        torch.manual_seed(check_random_state(self.random_state).randint(0, 2**31 - 1))
        return super().fit(X, y)


class IgnoresRandomState(TinyTorchRegressor):
    """Accepts ``random_state`` and always seeds with 0: every "seed" of an ensemble is the same model."""

    aimed_at = ("determinism.different_seeds_differ",)

    def _seed(self):
        return 0


class UnseededInitialisation(TinyTorchClassifier):
    """Builds the network from torch's global RNG (no ``fork_rng``, no local seed):
    ``random_state`` does not determine the weights, and the caller's RNG advances."""

    aimed_at = ("determinism.independent_of_global_seeds", "determinism.global_rng_untouched")

    def _init_module(self, n_in, n_out):
        return self._build_module(n_in, n_out)  # the one change: drawn from the global RNG


class NumpyGlobalShuffle(TinyTorchRegressor):
    """Shuffles the training rows with ``np.random.permutation`` (the global numpy RNG) instead
    of a generator seeded from ``random_state``."""

    aimed_at = ("determinism.global_rng_untouched", "determinism.independent_of_global_seeds")

    def _fit_module(self, X, target, n_out, loss_fn):
        order = np.random.permutation(len(X))
        return super()._fit_module(X[order], target[torch.from_numpy(order)], n_out, loss_fn)


class UnseededGeneratorShuffle(TinyTorchRegressor):
    """Shuffles with ``np.random.default_rng()`` (no seed): two fits with the same
    ``random_state`` differ."""

    aimed_at = ("determinism.same_seed_same_fit", "determinism.refit_matches_fresh_fit")

    def _fit_module(self, X, target, n_out, loss_fn):
        order = np.random.default_rng().permutation(len(X))
        return super()._fit_module(X[order], target[torch.from_numpy(order)], n_out, loss_fn)


class HashSeeded(TinyTorchClassifier):
    """Derives the seed from ``hash(str(random_state))``: string hashing is salted per process
    (PYTHONHASHSEED), so the same seed gives another model in every new process."""

    aimed_at = ("determinism.fresh_process_same_fit",)

    def _seed(self):
        return hash(f"seed-{self.random_state}") % (2**31 - 1)


class WarmStartOnRefit(TinyTorchRegressor):
    """Keeps the network between fits (``if not hasattr(self, "module_")``): a second ``fit``
    continues training instead of starting over."""

    aimed_at = ("determinism.refit_matches_fresh_fit",)

    def _fit_module(self, X, target, n_out, loss_fn):
        if not hasattr(self, "module_"):
            return super()._fit_module(X, target, n_out, loss_fn)
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        inputs = self._to_tensor(X)
        self.module_.train()
        for _ in range(self.max_epochs):
            optimizer.zero_grad()
            loss_fn(self.module_(inputs), target).backward()
            optimizer.step()
        self.module_.eval()
        return self


class BatchSizeFromThreads(TinyTorchRegressor):
    """Scales the mini-batch with the cores (``batch_size * torch.get_num_threads()``): the
    model depends on how many threads the machine gives it."""

    aimed_at = ("determinism.thread_count_agrees",)

    def _fit_module(self, X, target, n_out, loss_fn):
        configured = self.batch_size
        self.batch_size = max(1, configured // 4) * torch.get_num_threads()
        try:
            return super()._fit_module(X, target, n_out, loss_fn)
        finally:
            self.batch_size = configured


class SetsDefaultDtype(TinyTorchRegressor):
    """Calls ``torch.set_default_dtype(torch.float64)`` in ``fit`` ("for precision"), changing
    every tensor the caller creates afterwards."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.set_default_dtype(torch.float64)
        return super().fit(X, y)


class SetsNumThreads(TinyTorchClassifier):
    """Calls ``torch.set_num_threads(1)`` in ``fit`` ("to avoid oversubscription") and never
    restores it: the caller's later torch code runs on one core."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.set_num_threads(1 if torch.get_num_threads() > 1 else 2)
        return super().fit(X, y)


# --- inputs: precision, dtypes, outputs --------------------------------------------------------

class Float32BeforeStandardising(TinyTorchRegressor):
    """Casts X to float32 before standardising: features like ``1e8 + x`` lose ``x``."""

    aimed_at = ("inputs.float64_precision",)

    def _to_tensor(self, X):
        X32 = torch.as_tensor(X, dtype=torch.float32)
        return (X32 - torch.as_tensor(self.mean_, dtype=torch.float32)) / torch.as_tensor(self.scale_, dtype=torch.float32)


class LabelsAsIndices(TinyTorchClassifier):
    """Uses the labels themselves as class indices (``n_classes = len(unique(y))``,
    ``target = y``): labels {3, 7, 10} or strings break."""

    aimed_at = ("inputs.output_contract", "sklearn.check_classifiers_classes")

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        target = torch.as_tensor(np.asarray(y).astype(np.int64))
        return self._fit_module(X, target, len(self.classes_), torch.nn.functional.cross_entropy)

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)


class LogitsAsProbabilities(TinyTorchClassifier):
    """Returns the raw logits from ``predict_proba``."""

    aimed_at = ("inputs.output_contract", "sklearn.check_classifiers_train")

    def predict_proba(self, X):
        return self._forward(X)


class SigmoidPerClassProba(TinyTorchClassifier):
    """Applies ``sigmoid`` to each logit (a multi-label head) in ``predict_proba``: rows do not sum to 1."""

    aimed_at = ("inputs.output_contract", "sklearn.check_classifiers_train")

    def predict_proba(self, X):
        return torch.sigmoid(torch.from_numpy(self._forward(X))).numpy()


class ReturnsTensors(TinyTorchRegressor):
    """Returns a torch tensor from ``predict`` (forgets ``.numpy()``)."""

    aimed_at = ("inputs.output_contract",)

    def predict(self, X):
        return torch.from_numpy(super().predict(X))


class SqueezesOutput(TinyTorchRegressor):
    """``predict`` returns ``out.squeeze()``: one row gives a 0-d scalar instead of shape (1,)."""

    aimed_at = ("inputs.output_contract",)

    def _forward(self, X):
        return super()._forward(X).squeeze()

    def predict(self, X):
        out = self._forward(X)
        return out * self.y_scale_ + self.y_mean_


class ColumnVectorPredictions(TinyTorchRegressor):
    """Returns predictions of shape (n, 1), the network's output as is."""

    aimed_at = ("inputs.output_contract", "sklearn.check_regressors_train")

    def predict(self, X):
        return self._forward(X) * self.y_scale_ + self.y_mean_


class FloatClassesDtype(TinyTorchClassifier):
    """Stores ``classes_`` as float32 ("torch-friendly"): integer labels come back as floats,
    string labels crash."""

    aimed_at = ("sklearn.check_classifiers_classes",)  # inputs.output_contract does not fail it (quick profile)

    def fit(self, X, y):
        super().fit(X, y)
        self.classes_ = self.classes_.astype(np.float32)
        return self


class MutatesInput(TinyTorchClassifier):
    """Standardises the caller's array in place (``X -= mean``) at predict."""

    aimed_at = ("inputs.input_not_mutated",)

    def _to_tensor(self, X):
        X -= self.mean_
        X /= self.scale_
        return torch.as_tensor(X, dtype=torch.float32)

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, copy=False)
        with torch.inference_mode():
            return self.module_(self._to_tensor(X)).double().numpy()


class OnlyNumpyInputs(TinyTorchRegressor):
    """Calls ``torch.from_numpy(X)`` on whatever is passed: lists, DataFrames and float32/int
    arrays fail."""

    aimed_at = ("inputs.valid_dtypes_and_layouts",)

    def predict(self, X):
        return super().predict(torch.from_numpy(X).numpy().astype(np.float64, copy=False))


# --- inputs: validation and errors ---------------------------------------------------------

class NoFeatureCountCheck(TinyTorchClassifier):
    """Validates X at predict with ``check_array`` only, never checking the feature count."""

    aimed_at = ("inputs.invalid_input_errors", "sklearn.check_n_features_in_after_fitting")

    def _forward(self, X):
        check_is_fitted(self)
        X = check_array(X, dtype=np.float64)
        with torch.inference_mode():
            return self.module_(self._to_tensor(X)).double().numpy()


class TorchErrorLeaks(TinyTorchRegressor):
    """Standardises in torch without a feature-count check: a wrong width raises torch's
    ``RuntimeError`` ("size of tensor a must match") instead of a ValueError."""

    aimed_at = ("inputs.invalid_input_errors", "sklearn.check_n_features_in_after_fitting")

    def _forward(self, X):
        check_is_fitted(self)
        X = torch.as_tensor(check_array(X, dtype=np.float64))
        scaled = ((X - torch.as_tensor(self.mean_)) / torch.as_tensor(self.scale_)).float()
        with torch.inference_mode():
            return self.module_(scaled).double().numpy()


class AcceptsNaN(TinyTorchRegressor):
    """Validates with ``ensure_all_finite=False`` ("torch handles it"): NaN rows predict NaN silently."""

    aimed_at = ("inputs.invalid_input_errors", "sklearn.check_estimators_nan_inf")

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        with torch.inference_mode():
            return self.module_(self._to_tensor(X)).double().numpy()


class NoNotFittedError(TinyTorchClassifier):
    """Skips ``check_is_fitted`` at predict: an unfitted call raises ``AttributeError: mean_``."""

    aimed_at = ("sklearn.check_estimators_unfitted",)

    def _forward(self, X):
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        with torch.inference_mode():
            return self.module_(self._to_tensor(X)).double().numpy()


# --- inputs: batches, modes, order ---------------------------------------------------------

class DropoutLeftOn(TinyTorchClassifier):
    """Adds dropout and never calls ``eval()``: predict is random."""

    aimed_at = ("inputs.repeat_call_stable",)

    def fit(self, X, y):
        super().fit(X, y)
        self.module_ = torch.nn.Sequential(self.module_[0], self.module_[1], torch.nn.Dropout(0.3), self.module_[2])
        self.module_.train()
        return self


class BatchNormInTrainMode(TinyTorchRegressor):
    """Adds batch norm and never calls ``eval()``: each predict call is normalised by its own
    batch statistics."""

    aimed_at = ("inputs.batch_invariance",)

    def fit(self, X, y):
        super().fit(X, y)
        self.module_ = torch.nn.Sequential(self.module_[0], torch.nn.BatchNorm1d(self.hidden, affine=False),
                                           *self.module_[1:])
        self.module_.train()
        return self

    def _forward(self, X):
        if len(np.asarray(X)) == 1:  # BatchNorm1d refuses one row in train mode
            return super()._forward(np.concatenate([X, X]))[:1]
        return super()._forward(X)


class NormalisesEachCall(TinyTorchRegressor):
    """Standardises each predict call by that call's own mean and std instead of the training ones."""

    aimed_at = ("inputs.batch_invariance",)

    def _to_tensor(self, X):
        std = X.std(axis=0)
        return torch.as_tensor((X - X.mean(axis=0)) / np.where(std > 0, std, 1.0), dtype=torch.float32)


class DropsLastPartialBatch(TinyTorchClassifier):
    """Predicts through a loader with ``drop_last=True`` (copied from the training loop):
    the last partial batch of rows gets no prediction."""

    aimed_at = ("inputs.batch_invariance", "inputs.output_contract")

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        loader = torch.utils.data.DataLoader(self._to_tensor(X), batch_size=self.batch_size, drop_last=True)
        with torch.inference_mode():
            parts = [self.module_(batch).double().numpy() for batch in loader]
        return np.concatenate(parts) if parts else np.empty((0, len(self.classes_)))


class ShufflesAtPredict(TinyTorchRegressor):
    """Predicts through a ``DataLoader(shuffle=True)`` (the training loader reused): outputs
    come back in another order than the rows."""

    aimed_at = ("inputs.row_order_invariance", "inputs.repeat_call_stable")

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        loader = torch.utils.data.DataLoader(self._to_tensor(X), batch_size=self.batch_size, shuffle=True)
        with torch.inference_mode():
            return np.concatenate([self.module_(batch).double().numpy() for batch in loader])


# --- devices ---------------------------------------------------------------------------------

class DeviceTensorOutputs(DeviceClassifier):
    """Moves outputs back with ``.cpu()`` but forgets ``.numpy()``: predict_proba returns a tensor."""

    aimed_at = ("devices.device_param_honoured", "inputs.output_contract")

    def predict_proba(self, X):
        return torch.softmax(torch.from_numpy(self._forward(X)), dim=1)

    def predict(self, X):
        return self.classes_[np.argmax(np.asarray(self.predict_proba(X)), axis=1)]


class DeviceParamIgnored(DeviceClassifier):
    """Accepts ``device`` and never uses it: ``device="cuda"`` silently trains on the CPU.
    (Only visible where CUDA exists: on a CPU-only machine both are the CPU.)"""

    needs_cuda = True
    aimed_at = ("devices.device_param_honoured", "devices.cuda_fit_matches_cpu_fit")

    def _fit_module(self, X, target, n_out, loss_fn):
        return TinyTorchClassifier._fit_module(self, X, target, n_out, loss_fn)

    def _to_tensor(self, X):
        return TinyTorchClassifier._to_tensor(self, X)


DEFECTS = tuple(
    obj for obj in list(vars().values())
    if isinstance(obj, type) and hasattr(obj, "aimed_at") and obj.__doc__
)
