"""The runner contains hostile estimators: each costs one check a clear verdict, never the run."""

import numpy as np
import pytest
import torch

import conformance
from conformance.targets import Target
from conformance.registry import Check
from conformance.runner import run_check
from conformance.settings import Settings
from tests.estimators import hostile
from tests.estimators.base import TinyTorchClassifier


def fit_check(ctx):
    """The estimator fits on the suite's ordinary data."""
    ctx.new().fit(*ctx.data().fit_args())


FIT = Check("hostile.fit", fit_check)


def run_fit(estimator, **settings):
    return run_check(Target(type(estimator).__name__, estimator), FIT, Settings(**settings))


def test_hanging_fit_fails_with_the_timeout_named():
    result = run_fit(hostile.HangsInFit(), timeout_s=2)
    assert result.status == "failed"
    assert "timed out after 2 s" in result.message and "--conformance-timeout" in result.message


def test_segfaulting_fit_fails_naming_the_signal():
    result = run_fit(hostile.SegfaultsInFit())
    assert result.status == "failed"
    assert "SIGSEGV" in result.message
    assert "string_at" in result.message or "Fatal Python error" in result.message  # faulthandler's trace


def test_sys_exit_in_fit_is_a_failure_not_an_exit():
    result = run_fit(hostile.ExitsInFit())
    assert result.status == "failed" and "SystemExit" in result.message


def test_keyboard_interrupt_raised_by_fit_is_a_failure_in_a_child():
    result = run_fit(hostile.InterruptsInFit())
    assert result.status == "failed" and "KeyboardInterrupt" in result.message


def test_megabytes_of_output_are_kept_out_of_the_report():
    result = run_fit(hostile.PrintsMegabytes())
    assert result.status == "passed"
    assert len(result.message) < 1000


def test_unbounded_allocation_fails_with_memory_error_under_the_cap():
    result = run_fit(hostile.AllocatesWithoutBound(), memory_limit_mb=3000)
    assert result.status == "failed" and "MemoryError" in result.message


def test_leaked_global_state_does_not_reach_the_next_check():
    report = conformance.check([hostile.LeaksGlobalTorchState(), TinyTorchClassifier()],
                               checks=["sklearn.check_fit2d_1sample", "sklearn.check_classifiers_train"])
    by_label = {e.label: e.results for e in report.estimators}
    assert all(r.status == "passed" for r in by_label["TinyTorchClassifier"])
    assert torch.get_default_dtype() == torch.float32 and torch.is_grad_enabled()


@pytest.mark.parametrize("isolation", ["fork", "none"])
def test_global_state_is_restored_after_a_check_in_either_isolation(isolation):
    before = (torch.get_default_dtype(), torch.is_grad_enabled(), np.geterr()["over"], torch.get_num_threads())
    result = run_fit(hostile.LeaksGlobalTorchState(), isolation=isolation)
    assert result.status == "passed"
    after = (torch.get_default_dtype(), torch.is_grad_enabled(), np.geterr()["over"], torch.get_num_threads())
    assert after == before


def test_in_process_isolation_reports_the_same_verdicts_for_ordinary_failures():
    forked = run_fit(hostile.ExitsInFit(), isolation="fork")
    in_process = run_fit(hostile.ExitsInFit(), isolation="none")
    assert forked.status == in_process.status == "failed"


def test_parallel_runner_keeps_order_and_contains_a_hang(tmp_path):
    from conformance.plan import Case
    from conformance.parallel import ParallelRunner

    settings = Settings(timeout_s=3)
    estimators = [TinyTorchClassifier(), hostile.HangsInFit(), hostile.SegfaultsInFit(), TinyTorchClassifier()]
    cases = [Case(Target(f"e{i}", e), FIT, settings) for i, e in enumerate(estimators)]
    runner = ParallelRunner(cases, jobs=3)
    statuses = [runner.result(case).status for case in cases]
    assert statuses == ["passed", "failed", "failed", "passed"]
    runner.close()


def test_parallel_runner_close_kills_checks_still_running():
    import os
    import time

    from conformance.plan import Case
    from conformance.parallel import ParallelRunner

    sleeps = Check("hostile.sleeps", lambda ctx: time.sleep(600))
    cases = [Case(Target(f"h{i}", TinyTorchClassifier()), sleeps, Settings(timeout_s=600)) for i in range(2)]
    runner = ParallelRunner(cases, jobs=2)
    runner._fill(cases[0])
    pids = [pending.child.pid for pending in runner.started.values()]
    assert len(pids) == 2
    runner.close()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # killed and reaped


def test_python_api_jobs_gives_the_serial_verdicts():
    serial = conformance.check(TinyTorchClassifier(), checks=["params.*"], profile="quick")
    parallel = conformance.check(TinyTorchClassifier(), checks=["params.*"], profile="quick", jobs=2)
    assert [(r.check, r.status) for r in serial.results] == [(r.check, r.status) for r in parallel.results]
    assert len(serial.results) >= 5
