"""The sklearn layer: every check ``sklearn.utils.estimator_checks`` yields, one entry each.

sklearn decides which of its checks apply from the estimator's tags, so this layer is not a
fixed list: :func:`sklearn_checks` asks sklearn (``estimator_checks_generator``, 1.6 and newer)
and wraps each yielded check as an entry with the id ``sklearn.<check_name>``, suffixed when
sklearn yields the same check with other arguments or another estimator variant.

Three adaptations, each reported, never hidden:

- when generating the checks raises (a transformer whose ``TransformerMixin`` comes after
  ``BaseEstimator``), the checks yielded so far still run and ``sklearn.check_generation``
  fails with sklearn's message and the fix;
- an estimator with a declared ``input_width`` is run through each check while the widths it is
  called with are recorded; a check that fed it another width is reported skipped with the
  widths, because sklearn's data cannot honour the contract;
- a few sklearn checks cannot judge a torch estimator fairly (``joblib.hash`` of identical
  tensors differs; ``rtol=1e-7`` is tighter than float32 batch arithmetic): for those,
  ``TORCH_AWARE_TWINS`` names the check of this suite that enforces the same rule torch-aware,
  and sklearn's is reported skipped with that reason.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import unittest
from dataclasses import dataclass, field

import numpy as np

from conformance.errors import CheckFailure, CheckSkipped, KnownFailure
from conformance.kinds import tags_as_meant
from conformance.registry import ALL_INPUT_KINDS, docs_url, register_provider, rule_of
from conformance.repro import construction_lines
from conformance.torch_state import holds_torch_objects

CATEGORY = "sklearn"
# sklearn checks whose rule this suite enforces torch-aware, and when sklearn's version cannot
# judge a torch estimator fairly: (twin check id, condition on the target, why).
TORCH_AWARE_TWINS = {
    "check_estimators_overwrite_params": (
        "params.fit_does_not_mutate_params", "holds_torch_objects",
        "joblib.hash of a torch module or tensor differs between identical copies, so sklearn's "
        "check fails this estimator even when fit leaves its parameters alone"),
    "check_methods_subset_invariance": (
        "inputs.batch_invariance", "torch",
        "sklearn compares with rtol=1e-7, tighter than float32 arithmetic allows when BLAS "
        "kernels block a smaller batch differently"),
    "check_sample_weight_equivalence_on_dense_data": (
        "inputs.sample_weight_equivalence", "torch",
        "sklearn compares with rtol=1e-7, tighter than float32 arithmetic allows when a weighted "
        "loss sums the same terms in another order than the repeated rows"),
    "check_methods_sample_order_invariance": (
        "inputs.row_order_invariance", "torch",
        "sklearn compares with rtol=1e-7, tighter than float32 arithmetic allows when rows move "
        "between BLAS blocks"),
}
_INPUT_METHODS = ("fit", "partial_fit", "fit_transform", "fit_predict", "predict", "predict_proba",
                  "predict_log_proba", "decision_function", "transform", "score")


@dataclass(frozen=True)
class SklearnCheck:
    """One check sklearn yielded, bound to the estimator variant sklearn yielded it with."""

    id: str
    check: object = field(repr=False, compare=False)  # the callable sklearn yielded
    variant: object = field(repr=False, compare=False)  # the estimator sklearn pairs it with
    skip_reason: str | None = None
    known_failure: str | None = None  # sklearn's own expected-failure reason for its estimators
    tags_kind: str | None = None  # the kind sklearn's tags are made to say (see conformance.kinds)
    category: str = CATEGORY
    threads: bool = False
    device: bool = False
    fresh_process: bool = False
    uses_shared_fit: bool = False  # sklearn's checks make their own data and fits
    fits_as_configured: bool = False
    input_kinds: tuple = ALL_INPUT_KINDS  # a check feeding foreign data skips itself (see run)
    rule: str = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "rule", rule_of(_base_function(self.check), f"sklearn's {self.check_name}"))

    @property
    def check_name(self) -> str:
        return _base_function(self.check).__name__

    @property
    def docs(self) -> str:
        return docs_url(CATEGORY, self.check_name)

    def run(self, context) -> None:
        if self.skip_reason:  # planned runs never get here; a direct call still skips
            raise CheckSkipped(self.skip_reason)
        estimator = copy.deepcopy(self.variant)
        traits = context.traits
        foreign = (_numeric_arrays(traits.input_kind_text) if traits.input_kind != "tabular"
                   else _other_widths(traits.input_width) if traits.input_width is not None else None)
        try:
            with tags_as_meant(type(estimator), self.tags_kind):
                if foreign is None:
                    self.check(estimator)
                else:
                    _run_recording_inputs(self.check, estimator, foreign)
        except (CheckSkipped, unittest.SkipTest, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            if self.known_failure is None:
                raise
            raise KnownFailure(f"sklearn lists this as a known failure of its own "
                               f"{type(estimator).__name__}: {self.known_failure} "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from exc

    def repro(self, target, settings=None) -> str:
        func = _base_function(self.check)
        args = [repr(a) for a in getattr(self.check, "args", ())] + ["estimator"]
        keywords = getattr(self.check, "keywords", {}) or {}
        args += [f"{k}={v!r}" for k, v in keywords.items()]
        changed = _variant_changes(target.estimator, self.variant)
        lines = construction_lines(target)
        if changed:
            lines.append(f"estimator.set_params({', '.join(f'{k}={v!r}' for k, v in changed.items())})")
        lines.append(f"from sklearn.utils.estimator_checks import {func.__name__}")
        call = f"{func.__name__}({', '.join(args)})"
        if self.tags_kind is None:
            return "\n".join([*lines, call])
        return "\n".join([*lines, "from conformance.kinds import tags_as_meant",
                          f"# checked as a {self.tags_kind}, as its mixin says (fix the mixin order to drop this):",
                          f"with tags_as_meant(type(estimator), {self.tags_kind!r}):", f"    {call}"])


@dataclass(frozen=True, kw_only=True)
class _GenerationEntry:
    """What the entries standing for sklearn's check generation share: no data, no fit, no device."""

    category: str = CATEGORY
    threads: bool = False
    device: bool = False
    fresh_process: bool = False
    uses_shared_fit: bool = False
    fits_as_configured: bool = False
    input_kinds: tuple = ALL_INPUT_KINDS

    @property
    def docs(self) -> str:
        return docs_url(CATEGORY, self.id.split(".", 1)[1])

    def repro(self, target, settings=None) -> str | None:
        return None  # a failure carries its own


