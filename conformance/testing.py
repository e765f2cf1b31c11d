"""Assertions for reproductions and for users' own tests: the suite's comparisons, as plain calls.

The snippets printed under failures use these, so they are public API and stay stable: a
snippet copied from an old report keeps running. Each function either returns a value to
compare or raises ``AssertionError`` with a message saying exactly what differs.
"""

from __future__ import annotations

from conformance.checks._support.continuation import optimizer_steps
from conformance.checks._support.fingerprints import fingerprint_changes, params_fingerprint, shared_state
from conformance.checks._support.outputs import dense
from conformance.checks._support.outputs import outputs as fitted_outputs
from conformance.checks._support.seeding import seed_global_rngs as _seed
from conformance.data import dataset_for
from conformance.fitting import fit_as, partial_fit_in_batches, sample_weights_for
from conformance.torch_state import misplaced_tensors

__all__ = ["dataset_for", "dense", "fitted_outputs", "seed_global_rngs", "params_snapshot", "assert_params_unchanged",
           "assert_same_params", "assert_no_shared_state", "assert_tensors_on", "fit_as", "partial_fit_in_batches",
           "sample_weights_for", "optimizer_steps"]


def seed_global_rngs(seed: int = 0) -> None:
    """Seed python's ``random``, numpy's legacy global RNG and torch's, as the checks do before a fit."""
    _seed(seed, torch_too=True)


def params_snapshot(estimator) -> dict:
    """A torch-aware snapshot of ``get_params()``: module weights, tensors, nested estimators by value."""
    return params_fingerprint(estimator)


def assert_params_unchanged(snapshot: dict, estimator, what: str = "parameters changed") -> None:
    """Raise ``AssertionError`` naming each parameter of ``estimator`` that differs from ``snapshot``."""
    changes = fingerprint_changes(snapshot, params_fingerprint(estimator))
    assert not changes, f"{what}: " + "; ".join(changes[:10])


def assert_same_params(first, second) -> None:
    """Raise ``AssertionError`` unless both estimators have equal parameters, compared by value."""
    assert_params_unchanged(params_fingerprint(first), second, "the parameters differ")


def assert_no_shared_state(first, second) -> None:
    """Raise ``AssertionError`` naming every mutable object reachable from both ``first`` and ``second``."""
    shared = shared_state(first, second, "first", "second")
    assert not shared, "shared mutable state: " + "; ".join(shared[:10])


def assert_tensors_on(estimator, device: str) -> None:
    """Raise ``AssertionError`` naming every fitted torch attribute whose tensors are not on ``device``."""
    problems = misplaced_tensors(estimator, device)
    assert not problems, "; ".join(problems)
