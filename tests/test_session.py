"""One composition root: the Python API and the plugin build a run the same way."""

import pytest

import conformance
from conformance.checks.sklearn_checks import GenerationFailure
from conformance.plan import plan, skip_reason
from conformance.registry import CheckEntry, entries_for, get_check
from conformance.session import build_settings
from conformance.settings import InvalidSetting, Settings
from conformance.targets import Target
from tests.estimators.base import TinyTorchClassifier
from tests.estimators.determinism_defects import SharedGeneratorClassifier
from tests.estimators.device_estimators import DeviceTorchClassifier, DeviceTorchRegressor

FAST = {"profile": "quick", "isolation": "none"}
LOOSE_BITWISE = "[tool.conformance.tolerances]\nbitwise = {rtol = 10.0, atol = 10.0}\n"


class SharedGeneratorRegressor(DeviceTorchRegressor):
    """SharedGeneratorClassifier's mistake in a regressor: its outputs are all continuous, so a
    loose tolerance covers every difference (a classifier's labels must match exactly)."""

    _shuffle_order = SharedGeneratorClassifier._shuffle_order


def test_python_api_reads_the_project_tolerances_from_the_nearest_pyproject(tmp_path, monkeypatch):
    check = "determinism.same_seed_same_fit"
    assert conformance.check(SharedGeneratorRegressor(), checks=[check], **FAST).results[0].status == "failed"
    (tmp_path / "pyproject.toml").write_text(LOOSE_BITWISE)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    result = conformance.check(SharedGeneratorRegressor(), checks=[check], **FAST).results[0]
    assert result.status == "passed", result.message


def test_python_api_refuses_jobs_it_cannot_honour_like_the_plugin():
    with pytest.raises(ValueError, match="needs forked processes"):
        conformance.check(TinyTorchClassifier(), checks=["params.*"], isolation="none", jobs=2)


def test_python_api_accepts_an_estimator_class_as_the_command_line_does():
    report = conformance.check(TinyTorchClassifier, checks=["params.defaults_are_fresh"], **FAST)
    assert [(e.label, r.status) for e in report.estimators for r in e.results] == [("TinyTorchClassifier", "passed")]


def test_python_api_names_a_non_estimator():
    with pytest.raises(TypeError, match="is not a scikit-learn estimator"):
        conformance.check(object(), **FAST)


@pytest.mark.parametrize("pattern, message", [
    ("nope.*", "'nope.*' matches no check"),
    ("params.no_such_check", "'params.no_such_check' matches no check (in that category: params."),
    ("devices.cuda_*", "names devices.cuda_deterministic_fits_bitwise"),
])
def test_a_check_pattern_matching_nothing_is_an_error_not_an_empty_pass(pattern, message):
    from sklearn.linear_model import Ridge

    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.").replace("*", r"\*")):
        conformance.check(Ridge(), checks=[pattern], **FAST)


def test_every_entry_kind_implements_the_whole_check_entry_interface():
    entries = entries_for(Target("TinyTorchClassifier", TinyTorchClassifier()))
    kinds = {type(e).__name__: e for e in entries} | {"GenerationFailure": GenerationFailure("boom")}
    assert set(kinds) == {"Check", "SklearnCheck", "GenerationFailure"}
    for name, entry in kinds.items():
        assert isinstance(entry, CheckEntry), f"{name} lacks part of CheckEntry"
        assert entry.rule and entry.docs.startswith("docs/checks/"), name


def test_the_cuda_pickle_check_honours_the_selected_devices():
    target = Target("DeviceTorchClassifier", DeviceTorchClassifier())
    entry = get_check("persistence.cuda_pickle_loads_without_cuda")
    reason = skip_reason(entry, Settings(devices=("cpu",)), target)
    assert reason == "cuda is not selected (--conformance-devices cpu)"
    result = conformance.check(DeviceTorchClassifier(), checks=[entry.id], devices="cpu", **FAST).results[0]
    assert (result.status, result.message) == ("skipped", reason)


def test_quick_skips_fresh_process_checks_in_the_plan_with_the_reason():
    target = Target("TinyTorchClassifier", TinyTorchClassifier())
    cases = plan([target], Settings(profile="quick"), ["determinism.fresh_process_same_fit"])
    assert [case.skip for case in cases] == [
        "not run in the quick profile: it starts a fresh Python interpreter (seconds); the standard profile runs it"]
    assert not cases[0].needs_fresh_process


@pytest.mark.parametrize("options, setting", [
    ({"profile": "fast"}, "profile"), ({"devices": "cpu,tpu"}, "devices"), ({"jobs": "zero"}, "jobs"),
    ({"timeout_s": 0}, "timeout_s"), ({"isolation": "thread"}, "isolation"),
])
def test_bad_settings_name_the_setting_and_what_is_accepted(options, setting):
    with pytest.raises(InvalidSetting) as caught:
        build_settings(**options)
    assert caught.value.setting == setting
