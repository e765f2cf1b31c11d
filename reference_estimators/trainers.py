"""``TorchClassifier`` and ``TorchRegressor``: a user's ``nn.Module`` class, trained in ``fit``.

The pattern, in the order ``fit`` runs it:

1. ``__init__`` stores parameters and nothing else; every object is built in ``fit``.
2. ``validate_data`` checks and converts ``X``/``y`` (ValueError on bad input, ``n_features_in_``,
   ``feature_names_in_``); labels are encoded through ``classes_``, targets standardised.
3. The scaler (default: a fresh ``StandardScaler``) is *cloned* and fitted on the data, so the
   parameter the user passed is never fitted in place.
4. Data becomes tensors once; each epoch slices them by a shuffled index (no ``DataLoader``:
   per-row ``__getitem__`` and collation would cost more than the model on tabular data).
5. Seeding is local: module initialisation, dropout and shuffling are seeded from
   ``random_state`` and torch's global RNG states are restored afterwards.
6. Prediction validates (``_torch.validated``: ``validate_data`` with a fast path for plain
   float arrays), scales, and runs batched inference in eval mode under
   ``torch.inference_mode()``, returning numpy in the module's dtype (float32 by default).
"""

from __future__ import annotations

import copy
import numbers
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (_check_sample_weight, check_is_fitted, has_fit_parameter,
                                      validate_data)

from reference_estimators import _torch
from reference_estimators._params import NestedParamsMixin
from reference_estimators.modules import MLP


