"""The hypothesis search behind the input checks: a property, a strategy, a shrunk repro.

A check states its rule as ``prop(value, script)``: it runs the estimator on one drawn value,
adding each call to ``script`` as a line of Python, and raises :class:`Violation` when the rule
is broken. :func:`search` draws values, shrinks a failure to a minimal one within a budget,
and fails the check with that value's script as the reproduction, and the seed that found it.
"""

from __future__ import annotations

import hashlib
import pickle
import random
import time
import warnings
import zlib

from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis.errors import Flaky, HypothesisException

from conformance.checks._support.refusals import raised_inside_torch, refusal_names
from conformance.checks._support.seeding import seed_global_rngs
from conformance.errors import CheckError, CheckFailure

# Shrinking refits the estimator on every candidate; past these the search ends and reports the
# smallest failure found within the budget. (Letting unseen candidates pass instead kept
# hypothesis's shrinker drawing candidates, minutes of it on text inputs.)
SHRINK_CALLS = 80
SHRINK_SECONDS = 20.0


class Script:
    """The lines a property ran, in order: the reproduction of whatever it raised.

    Every example runs from global RNGs seeded with 0 (:func:`search` seeds them), so a defect
    that draws from them (a shuffling ``DataLoader`` at predict) fails the same way when the
    script is pasted: the script seeds them at the same point, after its ``prepare`` lines
    (which rebuild what the check had before the example started, such as the shared fit).
    """

    SEEDING = ("from conformance.testing import dense, seed_global_rngs", "seed_global_rngs(0)")

    def __init__(self):
        self.setup: list[str] = []
        self.lines: list[str] = []

    def prepare(self, *lines: str) -> None:
        self.setup.extend(lines)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def code(self) -> list[str]:
        return [*self.setup, *self.SEEDING, *self.lines]


class _ShrinkBudgetSpent(BaseException):
    """Raised through hypothesis (not an Exception, so it is no test failure) to end shrinking."""


class Violation(Exception):
    """A property's rule was broken (as opposed to the estimator raising by itself)."""

    def __init__(self, message: str, observed=None, expected=None):
        super().__init__(message)
        self.message, self.observed, self.expected = message, observed, expected


def hypothesis_seed(ctx) -> tuple[object, str]:
    """The seed of this check's search and a sentence saying where it came from."""
    from hypothesis import core

    forced = getattr(core, "global_force_seed", None)
    profile = ctx.settings.profile
    if forced is not None:
        return forced, f"hypothesis seed {forced!r} (from --hypothesis-seed)"
    if ctx.budget.derandomize:
        value = zlib.crc32(ctx.check_id.encode())
        return value, (f"hypothesis seed {value} (fixed: the '{profile}' profile is derandomized; "
                       f"--hypothesis-seed={value} replays the same search)")
    value = random.SystemRandom().getrandbits(32)
    return value, (f"hypothesis seed {value} (random in the '{profile}' profile; "
                   f"replay with --hypothesis-seed={value})")


def refused_by_configuration(ctx, exc: BaseException) -> bool:
    """Whether ``exc`` is a configuration refusing this input clearly: a ``ValueError`` naming its parameter or value.

    Outside the defaults, a documented option may narrow the data it takes (``svd_solver="arpack"``
    needs more than one feature, ``criterion="poisson"`` a target of no negative values); a
    refusal that names the option is what users can act on, as
    ``params.variant_fits_or_refuses_clearly`` asks. Such an example is not judged.
    """
    variant = ctx.traits.configuration
    if variant is None or not isinstance(exc, ValueError):
        return False
    text = str(exc).lower()
    return any(name in text for name in refusal_names(variant) if len(name) > 2)


def search(ctx, strategy, prop, *, examples=(), max_examples: int | None = None) -> None:
    """Run ``prop(value, script)`` on values of ``strategy``; fail on the shrunk counterexample.

    ``prop`` raises :class:`Violation` when the rule is broken; any other exception is the
    estimator raising on valid input, also reported with the minimal input. ``examples`` are
    run first, on every profile; ``max_examples`` (default: the profile's) drawn values follow.
    """
    seed_value, seed_text = hypothesis_seed(ctx)
    seen: dict[bytes, tuple] = {}
    state = {"first_failure": None, "extra": 0}
    last: list = [None]

    def test(value):
        key = hashlib.sha1(pickle.dumps(value)).digest()
        if key in seen:
            last[0] = seen[key]
            if seen[key][0] is not None:
                raise seen[key][0]
            return
        started = state["first_failure"]
        if started is not None:
            state["extra"] += 1
            if state["extra"] > SHRINK_CALLS or time.monotonic() - started > SHRINK_SECONDS:
                raise _ShrinkBudgetSpent()
        script = Script()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seed_global_rngs(0, torch_too=ctx.traits.torch)
                prop(value, script)
        except Exception as exc:  # noqa: BLE001 - any exception is this example's verdict
            if refused_by_configuration(ctx, exc):
                seen[key] = last[0] = (None, script.code())
                return
            seen[key] = last[0] = state["best"] = (exc, script.code())
            if state["first_failure"] is None:
                state["first_failure"] = time.monotonic()
            raise
        seen[key] = last[0] = (None, script.code())

    derandomize = bool(ctx.budget.derandomize)
    drawn = max_examples or ctx.budget.max_examples
    if ctx.traits.configuration is not None:  # a configuration re-checks the rule on the first draws
        drawn = min(drawn, ctx.budget.variant_examples)
    options = dict(max_examples=drawn, derandomize=derandomize,
                   deadline=None, suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                   phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink], print_blob=False)
    if derandomize:
        options["database"] = None
    wrapped = given(strategy)(test)
    for value in reversed(examples):
        wrapped = example(value)(wrapped)
    wrapped = seed(seed_value)(settings(**options)(wrapped))
    try:
        wrapped()
    except _ShrinkBudgetSpent:
        exc, lines = state["best"]  # the shrinker only tries smaller inputs: the last failure is the smallest
        _report(ctx, exc, lines, seed_text)
    except Flaky as exc:
        ctx.fail(f"the same input passed once and failed once: the estimator is not deterministic ({exc})",
                 repro=ctx.repro("import numpy as np", *(last[0][1] if last[0] else [])))
    except HypothesisException as exc:
        raise CheckError(f"the check's hypothesis search broke: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001
        lines = last[0][1] if last[0] is not None and last[0][0] is exc else []
        _report(ctx, exc, lines, seed_text)


def _report(ctx, exc, lines, seed_text) -> None:
    if isinstance(exc, CheckFailure):
        raise exc
    repro = ctx.repro("import numpy as np", *lines, f"# minimal input found by {seed_text}")
    if isinstance(exc, Violation):
        ctx.fail(exc.message, observed=exc.observed, expected=exc.expected, repro=repro)
    text = (str(exc).strip().splitlines() or [""])[0]
    if raised_inside_torch(exc):
        text += (" (torch's own error reached the caller: convert the input with sklearn's validate_data, "
                 "or copy it with torch.tensor, before it reaches torch)")
    expected = "the call succeeds"
    if ctx.traits.input_width is None and ctx.traits.input_kind == "tabular":
        expected += (" (an estimator that only takes a fixed number of features declares it: "
                     "__conformance_tags__ returning {'input_width': N})")
    ctx.fail(f"raised {type(exc).__name__} on valid input: {text}",
             observed=f"{type(exc).__name__}: {text}", expected=expected, repro=repro, cause=exc)
