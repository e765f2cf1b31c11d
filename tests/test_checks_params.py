"""The params checks fail the defect they aim at and pass its correct twin."""

import copy

import torch
from sklearn.preprocessing import StandardScaler

from tests.estimators import params_defects as defects
from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor


def linear():
    return torch.nn.Linear(4, 1)  # the suite's data has 4 features


def test_init_check_fails_estimator_that_calls_torch_load(run_check):
    result = run_check(defects.LoadsWeightsInInit(), "params.init_stores_arguments_only")
    assert result.status == "failed"
    assert "torch.load" in result.message


def test_init_check_fails_estimator_that_builds_a_module(run_check):
    result = run_check(defects.BuildsModuleInInit(), "params.init_stores_arguments_only")
    assert result.status == "failed"
    assert "self._head" in result.message and "allocated tensors" in result.message


def test_init_check_passes_estimator_given_a_module_instance(run_check):
    # The module was built by the caller, not by __init__: storing it is fine.
    assert run_check(defects.ModuleParamRegressor(module=linear()), "params.init_stores_arguments_only").status == "passed"
    assert run_check(TinyTorchClassifier(), "params.init_stores_arguments_only").status == "passed"


def test_defaults_check_fails_estimator_whose_default_scaler_is_shared(run_check):
    result = run_check(defects.SharedScalerDefault(), "params.defaults_are_fresh")
    assert result.status == "failed"
    assert "scaler" in result.message


def test_defaults_check_passes_estimator_whose_default_is_none(run_check):
    assert run_check(defects.ScalerParamClassifier(), "params.defaults_are_fresh").status == "passed"


def test_independence_check_fails_estimator_memoising_networks_by_params(run_check):
    result = run_check(defects.MemoisedByParamsClassifier(), "params.instances_are_independent")
    assert result.status == "failed"
    assert "changed the first one's outputs" in result.message


def test_independence_check_passes_correct_twin(run_check):
    assert run_check(TinyTorchClassifier(), "params.instances_are_independent").status == "passed"


def test_mutation_check_fails_estimator_that_trains_the_module_it_was_given(run_check):
    result = run_check(defects.TrainsGivenModule(module=linear()), "params.fit_does_not_mutate_params")
    assert result.status == "failed"
    assert "module['weight']" in result.message


def test_mutation_check_fails_estimator_that_rewrites_lr(run_check):
    result = run_check(defects.RewritesLrInFit(), "params.fit_does_not_mutate_params")
    assert result.status == "failed"
    assert "lr: 0.05 -> 0.025" in result.message


def test_mutation_check_passes_module_param_that_joblib_hash_would_fail(run_check):
    import joblib

    module = linear()
    # sklearn's check_estimators_overwrite_params compares joblib.hash, which differs between
    # identical copies of a module, as clone makes them.
    assert joblib.hash(module) != joblib.hash(copy.deepcopy(module))
    assert run_check(defects.ModuleParamRegressor(module=module), "params.fit_does_not_mutate_params").status == "passed"


def test_clone_check_fails_shallow_clone_that_stays_fitted(run_check):
    result = run_check(defects.ShallowCloneClassifier(), "params.clone_is_unfitted_and_independent")
    assert result.status == "failed"
    assert "still fitted" in result.message


def test_clone_check_fails_clone_that_shares_the_module_param(run_check):
    result = run_check(defects.SharedParamCloneRegressor(module=linear()), "params.clone_is_unfitted_and_independent")
    assert result.status == "failed"
    assert "clone.module is original.module" in result.message


def test_clone_check_passes_correct_twins(run_check):
    assert run_check(defects.ModuleParamRegressor(module=linear()), "params.clone_is_unfitted_and_independent").status == "passed"
    assert run_check(TinyTorchRegressor(), "params.clone_is_unfitted_and_independent").status == "passed"


def test_roundtrip_check_fails_set_params_that_ignores_nested_names(run_check):
    result = run_check(defects.FlatSetParamsClassifier(scaler=StandardScaler()), "params.get_set_params_roundtrip")
    assert result.status == "failed"
    assert "scaler__with_mean" in result.message


def test_roundtrip_check_passes_nested_scaler(run_check):
    assert run_check(defects.ScalerParamClassifier(scaler=StandardScaler()), "params.get_set_params_roundtrip").status == "passed"


def test_set_params_check_fails_estimator_that_trains_with_a_copy_of_lr(run_check):
    result = run_check(defects.CopiesLrInInit(), "params.set_params_acts_like_constructor")
    assert result.status == "failed"
    assert "set_params(lr=0.05)" in result.message


def test_set_params_check_passes_correct_twin(run_check):
    result = run_check(defects.ModuleParamRegressor(), "params.set_params_acts_like_constructor")
    assert result.status == "passed"
    assert "lr=0.05" in result.message  # it says which parameter it compared


def test_pipeline_check_fails_score_that_returns_none(run_check):
    result = run_check(defects.ScoreReturnsNoneClassifier(), "params.works_in_pipeline_and_cross_val_score")
    assert result.status == "failed"
    assert "score" in result.message


def test_pipeline_check_passes_correct_twin(run_check):
    assert run_check(TinyTorchClassifier(), "params.works_in_pipeline_and_cross_val_score").status == "passed"


def test_grid_search_check_fails_estimator_ignoring_set_params_and_passes_twin(run_check):
    failed = run_check(defects.CopiesLrInInit(), "params.grid_search_parallel")
    assert failed.status == "failed"
    assert "best_estimator_ does not act like lr=" in failed.message
    assert run_check(defects.ModuleParamRegressor(), "params.grid_search_parallel").status == "passed"


def test_fingerprint_compares_modules_by_value_not_identity():
    from conformance.checks._support.fingerprints import fingerprint, fingerprint_changes

    module = linear()
    assert fingerprint_changes(fingerprint(module), fingerprint(copy.deepcopy(module))) == []
    changed = copy.deepcopy(module)
    with torch.no_grad():
        changed.bias += 1
    assert fingerprint_changes(fingerprint(module), fingerprint(changed)) == [
        "['bias']: tensor(dtype=torch.float32, shape=(1,), device=cpu) -> "
        "tensor(dtype=torch.float32, shape=(1,), device=cpu) with other values"]
