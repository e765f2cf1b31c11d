"""The tolerance policy: exact kinds, float-aware kinds, dtypes, overrides and their reporting."""

import numpy as np
import pytest

from conformance.tolerance import (
    KNOWN_KINDS,
    PYPROJECT_SOURCE,
    TAG_SOURCE,
    compare_outputs,
    continuous_outputs,
    effective_dtype,
    merge_overrides,
    mismatch,
    tolerance_for,
)
from conformance.project import load_pyproject_overrides
from tests.conftest import verdict
from tests.estimators.determinism_defects import SharedGeneratorClassifier, ThreadBatchRegressor
from tests.estimators.device_estimators import DeviceTorchRegressor

FAST = {"profile": "quick", "isolation": "none"}

EPS32 = float(np.finfo(np.float32).eps)


def test_bitwise_and_process_kinds_reject_a_one_ulp_difference():
    expected = np.array([1.0, 2.0], dtype=np.float32)
    observed = np.nextafter(expected, np.float32(3))
    for kind in ("bitwise", "process"):
        problem = mismatch(observed, expected, tolerance_for(kind, np.float32))
        assert problem is not None and "not bitwise equal" in problem and "2 of 2" in problem


def test_threads_kind_accepts_a_few_float32_ulps_and_rejects_a_real_difference():
    expected = np.linspace(-3, 3, 7).astype(np.float32)
    tolerance = tolerance_for("threads", np.float32)
    assert mismatch(expected + np.float32(4 * EPS32), expected, tolerance) is None
    assert mismatch(expected + np.float32(1e-4), expected, tolerance) is not None


def test_float_aware_kinds_grow_from_batch_to_device_fit():
    values = [tolerance_for(kind, np.float32).rtol for kind in ("threads", "device", "device_fit")]
    assert values == sorted(values) and values[0] > 0


def test_float64_tolerance_fails_a_float64_estimator_that_computes_in_float32():
    exact = np.linspace(0.1, 1, 50)
    via_float32 = exact.astype(np.float32).astype(np.float64)
    assert mismatch(via_float32, exact, tolerance_for("threads", np.float64)) is not None


def test_float32_model_returning_float64_is_judged_by_float32_epsilon():
    assert effective_dtype(np.float64, np.float32) == np.float32
    assert effective_dtype(np.float32, np.float64) == np.float32
    assert effective_dtype(np.int64, np.float32) == np.int64
    assert effective_dtype(np.float64, None) == np.float64


def test_integer_outputs_are_compared_exactly_under_every_kind():
    labels = np.array([0, 1, 2, 1])
    flipped = np.array([0, 1, 2, 2])
    for kind in KNOWN_KINDS:
        problem = mismatch(flipped, labels, tolerance_for(kind, labels.dtype))
        assert problem is not None and "1 of 4 values differ" in problem and "index (3,)" in problem


def test_mismatch_names_the_worst_value_and_where_it_is():
    expected = np.zeros((2, 3))
    observed = expected.copy()
    observed[1, 2] = 0.5
    observed[0, 0] = 0.1
    problem = mismatch(observed, expected, tolerance_for("device", np.float64))
    assert "2 of 6" in problem and "max |diff| 0.5" in problem and "index (1, 2)" in problem


def test_nan_in_the_same_place_agrees_but_nan_against_a_number_does_not():
    expected = np.array([np.nan, 1.0])
    assert mismatch(expected.copy(), expected, tolerance_for("bitwise", np.float64)) is None
    assert mismatch(np.array([0.0, 1.0]), expected, tolerance_for("device", np.float64)) is not None


def test_shape_difference_is_reported_before_values():
    assert "shapes differ" in mismatch(np.zeros(3), np.zeros((3, 1)), tolerance_for("bitwise", np.float64))


def test_unknown_kind_is_rejected_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown comparison kind 'gpu'.*device_fit"):
        tolerance_for("gpu", np.float32)


def test_tag_override_replaces_the_policy_and_says_so():
    tolerance = tolerance_for("threads", np.float32, {"threads": {"rtol": 1e-3, "atol": 1e-4}})
    assert (tolerance.rtol, tolerance.atol, tolerance.overridden) == (1e-3, 1e-4, True)
    assert TAG_SOURCE in tolerance.describe()
    assert not tolerance_for("device", np.float32, {"threads": {"rtol": 1}}).overridden


