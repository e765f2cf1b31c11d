"""What the suite reads from an estimator before running: its seed parameter and input kind."""

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import conformance
from conformance.plugin import seed_hint
from conformance.registry import entries_for
from conformance.targets import Target
from conformance.traits import estimator_traits
from tests.estimators.base import TinyTorchClassifier

FAST = {"profile": "quick", "isolation": "none"}


class SeedNamedSeed(TinyTorchClassifier):
    """A correct classifier whose seed parameter is called ``seed``."""

    def __init__(self, hidden=16, lr=0.05, max_epochs=40, batch_size=32, seed=0):
        super().__init__(hidden=hidden, lr=lr, max_epochs=max_epochs, batch_size=batch_size, random_state=None)
        self.seed = seed

    def get_params(self, deep=True):
        return {k: v for k, v in super().get_params(deep).items() if k != "random_state"}

    def _seed(self) -> int:
        return int(self.seed)


class DeclaredSeed(SeedNamedSeed):
    def __conformance_tags__(self):
        return {"seed_param": "seed"}


class IgnoresDeclaredSeed(DeclaredSeed):
    """Accepts ``seed`` and never uses it: every fit starts from the same weights."""

    def _seed(self) -> int:
        return 0


def determinism_ids(estimator):
    return {e.id for e in entries_for(Target("e", estimator)) if e.id.startswith("determinism.")}


def test_a_declared_seed_parameter_brings_in_the_seeded_checks_and_the_header_stops_hinting():
    assert "determinism.different_seeds_differ" not in determinism_ids(SeedNamedSeed())
    assert "the seeded determinism checks do not apply" in seed_hint(Target("e", SeedNamedSeed()))
    assert "determinism.different_seeds_differ" in determinism_ids(DeclaredSeed())
    assert seed_hint(Target("e", DeclaredSeed())) is None


def test_the_seeded_checks_vary_the_declared_parameter():
    check = ["determinism.different_seeds_differ"]
    assert conformance.check(DeclaredSeed(), checks=check, **FAST).results[0].status == "passed"
    failed = conformance.check(IgnoresDeclaredSeed(), checks=check, **FAST).results[0]
    assert failed.status == "failed" and "seed=0 and seed=1 gave bitwise-identical outputs" in failed.message


def test_a_seed_param_that_is_not_a_parameter_is_refused_naming_it():
    class Wrong(TinyTorchClassifier):
        def __conformance_tags__(self):
            return {"seed_param": "seed"}

    with pytest.raises(ValueError, match="seed_param 'seed' is not a parameter of Wrong"):
        estimator_traits(Wrong())


@pytest.mark.parametrize("estimator, kind", [
    (TfidfVectorizer(), "text"),
    (make_pipeline(TfidfVectorizer(), LogisticRegression()), "text"),
    (make_pipeline(StandardScaler(), LogisticRegression()), "tabular"),
    (TinyTorchClassifier(), "tabular"),
])
def test_the_input_kind_comes_from_sklearns_tags_or_a_pipelines_first_step(estimator, kind):
    assert estimator_traits(estimator).input_kind == kind


def test_an_unknown_input_kind_is_refused_naming_the_accepted_ones():
    class Images(TinyTorchClassifier):
        def __conformance_tags__(self):
            return {"input_kind": "images"}

    with pytest.raises(ValueError, match="input_kind must be one of tabular, text"):
        estimator_traits(Images())


def test_a_numeric_only_check_is_skipped_for_text_with_the_reason():
    from reference_estimators import PretrainedTextEncoder

    text_classifier = make_pipeline(PretrainedTextEncoder(), LogisticRegression())
    result = conformance.check(text_classifier, checks=["inputs.float64_precision"], **FAST).results[0]
    assert result.status == "skipped" and "this estimator takes text (1-D strings)" in result.message