@dataclass(frozen=True)
class GenerationFailure(_GenerationEntry):
    """Stands for the checks sklearn could not generate: fails with sklearn's reason."""

    error: str
    id: str = "sklearn.check_generation"
    skip_reason: str | None = None
    rule: str = "sklearn must be able to generate its checks from the estimator's tags"

    def run(self, context) -> None:
        raise CheckFailure(
            "sklearn raised while generating its checks, so the rest of its checks cannot run: "
            + self.error,
            expected="mixins before BaseEstimator, e.g. class MyTransformer(TransformerMixin, "
            "BaseEstimator), or __sklearn_tags__ that sets the missing tags",
            repro=context.repro("from sklearn.utils.estimator_checks import estimator_checks_generator",
                                "list(estimator_checks_generator(estimator))"),
        )


@dataclass(frozen=True)
class GenerationSkip(_GenerationEntry):
    """Stands for the checks sklearn declined to generate (it warned ``SkipTestWarning``): skipped, with why."""

    warning: str
    id: str = "sklearn.check_generation_skipped"
    rule: str = "sklearn generates its checks for every estimator whose input it can make"

    @property
    def skip_reason(self) -> str:
        return (f"sklearn generated no checks beyond the API ones for this estimator and warned: {self.warning}. "
                "The suite's own checks run on data of the estimator's input kind instead")

    def run(self, context) -> None:
        raise CheckSkipped(self.skip_reason)


def sklearn_checks(target) -> list:
    """The sklearn entries for ``target``: one per yielded check, in sklearn's order.

    When sklearn gives up on the estimator (its tags declare input sklearn cannot make, such as
    text), the checks it did yield run, and its warning becomes a skipped entry: never a pass.
    """
    import warnings

    from sklearn.exceptions import SkipTestWarning
    from sklearn.utils.estimator_checks import estimator_checks_generator

    entries, seen = [], {}
    traits = target.traits
    known = _sklearn_known_failures(target.estimator)
    tags_kind = traits.kind.tags_corrected_to if traits.kind is not None else None
    try:
        with tags_as_meant(type(target.estimator), tags_kind), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SkipTestWarning)
            for variant, check in estimator_checks_generator(target.estimator, legacy=True, mark=None):
                check_id = _unique_id(_check_id(check, target.estimator, variant), seen)
                name = _base_function(check).__name__
                entries.append(SklearnCheck(check_id, check, variant, _skip_reason(check, traits, target),
                                            known.get(name), tags_kind))
    except Exception as exc:  # noqa: BLE001 - sklearn's reason becomes the verdict
        entries.append(GenerationFailure(f"{type(exc).__name__}: {exc}"))
        return entries
    gave_up = [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, SkipTestWarning)]
    if gave_up:
        entries.append(GenerationSkip("; ".join(gave_up)))
    return entries


def _sklearn_known_failures(estimator) -> dict:
    """sklearn's own list of checks its estimator is known to fail ({} for anyone else's)."""
    if not type(estimator).__module__.startswith("sklearn."):
        return {}
    try:  # private, so guarded: without it sklearn's known failures would show as failures
        from sklearn.utils._test_common.instance_generator import _get_expected_failed_checks
    except ImportError:
        return {}
    try:
        return dict(_get_expected_failed_checks(estimator))
    except Exception:  # noqa: BLE001
        return {}


