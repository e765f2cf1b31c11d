"""GlobalState reads every process-wide setting by the expression a repro asserts, puts back all
it can, and reports what it cannot put back (threads, child processes, read-only settings)."""

import logging
import os
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import sklearn
import torch

from conformance.globalstate import GlobalState, current_settings
from conformance.processes import ChildFailure, run_in_child

# The settings users have been bitten by (issue 12): each must be in the table.
REQUIRED = (
    "os.getcwd()", "list(sys.path)", "list(warnings.filters)", "logging.getLogger().level",
    "list(logging.getLogger().handlers)", "logging.getLogger('conformance-test').propagate",
    "logging.getLogger('conformance-test').disabled", "logging.getLogger('conformance-test').level",
    "os.environ.get('PATH')", "signal.getsignal(signal.SIGTERM)", "np.geterr()['over']",
    "np.get_printoptions()['precision']", "torch.get_num_threads()", "torch.get_num_interop_threads()",
    "torch.get_default_dtype()", "torch.get_default_device()", "torch.is_grad_enabled()",
    "torch.are_deterministic_algorithms_enabled()", "torch.is_anomaly_enabled()",
    "torch.get_float32_matmul_precision()", "torch.backends.cuda.matmul.allow_tf32",
    "torch.backends.cudnn.allow_tf32", "torch.backends.cudnn.enabled", "torch.backends.cudnn.benchmark",
    "torch.backends.cudnn.deterministic", "torch.tensor(1e-40, dtype=torch.float32, device='cpu').item() == 0",
)


def test_the_table_holds_every_kind_of_process_wide_state():
    logging.getLogger("conformance-test")
    assert set(REQUIRED) <= {setting.expr for setting in current_settings()}


def test_every_expression_reads_in_a_fresh_namespace_what_its_getter_reads():
    from conformance.globalstate import _same_state

    for setting in current_settings():
        namespace = {}
        exec("\n".join(setting.imports), namespace)
        assert _same_state(eval(setting.expr, namespace), setting.read()), setting.expr


def test_reading_does_not_initialise_cuda():
    GlobalState.capture()
    assert not torch.cuda.is_initialized()


