"""Configurations besides the defaults: derived from the estimator or declared by it, within the
profile's budget, each checked and reported on its own (conformance/variants.py,
docs/checks/README.md#configurations).

The proof that the configurations are what catches a defect hiding behind a parameter is split:
``tests/test_zoo.py`` shows each such defect failed by its aimed-at check in its configuration,
and this module shows the same defect passing those checks when only its defaults are checked,
and the correct twins and the reference estimators passing in every configuration.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import validate_data

import conformance
from conformance.plan import VARIANT_CHECKS, checked_targets, plan, planned_entries
from conformance.repro import construction_lines, fits_rewritten, snippet
from conformance.session import build_settings
from conformance.settings import InvalidSetting, Settings
from conformance.targets import Target
from conformance.traits import estimator_traits
from conformance.variants import FITS_CHECK, configurations, literal_choices
from reference_estimators import DemoEncoder, PretrainedTransformer, TorchClassifier, TorchRegressor
from tests.estimators import variant_defects as v

QUICK = {"profile": "quick", "variants": 8}


def names_of(estimator, budget: int = 8) -> list[str]:
    target = Target(type(estimator).__name__, estimator)
    return [t.configuration.name for t in configurations(target, budget).checked]


class _Options(RegressorMixin, BaseEstimator):
    """A stand-in estimator whose parameters exercise every way of deriving (it is never fitted).

    Parameters
    ----------
    kind : {'a', 'b', 'c'}, default='a'
    shape : {"round", "square"} or None, default=None
    label : str, e.g. "first"
    """

    def __init__(self, kind="a", shape=None, label="x", solver="auto", flag=True, verbose=0, n_jobs=None,
                 random_state=None, alpha=1.0):
        self.kind, self.shape, self.label, self.solver, self.flag = kind, shape, label, solver, flag
        self.verbose, self.n_jobs, self.random_state, self.alpha = verbose, n_jobs, random_state, alpha

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros(len(X))


def _constraints() -> dict:
    """sklearn's own constraint objects: a deprecated option, and an option beside None."""
    from sklearn.utils._param_validation import StrOptions

    return {"solver": [StrOptions({"auto", "lbfgs", "old"}, deprecated={"old"})], "shape": [StrOptions({"round"}), None]}


_Options._parameter_constraints = _constraints()


# --- deriving ------------------------------------------------------------------------------

def test_reference_classifier_gets_its_ways_of_fitting_flipped_booleans_and_documented_choice():
    assert names_of(TorchClassifier()) == ["sample_weight", "partial_fit", "early_stopping=True",
                                           "scaler=passthrough", "warm_start=True"]
    assert names_of(PretrainedTransformer(module=DemoEncoder)) == []


def test_constraints_win_over_the_docstring_deprecated_options_are_left_out_and_numbers_are_not_varied():
    target = Target("_Options", _Options())
    found = configurations(target, 20)
    # get_params lists parameters alphabetically: one value of each, then kind's second.
    assert [t.configuration.name for t in found.checked] == ["flag=False", "kind=b", "shape=round", "solver=lbfgs",
                                                            "kind=c"]
    reasons = {n.name: n.reason for n in found.not_varied}
    assert reasons["verbose"] == "only changes what is printed" and "seed" in reasons["random_state"]
    assert reasons["alpha"].startswith("numbers") and "strings whose accepted values" in reasons["label"]
    assert reasons["sample_weight"] == "fit takes no sample_weight"


@pytest.mark.parametrize("spec, expected", [
    ("{'a', 'b'}, default='a'", ["a", "b"]),
    ('{"sqrt", "log2", None}, int or float, default="sqrt"', ["sqrt", "log2", None]),
    ('transformer, "passthrough" or None, default=None', ["passthrough"]),
    ('str, e.g. "relu" or "tanh"', []),
    ("str, default='auto'", []),
    ("int, default=3", []),
])
def test_numpydoc_choices_are_the_literals_of_the_type_line_and_never_its_default_or_examples(spec, expected):
    assert literal_choices(spec) == expected


def test_the_budget_takes_ways_of_fitting_first_then_one_value_of_each_parameter_and_lists_the_rest():
    found = configurations(Target("_Options", _Options()), 2)
    assert [t.configuration.name for t in found.checked] == ["flag=False", "kind=b"]
    assert [variant.name for variant in found.over_budget] == ["shape=round", "solver=lbfgs", "kind=c"]
    assert "over the budget of 2: [shape=round], [solver=lbfgs], [kind=c]" in found.summary()


