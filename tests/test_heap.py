"""The suite's process pauses the garbage collector while it imports, then freezes its heap before forking.

Checks and their estimators always run with the collector on; only the suite's own imports are
kept out of its scans. The API's ``check`` gives the caller's heap back to the collector after.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.estimators.collector import LOG_VARIABLE

REPO = Path(__file__).resolve().parents[1]
TARGET = "tests.estimators.collector:RecordsCollector"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the collector is held only around forks")

HELD_THEN_RELEASED = """
import gc, os
from conformance import heap
heap.hold_collection()
assert not gc.isenabled(), "the collector still runs while held"
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, b"on" if gc.isenabled() else b"off")
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(read, 3).decode()
heap.freeze_and_release()
print(child, gc.isenabled(), gc.get_freeze_count() > 0)
"""


def _python(script: str, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_child_forked_while_the_collector_is_held_gets_it_back_and_the_release_freezes_the_heap():
    assert _python(HELD_THEN_RELEASED) == "on True True"


def _fits_seen(log: Path) -> list[tuple[bool, int]]:
    lines = log.read_text(encoding="utf-8").split()
    return [(lines[i] == "True", int(lines[i + 1])) for i in range(0, len(lines), 2)]


def test_every_fit_in_a_suite_run_has_the_collector_on_with_the_suites_imports_frozen(tmp_path):
    log = tmp_path / "fits.log"
    done = subprocess.run([sys.executable, "-m", "conformance", TARGET, "--conformance-profile", "quick",
                           "-k", "determinism or check_fit2d_1sample", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), LOG_VARIABLE: str(log)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fits = _fits_seen(log)
    assert fits, "no fit was recorded"
    assert all(enabled for enabled, _ in fits), f"a fit ran with the collector off: {fits}"
    assert all(frozen > 0 for _, frozen in fits), f"a worker scanned the suite's imports: {fits}"


API_RUN = """
import gc
import conformance
from tests.estimators.collector import RecordsCollector
report = conformance.check(RecordsCollector(), checks=["determinism.*"], profile="quick")
print(bool(report.estimators[0].results), gc.isenabled(), gc.get_freeze_count())
"""


def test_check_freezes_the_callers_heap_only_while_it_runs(tmp_path):
    log = tmp_path / "fits.log"
    assert _python(API_RUN, **{LOG_VARIABLE: str(log)}) == "True True 0"
    fits = _fits_seen(log)
    assert fits and all(enabled and frozen > 0 for enabled, frozen in fits), fits