class _TorchTrainer(_torch.PortableModuleState, NestedParamsMixin, BaseEstimator):
    """What the classifier and the regressor share; subclasses say how targets are encoded.

    Parameters
    ----------
    module : class or callable returning a torch.nn.Module, default=MLP
        Built in ``fit`` as ``module(n_features_in=..., n_outputs=..., **module_params)``.
    module_params : dict, default=None
        The module's hyperparameters; each is also the sklearn parameter ``module__<name>``.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Built in ``fit`` with ``lr`` and ``optimizer_params`` (fused kernels when available).
    optimizer_params : dict, default=None
        The optimizer's own arguments; each is also the parameter ``optimizer__<name>``.
    loss : torch loss class, default=None
        Built as ``loss(reduction=...)``; ``None`` means ``CrossEntropyLoss`` (classifier) or
        ``MSELoss`` (regressor).
    lr : float, default=1e-3
    max_epochs : int, default=100
        Epochs per ``fit`` (fewer with early stopping); ``partial_fit`` runs one.
    batch_size : int, default=128
    scaler : transformer, "passthrough" or None, default=None
        Cloned and fitted in ``fit``; ``None`` means a fresh ``StandardScaler``. The regressor
        also standardises its target unless ``"passthrough"``.
    early_stopping, validation_fraction, n_iter_no_change, tol
        Stop when the loss on a held-out ``validation_fraction`` has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the best weights (as ``MLPClassifier``).
    warm_start : bool, default=False
        ``fit`` continues from the fitted module instead of starting over.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, dropout, shuffling and the validation split; global RNGs are
        left untouched.
    device : str, default="cpu"
        Where the module trains and predicts; outputs are numpy on the CPU.
    verbose : int, default=0
        Print one line per epoch (losses and seconds).
    predict_batch_size : int, default=4096
        Rows per inference batch.
    """

    _nested_prefixes = ("module", "optimizer")
    _nested_reserved = {"module": ("n_features_in", "n_outputs"), "optimizer": ("params", "lr")}
    _nested_defaults = {"scaler": StandardScaler}
    _default_loss = None  # a torch loss class, set by each subclass

    def __init__(self, module=MLP, *, module_params=None, optimizer=torch.optim.Adam,
                 optimizer_params=None, loss=None, lr=1e-3, max_epochs=100, batch_size=128,
                 scaler=None, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 tol=1e-4, warm_start=False, random_state=None, device="cpu", verbose=0,
                 predict_batch_size=_torch.INFERENCE_BATCH_SIZE):
        self.module = module
        self.module_params = module_params
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.loss = loss
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.scaler = scaler
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.predict_batch_size = predict_batch_size

    # -- public API ---------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Train for up to ``max_epochs`` epochs (from scratch unless ``warm_start``)."""
        restart = not (self.warm_start and self._is_fitted())
        return self._fit(X, y, sample_weight, restart=restart, epochs=self.max_epochs)

    def _partial_fit(self, X, y, sample_weight, classes=None):
        return self._fit(X, y, sample_weight, restart=not self._is_fitted(), epochs=1,
                         classes=classes, early_stopping=False)

    # -- training -----------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, *, restart, epochs, classes=None, early_stopping=None):
        self._check_params()
        X, y = validate_data(self, X, y, reset=restart, dtype=_torch.FLOATS, **self._y_validation)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        keep = sample_weight > 0  # a zero weight means the row is not there at all
        if not np.any(keep):
            raise ValueError("sample_weight has no positive entry: there is nothing to train on")
        device = _torch.resolve_device(self.device)  # every error before the first fitted attribute
        target = self._encode_target(y, sample_weight, restart, classes)
        if restart:
            self.scaler_ = self._fit_scaler(X, sample_weight)
        X = self._scale(X)
        X, target, sample_weight = X[keep], target[keep], sample_weight[keep]
        weighted = not np.all(sample_weight == sample_weight[0])  # equal weights: the plain mean

        early_stopping = self.early_stopping if early_stopping is None else early_stopping
        train, valid = self._split(X, target, sample_weight, early_stopping, restart)
        seed = _torch.seed_from(self.random_state, 0 if restart else self.n_iter_)
        with _torch.seeded(seed, device) as generator:
            if restart:
                self._initialize(X.shape[1], device)
            tensors = [self._tensors(*part, weighted, device) for part in (train, valid) if part]
            self._run_epochs(epochs, *tensors, generator=generator, device=device)
        return self

    def _initialize(self, n_features: int, device: torch.device) -> None:
        kwargs = {**self._nested("module"), "n_features_in": n_features, "n_outputs": self._n_outputs()}
        self.module_ = _torch.build(self.module, kwargs, "module").to(device)
        self._module_build = (self.module, kwargs)  # how to rebuild it when unpickled
        self.optimizer_ = _torch.make_optimizer(self.optimizer, self.module_.parameters(), self.lr,
                                                self._nested("optimizer"), device)
        self.loss_curve_, self.n_iter_ = [], 0
        self.validation_loss_curve_, self.best_loss_ = [], np.inf

    def _tensors(self, X, target, weight, weighted, device):
        dtype = _torch.module_dtype(self.module_)
        weight = _torch.to_tensor(weight, dtype, device) if weighted else None
        return _torch.to_tensor(X, dtype, device), self._target_tensor(target, dtype, device), weight

    def _run_epochs(self, epochs, train, valid=None, *, generator, device):
        criterion = self._criterion(reduction="none" if train[2] is not None else "mean")
        best_state, stale = None, 0
        for _ in range(epochs):
            start = time.perf_counter()
            loss = self._train_one_epoch(*train, criterion, generator, device)
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            line = f"epoch {self.n_iter_:4d}  loss {loss:.5f}"
            if valid is not None:
                valid_loss = self._evaluate(*valid)
                self.validation_loss_curve_.append(valid_loss)
                line += f"  valid_loss {valid_loss:.5f}"
                if valid_loss < self.best_loss_ - self.tol:
                    self.best_loss_, stale = valid_loss, 0
                    best_state = copy.deepcopy(self.module_.state_dict())
                else:
                    stale += 1
            if self.verbose:
                print(f"{line}  {time.perf_counter() - start:.3f}s", flush=True)
            if valid is not None and stale >= self.n_iter_no_change:
                if self.verbose:
                    print(f"early stopping: no improvement above tol={self.tol} for "
                          f"{self.n_iter_no_change} epochs; restoring the best weights", flush=True)
                break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.eval()

    def _train_one_epoch(self, X, y, w, criterion, generator, device) -> float:
        """One pass over shuffled minibatches; the hot loop, kept as bare as a hand-written one."""
        module, optimizer, size = self.module_, self.optimizer_, self.batch_size
        module.train()
        order = torch.randperm(len(X), generator=generator).to(device)
        losses = []
        for start in range(0, len(X), size):
            rows = order[start:start + size]
            optimizer.zero_grad()
            if w is None:
                loss = criterion(module(X[rows]), y[rows])
            else:
                weights = w[rows]
                per_row = criterion(module(X[rows]), y[rows]).reshape(len(rows), -1).mean(dim=1)
                loss = (per_row * weights).sum() / weights.sum()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        sizes = torch.full((len(losses),), float(size), device=device)
        sizes[-1] = len(X) - size * (len(losses) - 1)
        return float(torch.stack(losses).to(sizes.dtype) @ sizes) / len(X)

    def _evaluate(self, X, y, w) -> float:
        criterion = self._criterion(reduction="none")
        self.module_.eval()
        with torch.inference_mode():
            losses = criterion(self.module_(X), y).reshape(len(X), -1).mean(dim=1)
            value = losses.mean() if w is None else (losses * w).sum() / w.sum()
        return float(value)

    def _criterion(self, reduction: str):
        factory = self.loss if self.loss is not None else self._default_loss
        return _torch.build(factory, {}, "loss", reduction=reduction)

    def _split(self, X, target, weight, early_stopping: bool, restart: bool):
        if not early_stopping:
            return (X, target, weight), None
        seed = _torch.seed_from(self.random_state, 1, 0 if restart else self.n_iter_)
        stratify = target if self._stratify(target, len(X)) else None
        parts = train_test_split(X, target, weight, test_size=self.validation_fraction,
                                 random_state=seed, stratify=stratify)
        return (parts[0], parts[2], parts[4]), (parts[1], parts[3], parts[5])

    def _stratify(self, target, n_samples: int) -> bool:
        return False

    # -- scaling and prediction ---------------------------------------------------------------

    def _fit_scaler(self, X, sample_weight):
        if isinstance(self.scaler, str) and self.scaler == "passthrough":
            return None
        scaler = clone(self.scaler) if self.scaler is not None else StandardScaler()
        if has_fit_parameter(scaler, "sample_weight"):
            return scaler.fit(X, sample_weight=sample_weight)
        return scaler.fit(X)

    def _scale(self, X):
        return X if self.scaler_ is None else self.scaler_.transform(X)

    def _forward(self, X, post=None) -> np.ndarray:
        check_is_fitted(self, "module_")  # n_features_in_ alone may be left by a failed fit
        X = _torch.validated(self, X)
        return _torch.infer(self.module_, self._scale(X), self.device, self.predict_batch_size, post)

    def _is_fitted(self) -> bool:
        try:
            check_is_fitted(self, "module_")  # n_features_in_ alone may be left by a failed fit
        except NotFittedError:
            return False
        return True

    def _check_params(self) -> None:
        for name in ("max_epochs", "batch_size", "predict_batch_size", "n_iter_no_change"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")


class TorchClassifier(ClassifierMixin, _TorchTrainer):
    """Train a torch module on labels of any type; ``predict_proba`` is a softmax over classes.

    Parameters are those of :class:`_TorchTrainer` (see the module docstring and
    ``docs/reference-estimators.md``); ``loss`` defaults to ``torch.nn.CrossEntropyLoss``.
    """

    _default_loss = torch.nn.CrossEntropyLoss
    _y_validation = {}

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch on ``X, y``; ``classes`` (all labels) is required on the first call."""
        if not self._is_fitted() and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._partial_fit(X, y, sample_weight, classes)

    def predict_proba(self, X):
        return self._forward(X, post=lambda logits: torch.softmax(logits, dim=1))

    def predict_log_proba(self, X):
        return self._forward(X, post=lambda logits: torch.log_softmax(logits, dim=1))

    def predict(self, X):
        encoded = self._forward(X, post=lambda logits: logits.argmax(dim=1))  # checks fitted first
        return self.classes_[encoded]

    def _encode_target(self, y, sample_weight, restart, classes):
        check_classification_targets(y)
        if restart:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
        encoded = np.searchsorted(self.classes_, y)
        unknown = (encoded >= len(self.classes_)) | (self.classes_[np.minimum(encoded, len(self.classes_) - 1)] != y)
        if np.any(unknown):
            raise ValueError(f"y contains labels not in classes_ {self.classes_.tolist()}: "
                             f"{np.unique(np.asarray(y)[unknown]).tolist()}")
        return encoded

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _target_tensor(self, target, dtype, device):
        return torch.tensor(target, dtype=torch.long, device=device)

    def _stratify(self, target, n_samples: int) -> bool:
        counts = np.bincount(target)
        n_classes = int(np.sum(counts > 0))
        n_valid = int(np.ceil(self.validation_fraction * n_samples))
        return bool(np.all(counts[counts > 0] >= 2) and n_classes <= n_valid <= n_samples - n_classes)


class TorchRegressor(RegressorMixin, _TorchTrainer):
    """Train a torch module on a numeric target, standardised in training, predicted in y's units.

    ``loss`` defaults to ``torch.nn.MSELoss``. With ``scaler="passthrough"`` neither the
    features nor the target are scaled.
    """

    _default_loss = torch.nn.MSELoss
    _y_validation = {"y_numeric": True}

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch on ``X, y``, starting from the current weights once fitted."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        out = self._forward(X)[:, 0]
        if self.target_scaler_ is None:
            return out
        scale, mean = self.target_scaler_.scale_[0], self.target_scaler_.mean_[0]
        return out * out.dtype.type(scale) + out.dtype.type(mean)

    def _encode_target(self, y, sample_weight, restart, classes):
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        if restart:
            passthrough = isinstance(self.scaler, str) and self.scaler == "passthrough"
            self.target_scaler_ = None if passthrough else StandardScaler().fit(y, sample_weight=sample_weight)
        return y if self.target_scaler_ is None else self.target_scaler_.transform(y)

    def _n_outputs(self) -> int:
        return 1

    def _target_tensor(self, target, dtype, device):
        return _torch.to_tensor(target, dtype, device)