class _Declares(v.WarmStartClassifier):
    """A twin declaring the configurations that matter to its users."""

    def __conformance_tags__(self):
        return {"configurations": [{"warm_start": True, "max_epochs": 5}, {"hidden": 4}]}


class _DeclaresOnly(_Declares):
    def __conformance_tags__(self):
        return {**super().__conformance_tags__(), "derive_configurations": False}


def test_declared_configurations_come_first_and_derivation_can_be_turned_off():
    assert names_of(_Declares()) == ["warm_start=True,max_epochs=5", "hidden=4", "warm_start=True"]
    assert names_of(_DeclaresOnly()) == ["warm_start=True,max_epochs=5", "hidden=4"]
    target = Target("_Declares", _Declares())
    (first, _, _) = configurations(target, 8).checked
    assert first.configuration.source == "declared" and first.estimator.get_params()["max_epochs"] == 5


@pytest.mark.parametrize("tags, message", [
    ({"configurations": {"warm_start": True}}, "configurations must be a list"),
    ({"configurations": [{}]}, "configurations[0] must be a non-empty dict"),
    ({"configurations": [{"no_such": 1}]}, "configurations[0] names ['no_such']"),
    ({"derive_configurations": "no"}, "derive_configurations must be True or False"),
])
def test_bad_configuration_tags_are_refused_with_what_is_accepted(tags, message):
    class Tagged(v.WarmStartClassifier):
        def __conformance_tags__(self):
            return tags

    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        estimator_traits(Tagged())


@pytest.mark.parametrize("value", [-1, "many", True])
def test_the_variants_setting_names_itself_and_what_is_accepted(value):
    with pytest.raises(InvalidSetting, match="variants must be a whole number >= 0") as caught:
        build_settings(variants=value)
    assert caught.value.setting == "variants"


# --- planning ------------------------------------------------------------------------------

def planned(estimator, **settings) -> dict[str, set[str]]:
    cases = plan([Target(type(estimator).__name__, estimator)], Settings(**settings))
    found: dict[str, set[str]] = {}
    for case in cases:
        found.setdefault(case.target.label, set()).add(case.entry.id)
    return found


def test_quick_checks_the_defaults_standard_the_subset_in_each_configuration_thorough_everything():
    assert list(planned(v.WarmStartClassifier(), profile="quick")) == ["WarmStartClassifier"]
    standard = planned(v.WarmStartClassifier(), profile="standard")
    assert set(standard) == {"WarmStartClassifier", "WarmStartClassifier[warm_start=True]"}
    assert standard["WarmStartClassifier[warm_start=True]"] <= set(VARIANT_CHECKS)
    assert {FITS_CHECK, "determinism.warm_start_continues_training"} <= standard["WarmStartClassifier[warm_start=True]"]
    assert FITS_CHECK not in standard["WarmStartClassifier"]
    thorough = planned(v.WarmStartClassifier(), profile="thorough")["WarmStartClassifier[warm_start=True]"]
    assert "params.grid_search_parallel" in thorough and not any(i.startswith("sklearn.") for i in thorough)


def test_configurations_that_train_another_way_leave_out_the_checks_that_fit_their_own_way():
    thorough = planned(v.IncrementalClassifier(), profile="thorough")["IncrementalClassifier[partial_fit]"]
    assert "determinism.partial_fit_continues_training" in thorough
    assert not {"params.grid_search_parallel", "params.works_in_pipeline_and_cross_val_score",
                "hygiene.fit_and_predict_leave_global_state", "inputs.invalid_input_errors"} & thorough
    weighted = planned(v.LossChoiceRegressor(), profile="standard")
    assert "inputs.sample_weight_equivalence" not in weighted["LossChoiceRegressor[sample_weight]"]
    assert "inputs.sample_weight_equivalence" in weighted["LossChoiceRegressor[loss=huber]"]


# --- reproductions -------------------------------------------------------------------------

