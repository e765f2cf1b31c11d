"""Scikit-learn estimators (no torch: cheap to import) whose fit never returns, for cancelling runs.

Each announces that its fit has begun by creating the file named in ``FIT_STARTED_VARIABLE``
(when set), so a test can signal the suite at the moment a check is stuck, not after a guess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sklearn.linear_model import Ridge

FIT_STARTED_VARIABLE = "CONFORMANCE_TEST_FIT_STARTED"


def announce(what: str) -> None:
    path = os.environ.get(FIT_STARTED_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{what} {os.getpid()}\n")


class HangsInFit(Ridge):
    def fit(self, X, y, sample_weight=None):
        announce("fit")
        time.sleep(3600)


class SpawnsAndHangsInFit(Ridge):
    """Starts a process of its own (it stays in the check's process group), then hangs."""

    def fit(self, X, y, sample_weight=None):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        announce(f"spawned {child.pid} fit")
        time.sleep(3600)


class HangsOnLargeInput(Ridge):
    """Fits small data, but never returns from ``fit`` on 150 rows or more (a hang that depends on size)."""

    def fit(self, X, y, sample_weight=None):
        if len(X) >= 150:
            announce("fit")
            time.sleep(3600)
        return super().fit(X, y, sample_weight)


class SpinsInFit(Ridge):
    """Never returns from ``fit``, busy in Python code rather than asleep."""

    def fit(self, X, y, sample_weight=None):
        while True:
            pass
