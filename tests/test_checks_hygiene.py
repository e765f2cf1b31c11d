"""The hygiene check fails estimators that leak process-wide state, naming exactly what leaked, with
a repro that fails as pasted; correct estimators pass; leaks never change another check's verdict."""

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import conformance
from conformance.globalstate import GlobalState
from tests.estimators import hygiene_defects as defects
from tests.estimators.base import TinyTorchClassifier

CHECK = "hygiene.fit_and_predict_leave_global_state"
HEADLINE = "process-wide state changed: "
ROOT = Path(os.path.abspath(__file__)).parent.parent

# Every finding each defect must produce; "*" stands for any text (thread numbers, pids).
EXACTLY = {
    defects.LeaksDefaultDtype: ["fit changed torch.get_default_dtype(): torch.float32 -> torch.float64"],
    defects.DisablesGradInPredict: [f"{m} changed torch.is_grad_enabled(): True -> False"
                                    for m in ("predict", "predict_proba", "score")],
    defects.PinsThreads: ["fit changed torch.get_num_threads(): 2 -> 1"],
    defects.EnablesDeterminism: ["fit changed torch.are_deterministic_algorithms_enabled(): False -> True"],
    defects.EnablesCudnnBenchmark: ["fit changed torch.backends.cudnn.benchmark: False -> True"],
    defects.DetectsAnomalies: ["fit changed torch.is_anomaly_enabled(): False -> True"],
    defects.FlushesDenormals: ["fit changed flush-denormal mode (torch.tensor(1e-40, dtype=torch.float32, "
                               "device='cpu').item() == 0): False -> True"],
    defects.SetsDefaultDevice: ["fit changed torch.get_default_device(): device(type='cpu') -> device(type='meta')"],
    defects.SilencesNumpy: [f"fit changed np.geterr()[{k!r}]: 'warn' -> 'ignore'" for k in ("divide", "over", "invalid")],
    defects.SetsPrintOptions: ["fit changed np.get_printoptions()['precision']: 8 -> 3"],
    defects.IgnoresWarnings: ["fit changed warnings.filters: added 'ignore::Warning'"],
    defects.SetsRootLogLevel: ["fit changed logging.getLogger().level: 30 -> 10"],
    defects.AddsRootHandler: ["fit changed logging.getLogger().handlers: added <StreamHandler * (NOTSET)>"],
    defects.SetsEnvironment: ["fit added os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'"],
    defects.ChangesDirectory: [f"fit changed os.getcwd(): '*' -> '{ROOT / 'tests' / 'estimators'}'"],
    defects.ExtendsSysPath: [f"fit changed sys.path: added '{ROOT / 'tests' / 'estimators' / 'plugins'}'"],
    defects.InstallsSignalHandler: ["fit changed signal.getsignal(signal.SIGTERM): <Handlers.SIG_DFL: 0> -> "
                                    "tests.estimators.hygiene_defects._save_checkpoint_and_exit"],
    defects.LeavesThreadRunning: [f"{m} left 1 thread running: Thread-* (sleep) (daemon)" for m in ("predict", "score")],
    defects.LeavesChildProcessRunning: ["fit left 1 child process running: pid * (python*)"],
    defects.SetsEnvironmentInPredict: [f"{m} added os.environ['TOKENIZERS_PARALLELISM'] = 'false'"
                                       for m in ("predict", "score")],
    defects.SilencesNumpyInPartialFit: ["partial_fit changed np.geterr()['over']: 'warn' -> 'ignore'"],
}
# Settings linked inside torch (the TF32 flags and the newer fp32_precision API) change together:
# these findings must be among the defect's, the rest being torch's linked settings.
AMONG = {
    defects.LowersMatmulPrecision: ["fit changed torch.get_float32_matmul_precision(): 'highest' -> 'high'"],
    defects.AllowsTF32: ["fit changed torch.backends.cuda.matmul.allow_tf32: False -> True"],
}
LINKED = ("torch.get_float32_matmul_precision()", "torch.backends.cuda.matmul.", "torch.backends.mkldnn.matmul.")


def findings(result) -> list[str]:
    headline = result.summary
    assert headline.startswith(HEADLINE), headline
    return headline[len(HEADLINE):].split("; ")


def matches(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text) is not None


def repro_of(result) -> str:
    lines = result.message.splitlines()
    start = lines.index("  reproduce with:") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("    "))
    return "\n".join(line[4:] for line in lines[start:end])


class Verdicts(dict):
    """Each estimator's verdict, checked (forked, as the suite runs it) the first time a test asks."""

    def __missing__(self, name):
        estimator = getattr(defects, name)() if name != "TinyTorchClassifier" else TinyTorchClassifier()
        self[name] = conformance.check(estimator, checks=[CHECK], profile="quick").results[0]
        return self[name]


_VERDICTS = Verdicts()


@pytest.fixture
def verdicts():
    return _VERDICTS


def test_every_defect_has_its_expected_findings():
    assert set(EXACTLY) | set(AMONG) == set(defects.DEFECTS)


@pytest.mark.parametrize("defect", list(EXACTLY), ids=lambda d: d.__name__)
def test_hygiene_check_names_exactly_what_the_defect_leaked(verdicts, defect):
    result = verdicts[defect.__name__]
    assert result.status == "failed", result.message
    found, expected = findings(result), EXACTLY[defect]
    assert len(found) == len(expected) and all(map(matches, expected, found)), found