def test_a_configurations_snippet_builds_it_with_set_params_and_trains_its_way():
    settings = Settings(profile="standard")
    base = Target("TorchClassifier", TorchClassifier(), "reference_estimators:TorchClassifier")
    by_name = {t.configuration.name: t for t in checked_targets([base], settings) if t.configuration}
    assert construction_lines(by_name["early_stopping=True"]) == [
        "from reference_estimators import TorchClassifier", "estimator = TorchClassifier()",
        "estimator.set_params(early_stopping=True)"]
    code = snippet(by_name["partial_fit"], ["seed_global_rngs(0); fitted = clone(estimator).fit(X, y)"], 40)
    assert "fitted = fit_as(clone(estimator), X, y, fit_with='partial_fit')" in code
    assert "from conformance.testing import fit_as" in code


def test_only_fit_calls_without_keywords_are_rewritten_and_block_headers_are_left_alone():
    lines = ["try:", "    estimator.fit(X, y)", "except ValueError:", "    pass",
             "weighted = estimator.fit(X, y, sample_weight=w)", "other = scaler.transform(X)"]
    assert fits_rewritten(lines, "sample_weight") == [
        "try:", "    fit_as(estimator, X, y, fit_with='sample_weight')", "except ValueError:", "    pass",
        "weighted = estimator.fit(X, y, sample_weight=w)", "other = scaler.transform(X)"]


# --- running ---------------------------------------------------------------------------------

def test_a_configuration_refused_clearly_passes_and_its_other_checks_skip_saying_why():
    report = conformance.check(v.NormClassifier(), checks=[FITS_CHECK, "persistence.pickle_roundtrip"],
                               profile="quick", variants=2)
    rows = {e.label: {r.check: r for r in e.results} for e in report.estimators}
    refused = rows["NormClassifier[norm=batch]"]
    assert refused[FITS_CHECK].status == "passed" and "refused clearly: ValueError: norm='batch'" in refused[FITS_CHECK].message
    skipped = refused["persistence.pickle_roundtrip"]
    assert skipped.status == "skipped" and "does not fit (ValueError: norm='batch'" in skipped.message
    assert FITS_CHECK in skipped.message
    assert rows["NormClassifier[norm=layer]"]["persistence.pickle_roundtrip"].status == "passed"


def test_report_rows_carry_their_configuration_and_the_defaults_row_what_was_derived():
    report = conformance.check(v.WarmStartClassifier(), checks=["persistence.pickle_roundtrip"], profile="quick",
                               variants=2)
    defaults, warm = (e.to_dict() for e in report.estimators)
    assert defaults["variant"] is None and warm["label"] == "WarmStartClassifier[warm_start=True]"
    assert warm["variant"] == {"params": {"warm_start": True}, "fit": "fit", "source": "derived",
                               "why": "a boolean, flipped"}
    assert warm["params"]["warm_start"] == "True"
    assert defaults["configurations"]["checked"] == ["warm_start=True"]
    assert {"name": "random_state", "reason": "the determinism checks vary the seed"} in \
        defaults["configurations"]["not_varied"]


def test_fit_with_checks_one_way_of_training_and_names_a_bad_one():
    check = "determinism.partial_fit_continues_training"
    assert conformance.check(v.IncrementalClassifier(), checks=[check], profile="quick", fit_with="partial_fit").ok
    failed = conformance.check(v.PartialFitForgets(), checks=[check], profile="quick", fit_with="partial_fit")
    assert [(e.label, r.status) for e in failed.estimators for r in e.results] == [
        ("PartialFitForgets[partial_fit]", "failed")]
    with pytest.raises(ValueError, match="fit_with='batches'; accepted: fit, sample_weight, partial_fit"):
        conformance.check(v.IncrementalClassifier(), checks=[check], fit_with="batches")


# --- proof -----------------------------------------------------------------------------------

def configuration_checks(estimator, variants: int = 8) -> list[str]:
    """The ids the quick profile runs in ``estimator``'s configurations besides the defaults."""
    settings = Settings(profile="quick", variants=variants)
    targets = checked_targets([Target(type(estimator).__name__, estimator)], settings)
    return sorted({e.id for t in targets if t.configuration is not None for e in planned_entries(t, settings)})


