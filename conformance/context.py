"""What a check function receives: the estimator under test and the suite's shared services."""

from __future__ import annotations

import pickle

from conformance.data import Dataset, make_dataset
from conformance.errors import CheckFailure, CheckSkipped
from conformance.fitting import fit_as
from conformance.repro import snippet
from conformance.settings import Settings
from conformance.targets import Target
from conformance.tolerance import Tolerance, merge_overrides, mismatch, tolerance_for


class CheckContext:
    """The estimator under test and the suite's services, as one check sees them.

    Checks never mutate ``estimator``: they build fresh copies with :meth:`new`.
    """

    def __init__(self, target: Target, settings: Settings, check_id: str):
        self.target = target
        self.settings = settings
        self.check_id = check_id
        self.warnings: list[str] = []

    @property
    def estimator(self):
        return self.target.estimator

    @property
    def traits(self):
        return self.target.traits

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
        return make_dataset(self.traits, n_samples or self.budget.n_samples, seed, n_classes)

    def fit(self, estimator, data: Dataset | None = None):
        """Train ``estimator`` on ``data`` (default: :meth:`data`) as this configuration trains it.

        A plain ``fit`` at the defaults; with ``sample_weight`` or through ``partial_fit`` over
        batches in those configurations (:mod:`conformance.fitting`). Returns what the training
        call returned, as ``estimator.fit(X, y)`` would.
        """
        data = self.data() if data is None else data
        return fit_as(estimator, data.X, data.y, self.traits.fit_with)

    def fit_arrays(self, estimator, X, y=None):
        """:meth:`fit` on arrays a check made itself (drawn inputs, a slice of the data)."""
        return fit_as(estimator, X, y, self.traits.fit_with)

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
        self.fit(estimator, dataset)
        return estimator, dataset

    def skip(self, reason: str):
        raise CheckSkipped(reason)

    def fail(self, message: str, *, observed=None, expected=None, repro: str | None = None,
             cause: BaseException | None = None):
        raise CheckFailure(message, observed=observed, expected=expected, repro=repro, cause=cause)

    def warn(self, finding: str) -> None:
        """Record a finding that does not fail the check (reported under the result's warnings)."""
        self.warnings.append(finding)

    def repro(self, *lines: str, n_samples: int | None = None) -> str:
        """A copy-paste snippet: build the estimator as the user named it, then ``lines``.

        When ``lines`` use ``X``/``y`` (or ``X_other``/``y_other``) without defining them, the
        snippet first rebuilds them as :meth:`data` (seed 0, or 1) of ``n_samples`` rows.
        """
        return snippet(self.target, lines, n_samples or self.budget.n_samples)

    def tolerance(self, kind: str, dtype) -> Tolerance:
        """The policy's tolerance, or the override from the estimator's tags or pyproject."""
        overrides = merge_overrides(type(self.estimator).__name__, self.traits.tolerances,
                                    self.settings.tolerances)
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
