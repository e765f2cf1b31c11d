"""Estimators that leak one piece of process-wide state each: a correct twin plus one mistake.

The twins are ``TinyTorchClassifier`` and, for ``partial_fit``, ``PartialFitClassifier`` (correct
too). Every defect is aimed at ``hygiene.fit_and_predict_leave_global_state`` and joins the
defect zoo (tests/estimators/zoo.py).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from tests.estimators.base import TinyTorchClassifier

HYGIENE = "hygiene.fit_and_predict_leave_global_state"
# How long the defects' threads and child processes run: well past the check's grace period on a
# loaded machine, short enough that one left behind by an in-process test ends by itself.
LINGER_S = 15


class PartialFitClassifier(TinyTorchClassifier):
    """Correct twin with ``partial_fit``: one more epoch on the network (the first call fits)."""

    def partial_fit(self, X, y, classes=None):
        if not hasattr(self, "module_"):
            return self.fit(X, y)
        check_is_fitted(self)
        X, y = validate_data(self, X, y, dtype=np.float64, reset=False)
        target = torch.as_tensor(np.searchsorted(self.classes_, y), dtype=torch.long)
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        self.module_.train()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(self.module_(self._to_tensor(X)), target).backward()
        optimizer.step()
        self.module_.eval()
        return self


class LazyImportClassifier(TinyTorchClassifier):
    """Correct twin importing a library inside ``fit`` whose import registers a warnings filter,
    an environment default and a logger: effects of the first import, not of each call."""

    def fit(self, X, y):
        import tests.estimators.lazy_import_effects  # noqa: F401 - imported for its side effects

        return super().fit(X, y)


# --- torch -------------------------------------------------------------------------------------

class LeaksDefaultDtype(TinyTorchClassifier):
    """Defect: switches torch's default dtype to float64 at the end of ``fit`` and leaves it."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        super().fit(X, y)
        torch.set_default_dtype(torch.float64)
        return self


class DisablesGradInPredict(TinyTorchClassifier):
    """Defect: ``torch.set_grad_enabled(False)`` in ``predict_proba`` instead of ``with torch.no_grad()``."""

    aimed_at = (HYGIENE,)

    def predict_proba(self, X):
        torch.set_grad_enabled(False)
        return super().predict_proba(X)


class PinsThreads(TinyTorchClassifier):
    """Defect: pins torch to one thread in ``fit`` and leaves it pinned (two, where it had one)."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.set_num_threads(1 if torch.get_num_threads() > 1 else 2)
        return super().fit(X, y)


class EnablesDeterminism(TinyTorchClassifier):
    """Defect: turns on ``torch.use_deterministic_algorithms`` in ``fit`` and leaves it on."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.use_deterministic_algorithms(True)
        return super().fit(X, y)


class LowersMatmulPrecision(TinyTorchClassifier):
    """Defect: ``torch.set_float32_matmul_precision("high")`` in ``fit`` ("faster on Ampere"), left set:
    every float32 matmul the caller runs afterwards may use TF32."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.set_float32_matmul_precision("high")
        return super().fit(X, y)


class AllowsTF32(TinyTorchClassifier):
    """Defect: ``torch.backends.cuda.matmul.allow_tf32 = True`` in ``fit``, never reset."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.backends.cuda.matmul.allow_tf32 = True
        return super().fit(X, y)


class EnablesCudnnBenchmark(TinyTorchClassifier):
    """Defect: ``torch.backends.cudnn.benchmark = True`` in ``fit`` ("for speed"), never reset:
    the caller's convolutions pick algorithms by timing, run to run."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.backends.cudnn.benchmark = True
        return super().fit(X, y)


class DetectsAnomalies(TinyTorchClassifier):
    """Defect: ``torch.autograd.set_detect_anomaly(True)`` in ``fit`` ("to debug NaNs") as a call,
    not a ``with`` block: every backward pass the caller runs afterwards is several times slower."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.autograd.set_detect_anomaly(True)
        return super().fit(X, y)


class FlushesDenormals(TinyTorchClassifier):
    """Defect: ``torch.set_flush_denormal(True)`` in ``fit`` ("denormals are slow"), never reset:
    the caller's tiny float values become zero."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        torch.set_flush_denormal(True)
        return super().fit(X, y)


class SetsDefaultDevice(TinyTorchClassifier):
    """Defect: ``torch.set_default_device(...)`` at the end of ``fit``, never reset: every tensor
    the caller creates afterwards lands on that device (``meta`` here, which any machine has)."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        super().fit(X, y)
        torch.set_default_device("meta")
        return self