@pytest.mark.parametrize("defect", v.DEFECTS, ids=lambda d: d.__name__)
def test_defect_hiding_behind_a_configuration_passes_those_checks_at_its_defaults(defect):
    at_defaults = {e.id for e in planned_entries(Target(defect.__name__, defect()), Settings(profile="quick"))}
    checks = sorted(at_defaults & (set(configuration_checks(defect())) | set(defect.aimed_at)))
    report = conformance.check(defect(), checks=checks, profile="quick", variants=0)
    assert [e.label for e in report.estimators] == [defect.__name__]
    assert report.ok, "\n".join(f"{r.check}: {r.message[:300]}" for _, r in report.failures())


# The reference estimators at 20 epochs (100 by default): the same code paths at a fifth of the fits'
# cost; the standard profile at their defaults is run in benchmarks/ (benchmarks/README.md). The
# regressor learns its target in 20 epochs at lr=1e-2 (R² about 0.47 at the default 1e-3, under
# inputs.learns_unstandardised_data's 0.5).
REFERENCES = [lambda: TorchClassifier(max_epochs=20), lambda: TorchRegressor(max_epochs=20, lr=1e-2)]


@pytest.mark.parametrize("make", [*v.TWINS, *REFERENCES],
                         ids=[t.__name__ for t in v.TWINS] + ["TorchClassifier", "TorchRegressor"])
def test_correct_twins_and_reference_estimators_pass_in_every_configuration(make):
    report = conformance.check(make(), checks=configuration_checks(make()), **QUICK)
    configured = [e for e in report.estimators if e.variant is not None]
    assert configured, f"{type(make()).__name__} was checked in no configuration"
    assert report.ok, "\n".join(f"{label}: {r.check}: {r.message[:400]}" for label, r in report.failures())


# --- a configuration may narrow the data it takes, if it says so --------------------------------

class NarrowModeRegressor(RegressorMixin, BaseEstimator):
    """A mean regressor whose ``mode="narrow"`` needs at least 4 features and refuses fewer, naming the option."""

    _parameter_constraints = {"mode": [StrOptions({"plain", "narrow"})]}
    refusal = "mode='narrow' needs at least 4 features, got {}"

    def __init__(self, mode="plain"):
        self.mode = mode

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        if self.mode == "narrow" and X.shape[1] < 4:
            raise ValueError(self.refusal.format(X.shape[1]))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        X = validate_data(self, X, reset=False)
        return np.full(len(X), self.mean_)


class NarrowModeVagueRefusal(NarrowModeRegressor):
    """The same refusal, in words that name neither the option nor its value."""

    refusal = "too few columns: {}"


def test_a_configuration_refusing_some_valid_data_by_name_is_not_failed_for_it():
    report = conformance.check(NarrowModeRegressor(), checks=["inputs.output_contract"], profile="quick", variants=8)
    narrow = [e for e in report.estimators if e.label.endswith("[mode=narrow]")]
    assert narrow and all(r.status == "passed" for r in narrow[0].results), narrow


def test_a_configuration_refusing_valid_data_without_naming_itself_still_fails():
    report = conformance.check(NarrowModeVagueRefusal(), checks=["inputs.output_contract"], profile="quick",
                               variants=8)
    narrow = [e for e in report.estimators if e.label.endswith("[mode=narrow]")]
    assert narrow and [r.status for r in narrow[0].results] == ["failed"]
    assert "too few columns" in narrow[0].results[0].message


# --- sparse input at predict, for an estimator whose fit does not take it -----------------------

class SparseAnswersWrong(Ridge):
    """Ridge with ``solver="cholesky"`` (sparse unsupported by its tags), whose predict answers zeros for a sparse matrix."""

    def predict(self, X):
        if scipy.sparse.issparse(X):
            return np.zeros(X.shape[0])
        return super().predict(X)


def test_sparse_input_at_predict_answered_as_the_dense_input_is_accepted():
    report = conformance.check(Ridge(solver="cholesky"), checks=["inputs.invalid_input_errors"], profile="quick",
                               variants=0)
    assert report.ok, [r.message[:300] for _, r in report.failures()]


def test_sparse_input_at_predict_answered_otherwise_fails():
    report = conformance.check(SparseAnswersWrong(solver="cholesky"), checks=["inputs.invalid_input_errors"],
                               profile="quick", variants=0)
    assert [r.status for r in report.results] == ["failed"]
    assert "predict on a scipy.sparse matrix" in report.results[0].message
