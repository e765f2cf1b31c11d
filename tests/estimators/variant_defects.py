"""Defects that hide behind non-default parameters, with their correct twins.

Each twin adds one option to the tiny torch classifier or regressor (early stopping, a choice of
loss, warm start, ``partial_fit``, a choice of normalisation), correct on every path. Each defect
gets exactly one path wrong, a path the default instance never reaches: the suite catches it only
in the configuration that turns the option on (``hidden_behind`` names that configuration, as its
label shows it in brackets), and passes it when only the defaults are checked.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor


class _StagedClassifier(TinyTorchClassifier):
    """The tiny classifier with its training state kept in attributes a later call can continue from.

    ``module_``, ``optimizer_`` and ``epochs_`` (epochs run, which seeds the next epochs' shuffle)
    survive ``fit``; :meth:`_start` builds them afresh, :meth:`_train` runs epochs on them.
    """

    def _start(self, X, n_out: int) -> None:
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        self.module_ = self._init_module(X.shape[1], n_out)
        self.optimizer_ = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        self.epochs_ = 0

    def _train(self, X, target, epochs: int) -> None:
        generator = torch.Generator().manual_seed(self._seed() + self.epochs_)
        inputs = self._to_tensor(X)
        self.module_.train()
        for _ in range(epochs):
            self._epoch(inputs, target, generator)
            self.epochs_ += 1
        self.module_.eval()

    def _epoch(self, inputs, target, generator) -> None:
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), self.batch_size):
            rows = order[start:start + self.batch_size]
            self.optimizer_.zero_grad()
            torch.nn.functional.cross_entropy(self.module_(inputs[rows]), target[rows]).backward()
            self.optimizer_.step()

    def _labels(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, dtype=np.float64, reset=reset)
        check_classification_targets(y)
        return X, y

    def _encoded(self, y) -> torch.Tensor:
        encoded = np.searchsorted(self.classes_, y)
        if np.any(encoded >= len(self.classes_)) or np.any(self.classes_[np.minimum(encoded, len(self.classes_) - 1)] != y):
            raise ValueError(f"y has labels not in classes_ {self.classes_.tolist()}")
        return torch.as_tensor(encoded, dtype=torch.long)

    def _is_fitted(self) -> bool:
        return hasattr(self, "module_")


# --- early stopping -------------------------------------------------------------------------

class EarlyStoppingClassifier(_StagedClassifier):
    """Correct twin with early stopping on a held-out split drawn from ``random_state``.

    Parameters
    ----------
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows; stop when their loss has not improved for
        ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.2
    n_iter_no_change : int, default=5
    hidden, lr, max_epochs, batch_size, random_state
        As the tiny classifier's.
    """

    def __init__(self, early_stopping=False, validation_fraction=0.2, n_iter_no_change=5, hidden=16, lr=0.05,
                 max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change

    def fit(self, X, y):
        X, y = self._labels(X, y, reset=True)
        self.classes_ = np.unique(y)
        target = self._encoded(y)
        if not self.early_stopping:
            self._start(X, len(self.classes_))
            self._train(X, target, self.max_epochs)
            return self
        order = self._split_order(len(X))
        n_valid = max(1, int(round(self.validation_fraction * len(X))))
        valid, train = order[:n_valid], order[n_valid:]
        self._start(X[train], len(self.classes_))
        best, stale, self.best_loss_ = None, 0, np.inf
        for _ in range(self.max_epochs):
            self._train(X[train], target[train], 1)
            with torch.inference_mode():
                loss = float(torch.nn.functional.cross_entropy(self.module_(self._to_tensor(X[valid])), target[valid]))
            if loss < self.best_loss_:
                self.best_loss_, stale, best = loss, 0, copy.deepcopy(self.module_.state_dict())
            else:
                stale += 1
            if stale >= self.n_iter_no_change:
                break
        if best is not None:  # None only when every validation loss was NaN
            self.module_.load_state_dict(best)
        return self

    def _split_order(self, n: int) -> np.ndarray:
        """The rows in a random order drawn from ``random_state``: the first ones are held out."""
        return np.random.default_rng(self._seed()).permutation(n)


class EarlyStoppingGlobalSplit(EarlyStoppingClassifier):
    """Draws the early-stopping validation split with ``np.random.permutation`` (numpy's global RNG), not from ``random_state``: with ``early_stopping=True`` the same seed gives another model whenever the caller's code touched numpy's RNG."""

    aimed_at = ("determinism.independent_of_global_seeds",)
    hidden_behind = "early_stopping=True"

    def _split_order(self, n: int) -> np.ndarray:
        return np.random.permutation(n)


# --- a choice of loss, with sample weights --------------------------------------------------

class LossChoiceRegressor(TinyTorchRegressor):
    """Correct twin with a choice of loss and ``sample_weight``, both losses weighted (full-batch Adam).

    Parameters
    ----------
    loss : {'squared_error', 'huber'}, default='squared_error'
        The training loss on the standardised target.
    hidden, lr, max_epochs, batch_size, random_state
        As the tiny regressor's (one batch of up to 128 rows).
    """

    LOSSES = {"squared_error": torch.nn.functional.mse_loss, "huber": torch.nn.functional.smooth_l1_loss}

    def __init__(self, loss="squared_error", hidden=16, lr=0.05, max_epochs=40, batch_size=128, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.loss = loss

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        if self.loss not in self.LOSSES:
            raise ValueError(f"loss={self.loss!r} is not supported; accepted: {sorted(self.LOSSES)}")
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        keep = weights > 0  # a zero weight: the row is not there
        X, y, weights = X[keep], y[keep], weights[keep]
        self.mean_ = np.average(X, axis=0, weights=weights)
        std = np.sqrt(np.average((X - self.mean_) ** 2, axis=0, weights=weights))
        self.scale_ = np.where(std > 0, std, 1.0)
        self.y_mean_ = float(np.average(y, weights=weights))
        self.y_scale_ = float(np.sqrt(np.average((y - self.y_mean_) ** 2, weights=weights)) or 1.0)
        target = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)[:, None]
        w = None if np.all(weights == weights[0]) else torch.as_tensor(weights, dtype=torch.float32)
        self._train(X, target, w)
        return self

    def _train(self, X, target, w) -> None:
        generator = torch.Generator().manual_seed(self._seed())
        self.module_ = self._init_module(X.shape[1], 1)
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        inputs = self._to_tensor(X)
        self.module_.train()
        for _ in range(self.max_epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(inputs), self.batch_size):
                rows = order[start:start + self.batch_size]
                optimizer.zero_grad()
                per_row = self.LOSSES[self.loss](self.module_(inputs[rows]), target[rows], reduction="none")[:, 0]
                self._batch_loss(per_row, None if w is None else w[rows]).backward()
                optimizer.step()
        self.module_.eval()

    def _batch_loss(self, per_row: torch.Tensor, w) -> torch.Tensor:
        """The batch's loss: the mean, weighted by ``w`` (a row of weight 2 counts as two)."""
        return per_row.mean() if w is None else (per_row * w).sum() / w.sum()


class HuberIgnoresWeights(LossChoiceRegressor):
    """With ``loss='huber'``, averages the per-row losses with a plain ``mean()`` (as ``nn.SmoothL1Loss()`` does), so the sample weights are silently ignored on that path; the default loss weights them."""

    aimed_at = ("inputs.sample_weight_equivalence",)
    hidden_behind = "loss=huber"

    def _batch_loss(self, per_row, w):
        return per_row.mean() if self.loss == "huber" else super()._batch_loss(per_row, w)


# --- warm start -----------------------------------------------------------------------------

class WarmStartClassifier(_StagedClassifier):
    """Correct twin with ``warm_start``: a later ``fit`` trains the fitted module and optimizer on.

    Parameters
    ----------
    warm_start : bool, default=False
        Continue from the fitted model (its optimizer's state included) instead of starting over.
    hidden, lr, max_epochs, batch_size, random_state
        As the tiny classifier's.
    """

    def __init__(self, warm_start=False, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.warm_start = warm_start

    def fit(self, X, y):
        warm = self.warm_start and self._is_fitted()
        X, y = self._labels(X, y, reset=not warm)
        if warm:
            self._resume()
        else:
            self.classes_ = np.unique(y)
            self._start(X, len(self.classes_))
        self._train(X, self._encoded(y), self.max_epochs)
        return self

    def _resume(self) -> None:
        """What a warm start keeps: everything (the module, the optimizer and its state, the epoch count)."""


class WarmStartRebuildsOptimizer(WarmStartClassifier):
    """With ``warm_start=True``, keeps the network but builds a new ``Adam`` at every ``fit`` ("fresh learning rate"): the moment estimates and step count restart, so staged training is not continued training."""

    aimed_at = ("determinism.warm_start_continues_training",)
    hidden_behind = "warm_start=True"

    def _resume(self) -> None:
        self.optimizer_ = torch.optim.Adam(self.module_.parameters(), lr=self.lr)


class WarmStartIgnored(WarmStartClassifier):
    """Accepts ``warm_start`` (it is in the signature "for sklearn compatibility") and starts over at every ``fit`` anyway."""

    aimed_at = ("determinism.warm_start_continues_training",)
    hidden_behind = "warm_start=True"

    def fit(self, X, y):
        X, y = self._labels(X, y, reset=True)
        self.classes_ = np.unique(y)
        self._start(X, len(self.classes_))
        self._train(X, self._encoded(y), self.max_epochs)
        return self


class PickleDropsOptimizer(WarmStartClassifier):
    """``__getstate__`` keeps only what ``predict`` needs and drops the optimizer; loading builds a fresh one: a reloaded checkpoint predicts the same, but a warm-started fit after loading continues another training."""

    aimed_at = ("persistence.training_resumes_after_pickle",)
    hidden_behind = "warm_start=True"

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("optimizer_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "module_"):
            self.optimizer_ = torch.optim.Adam(self.module_.parameters(), lr=self.lr)


# --- partial_fit ----------------------------------------------------------------------------

class IncrementalClassifier(_StagedClassifier):
    """Correct twin with ``partial_fit``: one epoch per call, continuing the fitted module and optimizer.

    The first call needs ``classes`` and takes its scaling from that batch; ``fit`` starts over.
    """

    def fit(self, X, y):
        X, y = self._labels(X, y, reset=True)
        self.classes_ = np.unique(y)
        self._start(X, len(self.classes_))
        self._train(X, self._encoded(y), self.max_epochs)
        return self

    def partial_fit(self, X, y, classes=None):
        first = not self._is_fitted()
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._labels(X, y, reset=first)
        if first:
            self.classes_ = np.unique(np.asarray(classes))
        if self._starts_over(first):
            self._start(X, len(self.classes_))
        self._train(X, self._encoded(y), 1)
        return self

    def _starts_over(self, first: bool) -> bool:
        """Whether this call builds the model afresh: only the first one."""
        return first


class PartialFitForgets(IncrementalClassifier):
    """Rebuilds the network at every ``partial_fit`` call (the ``fit`` code path reused): each batch is learnt from scratch and every earlier one forgotten."""

    aimed_at = ("determinism.partial_fit_continues_training",)
    hidden_behind = "partial_fit"

    def _starts_over(self, first: bool) -> bool:
        return True


# --- a choice of normalisation: fit or refuse clearly ---------------------------------------

class NormClassifier(TinyTorchClassifier):
    """Correct twin with a choice of normalisation after the hidden layer; one choice is refused clearly.

    Parameters
    ----------
    norm : {'none', 'layer', 'batch'}, default='none'
        ``'layer'`` adds a ``LayerNorm``; ``'batch'`` is refused at ``fit`` with a ValueError
        (batch statistics would make a row's prediction depend on the other rows of its call).
    hidden, lr, max_epochs, batch_size, random_state
        As the tiny classifier's.
    """

    def __init__(self, norm="none", hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.norm = norm

    def _build_module(self, n_in, n_out):
        return torch.nn.Sequential(torch.nn.Linear(n_in, self.hidden), *self._norm_layers(n_in), torch.nn.Tanh(),
                                   torch.nn.Linear(self.hidden, n_out))

    def _norm_layers(self, n_in: int) -> list:
        if self.norm == "batch":
            raise ValueError("norm='batch' is not supported: batch statistics make a row's prediction depend "
                             "on the other rows of its call; use norm='layer'")
        if self.norm not in ("none", "layer"):
            raise ValueError(f"norm={self.norm!r}; accepted: 'none', 'layer'")
        return [torch.nn.LayerNorm(self.hidden)] if self.norm == "layer" else []


class LayerNormWrongWidth(NormClassifier):
    """Builds the ``norm='layer'`` ``LayerNorm`` over the input width instead of the hidden width: that configuration crashes inside torch's forward with ``RuntimeError: Given normalized_shape=[4] ...``."""

    aimed_at = ("params.variant_fits_or_refuses_clearly",)
    hidden_behind = "norm=layer"

    def _norm_layers(self, n_in: int) -> list:
        if self.norm == "layer":
            return [torch.nn.LayerNorm(n_in)]
        return super()._norm_layers(n_in)


class NormTableMissesBatch(NormClassifier):
    """Looks the documented ``norm`` choices up in a table that lacks ``'batch'``: ``norm='batch'`` fails with a bare ``KeyError: 'batch'`` instead of saying it is not supported."""

    aimed_at = ("params.variant_fits_or_refuses_clearly",)
    hidden_behind = "norm=batch"

    def _norm_layers(self, n_in: int) -> list:
        table = {"none": [], "layer": [torch.nn.LayerNorm(self.hidden)]}
        return table[self.norm]


TWINS = (EarlyStoppingClassifier, LossChoiceRegressor, WarmStartClassifier, IncrementalClassifier, NormClassifier)
DEFECTS = (EarlyStoppingGlobalSplit, HuberIgnoresWeights, WarmStartRebuildsOptimizer, WarmStartIgnored,
           PickleDropsOptimizer, PartialFitForgets, LayerNormWrongWidth, NormTableMissesBatch)

