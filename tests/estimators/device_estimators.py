"""A correct torch estimator with a ``device`` parameter, and defects of its device handling.

``DeviceTorchClassifier``/``DeviceTorchRegressor`` follow the convention of
``conformance/checks/devices.py``: the module is built on the CPU under a forked, locally seeded
RNG (so the weights do not depend on the device or the caller's RNG), moved to ``device`` for
training, shuffled with a CPU generator, and moved again when ``set_params(device=...)`` changes
the device of a fitted estimator. Training is split into small hooks so that each defect, here
and in ``determinism_defects.py``, overrides exactly one of them.
"""

from __future__ import annotations

import numpy as np
import torch

from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor, _TinyTorchBase


class _DeviceTorchBase(_TinyTorchBase):
    def __init__(self, hidden=16, lr=0.05, max_epochs=30, batch_size=32, random_state=0, device="cpu"):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                         random_state=random_state)
        self.device = device

    def _device(self) -> torch.device:
        return torch.device(self.device)

    def _start_training(self, n_in: int, n_out: int) -> torch.optim.Optimizer:
        self.module_ = self._init_module(n_in, n_out).to(self._device())
        return torch.optim.Adam(self.module_.parameters(), lr=self.lr)

    def _shuffle_order(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randperm(n, generator=generator)

    def _batch_size(self) -> int:
        return self.batch_size

    def _fit_module(self, X, target: torch.Tensor, n_out: int, loss_fn):
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        device = self._device()
        generator = torch.Generator().manual_seed(self._seed())
        optimizer = self._start_training(X.shape[1], n_out)
        inputs, target = self._to_tensor(X).to(device), target.to(device)
        self.module_.train()
        for _ in range(self.max_epochs):
            order = self._shuffle_order(len(inputs), generator).to(device)
            for start in range(0, len(inputs), self._batch_size()):
                rows = order[start:start + self._batch_size()]
                optimizer.zero_grad()
                loss_fn(self.module_(inputs[rows]), target[rows]).backward()
                optimizer.step()
        self.module_.eval()
        return self

    def _forward(self, X):
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        device = self._device()
        self.module_.to(device)  # set_params(device=...) on a fitted estimator moves it here
        with torch.inference_mode():
            return self._to_output(self.module_(self._to_tensor(X).to(device)))

    def _to_output(self, tensor: torch.Tensor):
        return tensor.double().cpu().numpy()


class DeviceTorchClassifier(TinyTorchClassifier, _DeviceTorchBase):
    """Correct: honours ``device``, seeds locally, builds weights independently of the device."""


class DeviceTorchRegressor(TinyTorchRegressor, _DeviceTorchBase):
    """Correct: honours ``device``, seeds locally, builds weights independently of the device."""


class DeviceIgnoredRegressor(DeviceTorchRegressor):
    """Defect: accepts ``device`` but keeps the module on the CPU."""

    def _device(self) -> torch.device:
        return torch.device("cpu")


class TensorReturningRegressor(DeviceTorchRegressor):
    """Defect: ``predict`` returns the torch tensor (a CUDA tensor on a GPU) instead of numpy."""

    def _to_output(self, tensor: torch.Tensor):
        return tensor.double()


class LeakyPredictRegressor(DeviceTorchRegressor):
    """Defect: keeps every prediction tensor on the device (a "last outputs" history)."""

    def _to_output(self, tensor: torch.Tensor):
        self.history_ = [*getattr(self, "history_", []), tensor.clone()]
        return super()._to_output(tensor)


class _MaxUnpoolNet(torch.nn.Module):
    """A hidden layer sparsified by max-pool then max-unpool (keeps the larger of each pair)."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.inner = torch.nn.Linear(n_in, hidden)
        self.outer = torch.nn.Linear(hidden, n_out)

    def forward(self, x):
        h = torch.tanh(self.inner(x))[:, None, :]
        pooled, indices = torch.nn.functional.max_pool1d(h, 2, return_indices=True)
        sparse = torch.nn.functional.max_unpool1d(pooled, indices, 2, output_size=h.shape[-1:])
        return self.outer(sparse[:, 0, :])


class NondeterministicOpRegressor(DeviceTorchRegressor):
    """Defect: its network uses ``max_unpool1d``, which has no deterministic implementation."""

    def _build_module(self, n_in: int, n_out: int) -> torch.nn.Module:
        return _MaxUnpoolNet(n_in, self.hidden, n_out)