def _skip_reason(check, traits, target) -> str | None:
    name = _base_function(check).__name__
    if name.startswith("check_array_api") and not os.environ.get("SCIPY_ARRAY_API"):
        # sklearn skips these itself without the variable, after importing the namespace
        # (torch, about 2 s per forked check): decided here, the verdict is the same.
        return "SCIPY_ARRAY_API is not set, so sklearn does not check array API input (set SCIPY_ARRAY_API=1 to run it)"
    if name not in TORCH_AWARE_TWINS:
        return None
    twin, condition, why = TORCH_AWARE_TWINS[name]
    applies = holds_torch_objects(target.estimator) if condition == "holds_torch_objects" else traits.torch
    if not applies:
        return None
    return f"{why}; the same rule is enforced torch-aware by {twin}"


def _run_recording_inputs(check, estimator, foreign) -> None:
    """Run ``check`` on ``estimator`` while recording the X of every call to an input method;
    when ``foreign(shapes_and_kinds)`` names inputs the estimator's contract excludes, skip with
    that reason (sklearn's data cannot honour the contract), whatever the check concluded."""
    seen: list[tuple] = []
    klass = type(estimator)
    originals = {}
    for name in _INPUT_METHODS:
        method = klass.__dict__.get(name) or getattr(klass, name, None)
        if method is None or not callable(method):
            continue
        originals[name] = klass.__dict__.get(name, _MISSING)
        setattr(klass, name, _recording(method, seen))
    try:
        failure = None
        try:
            check(estimator)
        except Exception as exc:  # noqa: BLE001 - judged below, with the inputs seen
            failure = exc
    finally:
        for name, original in originals.items():
            if original is _MISSING:
                delattr(klass, name)
            else:
                setattr(klass, name, original)
    reason = foreign(seen)
    if reason:
        raise CheckSkipped(f"sklearn's data cannot honour the input contract: {reason}")
    if failure is not None:
        raise failure


def _other_widths(width: int):
    def foreign(seen) -> str | None:
        widths = sorted({shape[1] for shape, _ in seen if len(shape) == 2 and shape[1] != width})
        return (f"the check called the estimator with {', '.join(map(str, widths))} feature(s), and the "
                f"estimator declares input_width={width}") if widths else None
    return foreign


def _numeric_arrays(input_kind: str):
    """Foreign to a text estimator: numbers, and anything with more than one dimension."""
    def foreign(seen) -> str | None:
        shapes = sorted({(shape, kind) for shape, kind in seen if kind in "biufc" or len(shape) >= 2})
        shown = ", ".join(f"{'numeric' if kind in 'biufc' else 'object'} {shape}" for shape, kind in shapes[:3])
        return (f"the check fed arrays of shape {shown}, and the estimator takes {input_kind} (the suite's own "
                f"checks run on {input_kind} instead)") if shapes else None
    return foreign


_MISSING = object()


def _recording(method, seen):
    @functools.wraps(method)
    def wrapper(self, X=None, *args, **kwargs):
        try:  # nested lists, and objects with only __array__ (sklearn's _NotAnArray)
            array = X if hasattr(X, "shape") and hasattr(X, "dtype") else np.asarray(X)
            seen.append((tuple(array.shape), np.dtype(array.dtype).kind))
        except Exception:  # noqa: BLE001 - ragged, sparse or exotic input: nothing to record
            shape = getattr(X, "shape", None)
            if shape is not None:
                seen.append((tuple(shape), "f"))
        return method(self, X, *args, **kwargs)

    return wrapper


def _base_function(check):
    while isinstance(check, functools.partial):
        check = check.func
    return check


def _check_id(check, estimator, variant) -> str:
    parts = [_base_function(check).__name__]
    keywords = getattr(check, "keywords", {}) or {}
    parts += [_slug(k if v is True else f"{k}_{_value_slug(v)}") for k, v in keywords.items()]
    parts += [_slug(f"{k}_{v}") for k, v in _variant_changes(estimator, variant).items()]
    return f"{CATEGORY}." + ".".join(parts)


def _variant_changes(estimator, variant) -> dict:
    if variant is estimator:
        return {}
    try:
        original = estimator.get_params(deep=False)
        changed = variant.get_params(deep=False)
    except Exception:  # noqa: BLE001
        return {}
    return {k: v for k, v in changed.items() if k in original and repr(original[k]) != repr(v)}


def _value_slug(value) -> str:
    """Short text for an argument value: a named tuple shows only its non-None fields."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return "_".join(str(v) for v in value if v is not None)
    return str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")


def _unique_id(check_id: str, seen: dict) -> str:
    count = seen.get(check_id, 0) + 1
    seen[check_id] = count
    return check_id if count == 1 else f"{check_id}.{count}"


register_provider(CATEGORY, sklearn_checks)
