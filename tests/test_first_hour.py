"""What reaches a new user: the kind they meant, shared causes, docs, annotations, usage errors."""

import json
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

import conformance
from conformance import annotations
from conformance.causes import shared_causes
from conformance.explain import docs_reference, explain
from conformance.kinds import kind_verdict, tags_as_meant
from conformance.registry import entries_for
from conformance.result import Result
from conformance.targets import Target
from tests.estimators.base import TinyTorchClassifier
from tests.estimators.kinds import DeclaredClassifier, RegressorWithPredictProba, WrongMixinOrderClassifier

REPO = Path(__file__).resolve().parents[1]
FAST = {"profile": "quick", "isolation": "none"}


def suite(pytester, *args):
    return pytester.runpytest_subprocess("--pyargs", "conformance", "-p", "no:cacheprovider", *args)


# --- the kind the user meant --------------------------------------------------------------------

def test_a_mixin_after_base_estimator_is_checked_as_the_kind_it_names_and_said_first():
    verdict = kind_verdict(WrongMixinOrderClassifier())
    assert (verdict.kind, verdict.tags_corrected_to) == ("classifier", "classifier")
    assert "fix the order: class WrongMixinOrderClassifier(ClassifierMixin, BaseEstimator)" in verdict.disagreements[0]


def test_the_misordered_classifier_gets_every_sklearn_classifier_check():
    def sklearn_ids(estimator):
        return {e.id for e in entries_for(Target(type(estimator).__name__, estimator)) if e.category == "sklearn"}

    assert sklearn_ids(WrongMixinOrderClassifier()) == sklearn_ids(TinyTorchClassifier())


def test_tags_as_meant_patches_only_while_active():
    from sklearn.base import is_classifier

    estimator = WrongMixinOrderClassifier()
    assert not is_classifier(estimator)
    with tags_as_meant(WrongMixinOrderClassifier, "classifier"):
        assert is_classifier(estimator)
    assert not is_classifier(estimator)


def test_the_misordered_classifier_passes_our_checks_and_fails_only_the_mixin_order():
    report = conformance.check(WrongMixinOrderClassifier(), checks=["params.*", "sklearn.check_mixin_order",
                                                                   "sklearn.check_classifiers_train"], **FAST)
    failed = {r.check: r.message for r in report.results if r.status == "failed"}
    assert list(failed) == ["sklearn.check_mixin_order"], failed
    assert "ClassifierMixin comes before/left side of BaseEstimator" in failed["sklearn.check_mixin_order"]


@pytest.mark.parametrize("estimator, kind, disagreement", [
    (RegressorWithPredictProba(), "regressor", "has predict_proba but is not a classifier"),
    (DeclaredClassifier(), "classifier", None),
    (LogisticRegression(), "classifier", None),
])
def test_each_kind_signal_is_read_and_disagreements_named(estimator, kind, disagreement):
    verdict = kind_verdict(estimator, (getattr(estimator, "__conformance_tags__", dict)()).get("kind"))
    assert verdict.kind == kind
    assert (disagreement in " ".join(verdict.disagreements)) if disagreement else not verdict.disagreements