@pytest.mark.parametrize("defect", list(AMONG), ids=lambda d: d.__name__)
def test_hygiene_check_names_a_linked_torch_setting_among_the_ones_it_changed(verdicts, defect):
    result = verdicts[defect.__name__]
    assert result.status == "failed", result.message
    found = findings(result)
    assert set(AMONG[defect]) <= set(found), found
    assert all(f.startswith("fit changed ") and any(name in f for name in LINKED) for f in found), found


@pytest.mark.parametrize("twin", ["TinyTorchClassifier", "PartialFitClassifier"])
def test_hygiene_check_passes_correct_twin(verdicts, twin):
    assert verdicts[twin].status == "passed", verdicts[twin].message


def test_hygiene_check_watches_partial_fit_and_inference_methods_only_where_they_leak(verdicts):
    assert all(f.startswith("partial_fit ") for f in findings(verdicts["SilencesNumpyInPartialFit"]))
    assert not any(f.startswith(("fit ", "predict_proba ")) for f in findings(verdicts["SetsEnvironmentInPredict"]))


def test_import_time_effects_of_a_lazily_imported_library_do_not_count(run_check):
    # Forked, each check imports the module afresh: its first import happens inside the check's fit.
    sys.modules.pop("tests.estimators.lazy_import_effects", None)
    result = run_check(defects.LazyImportClassifier(), CHECK, profile="quick")
    assert result.status == "passed", result.message


@pytest.mark.parametrize("defect", defects.DEFECTS, ids=lambda d: d.__name__)
def test_repro_fails_as_pasted_in_a_fresh_interpreter_asserting_the_first_leak(verdicts, defect):
    result = verdicts[defect.__name__]
    from conformance.fresh import ensure_server, run_python

    ensure_server()  # a fresh interpreter forked from one that imported the libraries already
    done = run_python(repro_of(result), env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120, text=True)
    assert done.returncode != 0, repro_of(result)
    raised = done.stderr.strip().splitlines()[-1]
    digitless = [re.sub(r"\d+", "N", text) for text in (raised, "AssertionError: " + findings(result)[0])]
    assert digitless[0] == digitless[1], done.stderr[-2000:]


def test_repro_asserts_only_what_changed(verdicts):
    # The old repro asserted the dtype and grad mode whatever had changed, and passed here.
    repro = repro_of(verdicts["EnablesDeterminism"])
    asserts = [line for line in repro.splitlines() if line.startswith("assert ")]
    assert asserts == ["assert torch.are_deterministic_algorithms_enabled() == before, "
                       "'fit changed torch.are_deterministic_algorithms_enabled(): False -> True'"]


def test_grad_leak_would_break_the_next_fit_in_the_same_process():
    # The control for the test below: the leak is real and does break a correct estimator.
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.arange(30) % 3
    try:
        defects.DisablesGradInPredict(max_epochs=1).fit(X, y).predict(X)
        with pytest.raises(RuntimeError, match="does not require grad"):
            TinyTorchClassifier(max_epochs=1).fit(X, y)
    finally:
        torch.set_grad_enabled(True)


@pytest.mark.parametrize("isolation", ["fork", "none"])
def test_leaking_estimator_does_not_change_the_next_estimators_verdicts(isolation):
    checks = [CHECK, "persistence.pickle_roundtrip", "params.fit_does_not_mutate_params"]
    report = conformance.check([defects.DisablesGradInPredict(max_epochs=5), TinyTorchClassifier(max_epochs=5)],
                               checks=checks, isolation=isolation)
    leaky, correct = report.estimators
    assert {r.check: r.status for r in leaky.results}[CHECK] == "failed"
    assert {r.check: r.status for r in correct.results} == dict.fromkeys(checks, "passed")
    assert torch.is_grad_enabled()


IN_PROCESS_LEAKS = [defects.SetsEnvironment, defects.ChangesDirectory, defects.ExtendsSysPath, defects.IgnoresWarnings,
                    defects.SetsRootLogLevel, defects.AddsRootHandler, defects.InstallsSignalHandler,
                    defects.SetsPrintOptions, defects.LowersMatmulPrecision, defects.FlushesDenormals,
                    defects.SetsDefaultDevice, defects.DetectsAnomalies, defects.LeavesThreadRunning]


def test_in_process_run_restores_every_leak_before_the_next_estimator():
    # params.fit_does_not_mutate_params fits without restoring anything: only the runner's restore
    # (GlobalState.restore after each check) stands between the leaks and the correct twin.
    checks = [CHECK, "params.fit_does_not_mutate_params"]
    before = GlobalState.capture()
    estimators = [defect(max_epochs=5) for defect in IN_PROCESS_LEAKS] + [TinyTorchClassifier(max_epochs=5)]
    report = conformance.check(estimators, checks=checks, profile="quick", isolation="none")
    statuses = {entry.label: {r.check: r.status for r in entry.results} for entry in report.estimators}
    assert statuses.pop("TinyTorchClassifier") == dict.fromkeys(checks, "passed")
    assert {name: verdicts[CHECK] for name, verdicts in statuses.items()} == dict.fromkeys(statuses, "failed")
    assert [str(change) for change in before.changes(GlobalState.capture())] == []
