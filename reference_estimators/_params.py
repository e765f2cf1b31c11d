"""``module__<name>`` parameters without ``**kwargs``: sklearn's nested-parameter machinery, kept.

A torch module's hyperparameters must be sklearn parameters (``GridSearchCV`` sets
``module__hidden_sizes``), but ``**kwargs`` in ``__init__`` is invisible to ``get_params`` and
breaks ``clone``. So each prefix stores its values in one ordinary, explicit parameter
(``module__hidden_sizes=(64,)`` lives in ``module_params={"hidden_sizes": (64,)}``) and this
mixin routes the prefixed names to it: ``set_params`` writes a *new* dict (never the caller's),
``get_params(deep=True)`` lists the entries under their prefixed names. ``clone``, ``repr``
and sklearn's parameter checks only ever see the explicit parameters.
"""

from __future__ import annotations

import inspect


class NestedParamsMixin:
    """Route ``<prefix>__<name>`` to the dict parameter ``<prefix>_params``, for each prefix.

    ``_nested_prefixes`` names the prefixes; ``_nested_reserved`` the keywords the estimator
    passes itself (the widths it infers, the optimizer's ``params`` and ``lr``).
    """

    _nested_prefixes: tuple = ("module",)
    _nested_reserved: dict = {"module": ("n_features_in", "n_outputs")}
    # Prefixed names reaching a parameter that defaults to None build this default first.
    _nested_defaults: dict = {}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        if deep:
            for prefix in self._nested_prefixes:
                for name, value in self._nested(prefix).items():
                    params[f"{prefix}__{name}"] = value
        return params

    def set_params(self, **params):
        routed = {prefix: {} for prefix in self._nested_prefixes}
        plain = {}
        for key, value in params.items():
            prefix, sep, name = key.partition("__")
            if sep and prefix in routed:
                routed[prefix][name] = value
            else:
                plain[key] = value
        for prefix, factory in self._nested_defaults.items():
            if getattr(self, prefix, None) is None and any(k.startswith(prefix + "__") for k in plain):
                setattr(self, prefix, factory())  # a fresh default instance, owned by self
        super().set_params(**plain)
        for prefix, values in routed.items():
            if values:
                self._check_nested(prefix, values)
                setattr(self, f"{prefix}_params", {**self._nested(prefix), **values})
        return self

    def _nested(self, prefix: str) -> dict:
        stored = getattr(self, f"{prefix}_params", None)
        return dict(stored) if isinstance(stored, dict) else {}

    def _check_nested(self, prefix: str, values: dict) -> None:
        """Reject names the prefix's class cannot take, as sklearn rejects unknown parameters."""
        reserved = [n for n in values if n in self._nested_reserved.get(prefix, ())]
        if reserved:
            raise ValueError(f"{prefix}__{reserved[0]} is set by {type(self).__name__} itself")
        factory = getattr(self, prefix, None)
        if not inspect.isclass(factory):
            return
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            return
        if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return
        unknown = sorted(set(values) - set(parameters))
        if unknown:
            accepted = sorted(set(parameters) - {"self", *self._nested_reserved.get(prefix, ())})
            raise ValueError(
                f"Invalid parameter {prefix}__{unknown[0]} for {type(self).__name__}: "
                f"{factory.__name__} accepts {accepted}")
