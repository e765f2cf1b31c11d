"""The determinism checks fail each reproducibility defect and pass its correct twins."""

import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

import conformance
from conformance.registry import get_check, registered_checks
from tests.conftest import verdict
from tests.estimators import determinism_defects as defects
from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor
from tests.estimators.device_estimators import DeviceTorchClassifier, DeviceTorchRegressor

DETERMINISM_CHECKS = sorted(c.id for c in registered_checks() if c.category == "determinism")
FAST = {"profile": "quick", "isolation": "none"}
TWINS = [TinyTorchClassifier, TinyTorchRegressor, DeviceTorchClassifier, DeviceTorchRegressor]


def profile_for(check_ids) -> dict:
    """FAST, but in the standard profile for fresh-interpreter checks (quick skips those)."""
    fresh = any(get_check(c).fresh_process for c in ([check_ids] if isinstance(check_ids, str) else check_ids))
    return {**FAST, "profile": "standard"} if fresh else FAST


def status_and_message(estimator, check_id, **settings):
    result = verdict(estimator, check_id, **{**profile_for(check_id), **settings})
    return result.status, result.message


def test_the_issue_rules_are_registered_as_determinism_checks():
    assert DETERMINISM_CHECKS == [
        "determinism.different_seeds_differ", "determinism.fresh_process_same_fit",
        "determinism.global_rng_untouched", "determinism.independent_of_global_seeds",
        "determinism.partial_fit_continues_training", "determinism.refit_matches_fresh_fit",
        "determinism.same_seed_same_fit", "determinism.thread_count_agrees",
        "determinism.warm_start_continues_training"]


SUBPROCESS_CHECKS = ("determinism.fresh_process_same_fit", "determinism.thread_count_agrees")
# These apply in a configuration only (warm_start=True, training by partial_fit), which these twins
# and sklearn estimators at their defaults are not: tests/test_variants.py proves them.
CONFIGURATION_CHECKS = ("determinism.partial_fit_continues_training", "determinism.warm_start_continues_training")


@pytest.mark.parametrize("check_id", [c for c in DETERMINISM_CHECKS
                                      if c not in SUBPROCESS_CHECKS + CONFIGURATION_CHECKS])
@pytest.mark.parametrize("twin", TWINS, ids=lambda t: t.__name__)
def test_correct_torch_estimators_pass_every_in_process_determinism_check(twin, check_id):
    result = verdict(twin(), check_id, **profile_for(check_id))
    assert result.status == "passed", result.message
    assert not result.warnings


def test_same_seed_check_fails_estimator_that_shuffles_with_a_generator_shared_across_fits():
    status, message = status_and_message(defects.SharedGeneratorClassifier(), "determinism.same_seed_same_fit")
    assert status == "failed" and "two fits with random_state=0 gave different outputs" in message
    assert "not bitwise equal" in message and "reproduce with:" in message


def test_fresh_process_check_fails_estimator_seeded_from_string_hash():
    status, message = status_and_message(defects.HashSeededClassifier(), "determinism.fresh_process_same_fit")
    assert status == "failed" and "fresh process gave different outputs" in message


@pytest.mark.parametrize("twin, check_id", [(DeviceTorchClassifier, "determinism.fresh_process_same_fit"),
                                             (TinyTorchRegressor, "determinism.thread_count_agrees")],
                         ids=lambda v: getattr(v, "__name__", v))
def test_correct_torch_estimators_pass_the_fresh_process_and_thread_checks(twin, check_id):
    # Each of these starts a fresh interpreter (~3 s of torch imports), so one twin each here;
    # the thread check's twin runs as users run it, in a forked child.
    status, message = status_and_message(twin(), check_id, isolation="fork")
    assert status == "passed", message


def test_fresh_process_check_skips_estimator_whose_class_a_fresh_process_cannot_import():
    class LocalClassifier(DeviceTorchClassifier):  # defined in a function: not importable by name
        pass

    status, message = status_and_message(LocalClassifier(), "determinism.fresh_process_same_fit")
    assert status == "skipped" and "cannot be pickled" in message


def test_global_seed_check_fails_estimator_that_shuffles_with_numpy_global_rng():
    status, message = status_and_message(defects.GlobalNumpyShuffleClassifier(),
                                         "determinism.independent_of_global_seeds")
    assert status == "failed" and "outputs changed when the global seeds changed" in message