# --- numpy --------------------------------------------------------------------------------------

class SilencesNumpy(TinyTorchClassifier):
    """Defect: ``np.seterr(all="ignore")`` in ``fit`` instead of ``with np.errstate(...)``."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        np.seterr(all="ignore")
        return super().fit(X, y)


class SetsPrintOptions(TinyTorchClassifier):
    """Defect: ``np.set_printoptions(precision=3)`` in ``fit`` for its progress lines, never reset."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        np.set_printoptions(precision=3)
        return super().fit(X, y)


# --- Python ---------------------------------------------------------------------------------------

class IgnoresWarnings(TinyTorchClassifier):
    """Defect: ``warnings.filterwarnings("ignore")`` in ``fit`` to hide torch's UserWarnings: the
    caller never sees another warning (their own deprecations included)."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        warnings.filterwarnings("ignore")
        return super().fit(X, y)


class SetsRootLogLevel(TinyTorchClassifier):
    """Defect: ``logging.getLogger().setLevel(logging.DEBUG)`` in ``fit`` to show its progress:
    every library's debug logging reaches the caller's handlers."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        logging.getLogger().setLevel(logging.DEBUG)
        return super().fit(X, y)


class AddsRootHandler(TinyTorchClassifier):
    """Defect: adds a ``StreamHandler`` to the root logger in every ``fit``: each refit prints
    every log line once more."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))
        return super().fit(X, y)


class SetsEnvironment(TinyTorchClassifier):
    """Defect: ``os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"`` in ``fit`` (for deterministic
    cuBLAS), left set for the caller's whole process and every process it starts."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
        return super().fit(X, y)


class ChangesDirectory(TinyTorchClassifier):
    """Defect: ``os.chdir`` into its checkpoint directory in ``fit`` and stays there: the caller's
    relative paths now point elsewhere."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        os.chdir(os.path.dirname(os.path.abspath(__file__)))
        return super().fit(X, y)


class ExtendsSysPath(TinyTorchClassifier):
    """Defect: ``sys.path.insert(0, ...)`` in ``fit`` to import its plugins: the caller's imports
    may now resolve to other modules."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins"))
        return super().fit(X, y)


def _save_checkpoint_and_exit(signum, frame):
    raise SystemExit(128 + signum)


class InstallsSignalHandler(TinyTorchClassifier):
    """Defect: installs a SIGTERM handler in ``fit`` ("save a checkpoint when the job is killed")
    and leaves it installed: the caller's own handler is gone."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        signal.signal(signal.SIGTERM, _save_checkpoint_and_exit)
        return super().fit(X, y)


class LeavesThreadRunning(TinyTorchClassifier):
    """Defect: starts a background thread in ``predict`` (a prefetcher) and never joins it."""

    aimed_at = (HYGIENE,)

    def predict(self, X):
        predictions = super().predict(X)
        threading.Thread(target=time.sleep, args=(LINGER_S,), daemon=True).start()
        return predictions


class LeavesChildProcessRunning(TinyTorchClassifier):
    """Defect: starts a helper process in ``fit`` (a dashboard server) and never waits for it."""

    aimed_at = (HYGIENE,)

    def fit(self, X, y):
        super().fit(X, y)
        subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({LINGER_S})"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self


# --- leaks in one method only -------------------------------------------------------------------

class SetsEnvironmentInPredict(TinyTorchClassifier):
    """Defect: ``os.environ["TOKENIZERS_PARALLELISM"] = "false"`` in ``predict`` only, left set."""

    aimed_at = (HYGIENE,)

    def predict(self, X):
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        return super().predict(X)


class SilencesNumpyInPartialFit(PartialFitClassifier):
    """Defect: ``np.seterr(over="ignore")`` in ``partial_fit`` only (its updates overflow), never reset."""

    aimed_at = (HYGIENE,)

    def partial_fit(self, X, y, classes=None):
        np.seterr(over="ignore")
        return super().partial_fit(X, y, classes)


DEFECTS = tuple(obj for obj in list(vars().values()) if isinstance(obj, type) and hasattr(obj, "aimed_at"))
