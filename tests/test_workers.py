"""Long-lived workers: the fork-per-check verdicts, a fresh worker after a crash, nothing left behind.

The comparison here runs a cheap selection (the hostile estimators on one check, an eighth of
the zoo on its cheap aimed-at checks, the quick profile); ``scripts/compare-isolation`` runs it
on the whole zoo and every hostile estimator. tests/test_zoo.py runs the whole zoo under
workers (the default), so every defect is still caught and every twin passes there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from conformance import workers
from conformance.plan import Case
from conformance.registry import Check
from conformance.runner import run_case
from conformance.settings import Settings
from tests import isolation_verdicts
from sklearn.linear_model import Ridge

from tests.estimators import hanging, hostile, zoo
from tests.estimators.base import TinyTorchClassifier

ROOT = Path(__file__).resolve().parents[1]


def test_workers_give_the_fork_per_check_verdicts_on_the_hostile_estimators():
    checks = ["params.clone_is_unfitted_and_independent"]
    hangs = [(estimator, checks) for estimator in isolation_verdicts.HANGING]
    others = [(estimator, checks) for estimator in isolation_verdicts.HOSTILE if estimator not in isolation_verdicts.HANGING]
    # A short limit for those that hang, a long one for the others (a loaded runner must not time them out).
    assert isolation_verdicts.differences(hangs, timeout_s=1) == []
    assert isolation_verdicts.differences(others, timeout_s=60) == []


def test_workers_give_the_fork_per_check_verdicts_on_a_sample_of_the_zoo():
    sample = zoo.DEFECTS[::8]  # an eighth of the zoo, across its categories
    assert isolation_verdicts.differences(isolation_verdicts.zoo_selection(sample)) == []


def report_pid(ctx):
    """Reports the process it runs in."""
    return str(os.getpid())


def fit_and_report_pid(ctx):
    """Fits, then reports the process it ran in."""
    ctx.new().fit(*ctx.data().fit_args())
    return str(os.getpid())


def leave_a_thread_running(ctx):
    """Starts a thread that outlives the check."""
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()


def leak_torch_dtype(ctx):
    """Changes torch's default dtype and leaves it changed."""
    torch.set_default_dtype(torch.float64)


def report_dtype(ctx):
    """Reports torch's default dtype."""
    return str(torch.get_default_dtype())


def fit_150_and_report_pid(ctx):
    """Fits on 150 rows, then reports the process it ran in."""
    ctx.new().fit(*ctx.data(150).fit_args())
    return str(os.getpid())


def run_in_one_pool(pairs, timeout_s: float = 20):
    """Run ``(estimator, check function)`` pairs in order, in one pool of workers; their results."""
    settings = Settings(isolation="worker", timeout_s=timeout_s)
    cases = [Case(workers_target(estimator, i), Check(f"worker.{func.__name__}", func, uses_shared_fit=False),
                  settings) for i, (estimator, func) in enumerate(pairs)]
    workers.open_pool(cases)
    try:
        return [run_case(case) for case in cases]
    finally:
        workers.close_pool()


def workers_target(estimator, index):
    from conformance.targets import Target

    return Target(f"{type(estimator).__name__}_{index}", estimator)


def test_checks_share_a_worker_and_a_crash_gets_its_verdict_and_a_fresh_worker():
    first, second, crash, after = run_in_one_pool([
        (TinyTorchClassifier(), report_pid), (TinyTorchClassifier(), fit_and_report_pid),
        (hostile.SegfaultsInFit(), fit_and_report_pid), (TinyTorchClassifier(), report_pid)])
    assert first.status == second.status == after.status == "passed"
    assert first.message == second.message != str(os.getpid())  # one worker, not this process
    assert crash.status == "failed" and "SIGSEGV" in crash.message
    assert after.message not in (first.message, str(os.getpid()))  # a fresh worker


def test_a_worker_whose_state_cannot_be_put_back_is_replaced_and_one_that_can_is_kept():
    start, leaked, dtype, thread, after = run_in_one_pool([
        (TinyTorchClassifier(), report_pid), (TinyTorchClassifier(), leak_torch_dtype),
        (TinyTorchClassifier(), report_dtype), (TinyTorchClassifier(), leave_a_thread_running),
        (TinyTorchClassifier(), report_pid)])
    assert dtype.message == "torch.float32"  # put back between checks
    assert all(r.status == "passed" for r in (start, leaked, dtype, thread, after))
    assert after.message != start.message  # the thread left running retired the worker


def test_a_timeout_in_a_worker_is_located_and_the_next_check_gets_a_fresh_worker():
    start, hung, after = run_in_one_pool([(Ridge(), report_pid), (hanging.HangsOnLargeInput(), fit_150_and_report_pid),
                                          (Ridge(), report_pid)], timeout_s=2)
    assert hung.status == "failed"
    assert hung.message.startswith("fit on input of shape (150, 4) timed out after 2 s")
    assert after.status == start.status == "passed" and after.message != start.message


def test_closing_the_pool_reaps_its_workers():
    settings = Settings(isolation="worker", timeout_s=20)
    case = Case(workers_target(TinyTorchClassifier(), 0), Check("worker.pid", report_pid, uses_shared_fit=False),
                settings)
    pool = workers.open_pool([case])
    pid = int(run_case(case).message)
    assert [w.pid for w in pool.idle] == [pid]
    workers.close_pool()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # killed and reaped


WORKER_OUTLIVED = """
import os, sys
from conformance import workers
from conformance.plan import Case
from conformance.registry import Check
from conformance.runner import run_case
from conformance.settings import Settings
from conformance.targets import Target
from sklearn.linear_model import Ridge

def report_pid(ctx):
    "Reports the process it runs in."
    return str(os.getpid())

case = Case(Target("Ridge", Ridge()), Check("worker.pid", report_pid, uses_shared_fit=False),
            Settings(isolation="worker"))
workers.open_pool([case])
print(run_case(case).message, flush=True)
os._exit(0)  # no cleanup: the worker must die with this process anyway
"""


def test_a_worker_dies_with_the_process_that_forked_it():
    done = subprocess.run([sys.executable, "-c", WORKER_OUTLIVED], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    pid = int(done.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
