"""The sklearn layer: one entry per yielded check, and its three known traps handled."""

import numpy as np
from sklearn.linear_model import LogisticRegression

import conformance
from conformance.checks.sklearn_checks import sklearn_checks
from conformance.targets import Target
from tests.estimators import sklearn_traps
from tests.estimators.hostile import WritesIntoReadOnlyMemmap


def entries_for(estimator):
    return sklearn_checks(Target(type(estimator).__name__, estimator))


def test_every_yielded_check_gets_a_unique_sklearn_id():
    ids = [e.id for e in entries_for(LogisticRegression())]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("sklearn.check_") for i in ids)
    assert "sklearn.check_estimators_pickle.readonly_memmap" in ids
    assert any(i.startswith("sklearn.check_sample_weight_equivalence_on_dense_data.solver_") for i in ids)


def test_wrong_mixin_order_fails_generation_with_the_fix_and_runs_the_rest():
    report = conformance.check(sklearn_traps.MixinAfterBaseTransformer(), checks=["sklearn.*"])
    by_id = {r.check: r for r in report.results}
    generation = by_id["sklearn.check_generation"]
    assert generation.status == "failed"
    assert "TransformerMixin, BaseEstimator" in generation.message
    assert len(by_id) > 10 and by_id["sklearn.check_estimator_cloneable"].status == "passed"
    twin = conformance.check(sklearn_traps.CorrectScaleTransformer(), checks=["sklearn.*"])
    assert "sklearn.check_generation" not in {r.check for r in twin.results}


def test_read_only_memmap_segfault_fails_that_check_and_the_run_goes_on():
    report = conformance.check(WritesIntoReadOnlyMemmap(), checks=["sklearn.check_classifiers_train*"])
    by_id = {r.check: r for r in report.results}
    crashed = by_id["sklearn.check_classifiers_train.readonly_memmap.x_dtype_float32"]
    assert crashed.status == "failed" and "SIGSEGV" in crashed.message
    assert by_id["sklearn.check_classifiers_train"].status == "passed"


def test_overwrite_params_is_handed_to_the_torch_aware_twin_for_tensor_params():
    from sklearn.utils.estimator_checks import check_estimators_overwrite_params

    estimator = sklearn_traps.tensor_param_estimator()
    try:  # sklearn's own rule wrongly fails an estimator that never touches its tensor
        check_estimators_overwrite_params("HoldsTensorParam", estimator)
        sklearn_fails = False
    except AssertionError:
        sklearn_fails = True
    assert sklearn_fails
    entry = {e.id: e for e in entries_for(estimator)}["sklearn.check_estimators_overwrite_params"]
    assert "params.fit_does_not_mutate_params" in entry.skip_reason
    plain = {e.id: e for e in entries_for(sklearn_traps.HoldsTensorParam())}
    assert plain["sklearn.check_estimators_overwrite_params"].skip_reason is None


def test_input_width_contract_reports_foreign_width_checks_as_skipped():
    class FixedWidth(sklearn_traps.CorrectScaleTransformer):
        def __conformance_tags__(self):
            return {"input_width": 7}

        def fit(self, X, y=None):
            X = super().fit(X, y) and np.asarray(X)
            if X.shape[1] != 7:
                raise ValueError(f"expected 7 features, got {X.shape[1]}")
            return self

    FixedWidth.__module__ = __name__
    globals()["FixedWidth"] = FixedWidth
    report = conformance.check(FixedWidth(), checks=["sklearn.check_fit2d_1sample", "sklearn.check_estimator_repr"],
                               isolation="none")
    by_id = {r.check: r for r in report.results}
    assert by_id["sklearn.check_fit2d_1sample"].status == "skipped"
    assert "input_width=7" in by_id["sklearn.check_fit2d_1sample"].message
    assert by_id["sklearn.check_estimator_repr"].status == "passed"
