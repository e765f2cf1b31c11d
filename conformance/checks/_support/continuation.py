"""What training continues from: the configurations in which a fit builds on the last one.

With ``warm_start=True`` a second ``fit`` starts from the fitted model, and ``partial_fit``
always does; in both, :meth:`CheckContext.fit` on an already fitted estimator continues its
training. The fitted torch optimizers carry the state that continuation needs (Adam's moment
estimates, momentum buffers), and their step counts show whether it was kept.
"""

from __future__ import annotations

import sys


def continues_training(traits) -> bool:
    """Whether a fit in this configuration continues the previous one: ``warm_start=True``, or ``partial_fit``."""
    return traits.params.get("warm_start") is True or traits.fit_with == "partial_fit"


def warm_started(traits) -> bool:
    return traits.params.get("warm_start") is True


def trained_by_partial_fit(traits) -> bool:
    return traits.fit_with == "partial_fit"


def optimizer_steps(estimator) -> dict[str, int]:
    """``{attribute: steps}`` for each torch optimizer among the estimator's attributes that counts its steps.

    The count is the largest ``step`` of the optimizer's per-parameter state (Adam, AdamW,
    RMSprop, Adagrad keep one; plain SGD keeps none and is left out).
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    steps = {}
    for name, value in vars(estimator).items():
        if isinstance(value, torch.optim.Optimizer):
            counts = [int(state["step"]) for state in value.state.values() if "step" in state]
            if counts:
                steps[name] = max(counts)
    return steps


def restarted_optimizers(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """The optimizers whose step count did not grow between two fits: their state was thrown away."""
    return [f"{name} had taken {steps} steps after the first fit and {after.get(name, 'none')} after the second"
            for name, steps in before.items() if after.get(name, 0) <= steps]
