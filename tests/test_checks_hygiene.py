"""The hygiene check fails estimators that leak process-wide settings; leaks never change
another check's verdict."""

import numpy as np
import pytest
import torch

import conformance
import conformance.checks.hygiene  # noqa: F401 - registers hygiene.* until checks/__init__ imports it
from tests.estimators import hygiene_defects as defects
from tests.estimators.base import TinyTorchClassifier

CHECK = "hygiene.fit_and_predict_leave_global_state"


@pytest.mark.parametrize("estimator, leaked", [
    (defects.LeaksDefaultDtype(), "torch.get_default_dtype(): torch.float32 -> torch.float64"),
    (defects.DisablesGradInPredict(), "torch.is_grad_enabled(): True -> False"),
    (defects.PinsThreads(), "torch.get_num_threads()"),
    (defects.SilencesNumpy(), "np.geterr()"),
    (defects.EnablesDeterminism(), "torch.are_deterministic_algorithms_enabled(): False -> True"),
], ids=lambda value: type(value).__name__ if not isinstance(value, str) else "")
def test_hygiene_check_fails_estimator_that_leaks_a_setting(run_check, estimator, leaked):
    result = run_check(estimator, CHECK)
    assert result.status == "failed"
    assert leaked in result.message


def test_hygiene_check_passes_correct_twin(run_check):
    assert run_check(TinyTorchClassifier(), CHECK).status == "passed"


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
