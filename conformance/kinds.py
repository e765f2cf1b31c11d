"""Which kind of estimator the user meant (classifier, regressor, transformer...), and why.

sklearn (1.6 and newer) decides an estimator's kind from its tags alone, and a mixin listed
after ``BaseEstimator`` (``class MyClf(BaseEstimator, ClassifierMixin)``) never reaches them:
such a classifier is silently checked as a plain estimator, with regression data, and fails
in ways that point nowhere near the cause. So the suite reads every signal (a declared
``kind`` tag, sklearn's tags, the mixins in the MRO, the methods) and checks the estimator as
the kind its author meant, saying which signals disagree. When the meant kind differs from
the tags, :func:`tags_as_meant` lets sklearn's own checks see the tags the mixin would have
set, while ``sklearn.check_mixin_order`` still fails with the fix.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

KIND_NAMES = ("classifier", "regressor", "transformer", "clusterer", "outlier_detector", "estimator")
# sklearn's estimator_type values, and the mixin that sets each.
_MIXINS = {"classifier": "ClassifierMixin", "regressor": "RegressorMixin", "clusterer": "ClusterMixin",
           "outlier_detector": "OutlierMixin"}


@dataclass(frozen=True)
class KindVerdict:
    """The kind an estimator is checked as, the signal that decided it, and the signals that disagree."""

    kind: str
    reason: str
    disagreements: list = field(default_factory=list)
    # The kind to make sklearn's tags say, when they say another (None: the tags are right).
    tags_corrected_to: str | None = None

    def describe(self) -> str:
        return f"{self.kind} ({self.reason})"


def kind_verdict(estimator, declared: str | None = None) -> KindVerdict:
    """Decide the kind from ``declared`` (the ``kind`` conformance tag), sklearn's tags, mixins, methods."""
    from sklearn.utils import get_tags

    klass = type(estimator)
    tag_type = getattr(get_tags(estimator), "estimator_type", None)
    mixins = _mixins_in_mro(klass)
    late = [name for name in mixins.values() if _after_base_estimator(klass, name)]
    if declared is not None:
        kind, reason = declared, "declared by the kind conformance tag"
    elif tag_type in _MIXINS:
        kind, reason = tag_type, f"sklearn's tags: estimator_type={tag_type!r}"
    elif mixins:
        kind = next(iter(mixins))
        reason = f"{mixins[kind]} is in its MRO"
    elif hasattr(estimator, "transform"):
        kind, reason = "transformer", "it has transform and no classifier or regressor tags"
    else:
        kind, reason = "estimator", "no kind tag, mixin or transform"
    disagreements = _disagreements(estimator, kind, tag_type, mixins, late)
    corrected = kind if kind in _MIXINS and tag_type != kind else None
    return KindVerdict(kind, reason, disagreements, corrected)


def _mixins_in_mro(klass) -> dict:
    """``{kind: mixin name}`` for every kind mixin in ``klass``'s MRO, in MRO order."""
    names = [c.__name__ for c in klass.__mro__ if c.__module__.startswith("sklearn.")]
    return {kind: mixin for kind, mixin in _MIXINS.items() if mixin in names}


def _after_base_estimator(klass, mixin_name: str) -> bool:
    order = [c.__name__ for c in klass.__mro__ if c.__module__.startswith("sklearn.")]
    return "BaseEstimator" in order and mixin_name in order and order.index(mixin_name) > order.index("BaseEstimator")


def _disagreements(estimator, kind, tag_type, mixins, late) -> list[str]:
    name = type(estimator).__name__
    found = []
    for mixin in late:
        meant = next(k for k, m in _MIXINS.items() if m == mixin)
        if tag_type != meant:
            found.append(f"{mixin} is in {name}'s MRO but after BaseEstimator, so sklearn's tags never see it "
                         f"(estimator_type={tag_type!r}, is_{meant}() is False); fix the order: "
                         f"class {name}({mixin}, BaseEstimator)")
    if len(mixins) > 1:
        found.append(f"{name} has several kind mixins ({', '.join(mixins.values())}); it is checked as a {kind}")
    if kind != "classifier" and hasattr(estimator, "predict_proba"):
        found.append(f"{name} has predict_proba but is not a classifier (no ClassifierMixin before "
                     "BaseEstimator, estimator_type is not 'classifier')")
    legacy = getattr(type(estimator), "_estimator_type", None)
    if isinstance(legacy, str) and legacy != tag_type and legacy in _MIXINS:
        found.append(f"{name} sets _estimator_type={legacy!r}, which sklearn before 1.6 read; sklearn "
                     f"{_sklearn_version()} reads only the tags (estimator_type={tag_type!r}): inherit "
                     f"{_MIXINS[legacy]} instead")
    return found


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def corrected_tags(tags, kind: str):
    """``tags`` changed as the ``kind`` mixin's ``__sklearn_tags__`` would have changed them."""
    from sklearn.utils import ClassifierTags, RegressorTags

    tags.estimator_type = kind
    if kind == "classifier":
        tags.classifier_tags = tags.classifier_tags or ClassifierTags()
        tags.target_tags.required = True
    elif kind == "regressor":
        tags.regressor_tags = tags.regressor_tags or RegressorTags()
        tags.target_tags.required = True
    elif kind == "clusterer" and tags.transformer_tags is not None:
        tags.transformer_tags.preserves_dtype = []
    return tags


@contextlib.contextmanager
def tags_as_meant(klass, kind: str | None):
    """While active, ``klass``'s sklearn tags say ``kind`` (nothing changes when ``kind`` is None).

    For sklearn's checks of an estimator whose kind mixin is listed after ``BaseEstimator``:
    they then check the kind the author meant. The class is patched in the calling process
    only (a check's forked child), and restored on exit.
    """
    if kind is None:
        yield
        return
    original = klass.__dict__.get("__sklearn_tags__")
    inherited = klass.__sklearn_tags__

    def __sklearn_tags__(self):
        return corrected_tags(inherited(self), kind)

    klass.__sklearn_tags__ = __sklearn_tags__
    try:
        yield
    finally:
        if original is None:
            del klass.__sklearn_tags__
        else:
            klass.__sklearn_tags__ = original
