"""A hang costs one timeout: budgets from the shared fit, and calls known to hang refused at once."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import conformance
from conformance.hangs import Call, Hang, History, KnownHang, check_budget, refusing_known_hangs
from conformance.registry import Check
from conformance.runner import run_check
from conformance.settings import Settings
from conformance.targets import Target
from tests.estimators import hanging


def fits_on(rows: int):
    def check(ctx):
        """The estimator fits the suite's ordinary data."""
        ctx.new().fit(*ctx.data(rows).fit_args())

    return Check(f"hostile.fit_{rows}", check, uses_shared_fit=False)


def run_in_order(estimator, checks, **settings):
    target = Target(type(estimator).__name__, estimator)
    return target, [run_check(target, check, Settings(**settings)) for check in checks]


def test_a_fit_that_hung_fails_later_checks_making_the_call_at_once_citing_the_first_timeout():
    target, (small, hung, again, other) = run_in_order(
        hanging.HangsOnLargeInput(), [fits_on(80), fits_on(150), fits_on(150), fits_on(200)], timeout_s=2)
    assert small.status == "passed"
    assert hung.status == "failed"
    assert hung.message.startswith("fit on input of shape (150, 4) timed out after 2 s")
    cited = "not run: fit on input of shape (150, 4) timed out after 2 s in hostile.fit_150 earlier in this run"
    assert again.status == "failed" and again.message.startswith(cited)
    assert "this check makes the same call" in again.message
    assert hung.cause_key == again.cause_key  # reported as one root cause
    # Other data is not refused (a hang may depend on it): it costs a (lowered) time limit of its own.
    assert other.status == "failed" and other.message.startswith("fit on input of shape (200, 4) timed out after 2 s")
    assert [h.call for h in target.history.hangs] == [Call("fit", (150, 4)), Call("fit", (200, 4))]


def test_the_correct_twin_runs_the_same_checks_and_passes():
    _, results = run_in_order(Ridge(), [fits_on(80), fits_on(150), fits_on(200)], timeout_s=2)
    assert [r.status for r in results] == ["passed"] * 3


def test_a_busy_loop_in_python_is_located_as_well_as_a_sleep():
    _, (spun,) = run_in_order(hanging.SpinsInFit(), [fits_on(30)], timeout_s=1)
    assert spun.message.startswith("fit on input of shape (30, 4) timed out after 1 s")


def test_a_hang_in_the_shared_fit_spares_every_check_fitting_that_data():
    report = conformance.check(hanging.HangsInFit(), checks=["params.clone_is_unfitted_and_independent", "inputs.invalid_input_errors"],
                               timeout_s=2)
    assert report.results and all(r.status == "failed" for r in report.results)
    rows = Settings().budget.n_samples  # the shared fit's data: the standard profile's size
    assert all(f"fit on input of shape ({rows}, 4) timed out after 2 s in the shared fit" in r.message
               for r in report.results)
    assert len(report.shared_causes()) == 1


def settings(**changes):
    return Settings(**changes)


ORDINARY = SimpleNamespace(fresh_process=False, threads=False)
FRESH = SimpleNamespace(fresh_process=True, threads=False)


def timed(seconds) -> History:
    history = History()
    history.shared_fit_s[Settings().budget] = seconds
    return history


@pytest.mark.parametrize("history, entry, cap, expected", [
    (timed(0.01), ORDINARY, 300, 60.0),  # a fast fit: the floor
    (timed(1.0), ORDINARY, 300, 200.0),  # 200 shared fits
    (timed(10.0), ORDINARY, 300, 300.0),  # never past the user's cap
    (timed(0.01), ORDINARY, 2, 2.0),  # a cap under the floor wins
    (timed(0.01), FRESH, 300, 120.0),  # interpreters to start: a higher floor
    (History(), ORDINARY, 300, 300.0),  # no shared fit timed: nothing to go on, the cap
])
def test_check_budget_scales_the_shared_fit_between_floor_and_cap(history, entry, cap, expected):
    assert check_budget(history, settings(timeout_s=cap), entry).seconds == expected


def test_check_budget_drops_to_the_hung_floor_once_a_call_hung():
    history = timed(0.01)
    history.record_hang(Hang(Call("fit", (150, 4)), "hostile.fit_150", 60.0))
    budget = check_budget(history, settings(), ORDINARY)
    assert budget.seconds == 15.0 and "fit on input of shape (150, 4) timed out" in budget.why


def test_thorough_profile_scales_the_budget_with_its_examples():
    history = History()
    history.shared_fit_s[Settings(profile="thorough").budget] = 0.1
    assert check_budget(history, settings(profile="thorough", timeout_s=1000), ORDINARY).seconds == 160.0


def test_a_refused_call_raises_and_the_class_is_put_back():
    history = History()
    history.record_hang(Hang(Call("fit", (150, 4)), "hostile.fit_150", 2.0))
    original = hanging.HangsOnLargeInput.__dict__["fit"]
    with refusing_known_hangs(hanging.HangsOnLargeInput, history):
        estimator = hanging.HangsOnLargeInput()
        estimator.fit(np.zeros((10, 4)), np.zeros(10))  # other data: called
        with pytest.raises(KnownHang):
            estimator.fit([[0.0] * 4] * 150, [0.0] * 150)  # a nested list of that shape
    assert hanging.HangsOnLargeInput.__dict__["fit"] is original