def _leak_everything():
    logger = logging.getLogger("conformance-test")
    os.chdir("/")
    sys.path.insert(0, "/nowhere")
    warnings.simplefilter("ignore")
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger().addHandler(logging.StreamHandler())
    logger.propagate, logger.disabled = False, True
    logger.setLevel(logging.ERROR)
    logging.disable(logging.ERROR)
    os.environ["CONFORMANCE_TEST_ADDED"] = "1"
    os.environ.pop("PATH")
    signal.signal(signal.SIGTERM, lambda *args: None)
    np.seterr(all="ignore")
    np.set_printoptions(precision=2)
    sklearn.set_config(assume_finite=True)
    torch.set_default_dtype(torch.float64)
    torch.set_default_device("meta")
    torch.set_grad_enabled(False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.autograd.set_detect_anomaly(True)
    torch.set_flush_denormal(True)
    torch.set_float32_matmul_precision("medium")
    torch.backends.mkldnn.matmul.fp32_precision = "bf16"  # mixed with the legacy API: precision unreadable
    for flag in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        setattr(torch.backends.cudnn, flag, not getattr(torch.backends.cudnn, flag))


LEAKED = {
    "os.getcwd()", "sys.path", "warnings.filters", "logging.getLogger().level", "logging.getLogger().handlers",
    "logging.getLogger('conformance-test').propagate", "logging.getLogger('conformance-test').disabled",
    "logging.getLogger('conformance-test').level", "logging.root.manager.disable",
    "os.environ['CONFORMANCE_TEST_ADDED']", "os.environ['PATH']", "signal.getsignal(signal.SIGTERM)",
    "np.geterr()['over']", "np.get_printoptions()['precision']", "sklearn.get_config()['assume_finite']",
    "torch.get_default_dtype()", "torch.get_default_device()", "torch.is_grad_enabled()",
    "torch.are_deterministic_algorithms_enabled()", "torch.is_deterministic_algorithms_warn_only_enabled()",
    "torch.is_anomaly_enabled()", "torch.get_float32_matmul_precision()",
    "torch.backends.mkldnn.matmul.fp32_precision", "torch.backends.cudnn.enabled",
    "torch.backends.cudnn.benchmark", "torch.backends.cudnn.deterministic", "torch.backends.cudnn.allow_tf32",
}


def _leak_and_restore():
    state = GlobalState.capture()
    _leak_everything()
    changed = {change.setting.name for change in state.changes(GlobalState.capture())}
    failed = state.restore()
    return changed, failed, [str(change) for change in state.changes(GlobalState.capture())]


def test_restore_puts_back_every_setting_it_captured():
    # In a forked child, so a restore that misses something cannot leak into this test process.
    outcome = run_in_child(_leak_and_restore, timeout_s=120)
    assert not isinstance(outcome, ChildFailure), outcome
    changed, failed, remaining = outcome
    assert LEAKED <= changed, LEAKED - changed
    assert failed == [] and remaining == []


def test_restore_reports_a_setting_it_cannot_put_back(monkeypatch):
    state = GlobalState.capture()
    monkeypatch.setattr(torch, "get_num_interop_threads", lambda: 999)  # settable once per process: read-only
    assert state.restore() == ["torch.get_num_interop_threads()"]


def test_an_unreadable_setting_is_a_change_naming_what_reading_raised(monkeypatch):
    state = GlobalState.capture()

    def refuses():
        raise RuntimeError("mixed legacy and new APIs")

    monkeypatch.setattr(torch, "get_float32_matmul_precision", refuses)
    assert [str(change) for change in state.changes(GlobalState.capture())] == [
        "changed torch.get_float32_matmul_precision(): 'highest' -> "
        "<reading it raises RuntimeError: mixed legacy and new APIs>"]


def test_changes_say_added_removed_and_what_a_list_gained(monkeypatch):
    monkeypatch.setenv("CONFORMANCE_TEST_REMOVED", "x")
    state = GlobalState.capture()
    monkeypatch.setenv("CONFORMANCE_TEST_ADDED", "y")
    monkeypatch.delenv("CONFORMANCE_TEST_REMOVED")
    monkeypatch.setattr(sys, "path", ["/first", *sys.path])
    assert [str(change) for change in state.changes(GlobalState.capture())] == [
        "changed sys.path: added '/first'", "removed os.environ['CONFORMANCE_TEST_REMOVED'] (was 'x')",
        "added os.environ['CONFORMANCE_TEST_ADDED'] = 'y'"]


@pytest.fixture
def release():
    """An event the test's threads wait on; set at teardown so none outlives the test."""
    event = threading.Event()
    yield event
    event.set()


def _thread(event, name=None):
    thread = threading.Thread(target=event.wait, args=(30,), name=name, daemon=True)
    thread.start()
    return thread


def test_left_running_reports_a_new_thread_by_name(release):
    state = GlobalState.capture()
    _thread(release, name="prefetcher")
    assert state.left_running(GlobalState.capture(), grace_s=0.1) == ["left 1 thread running: prefetcher (daemon)"]


def test_left_running_ignores_earlier_threads_the_suites_own_and_threads_that_end(release):
    _thread(release, name="earlier")
    state = GlobalState.capture()
    _thread(release, name="conformance-worker")
    short = threading.Thread(target=threading.Event().wait, args=(0.2,))
    short.start()
    assert state.left_running(GlobalState.capture(), grace_s=2.0) == []


def test_left_running_reports_a_child_process_until_it_ends():
    state = GlobalState.capture()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        left = state.left_running(GlobalState.capture(), grace_s=0.1)
        assert len(left) == 1 and left[0].startswith(f"left 1 child process running: pid {child.pid} (")
    finally:
        child.kill()
        child.wait()
    assert state.left_running(GlobalState.capture(), grace_s=0.1) == []
