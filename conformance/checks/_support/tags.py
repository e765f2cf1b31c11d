"""The estimator's sklearn tags, read one boolean (or list) at a time, with sklearn's defaults."""

from __future__ import annotations


def sklearn_tag(traits, group: str, name: str, default):
    """One field of the estimator's sklearn tags, e.g. ``sklearn_tag(traits, "input_tags", "allow_nan", False)``."""
    tags = getattr(traits.sklearn_tags, group, None)
    return getattr(tags, name, default) if tags is not None else default


def input_tag(traits, name: str) -> bool:
    return bool(sklearn_tag(traits, "input_tags", name, False))


def multi_class(traits) -> bool:
    return bool(sklearn_tag(traits, "classifier_tags", "multi_class", True))


def multi_output(traits) -> bool:
    return bool(sklearn_tag(traits, "target_tags", "multi_output", False))


def single_output(traits) -> bool:
    return bool(sklearn_tag(traits, "target_tags", "single_output", True))


def needs_y(traits) -> bool:
    """Whether ``fit`` takes a target: every supervised estimator, and transformers that require one."""
    return not traits.is_transformer or bool(sklearn_tag(traits, "target_tags", "required", False))


def preserved_dtypes(traits) -> list:
    """The input dtypes a transformer's tags promise to return unchanged."""
    return list(sklearn_tag(traits, "transformer_tags", "preserves_dtype", []) or [])


def requires_fit(traits) -> bool:
    """False for a stateless estimator (sklearn's ``requires_fit`` tag): it is "fitted" from the start."""
    tags = traits.sklearn_tags
    return bool(getattr(tags, "requires_fit", True)) if tags is not None else True


def is_fitted(estimator) -> bool:
    """sklearn's ``check_is_fitted`` as a boolean."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True
