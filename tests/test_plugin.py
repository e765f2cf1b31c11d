"""The plugin as users drive it: options, targets, usage errors, report, baseline, summaries."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FEW = "check_fit2d_1sample or check_estimator_repr or check_dtype_object"
RIDGE = "sklearn.linear_model:Ridge"


def suite(pytester, *args):
    return pytester.runpytest_subprocess("--pyargs", "conformance", "-p", "no:cacheprovider", *args)


def test_correct_estimator_passes_with_one_item_per_check(pytester):
    result = suite(pytester, "--estimator", RIDGE, "-k", FEW, "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_conformance?Ridge-sklearn.check_fit2d_1sample? PASSED*",
                                 "*= conformance =*", "*sklearn*3*0*"])


@pytest.mark.parametrize("target, reason", [
    ("nosuch.module:Thing", "module 'nosuch' not found"),
    ("sklearn.linear_model:NoSuchThing", "has no attribute 'NoSuchThing'"),
    ("math:pi", "float object is not an estimator"),
    ("json:dumps", "calling it raised TypeError"),
    ("sklearn.linear_model", "expected 'module.path:attr'"),
])
def test_unusable_target_is_one_clear_line_and_exit_code_4(pytester, target, reason):
    result = suite(pytester, "--estimator", target)
    assert result.ret == 4
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1, lines
    assert target in lines[0] and reason in lines[0]


def test_targets_come_from_environment_then_pyproject(pytester, monkeypatch):
    pytester.makepyprojecttoml('[tool.conformance]\nestimators = ["sklearn.linear_model:Lasso"]\n')
    from_file = suite(pytester, "-k", "check_estimator_repr", "-v")
    from_file.stdout.fnmatch_lines(["*Lasso-sklearn.check_estimator_repr? PASSED*"])
    monkeypatch.setenv("CONFORMANCE_ESTIMATOR", f"{RIDGE},sklearn.preprocessing:StandardScaler")
    from_env = suite(pytester, "-k", "check_estimator_repr", "-v")
    from_env.stdout.fnmatch_lines(["*Ridge-sklearn.check_estimator_repr? PASSED*",
                                   "*StandardScaler-sklearn.check_estimator_repr? PASSED*"])
    assert "Lasso" not in from_env.stdout.str()
    from_cli = suite(pytester, "--estimator", "sklearn.decomposition:PCA", "-k", "check_estimator_repr", "-v")
    assert "PCA-sklearn" in from_cli.stdout.str() and "Ridge" not in from_cli.stdout.str()


def test_json_report_and_junitxml(pytester):
    result = suite(pytester, "--estimator", RIDGE, "-k", FEW, "--conformance-report", "r.json",
                   "--junitxml", "j.xml")
    result.assert_outcomes(passed=3)
    report = json.loads((pytester.path / "r.json").read_text())
    assert {"conformance_version", "sklearn_version", "torch_version", "python_version", "devices"} <= set(report)
    (estimator,) = report["estimators"]
    assert estimator["label"] == "Ridge" and estimator["target"] == RIDGE and "alpha" in estimator["params"]
    assert {r["status"] for r in estimator["results"]} == {"passed"}
    assert set(estimator["results"][0]) == {"check", "category", "status", "message", "duration_s", "warnings",
                                            "cause", "cause_key", "where"}
    assert (estimator["kind"], estimator["input_kind"], estimator["disagreements"]) == ("regressor", "tabular", [])
    assert "check_fit2d_1sample" in (pytester.path / "j.xml").read_text()


NAIVE = "tests.estimators.naive:NaiveTorchClassifier"
NAIVE_FAILS = ["sklearn.check_classifiers_train", "sklearn.check_dtype_object", "sklearn.check_n_features_in_after_fitting"]


def test_naive_torch_classifier_fails_with_actionable_messages(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = suite(pytester, "--estimator", NAIVE, "-k", "check_classifiers_train or check_dtype_object or check_n_features_in_after",
                   "--conformance-report", "r.json")
    report = json.loads((pytester.path / "r.json").read_text())
    by_id = {r["check"]: r for r in report["estimators"][0]["results"]}
    for check_id in NAIVE_FAILS:
        message = by_id[check_id]["message"]
        assert by_id[check_id]["status"] == "failed"
        assert "reproduce with:" in message and "from tests.estimators.naive import NaiveTorchClassifier" in message
        assert (f"docs: python -m conformance explain {check_id}  (docs/checks/sklearn.md#{check_id.split('.')[1]} "
                "in the source)") in message
    assert result.ret == 1


def test_baseline_marks_known_failures_xfail_and_lists_stale_entries(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    baseline = {"sklearn.check_dtype_object": "float32 cast, fixing in #12",
                "sklearn.check_estimator_repr": "was broken once",
                "sklearn.no_such_check": "typo"}
    pytester.path.joinpath("baseline.json").write_text(json.dumps(baseline))
    result = suite(pytester, "--estimator", NAIVE, "-k", "check_dtype_object or check_estimator_repr",
                   "--conformance-baseline", "baseline.json", "--conformance-report", "r.json")
    result.assert_outcomes(xfailed=1, xpassed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*baseline entry now passes (remove it): NaiveTorchClassifier: sklearn.check_estimator_repr*",
                                 "*baseline entry names no check of this suite*sklearn.no_such_check*"])
    statuses = {r["check"]: r["status"] for r in json.loads((pytester.path / "r.json").read_text())["estimators"][0]["results"]}
    assert statuses == {"sklearn.check_dtype_object": "xfailed", "sklearn.check_estimator_repr": "xpassed"}


def test_bad_baseline_file_is_a_usage_error(pytester):
    pytester.path.joinpath("b.json").write_text("[1, 2]")
    result = suite(pytester, "--estimator", RIDGE, "--conformance-baseline", "b.json")
    assert result.ret == 4 and "expected a JSON object" in result.stderr.str()


def test_github_step_summary_gets_the_markdown_table(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    suite(pytester, "--estimator", NAIVE, "-k", "check_dtype_object or check_estimator_repr")
    text = summary.read_text()
    assert "| sklearn | 1 | 1 |" in text
    assert "- `NaiveTorchClassifier` `sklearn.check_dtype_object`: " in text


def test_parametrize_decorates_a_users_own_test(pytester):
    pytester.makepyfile(
        """
        import conformance
        from sklearn.linear_model import Ridge

        @conformance.parametrize([Ridge()], checks=["sklearn.check_estimator_repr", "sklearn.check_fit2d_1sample"])
        def test_mine(estimator, check):
            check(estimator)
        """
    )
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_mine?Ridge-sklearn.check_estimator_repr? PASSED*"])


def test_python_api_returns_a_report():
    import conformance
    from sklearn.linear_model import Ridge

    report = conformance.check(Ridge(), checks=["sklearn.check_fit2d_1sample"])
    assert report.ok and [r.status for r in report.results] == ["passed"]


def run_outside_repo(tmp_path, *args, **env):
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_real_subprocess_with_pyargs_from_outside_the_source_tree(tmp_path):
    done = run_outside_repo(tmp_path, "-m", "pytest", "--pyargs", "conformance", "--estimator", RIDGE,
                            "-k", FEW, "-q", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_python_dash_m_conformance_is_the_pytest_form(tmp_path):
    done = run_outside_repo(tmp_path, "-m", "conformance", RIDGE, "-k", FEW, "-q", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    missing = run_outside_repo(tmp_path, "-m", "conformance", "nosuch:Thing")
    assert missing.returncode == 4 and "module 'nosuch' not found" in missing.stderr


SERIAL = ("--conformance-jobs", "1", "--conformance-isolation", "fork-each")  # one fork per check, in turn


def serial_and_parallel_results(tmp_path, *parallel_args) -> tuple[list, list]:
    """The report results of the naive estimator on a few sklearn checks: serial, then with ``parallel_args``."""
    args = ["-m", "pytest", "--pyargs", "conformance", "--estimator", NAIVE, "-q", "-p", "no:cacheprovider",
            "-k", "sklearn and (dtype_object or estimator_repr or fit2d_1sample or fit1d or estimators_pickle)"]
    runs = [run_outside_repo(tmp_path, *args, *extra, "--conformance-report", f"{name}.json", PYTHONPATH=str(REPO))
            for name, extra in (("serial", SERIAL), ("parallel", parallel_args))]
    assert [done.returncode for done in runs] == [1, 1], runs[1].stdout + runs[1].stderr
    return [json.loads((tmp_path / f"{name}.json").read_text())["estimators"][0]["results"]
            for name in ("serial", "parallel")]


def test_xdist_gives_the_same_verdicts_as_a_serial_run(tmp_path):
    pytest.importorskip("xdist")
    serial, parallel = serial_and_parallel_results(tmp_path, "-n", "2")
    assert {r["check"]: r["status"] for r in serial} == {r["check"]: r["status"] for r in parallel}
    assert len(serial) >= 5


def test_plugin_load_imports_neither_torch_nor_sklearn(tmp_path):
    code = ("import sys, pytest; pytest.main(['--co', '-q', '-p', 'no:cacheprovider']); "
            "print('torch' in sys.modules, 'sklearn' in sys.modules)")
    done = run_outside_repo(tmp_path, "-c", code)
    assert done.stdout.strip().endswith("False False"), done.stdout


def test_conformance_jobs_gives_the_same_verdicts_as_a_serial_run(tmp_path):
    serial, parallel = serial_and_parallel_results(tmp_path, "--conformance-jobs", "3")

    def verdicts(results):
        return [(r["check"], r["status"], r["message"]) for r in results]

    assert verdicts(serial) == verdicts(parallel)  # same order and messages too
    assert len(serial) >= 5


@pytest.mark.parametrize("args, message", [
    (["--conformance-jobs", "zero"], "--conformance-jobs: jobs must be a positive integer or 'auto', got 'zero'"),
    (["--conformance-jobs", "2", "--conformance-isolation", "none"], "--conformance-jobs: running several checks at once (jobs > 1) needs forked processes"),
])
def test_bad_jobs_option_is_a_usage_error(pytester, args, message):
    result = suite(pytester, "-k", FEW, *args)
    assert result.ret == 4
    assert message in result.stderr.str()


def test_the_default_runs_checks_in_parallel_on_linux_unless_xdist_or_no_isolation_is_asked_for():
    import sys

    from conformance.plugin import default_jobs

    if not sys.platform.startswith("linux"):
        pytest.skip("parallel by default on Linux only")
    assert default_jobs(xdist=False, isolation="auto") == "auto"
    assert default_jobs(xdist=True, isolation="auto") == 1
    assert default_jobs(xdist=False, isolation="none") == 1


def test_jobs_with_xdist_is_a_usage_error(tmp_path):
    pytest.importorskip("xdist")
    done = run_outside_repo(tmp_path, "-m", "conformance", RIDGE, "-n", "2", "--conformance-jobs", "2")
    assert done.returncode == 4 and "use one" in done.stderr, done.stderr
