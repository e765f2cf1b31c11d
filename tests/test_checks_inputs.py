"""The inputs checks fail the estimator with each input mistake and pass its correct twin."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

import conformance
from conformance.registry import registered_checks
from tests.conftest import verdict
from tests.estimators import inputs_defects as defects
from conformance.settings import BUDGETS
from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor

INPUT_CHECKS = sorted(c.id for c in registered_checks() if c.category == "inputs")
# The checks every supervised estimator gets; sample_weight_equivalence needs a fit that takes weights.
GENERAL_CHECKS = [c for c in INPUT_CHECKS if c != "inputs.sample_weight_equivalence"]
FAST = {"profile": "quick", "isolation": "none"}


def failed(estimator, check_id):
    result = verdict(estimator, check_id, **FAST)
    assert result.status == "failed", result.message
    return result.message


def repro_code(message):
    """The 'reproduce with:' script of a failure message, unindented."""
    script = message.split("reproduce with:\n", 1)[1].split("\n  docs:", 1)[0]
    return "\n".join(line[4:] for line in script.splitlines())


def test_the_required_check_ids_are_registered():
    assert {"inputs.batch_invariance", "inputs.row_order_invariance"} <= set(INPUT_CHECKS)
    assert len(INPUT_CHECKS) == 12


@pytest.mark.parametrize("check_id", GENERAL_CHECKS)
@pytest.mark.parametrize("twin", [TinyTorchClassifier, TinyTorchRegressor])
def test_inputs_checks_pass_the_correct_torch_twins(twin, check_id):
    result = verdict(twin(), check_id, **FAST)
    assert result.status == "passed", result.message


@pytest.mark.parametrize("estimator", [Ridge(), StandardScaler()], ids=["Ridge", "StandardScaler"])
def test_inputs_checks_pass_or_skip_sklearn_estimators(estimator):
    report = conformance.check(estimator, checks=["inputs.*"], **FAST)
    bad = [(r.check, r.message) for r in report.results if r.status not in ("passed", "skipped")]
    assert not bad
    # Not for them: torch-only rules, and batch boundaries (no batch-size parameter).
    torch_only = {"inputs.float64_precision", "inputs.sample_weight_equivalence", "inputs.batch_boundaries",
                  "inputs.learns_unstandardised_data", "inputs.degenerate_data"}
    assert {r.check for r in report.results} >= set(INPUT_CHECKS) - torch_only


def test_valid_dtypes_check_fails_estimator_that_calls_torch_from_numpy_on_lists():
    message = failed(defects.FromNumpyClassifier(), "inputs.valid_dtypes_and_layouts")
    # The layout sweep meets a read-only array before a list: torch's warning about it, or its TypeError.
    assert ("TypeError" in message and "expected np.ndarray" in message) or "not writable" in message


def test_output_contract_check_fails_estimator_returning_torch_tensors():
    assert "torch.Tensor" in failed(defects.TensorOutputRegressor(), "inputs.output_contract")


def test_output_contract_check_fails_regressor_predicting_a_column():
    assert "expected (1,)" in failed(defects.ColumnPredictRegressor(), "inputs.output_contract")


def test_output_contract_check_fails_classifier_squeezing_one_row_to_a_scalar():
    assert "shape ()" in failed(defects.SqueezingClassifier(), "inputs.output_contract")


def test_output_contract_check_fails_classifier_returning_logits_as_probabilities():
    assert "summing to 1" in failed(defects.LogitsAsProbaClassifier(), "inputs.output_contract")


def test_output_contract_check_fails_classifier_returning_class_indices_as_labels():
    message = failed(defects.IndexLabelsClassifier(), "inputs.output_contract")
    assert "classes_" in message


def test_precision_check_fails_regressor_casting_to_float32_before_standardising():
    message = failed(defects.Float32CastRegressor(), "inputs.float64_precision")
    assert "float64 precision is lost" in message


def test_precision_check_skips_non_torch_estimators_with_a_reason():
    result = verdict(Ridge(), "inputs.float64_precision", **FAST)
    assert result.status == "skipped" and "torch-backed" in result.message


def test_mutation_check_fails_estimator_centring_the_callers_array_in_place():
    message = failed(defects.InPlaceCentringClassifier(), "inputs.input_not_mutated")
    assert "fit modified the caller's X in place" in message


def test_invalid_input_check_fails_estimator_not_checking_the_feature_count():
    message = failed(defects.NoFeatureCountClassifier(), "inputs.invalid_input_errors")
    assert "features where the estimator was fit on" in message
    assert "does not name the problem" in message


def test_invalid_input_check_fails_estimator_coercing_nan_and_strings_silently():
    message = failed(defects.CoercingClassifier(), "inputs.invalid_input_errors")
    assert "NaN in X: accepted it silently" in message
    assert "strings in X" in message


def test_invalid_input_check_fails_estimator_dropping_the_imaginary_part():
    message = failed(defects.ComplexDroppingRegressor(), "inputs.invalid_input_errors")
    assert "complex numbers in X: accepted it silently" in message


def test_repeat_call_check_fails_estimator_leaving_dropout_on_at_predict():
    message = failed(defects.DropoutAtPredictClassifier(), "inputs.repeat_call_stable")
    assert "second" in message and "different output" in message


@pytest.mark.parametrize("defect", [defects.BatchNormTrainModeClassifier, defects.BatchStatisticsRegressor,
                                    defects.DropsLastBatchRegressor, defects.PerBatchCentringRegressor])
def test_batch_check_fails_estimators_whose_rows_depend_on_their_batch(defect):
    failed(defect(), "inputs.batch_invariance")


def test_batch_check_fails_estimator_whose_output_depends_on_batch_size_alone():
    message = failed(defects.HalfInputsForLargeBatchesRegressor(), "inputs.batch_invariance")
    assert "with batch_size=" in message and "differs from batch_size=32" in message


def test_row_order_check_fails_estimator_using_each_calls_statistics():
    # Per-call standardisation is order-invariant; per-mini-batch centring is not.
    class SmallBatches(defects.PerBatchCentringRegressor):
        def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=2, random_state=0):
            super().__init__(hidden, lr, max_epochs, batch_size, random_state)

    # The quick profile's 8 drawn inputs happen to miss it since the layouts were widened (issue 12);
    # the standard profile's 25 find it.
    result = verdict(SmallBatches(), "inputs.row_order_invariance", profile="standard", isolation="none")
    assert result.status == "failed" and "differs from the original output permuted" in result.message


def test_failure_message_is_a_script_that_reproduces_the_failure():
    message = failed(defects.InPlaceCentringClassifier(), "inputs.input_not_mutated")
    code = repro_code(message)
    assert "np.array([" in code and "estimator.fit(X, y)" in code and "hypothesis seed" in code
    with pytest.raises(AssertionError):
        exec(compile(code, "<repro>", "exec"), {})


def test_failure_on_a_fitted_estimator_reproduces_from_the_ordinary_data():
    message = failed(defects.PerBatchCentringRegressor(), "inputs.batch_invariance")
    code = repro_code(message)
    assert f"dataset_for(estimator, {BUDGETS['quick'].n_samples})" in code
    assert "np.testing.assert_allclose(" in code and "the 'batch' tolerance" in code
    with pytest.raises(AssertionError):
        exec(compile(code, "<repro>", "exec"), {})


def test_derandomized_profiles_give_the_same_minimal_example_every_run():
    first = failed(defects.SqueezingClassifier(), "inputs.output_contract")
    second = failed(defects.SqueezingClassifier(), "inputs.output_contract")
    assert first == second
    assert "fixed: the 'quick' profile is derandomized" in first


def test_hypothesis_seed_option_replaces_the_fixed_seed(monkeypatch):
    from hypothesis import core

    monkeypatch.setattr(core, "global_force_seed", 1234)
    message = failed(defects.SqueezingClassifier(), "inputs.output_contract")
    assert "hypothesis seed 1234 (from --hypothesis-seed)" in message


def test_thorough_profile_reports_its_random_seed(monkeypatch):
    from conformance import settings

    monkeypatch.setitem(settings.BUDGETS, "quick", settings.Budget(n_samples=40, max_examples=4,
                                                                   derandomize=False))
    message = failed(defects.SqueezingClassifier(), "inputs.output_contract")
    assert "random in the 'quick' profile; replay with --hypothesis-seed=" in message


def test_precision_tolerance_follows_the_torch_modules_dtype():
    from conformance.checks.inputs import precision_dtype

    estimator = TinyTorchRegressor(max_epochs=1).fit(np.eye(4), np.arange(4.0))
    assert precision_dtype(estimator, np.zeros(3)) == np.float32
    assert precision_dtype(Ridge().fit(np.eye(4), np.arange(4.0)), np.zeros(3)) == np.float64


def test_sample_weight_check_fails_estimator_that_ignores_the_weights():
    from tests.estimators.inputs_defects import IgnoresSampleWeightRegressor

    result = verdict(IgnoresSampleWeightRegressor(max_epochs=5), "inputs.sample_weight_equivalence")
    assert result.status == "failed"
    assert "differs from fitting on the rows repeated" in result.message


@pytest.mark.parametrize("name", ["TorchClassifier", "TorchRegressor"])
def test_sample_weight_check_passes_reference_estimators_that_honour_them(name):
    import reference_estimators

    result = verdict(getattr(reference_estimators, name)(max_epochs=5), "inputs.sample_weight_equivalence")
    assert result.status == "passed", result.message


def test_sample_weight_twin_replaces_sklearns_float64_tight_check_for_torch_estimators():
    from conformance.checks.sklearn_checks import sklearn_checks
    from conformance.targets import Target
    from reference_estimators import TorchRegressor

    entries = {e.id: e for e in sklearn_checks(Target("TorchRegressor", TorchRegressor()))}
    reason = entries["sklearn.check_sample_weight_equivalence_on_dense_data"].skip_reason
    assert "inputs.sample_weight_equivalence" in reason
