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
``tolerances``
    per comparison kind, ``{"rtol": float, "atol": float}`` replacing the suite's policy (see
    :mod:`conformance.tolerance`); the report says when an override was used.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field

from conformance.torch_state import is_torch_object

DEFAULT_TAGS = {"input_width": None, "torch": None, "device_param": None, "seed_param": None, "tolerances": {}}


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
    return tags


def estimator_traits(estimator) -> EstimatorTraits:
    """The :class:`EstimatorTraits` of ``estimator``."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.utils import get_tags

    tags = conformance_tags(estimator)
    sk_tags = get_tags(estimator)
    params = estimator.get_params(deep=False)
    kinds = {"any"}
    if is_classifier(estimator):
        kinds.add("classifier")
    if is_regressor(estimator):
        kinds.add("regressor")
    if hasattr(estimator, "transform") and not (kinds & {"classifier", "regressor"}):
        kinds.add("transformer")
    if getattr(sk_tags, "estimator_type", None) == "clusterer":
        kinds.add("clusterer")
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
    )


def _looks_torch_backed(estimator) -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    for value in estimator.get_params(deep=False).values():
        if is_torch_object(value) or (inspect.isclass(value) and issubclass(value, torch.nn.Module)):
            return True
    for klass in type(estimator).__mro__:
        module = sys.modules.get(klass.__module__)
        if module is not None and any(v is torch for v in vars(module).values()):
            return True
    return False