@pytest.mark.parametrize("bad, message", [({"rtol": -1}, "non-negative"), ({"rtol": "1e-3"}, "non-negative"),
                                          ({"tol": 1e-3}, "unknown keys"), (0.1, "must be a table")])
def test_malformed_override_is_rejected_naming_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        tolerance_for("threads", np.float32, {"threads": bad})


def test_compare_outputs_reports_each_differing_method_and_missing_ones():
    expected = {"predict": np.array([1.0, 2.0]), "predict_proba": np.array([[0.5, 0.5]])}
    observed = {"predict": np.array([1.0, 2.5])}
    problems = compare_outputs(observed, expected, lambda dtype: tolerance_for("bitwise", dtype))
    assert problems[0].startswith("predict: ") and problems[1] == "predict_proba: missing from the second run"


def test_continuous_outputs_drop_labels_only_when_there_is_a_float_output():
    labels, proba = np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])
    assert list(continuous_outputs({"predict": labels, "predict_proba": proba})) == ["predict_proba"]
    assert list(continuous_outputs({"predict": labels})) == ["predict"]


PYPROJECT = """
[tool.conformance.tolerances]
threads = {rtol = 1e-5, atol = 1e-6}
device = {rtol = 1e-4}
[tool.conformance.tolerances.MyNet]
device = {rtol = 1e-2, atol = 1e-3}
"""


def test_pyproject_overrides_apply_project_wide_and_per_class_with_tags_winning(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    project = load_pyproject_overrides(path)
    other = merge_overrides("OtherNet", None, project)
    assert other["device"]["rtol"] == 1e-4 and other["threads"]["atol"] == 1e-6
    mine = merge_overrides("MyNet", {"threads": {"rtol": 0.5}}, project)
    assert mine["device"]["rtol"] == 1e-2 and mine["threads"] == {"source": TAG_SOURCE, "rtol": 0.5}
    tolerance = tolerance_for("device", np.float32, mine)
    assert tolerance.overridden and f"{PYPROJECT_SOURCE} (MyNet)" in tolerance.describe()


def test_pyproject_key_that_is_neither_kind_nor_class_table_is_rejected(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.conformance.tolerances]\nthreds = {rtol = 1e-5}\n")
    with pytest.raises(ValueError, match="'threds' is neither a comparison kind"):
        load_pyproject_overrides(path)
    assert load_pyproject_overrides(tmp_path / "absent.toml") == {}


class _TaggedThreadBatchRegressor(ThreadBatchRegressor):
    def __init__(self, hidden=16, lr=0.05, max_epochs=30, batch_size=32, random_state=0, device="cpu",
                 rtol=1e-6, atol=1e-6):
        super().__init__(hidden, lr, max_epochs, batch_size, random_state, device)
        self.rtol = rtol
        self.atol = atol

    def __conformance_tags__(self):
        return {"tolerances": {"threads": {"rtol": self.rtol, "atol": self.atol}}}


def test_check_message_says_when_a_tag_override_was_used():
    result = verdict(_TaggedThreadBatchRegressor(), "determinism.thread_count_agrees", profile="standard")
    assert result.status == "failed"
    assert "rtol=1e-06, atol=1e-06" in result.message and "tolerance override from" in result.message


class _SharedGeneratorRegressor(DeviceTorchRegressor):
    """SharedGeneratorClassifier's mistake in a regressor: its outputs are all continuous, so a
    loose tolerance covers every difference (a classifier's labels must match exactly)."""

    _shuffle_order = SharedGeneratorClassifier._shuffle_order


class _TaggedSharedGeneratorRegressor(_SharedGeneratorRegressor):
    def __conformance_tags__(self):
        return {"tolerances": {"bitwise": {"rtol": 10.0, "atol": 10.0}}}


def test_loose_enough_override_turns_a_failing_comparison_into_a_pass():
    assert verdict(_SharedGeneratorRegressor(), "determinism.same_seed_same_fit", **FAST).status == "failed"
    result = verdict(_TaggedSharedGeneratorRegressor(), "determinism.same_seed_same_fit", **FAST)
    assert result.status == "passed", result.message
