"""The suite's verdicts are reproducible: the same estimator gets the same status on every check
in three runs of the ``standard`` profile.

A check whose verdict depends on the run would make CI flaky and erode trust in every failure.
The sample holds a correct twin and two defects whose mistakes involve randomness (dropout left
on at predict; weights drawn from the global RNG), which are where a check is most likely to be
flaky; the checks are those whose outcome depends on seeds, repeated calls and batches.
"""

from __future__ import annotations

import pytest

import conformance
from tests.estimators import zoo

CHECKS = [
    "determinism.same_seed_same_fit",
    "determinism.independent_of_global_seeds",
    "determinism.different_seeds_differ",
    "inputs.repeat_call_stable",
    "persistence.pickle_roundtrip",
    "sklearn.check_fit_idempotent",
]
# estimator -> the check it must fail every time (None: a correct twin, fails nothing), so the
# comparison is never vacuous.
SAMPLE = {zoo.TinyTorchRegressor: None, zoo.DropoutLeftOn: "inputs.repeat_call_stable",
          zoo.UnseededInitialisation: "determinism.independent_of_global_seeds"}
RUNS = 3


@pytest.mark.parametrize("estimator_class", SAMPLE, ids=lambda c: c.__name__)
def test_same_estimator_gets_same_verdict_on_every_check_in_three_runs(estimator_class):
    runs = []
    for _ in range(RUNS):
        report = conformance.check(estimator_class(max_epochs=10), checks=CHECKS, profile="standard", variants=0)
        runs.append({r.check: r.status for r in report.results})
    assert set(runs[0]) == set(CHECKS), f"not every sampled check ran: {sorted(runs[0])}"
    differing = {check: [run.get(check) for run in runs] for check in CHECKS
                 if len({run.get(check) for run in runs}) > 1}
    assert not differing, f"verdicts changed between runs of {estimator_class.__name__}: {differing}"
    assert "error" not in runs[0].values(), runs[0]
    failed = sorted(c for c, status in runs[0].items() if status == "failed")
    must_fail = SAMPLE[estimator_class]
    if must_fail is None:
        assert not failed, f"the correct twin {estimator_class.__name__} failed {failed}"
    else:
        assert must_fail in failed, f"{estimator_class.__name__} did not fail {must_fail}: {runs[0]}"
