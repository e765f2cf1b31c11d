"""What the suite knows about an estimator before running anything: its kinds and its contract.

An estimator may declare how it wants to be tested with a ``__conformance_tags__`` method
returning a dict (the same idea as sklearn's ``__sklearn_tags__``, without importing this
package). Recognised keys:

``input_width``
    ``int`` when the estimator accepts exactly that many features (a pretrained network's input
    layer), ``None`` (default) when it learns the width at ``fit``. Every check of this suite
    generates data of that width; a sklearn check that cannot is reported skipped with the reason.
``torch``
    ``True``/``False`` to say whether the estimator is torch-backed; by default this is inferred
    (a parameter holding a torch module, class or tensor, or a class defined in a module that
    imports torch).
``device_param``
    the name of the parameter selecting the torch device (default ``"device"`` when present).
``seed_param``
    the name of the parameter seeding the estimator (default ``"random_state"`` when present),
    for estimators that call it ``seed``: the determinism checks vary and fix that one.
``kind``
    ``"classifier"``, ``"regressor"``, ``"transformer"``, ``"clusterer"``, ``"outlier_detector"``
    or ``"estimator"``: the kind to check it as, when its mixins and sklearn tags do not say it
    (see :mod:`conformance.kinds`; by default the kind is read from them).
``input_kind``
    ``"tabular"`` (numeric 2-D arrays, the default) or ``"text"`` (1-D sequences of strings); by
    default read from sklearn's input tags (``string`` without ``two_d_array`` is text).
``tolerances``
    per comparison kind, ``{"rtol": float, "atol": float}`` replacing the suite's policy (see
    :mod:`conformance.tolerance`); the report says when an override was used.
``configurations``
    a list of ``{parameter: value}`` dicts: the configurations that matter to the estimator's
    users, each checked besides the defaults (before any derived one; see
    :mod:`conformance.variants`). Each name must be one ``get_params(deep=True)`` lists.
``derive_configurations``
    ``False`` to check only the defaults and the declared configurations; by default (``True``)
    the suite also derives configurations from the parameters (booleans flipped, listed string
    choices, ``sample_weight``, ``partial_fit``).
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field

from conformance.kinds import KIND_NAMES, KindVerdict, kind_verdict
from conformance.torch_state import is_torch_object

DEFAULT_TAGS = {"input_width": None, "torch": None, "device_param": None, "seed_param": None, "kind": None,
                "input_kind": None, "tolerances": {}, "configurations": [], "derive_configurations": True}
# What the suite's data generators can produce, and how the header names it.
INPUT_KINDS = {"tabular": "numeric 2-D", "text": "text (1-D strings)"}


@dataclass(frozen=True)
class EstimatorTraits:
    """Kinds, sklearn tags and conformance tags of one estimator, computed once."""

    kinds: frozenset
    input_width: int | None
    torch: bool
    device_param: str | None
    seed_param: str | None = None
    tolerances: dict = field(default_factory=dict)
    sklearn_tags: object = None
    fit_accepts_sample_weight: bool = False
    kind: KindVerdict | None = None
    input_kind: str = "tabular"
    params: dict = field(default_factory=dict, compare=False, repr=False)  # get_params(deep=False)
    declared_configurations: tuple = ()  # the tags' ``configurations``, validated
    derive_configurations: bool = True
    configuration: object = None  # the conformance.variants.Variant checked; None: the defaults

    @property
    def fit_with(self) -> str:
        """How the checks fit in this configuration: ``fit``, ``sample_weight`` or ``partial_fit``."""
        return self.configuration.fit_with if self.configuration is not None else "fit"
    # Parameters setting a number of rows per batch (any name containing "batch_size"), in order.
    batch_size_params: tuple = ()

    @property
    def is_classifier(self) -> bool:
        return "classifier" in self.kinds

    @property
    def is_regressor(self) -> bool:
        return "regressor" in self.kinds

    @property
    def is_transformer(self) -> bool:
        return "transformer" in self.kinds

    @property
    def kind_name(self) -> str:
        return self.kind.kind if self.kind is not None else "estimator"

    @property
    def input_kind_text(self) -> str:
        return INPUT_KINDS.get(self.input_kind, self.input_kind)

    @property
    def n_features(self) -> int:
        """The width the suite's own data uses: the declared contract, or a small default."""
        return self.input_width or 4


def conformance_tags(estimator) -> dict:
    """The estimator's declared tags merged over the defaults; bad tags raise ``ValueError``."""
    tags = dict(DEFAULT_TAGS)
    getter = getattr(estimator, "__conformance_tags__", None)
    if getter is not None:
        declared = getter()
        if not isinstance(declared, dict):
            raise ValueError(
                f"{type(estimator).__name__}.__conformance_tags__() returned "
                f"{type(declared).__name__}; it must return a dict"
            )
        unknown = set(declared) - set(DEFAULT_TAGS)
        if unknown:
            raise ValueError(
                f"{type(estimator).__name__}.__conformance_tags__() has unknown keys "
                f"{sorted(unknown)}; accepted: {sorted(DEFAULT_TAGS)}"
            )
        tags.update(declared)
    width = tags["input_width"]
    if width is not None and (not isinstance(width, int) or isinstance(width, bool) or width < 1):
        raise ValueError(f"input_width must be a positive int or None, got {width!r}")
    if tags["kind"] is not None and tags["kind"] not in KIND_NAMES:
        raise ValueError(f"kind must be one of {', '.join(KIND_NAMES)}, got {tags['kind']!r}")
    if tags["input_kind"] is not None and tags["input_kind"] not in INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {', '.join(INPUT_KINDS)}, got {tags['input_kind']!r}")
    if not isinstance(tags["derive_configurations"], bool):
        raise ValueError(f"derive_configurations must be True or False, got {tags['derive_configurations']!r}")
    _check_configurations(tags["configurations"])
    return tags


