"""The global RNGs, and the estimator's own seed parameter.

Checks that are not about randomness fit from seeded globals so two fits can be compared; the
determinism checks vary exactly one of the seeds. The estimator's seed parameter is the one its
traits name (``random_state`` unless it declares another).
"""

from __future__ import annotations

import random
import sys

import numpy as np

from conformance.context import CheckContext


def seed_global_rngs(seed: int = 0, torch_too: bool = False) -> None:
    """Seed python's ``random``, numpy's legacy global RNG and torch's (when imported, or ``torch_too``)."""
    random.seed(seed)
    np.random.seed(seed)
    if torch_too or "torch" in sys.modules:
        try:
            import torch
        except ImportError:
            return
        torch.manual_seed(seed)


def seed_params(ctx: CheckContext, value: int | None = None) -> dict:
    """The seed parameter to set for a reproducible fit: ``{}`` for an estimator without one.

    With ``value``: that seed. Without: 0 when the seed is left at ``None``, else ``{}`` (the
    user's own seed is kept).
    """
    name = ctx.traits.seed_param
    if name is None:
        return {}
    if value is not None:
        return {name: value}
    return {name: 0} if ctx.estimator.get_params(deep=False).get(name) is None else {}


def seeded_fit(ctx: CheckContext, estimator, dataset, seed: int = 0):
    """``ctx.fit(estimator, dataset)`` from seeded global RNGs (for checks not about RNGs)."""
    seed_global_rngs(seed)
    return ctx.fit(estimator, dataset)


def fit_outputs(ctx: CheckContext, data, params: dict, global_seed: int = 0, estimator=None) -> dict:
    """Seed the globals, fit (a fresh clone with ``params``, or ``estimator``) and return its outputs."""
    from conformance.checks._support.outputs import outputs

    seed_global_rngs(global_seed, ctx.traits.torch)
    estimator = ctx.new(**params) if estimator is None else estimator
    ctx.fit(estimator, data)
    return outputs(estimator, data.X)