def test_the_header_leads_with_the_disagreement(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = suite(pytester, "--estimator", "tests.estimators.kinds:WrongMixinOrderClassifier",
                   "-k", "check_estimator_repr")
    lines = [line for line in result.stdout.lines if line.startswith("conformance:")]
    assert lines[0].startswith("conformance: ! WrongMixinOrderClassifier: ClassifierMixin is in")
    assert any("WrongMixinOrderClassifier: checked as classifier (ClassifierMixin is in its MRO)" in line
               for line in result.stdout.lines)


def test_no_target_named_says_so_loudly(pytester):
    result = suite(pytester, "-k", "check_estimator_repr")
    assert result.stdout.lines[2].startswith("conformance: NO TARGET WAS NAMED, so the reference estimators")


# --- shared causes -----------------------------------------------------------------------------

def failure(check, cause_key=None, message="AssertionError: x"):
    return Result(check, check.split(".")[0], "failed", message, cause=cause_key and f"cause {cause_key}",
                  cause_key=cause_key)


def test_failures_with_one_cause_key_are_grouped_largest_first_and_singletons_are_not():
    results = [failure("a.one", "K"), failure("a.two", "K"), failure("a.three", "K"), failure("b.one", "J"),
               failure("b.two", "J"), failure("c.lonely", "L")]
    groups = shared_causes([("Est", r) for r in results] + [("Other", failure("a.one", "K"))])
    assert [(g.label, g.count) for g in groups] == [("Est", 3), ("Est", 2)]
    assert groups[0].headline() == "3 failures of Est share one cause: cause K; fix this first"


def test_failures_without_an_exception_group_by_their_headline_with_numbers_ignored():
    results = [failure("a.x", message="predict returned shape (40, 1)"),
               failure("a.y", message="predict returned shape (7, 1)")]
    assert [g.count for g in shared_causes([("E", r) for r in results])] == [2]


class DoubleIntoFloatModule(TinyTorchClassifier):
    """Feeds float64 tensors to its float32 module: every fit raises the same torch error."""

    def _to_tensor(self, X):
        import torch

        return torch.as_tensor((X - self.mean_) / self.scale_)


def test_one_cause_behind_many_checks_is_found_in_a_real_run():
    report = conformance.check(DoubleIntoFloatModule(), checks=["params.*", "persistence.pickle_roundtrip"], **FAST)
    (group,) = report.shared_causes()
    assert group.count >= 5 and "mat1 and mat2 must have the same dtype" in group.cause
    assert "tests/estimators/base.py:" in group.cause  # the estimator's own line (its base class), not torch's


# --- docs from the package ---------------------------------------------------------------------

def test_explain_prints_a_checks_section_and_names_close_ids_for_a_typo():
    assert explain("params.defaults_are_fresh").startswith("params.defaults_are_fresh\n\n## defaults_are_fresh")
    assert "### check_fit2d_1sample" in explain("sklearn.check_fit2d_1sample.2")
    with pytest.raises(ValueError, match="did you mean params.defaults_are_fresh"):
        explain("params.defaults_are_frsh")


def test_docs_links_are_absolute_when_the_metadata_has_a_documentation_url(monkeypatch):
    from conformance import explain as module

    assert docs_reference("inputs.batch_invariance").startswith("python -m conformance explain inputs.batch_invariance")
    monkeypatch.setattr(module, "documentation_url", lambda: "https://example.org/docs")
    assert docs_reference("sklearn.check_fit2d_1sample.2") == "https://example.org/docs/checks/sklearn.md#check_fit2d_1sample"


def test_the_explain_command_exits_2_with_one_line_for_an_unknown_check(capsys):
    from conformance.__main__ import main

    assert main(["explain", "nope.nothing"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# --- annotations, JUnit, usage errors ----------------------------------------------------------

def test_annotations_point_at_the_estimators_line_and_escape_the_message(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(REPO))
    line = annotations.command("conformance: a, b", "first: line\n100% second", (str(REPO / "tests" / "x.py"), 7))
    assert line == "::error file=tests/x.py,line=7,title=conformance%3A a%2C b::first: line%0A100%25 second"


def test_a_run_on_github_actions_prints_one_annotation_per_failure(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = suite(pytester, "--estimator", "tests.estimators.naive:NaiveTorchClassifier", "-k", "check_dtype_object",
                   "--junitxml", "j.xml")
    errors = [line for line in result.stdout.lines if line.startswith("::error ")]
    assert len(errors) == 1 and "file=" in errors[0] and "title=conformance%3A sklearn.check_dtype_object" in errors[0]
    assert 'classname="conformance.sklearn"' in (pytester.path / "j.xml").read_text()


@pytest.mark.parametrize("path, message", [("no/such/dir/r.json", "does not exist"), (".", "is a directory")])
def test_a_report_path_that_cannot_be_written_is_a_usage_error_before_the_run(pytester, path, message):
    result = suite(pytester, "--estimator", "sklearn.linear_model:Ridge", "--conformance-report", path)
    assert result.ret == 4 and message in result.stderr.str()
    assert "collected" not in result.stdout.str()


def test_a_module_of_the_working_directory_that_is_not_importable_gets_a_hint(tmp_path, monkeypatch):
    from conformance.errors import TargetError
    from conformance.targets import resolve

    (tmp_path / "my_flat_model_xyz.py").write_text("class Nothing: pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", ".", str(tmp_path))])
    with pytest.raises(TargetError) as caught:
        resolve("my_flat_model_xyz:Nothing")
    text = str(caught.value)
    assert "module 'my_flat_model_xyz' not found" in text and "my_flat_model_xyz.py is in" in text
    assert "python -m pytest" in text and 'pythonpath = ["."]' in text


def test_the_json_report_says_what_each_estimator_was_checked_as(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    suite(pytester, "--estimator", "tests.estimators.kinds:WrongMixinOrderClassifier", "-k", "check_mixin_order",
          "--conformance-report", "r.json")
    (estimator,) = json.loads((pytester.path / "r.json").read_text())["estimators"]
    assert (estimator["kind"], estimator["input_kind"]) == ("classifier", "tabular")
    assert estimator["kind_reason"] == "ClassifierMixin is in its MRO" and estimator["disagreements"]