def _check_configurations(configurations) -> None:
    """``ValueError`` unless ``configurations`` is a list of non-empty ``{parameter name: value}`` dicts."""
    if not isinstance(configurations, (list, tuple)):
        raise ValueError(f"configurations must be a list of {{parameter: value}} dicts, got "
                         f"{type(configurations).__name__}")
    for i, item in enumerate(configurations):
        if not isinstance(item, dict) or not item or not all(isinstance(k, str) for k in item):
            raise ValueError(f"configurations[{i}] must be a non-empty dict of parameter name -> value, "
                             f"e.g. {{'early_stopping': True}}; got {item!r}")


def _declared_configurations(estimator, declared) -> tuple:
    """The declared configurations, each name checked against ``get_params(deep=True)``."""
    if not declared:
        return ()
    known = estimator.get_params(deep=True)
    for i, item in enumerate(declared):
        unknown = sorted(set(item) - set(known))
        if unknown:
            raise ValueError(f"configurations[{i}] names {unknown}, which {type(estimator).__name__} does not have; "
                             f"its parameters: {', '.join(sorted(known))}")
    return tuple(dict(item) for item in declared)


def estimator_traits(estimator) -> EstimatorTraits:
    """The :class:`EstimatorTraits` of ``estimator``."""
    from sklearn.utils import get_tags

    tags = conformance_tags(estimator)
    sk_tags = get_tags(estimator)
    params = estimator.get_params(deep=False)
    verdict = kind_verdict(estimator, tags["kind"])
    kinds = {"any"}
    if verdict.kind in ("classifier", "regressor", "clusterer"):
        kinds.add(verdict.kind)
    if verdict.kind == "transformer" or (hasattr(estimator, "transform") and verdict.kind not in ("classifier", "regressor")):
        kinds.add("transformer")
    torch_backed = tags["torch"] if tags["torch"] is not None else _looks_torch_backed(estimator)
    if torch_backed:
        kinds.add("torch")
    seed_param = tags["seed_param"] or ("random_state" if "random_state" in params else None)
    if seed_param is not None and seed_param not in params:
        raise ValueError(f"seed_param {seed_param!r} is not a parameter of {type(estimator).__name__} "
                         f"(get_params() has: {', '.join(params) or 'none'})")
    if seed_param is not None:
        kinds.add("seeded")
    device_param = tags["device_param"] or ("device" if "device" in params else None)
    from sklearn.utils.validation import has_fit_parameter

    return EstimatorTraits(
        kinds=frozenset(kinds),
        input_width=tags["input_width"],
        torch=bool(torch_backed),
        device_param=device_param,
        seed_param=seed_param,
        tolerances=dict(tags["tolerances"]),
        sklearn_tags=sk_tags,
        fit_accepts_sample_weight=has_fit_parameter(estimator, "sample_weight"),
        kind=verdict,
        input_kind=tags["input_kind"] or input_kind_from_tags(estimator, sk_tags),
        params=dict(params),
        declared_configurations=_declared_configurations(estimator, tags["configurations"]),
        derive_configurations=tags["derive_configurations"],
        batch_size_params=batch_size_params(params),
    )


def batch_size_params(params: dict) -> tuple:
    """The names among ``params`` that hold a positive int and contain ``batch_size``."""
    return tuple(name for name, value in params.items() if "batch_size" in name.lower()
                 and isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def input_kind_from_tags(estimator, sk_tags) -> str:
    """``text`` when sklearn's tags take strings and no 2-D array; else ``tabular``.

    A ``Pipeline`` takes what its first step takes, which its own tags do not say.
    """
    from sklearn.utils import get_tags

    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[0], tuple) and len(steps[0]) == 2:
        first = steps[0][1]
        if first is not None and first != "passthrough" and hasattr(first, "get_params"):
            return input_kind_from_tags(first, get_tags(first))
    input_tags = getattr(sk_tags, "input_tags", None)
    if input_tags is not None and input_tags.string and not input_tags.two_d_array:
        return "text"
    return "tabular"


def _looks_torch_backed(estimator, depth: int = 0) -> bool:
    """A torch object or module class among the parameters, a class from a module that imports
    torch, or a nested estimator (a pipeline's step) that is torch-backed itself."""
    torch = sys.modules.get("torch")
    if torch is None or depth > 3:
        return False
    for value in estimator.get_params(deep=False).values():
        if is_torch_object(value) or (inspect.isclass(value) and issubclass(value, torch.nn.Module)):
            return True
    for klass in type(estimator).__mro__:
        module = sys.modules.get(klass.__module__)
        if module is not None and any(v is torch for v in vars(module).values()):
            return True
    nested = [v for v in estimator.get_params(deep=True).values()
              if hasattr(v, "get_params") and not inspect.isclass(v) and v is not estimator]
    return any(_looks_torch_backed(v, depth + 1) for v in nested)
