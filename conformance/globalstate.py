"""Process-wide numeric state that an estimator can leak: capture it, compare it, put it back.

Used two ways: the hygiene checks compare the state before and after ``fit``/``predict``, and
the runner restores it after every check run in-process, so one estimator's leak cannot change
another check's verdict. (A check run in a child process leaks nothing by construction.)
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

import numpy as np


@dataclass
class GlobalState:
    settings: dict  # comparable values: threads, dtype, grad mode, flags, numpy errstate
    rng: dict  # RNG states, compared separately (they are large)

    @classmethod
    def capture(cls) -> "GlobalState":
        settings = {"numpy.errstate": dict(sorted(np.geterr().items()))}
        rng = {"numpy.random (legacy global)": np.random.get_state(), "random": random.getstate()}
        torch = sys.modules.get("torch")
        if torch is not None:
            settings.update(
                {
                    "torch.get_num_threads()": torch.get_num_threads(),
                    "torch.get_default_dtype()": torch.get_default_dtype(),
                    "torch.is_grad_enabled()": torch.is_grad_enabled(),
                    "torch.are_deterministic_algorithms_enabled()": torch.are_deterministic_algorithms_enabled(),
                    "torch.backends.cudnn.benchmark": torch.backends.cudnn.benchmark,
                }
            )
            rng["torch (CPU)"] = torch.random.get_rng_state()
            if torch.cuda.is_initialized():
                rng["torch (CUDA)"] = torch.cuda.get_rng_state_all()
        return cls(settings, rng)

    def setting_changes(self, later: "GlobalState") -> list[str]:
        """Human-readable ``name: before -> after`` for every setting that changed."""
        return [
            f"{name}: {value!r} -> {later.settings.get(name)!r}"
            for name, value in self.settings.items()
            if later.settings.get(name) != value
        ]

    def rng_changes(self, later: "GlobalState") -> list[str]:
        """Names of the global RNGs whose state changed."""
        return [name for name, state in self.rng.items() if not _same_state(state, later.rng.get(name))]

    def restore(self) -> None:
        np.seterr(**self.settings["numpy.errstate"])
        np.random.set_state(self.rng["numpy.random (legacy global)"])
        random.setstate(self.rng["random"])
        torch = sys.modules.get("torch")
        if torch is None or "torch.get_num_threads()" not in self.settings:
            return
        torch.set_num_threads(self.settings["torch.get_num_threads()"])
        torch.set_default_dtype(self.settings["torch.get_default_dtype()"])
        torch.set_grad_enabled(self.settings["torch.is_grad_enabled()"])
        torch.use_deterministic_algorithms(self.settings["torch.are_deterministic_algorithms_enabled()"])
        torch.backends.cudnn.benchmark = self.settings["torch.backends.cudnn.benchmark"]
        torch.random.set_rng_state(self.rng["torch (CPU)"])
        if "torch (CUDA)" in self.rng:
            torch.cuda.set_rng_state_all(self.rng["torch (CUDA)"])


def _same_state(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if hasattr(a, "equal") and hasattr(a, "shape"):  # a torch tensor
        return a.shape == b.shape and bool(a.equal(b))
    return a == b
