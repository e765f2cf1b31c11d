"""False-positive probes for text: correct text estimators pass the whole suite, and it really ran.

sklearn's vectorizers, a TF-IDF pipeline and the reference ``PretrainedTextEncoder`` are
correct text estimators: the whole suite, quick profile, fails none of them. That alone would
also hold for a suite that skips everything on text, so each probe also shows that the suite's
own checks ran: every ``inputs.*``, ``params.*``, ``persistence.*`` and ``determinism.*`` check
is ``passed``, except the skips listed in :data:`EXPECTED_SKIPS`, each for its stated reason.
The encoder-then-``LogisticRegression`` pipeline is run the way users run it, through the
plugin, as ``tests.estimators.text:text_pipeline``. The text defects that prove the same
checks bite on text live in the zoo (tests/estimators/text_defects.py, tests/test_zoo.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import conformance
from reference_estimators import PretrainedTextEncoder

REPO = Path(__file__).resolve().parents[1]
PROVEN = ("inputs", "params", "persistence", "determinism")
QUICK = "not run in the quick profile"
# Check -> the reason it may be skipped on a correct text estimator; anything else must pass.
EXPECTED_SKIPS = {
    "persistence.fresh_process_load": QUICK,
    "determinism.fresh_process_same_fit": QUICK,
    "determinism.thread_count_agrees": QUICK,
    "persistence.cuda_pickle_loads_without_cuda": "",  # no CUDA here, or no device parameter
    "inputs.float64_precision": "states a rule about numeric 2-D input",
    # Degenerate tables and unstandardised columns are numeric; text data has its own degeneracies
    # (empty, duplicated, very long documents) in every text check's data.
    "inputs.degenerate_data": "states a rule about numeric 2-D input",
    "inputs.learns_unstandardised_data": "states a rule about numeric 2-D input",
    # A pipeline's parameters are nested (logisticregression__C): the suite finds none to vary.
    "params.grid_search_parallel": "no numeric or boolean parameter to search over",
    "params.set_params_acts_like_constructor": "no numeric or boolean parameter changes the fitted result",
}
PROBES = {
    "TfidfVectorizer": TfidfVectorizer,
    "CountVectorizer": CountVectorizer,
    # 2**20 columns by default: the suite densifies sparse outputs to compare them (0.34 GB per
    # output on the quick profile's 40 documents, a minute of it); 2**12 columns is the same code path.
    "HashingVectorizer": lambda: HashingVectorizer(n_features=2**12),
    "TfidfVectorizer+LogisticRegression": lambda: make_pipeline(TfidfVectorizer(), LogisticRegression()),
    "PretrainedTextEncoder": PretrainedTextEncoder,
}


def proven_checks_not_passed(results) -> list[str]:
    """The inputs/params/persistence/determinism results that neither passed nor are expected skips."""
    return [f"{r['check']} [{r['status']}]: {r['message']}" for r in results
            if r["check"].split(".", 1)[0] in PROVEN and r["status"] != "passed"
            and not (r["status"] == "skipped" and r["check"] in EXPECTED_SKIPS
                     and EXPECTED_SKIPS[r["check"]] in (r["message"] or ""))]


def assert_passes_and_really_ran(results, label: str) -> None:
    failed = [f"{r['check']} [{r['status']}]: {r['message']}" for r in results if r["status"] in ("failed", "error")]
    assert not failed, f"the correct text estimator {label} failed:\n" + "\n".join(failed)
    unexpected = proven_checks_not_passed(results)
    assert not unexpected, f"checks that should have run on {label} did not pass:\n" + "\n".join(unexpected)
    # Not vacuous: of the checks that can apply to text (numeric-only rules left out), most passed.
    proven = [r for r in results if r["check"].split(".", 1)[0] in PROVEN
              and "states a rule about numeric 2-D input" not in (r["message"] or "")]
    passed = [r for r in proven if r["status"] == "passed"]
    assert len(passed) >= 0.75 * len(proven) and len(passed) >= 18, (
        f"only {len(passed)} of {len(proven)} inputs/params/persistence/determinism checks passed on {label}")


def as_dicts(report) -> list[dict]:
    return [{"check": r.check, "status": r.status.value, "message": r.message} for r in report.results]


@pytest.mark.parametrize("label", PROBES)
def test_correct_text_estimator_passes_the_whole_suite_with_its_checks_run(label):
    report = conformance.check(PROBES[label](), profile="quick")
    assert report.estimators[0].input_kind == "text"
    assert_passes_and_really_ran(as_dicts(report), label)


def test_the_rule_counts_a_skip_without_its_reason_as_not_run():
    results = [{"check": "inputs.batch_invariance", "status": "skipped", "message": "states a rule about numeric"},
               {"check": "inputs.float64_precision", "status": "skipped", "message": "no float64 here"},
               {"check": "inputs.float64_precision", "status": "skipped",
                "message": "states a rule about numeric 2-D input; this estimator takes text"},
               {"check": "sklearn.check_fit1d", "status": "skipped", "message": "cannot honour"}]
    assert [line.split(" [")[0] for line in proven_checks_not_passed(results)] == [
        "inputs.batch_invariance", "inputs.float64_precision"]


def test_plugin_runs_the_whole_suite_on_a_text_pipeline(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance", "-p", "no:cacheprovider", "--estimator", "tests.estimators.text:text_pipeline",
        "--conformance-profile", "quick", "--conformance-jobs", "2", "--conformance-report", "report.json")
    assert result.ret == 0, result.stdout.str()[-5000:]
    result.stdout.fnmatch_lines(["conformance: 1 target(s) from --estimator*",
                                 "  Pipeline*: checked as classifier*; input text (1-D strings)"])
    report = json.loads((pytester.path / "report.json").read_text())
    (estimator,) = report["estimators"]
    assert estimator["input_kind"] == "text"
    assert_passes_and_really_ran(estimator["results"], "PretrainedTextEncoder+LogisticRegression")