def test_global_seed_check_fails_estimator_that_ignores_random_state():
    status, _ = status_and_message(defects.IgnoresRandomStateClassifier(), "determinism.independent_of_global_seeds")
    assert status == "failed"


def test_rng_check_fails_estimator_that_calls_torch_manual_seed_globally():
    status, message = status_and_message(defects.GlobalSeedingClassifier(), "determinism.global_rng_untouched")
    assert status == "failed" and "changed the global RNG state of: torch (CPU)" in message


def test_rng_check_fails_estimator_that_draws_from_numpy_global_rng():
    status, message = status_and_message(defects.GlobalNumpyShuffleClassifier(), "determinism.global_rng_untouched")
    assert status == "failed" and "numpy.random (legacy global)" in message


def test_rng_check_is_exercised_in_a_forked_child_too():
    status, message = status_and_message(defects.GlobalSeedingClassifier(), "determinism.global_rng_untouched",
                                         isolation="fork")
    assert status == "failed", message


def test_different_seeds_check_fails_torch_estimator_that_always_seeds_with_zero():
    status, message = status_and_message(defects.ConstantSeedClassifier(), "determinism.different_seeds_differ")
    assert status == "failed" and "random_state looks accepted but never used" in message


def test_different_seeds_check_fails_torch_estimator_using_only_the_global_rng():
    status, _ = status_and_message(defects.IgnoresRandomStateClassifier(), "determinism.different_seeds_differ")
    assert status == "failed"


def test_different_seeds_check_only_warns_for_deterministic_non_torch_estimator():
    result = verdict(LogisticRegression(), "determinism.different_seeds_differ", **profile_for("determinism.different_seeds_differ"))
    assert result.status == "passed" and len(result.warnings) == 1 and "random_state" in result.warnings[0]


def test_different_seeds_check_passes_stochastic_sklearn_estimator_without_warning():
    result = verdict(MLPClassifier(max_iter=30), "determinism.different_seeds_differ",
                     **profile_for("determinism.different_seeds_differ"))
    assert (result.status, result.message, result.warnings) == ("passed", "", [])


def test_refit_check_fails_estimator_that_keeps_training_the_first_fits_module():
    status, message = status_and_message(defects.WarmCarryOverClassifier(), "determinism.refit_matches_fresh_fit")
    assert status == "failed" and "state carried over between fits" in message


def test_refit_check_skips_when_warm_start_asks_for_carry_over():
    status, message = status_and_message(MLPClassifier(max_iter=30, warm_start=True),
                                         "determinism.refit_matches_fresh_fit")
    assert status == "skipped" and "warm_start" in message


def test_thread_check_fails_estimator_whose_batches_depend_on_the_thread_count():
    status, message = status_and_message(defects.ThreadBatchRegressor(), "determinism.thread_count_agrees")
    assert status == "failed" and "torch.set_num_threads(1) and (2) disagree" in message
    assert "threads tolerance rtol=7.63e-06" in message  # float32 module: float32's epsilon, not float64's


SKLEARN = [LogisticRegression(), Ridge(), StandardScaler(), PCA(), KNeighborsClassifier(),
           MLPClassifier(max_iter=30), MLPRegressor(max_iter=30), RandomForestClassifier(n_estimators=5),
           DecisionTreeRegressor()]


def test_sklearn_estimators_pass_or_warn_on_every_determinism_check():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLP's ConvergenceWarning at 30 iterations
        # The fresh-process check starts an interpreter per estimator: run it on the stochastic one.
        in_process = [c for c in DETERMINISM_CHECKS if c not in SUBPROCESS_CHECKS + CONFIGURATION_CHECKS]
        report = conformance.check(SKLEARN, checks=in_process, **FAST)
        # (thread_count_agrees is for torch-backed estimators only: naming it here is an error.)
        fresh = ["determinism.fresh_process_same_fit"]
        report.estimators += conformance.check(MLPClassifier(max_iter=30), checks=fresh,
                                               **profile_for(fresh)).estimators
    ran = {(e.label, r.check): r for e in report.estimators for r in e.results}
    assert {r.status for r in ran.values()} == {"passed"}, [r.message for r in ran.values() if r.status != "passed"]
    warned = {label for (label, check), r in ran.items() if r.warnings}
    assert warned == {"LogisticRegression", "Ridge", "PCA", "DecisionTreeRegressor"}
    assert ("MLPClassifier", "determinism.fresh_process_same_fit") in ran
    assert not any(label in ("StandardScaler", "KNeighborsClassifier") for label, _ in ran)
