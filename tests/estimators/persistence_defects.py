"""Estimators that break one persistence rule each, and the correct twins they come from.

Each defect changes exactly one thing of its twin: ``TinyTorchClassifier`` from ``base``, or
``NumpyStateClassifier`` (pickles its network as numpy arrays, so skops can store it) and
``DeviceClassifier`` (has a ``device`` parameter and pickles CUDA state to the CPU).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted, validate_data

from tests.estimators.base import TinyTorchClassifier


class HalfPrecisionPickle(TinyTorchClassifier):
    """Defect: pickles the network's weights in float16 "to save space", so outputs change."""

    def __getstate__(self):
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = copy.deepcopy(state["module_"]).half()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "module_" in state:
            self.module_ = self.module_.float()


class DeepcopyUnfitted(TinyTorchClassifier):
    """Defect: ``__deepcopy__`` returns an unfitted clone, to avoid copying the network."""

    def __deepcopy__(self, memo):
        return clone(self)


class KeepsTrainingData(TinyTorchClassifier):
    """Defect: keeps the training inputs on the fitted estimator "for later inspection"."""

    def fit(self, X, y):
        super().fit(X, y)
        self.X_train_ = np.asarray(X, dtype=np.float64)
        return self


_TRAINED_MODULES: dict = {}


class RegistryClassifier(TinyTorchClassifier):
    """Defect: pickles a key into a module-level registry of networks instead of the network."""

    def __getstate__(self):
        state = self.__dict__.copy()
        if "module_" in state:
            key = len(_TRAINED_MODULES)
            _TRAINED_MODULES[key] = state.pop("module_")
            state["module_key_"] = key
        return state

    def __setstate__(self, state):
        state = dict(state)
        key = state.pop("module_key_", None)
        self.__dict__.update(state)
        if key is not None:
            self.module_ = _TRAINED_MODULES[key]


class NumpyStateClassifier(TinyTorchClassifier):
    """Correct: pickles the network as numpy arrays and rebuilds it when loaded (skops can store it)."""

    def __getstate__(self):
        state = self.__dict__.copy()
        if "module_" in state:
            module = state.pop("module_")
            state["module_state_"] = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state):
        state = dict(state)
        weights = state.pop("module_state_", None)
        self.__dict__.update(state)
        if weights is not None:
            n_in, n_out = weights["0.weight"].shape[1], weights["2.weight"].shape[0]
            self.module_ = torch.nn.Sequential(
                torch.nn.Linear(n_in, self.hidden), torch.nn.Tanh(), torch.nn.Linear(self.hidden, n_out))
            self.module_.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            self.module_.eval()


class TensorAttributeClassifier(NumpyStateClassifier):
    """Defect: keeps one fitted attribute as a torch tensor, which skops cannot store."""

    def fit(self, X, y):
        super().fit(X, y)
        self.class_counts_ = torch.bincount(torch.as_tensor(np.searchsorted(self.classes_, y)))
        return self


class FittedOnlyGetstate(NumpyStateClassifier):
    """Defect: ``__getstate__`` assumes a fitted network, so an unfitted estimator cannot be pickled."""

    def __getstate__(self):
        state = self.__dict__.copy()
        module = state.pop("module_")
        state["module_state_"] = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
        return state


class DeviceClassifier(TinyTorchClassifier):
    """Correct: serves from ``device``; pickles its network on the CPU and moves it back only where CUDA exists.

    (It trains on the CPU and moves the trained network to ``device``: what the pickle holds,
    CUDA tensors, is the same as for training on the GPU.)
    """

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, random_state=0, device="cpu"):
        super().__init__(hidden, lr, max_epochs, batch_size, random_state)
        self.device = device

    def fit(self, X, y):
        super().fit(X, y)
        self.module_.to(self.device)
        return self

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        device = next(self.module_.parameters()).device
        with torch.inference_mode():
            return self.module_(self._to_tensor(X).to(device)).double().cpu().numpy()

    def __getstate__(self):
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = copy.deepcopy(state["module_"]).cpu()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "module_" in state and str(self.device).startswith("cuda") and torch.cuda.is_available():
            self.module_.to(self.device)


class RawCudaPickle(DeviceClassifier):
    """Defect: pickles the network where it lives, CUDA tensors included."""

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)


# A user's script: the class lives in __main__, so its pickle names "__main__.ScriptClassifier".
MAIN_SCRIPT = """
import conformance
from tests.estimators.base import TinyTorchClassifier


class ScriptClassifier(TinyTorchClassifier):
    pass


if __name__ == "__main__":
    report = conformance.check(ScriptClassifier(max_epochs=5), checks=["persistence.fresh_process_load",
                                                                      "persistence.pickle_roundtrip"])
    for result in report.results:
        print("RESULT", result.check, result.status, result.summary)
"""


class LossyStateClassifier(NumpyStateClassifier):
    """Defect: stores its weights as float16 to save space, so a loaded model predicts differently."""

    def __getstate__(self):
        state = super().__getstate__()
        if "module_state_" in state:
            state["module_state_"] = {k: v.astype(np.float16) for k, v in state["module_state_"].items()}
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "module_state_" in state:
            state["module_state_"] = {k: v.astype(np.float32) for k, v in state["module_state_"].items()}
        super().__setstate__(state)
