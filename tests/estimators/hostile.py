"""Estimators that attack the process running the suite. Each must cost one check, not the run."""

from __future__ import annotations

import ctypes
import sys
import time

import numpy as np
import torch

from tests.estimators.base import TinyTorchClassifier


class HangsInFit(TinyTorchClassifier):
    def fit(self, X, y):
        time.sleep(3600)


class SegfaultsInFit(TinyTorchClassifier):
    def fit(self, X, y):
        ctypes.string_at(0)  # reads address 0: SIGSEGV


class ExitsInFit(TinyTorchClassifier):
    def fit(self, X, y):
        sys.exit(3)


class InterruptsInFit(TinyTorchClassifier):
    def fit(self, X, y):
        raise KeyboardInterrupt


class PrintsMegabytes(TinyTorchClassifier):
    def fit(self, X, y):
        for _ in range(20_000):
            print("x" * 200)  # 4 MB of output
        return super().fit(X, y)


class AllocatesWithoutBound(TinyTorchClassifier):
    def fit(self, X, y):
        hoard = []
        while True:
            hoard.append(np.ones(2**27))  # 1 GiB at a time until the cap stops it


class LeaksGlobalTorchState(TinyTorchClassifier):
    def fit(self, X, y):
        super().fit(X, y)
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.manual_seed(0)
        np.seterr(all="raise")
        return self


class WritesIntoReadOnlyMemmap(TinyTorchClassifier):
    """Scales float32 input in place through a tensor that shares the caller's memory."""

    def fit(self, X, y):
        if isinstance(X, np.ndarray) and X.dtype == np.float32:
            shared = torch.from_numpy(X)  # no copy: a read-only memmap stays read-only
            shared.mul_(1.0)  # writing to read-only mapped pages: SIGSEGV
        return super().fit(X, y)
