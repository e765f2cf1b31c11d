"""What a check function receives: the estimator under test and the suite's shared services."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

from conformance.data import Dataset, make_dataset
from conformance.errors import CheckFailure, CheckSkipped
from conformance.settings import Settings
from conformance.tolerance import Tolerance, merge_overrides, mismatch, tolerance_for


@dataclass
class Target:
    """One estimator under test, with how it was named (for labels and reproductions)."""

    label: str
    estimator: object
    spec: str | None = None  # "pkg.mod:attr" as given by the user, when there was one
    index: int | None = None  # position in the list a callable returned
    profile: object = None  # EstimatorProfile, filled lazily
    fit_cache: dict = field(default_factory=dict, repr=False)

    def get_profile(self):
        if self.profile is None:
            from conformance.profile import profile_estimator

            self.profile = profile_estimator(self.estimator)
        return self.profile

    def construction(self) -> str:
        """Python lines that build this estimator in a fresh interpreter."""
        if self.spec:
            module, attr = self.spec.split(":", 1)
            lines = [f"from {module} import {attr.split('.')[0]}"]
            value = _resolved_kind(self.spec)
            if value == "class":
                lines.append(f"estimator = {attr}()")
            elif value == "callable":
                call = f"{attr}()" + (f"[{self.index}]" if self.index is not None else "")
                lines.append(f"estimator = {call}")
            else:
                lines += ["from sklearn.base import clone", f"estimator = clone({attr})"]
            return "\n".join(lines)
        klass = type(self.estimator)
        changed = changed_params(self.estimator)
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"from {klass.__module__} import {klass.__name__}\nestimator = {klass.__name__}({args})"


def _resolved_kind(spec: str) -> str:
    import importlib
    import inspect

    module, attr = spec.split(":", 1)
    value = importlib.import_module(module)
    for part in attr.split("."):
        value = getattr(value, part)
    if inspect.isclass(value):
        return "class"
    if callable(value) and not hasattr(value, "get_params"):
        return "callable"
    return "instance"


def changed_params(estimator) -> dict:
    """The parameters whose values differ from the constructor's defaults."""
    import inspect

    params = estimator.get_params(deep=False)
    try:
        signature = inspect.signature(type(estimator).__init__)
    except (TypeError, ValueError):
        return params
    changed = {}
    for name, value in params.items():
        default = signature.parameters.get(name)
        if default is None or default.default is inspect.Parameter.empty:
            changed[name] = value
            continue
        try:
            same = bool(default.default == value) if default.default is not value else True
        except Exception:
            same = False
        if not same:
            changed[name] = value
    return changed


class CheckContext:
    """The estimator under test and the suite's services, as one check sees them.

    Checks never mutate ``estimator``: they build fresh copies with :meth:`new`.
    """

    def __init__(self, target: Target, settings: Settings, check_id: str):
        self.target = target
        self.settings = settings
        self.check_id = check_id

    @property
    def estimator(self):
        return self.target.estimator

    @property
    def profile(self):
        return self.target.get_profile()

    @property
    def budget(self):
        return self.settings.budget

    def new(self, **params):
        """An unfitted clone of the estimator under test, with ``params`` set."""
        from sklearn.base import clone

        estimator = clone(self.target.estimator)
        if params:
            estimator.set_params(**params)
        return estimator

    def data(self, n_samples: int | None = None, seed: int = 0, n_classes: int = 3) -> Dataset:
        """The suite's ordinary data for this estimator (kind, input contract, profile size)."""
        return make_dataset(self.profile, n_samples or self.budget.n_samples, seed, n_classes)

    def fitted(self):
        """``(estimator, dataset)``: a fresh copy of the estimator fitted on :meth:`data`.

        The fit is shared: it happens once per estimator and process, and each caller gets its
        own unpickled copy, so read-only checks do not refit the same estimator on the same data.
        """
        dataset = self.data()
        payload = self.target.fit_cache.get(self.settings.budget)
        if payload is not None:
            return pickle.loads(payload), dataset
        estimator = self.new()
        estimator.fit(*dataset.fit_args())
        return estimator, dataset

    def skip(self, reason: str):
        raise CheckSkipped(reason)

    def fail(self, message: str, *, observed=None, expected=None, repro: str | None = None):
        raise CheckFailure(message, observed=observed, expected=expected, repro=repro)

    def repro(self, *lines: str) -> str:
        """A copy-paste snippet: build the estimator as the user named it, then ``lines``."""
        return "\n".join([self.target.construction(), *lines])

    def tolerance(self, kind: str, dtype) -> Tolerance:
        """The policy's tolerance, or the override from the estimator's tags or pyproject."""
        overrides = merge_overrides(type(self.estimator).__name__, self.profile.tolerances,
                                    self.settings.extra.get("tolerances"))
        return tolerance_for(kind, dtype, overrides)

    def assert_close(self, observed, expected, kind: str, what: str, repro: str | None = None,
                     dtype=None):
        """Fail with a clear message unless ``observed`` matches ``expected`` for ``kind``.

        ``dtype`` is the precision the outputs were computed in, when coarser than the dtype
        they are returned in (a float32 module returning float64 arrays).
        """
        import numpy as np

        tolerance = self.tolerance(kind, dtype if dtype is not None else np.asarray(expected).dtype)
        problem = mismatch(observed, expected, tolerance)
        if problem is not None:
            self.fail(f"{what}: {problem}", expected=tolerance.describe(), repro=repro)
