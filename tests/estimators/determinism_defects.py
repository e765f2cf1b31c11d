"""Reproducibility defects: each overrides exactly one hook of the correct device estimators.

The correct twins are ``tests.estimators.device_estimators.DeviceTorchClassifier`` and
``DeviceTorchRegressor`` (and ``tests.estimators.base``'s tiny estimators).
"""

from __future__ import annotations

import numpy as np
import torch

from tests.estimators.device_estimators import DeviceTorchClassifier, DeviceTorchRegressor


class GlobalSeedingClassifier(DeviceTorchClassifier):
    """Defect: seeds torch's global RNG with ``torch.manual_seed`` to build its module."""

    def _init_module(self, n_in, n_out):
        torch.manual_seed(self._seed())
        return self._build_module(n_in, n_out)


class GlobalNumpyShuffleClassifier(DeviceTorchClassifier):
    """Defect: shuffles with numpy's legacy global RNG instead of its seeded generator."""

    def _shuffle_order(self, n, generator):
        return torch.from_numpy(np.random.permutation(n))


class IgnoresRandomStateClassifier(DeviceTorchClassifier):
    """Defect: ignores ``random_state`` and draws its seed from torch's global RNG."""

    def _seed(self) -> int:
        return int(torch.randint(0, 2**31 - 1, ()).item())


class ConstantSeedClassifier(DeviceTorchClassifier):
    """Defect: accepts ``random_state`` but always seeds with 0."""

    def _seed(self) -> int:
        return 0


class HashSeededClassifier(DeviceTorchClassifier):
    """Defect: derives its seed from ``hash()`` of a string, which differs between processes."""

    def _seed(self) -> int:
        return hash(f"{type(self).__name__}-{self.random_state}") % (2**31 - 1)


class WarmCarryOverClassifier(DeviceTorchClassifier):
    """Defect: a second ``fit`` keeps training the first fit's module (no ``warm_start`` asked)."""

    def _start_training(self, n_in, n_out):
        if not hasattr(self, "module_"):
            return super()._start_training(n_in, n_out)
        return torch.optim.Adam(self.module_.parameters(), lr=self.lr)


class ThreadBatchRegressor(DeviceTorchRegressor):
    """Defect: uses one batch per worker thread, so the thread count changes the training."""

    def _batch_size(self) -> int:
        return self.batch_size * torch.get_num_threads()


_SHUFFLE = torch.Generator().manual_seed(0)  # created once, at import


class SharedGeneratorClassifier(DeviceTorchClassifier):
    """Defect: shuffles with one generator created at import, so each fit continues its stream."""

    def _shuffle_order(self, n, generator):
        return torch.randperm(n, generator=_SHUFFLE)
