"""Global-state hygiene: the estimator's calls leave process-wide state as they found it
(see docs/checks/hygiene.md).

Whatever an estimator leaks, the suite contains: each check runs in a forked child (or, run
in-process, the runner restores :class:`~conformance.globalstate.GlobalState` afterwards), so a
leak cannot change another check's verdict. This check makes the leak itself the verdict.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from dataclasses import dataclass
from typing import Callable
from unittest import mock

import numpy as np

from conformance.checks._support.outputs import OUTPUT_METHODS
from conformance.globalstate import GRACE_S, Change, GlobalState
from conformance.registry import register

# The torch thread count the estimator is shown (see _virtual_thread_count).
VIRTUAL_THREADS = 2
# The methods watched after fit and partial_fit, whichever the fitted estimator has: every
# output method, and the two that wrap one.
INFERENCE_METHODS = (*OUTPUT_METHODS, "predict_log_proba", "score")
# Values a caller may have set, none of them the default: an estimator that "restores" a setting
# to its default rather than to the caller's value leaves the default state as it found it, and
# is only seen from these (docs/writing-checks.md, "Coincidences"). Each is harmless to a correct
# estimator; the check runs from them when the default state shows no leak.
CALLER_SETTINGS = (
    "np.set_printoptions(precision=4)",
    "np.seterr(divide='ignore')",
    "logging.getLogger().setLevel(logging.ERROR)",
    "warnings.filterwarnings('ignore', message='a filter of the caller')",
)
TORCH_CALLER_SETTINGS = (
    "torch.set_float32_matmul_precision('high')",
    "torch.use_deterministic_algorithms(True, warn_only=True)",
)
CALLER_IMPORTS = ("import logging", "import warnings", "import numpy as np")


@register("hygiene.fit_and_predict_leave_global_state", applies_to=("any",), fits_as_configured=False)
def fit_and_predict_leave_global_state(ctx):
    """``fit``, ``partial_fit`` and every inference method leave all process-wide state as they found it, and leave no thread or child process running.

    That state belongs to the user's program: warnings filters, logging configuration,
    environment variables, the working directory, ``sys.path``, signal handlers, numpy's error
    and print options, sklearn's config, and torch's thread counts, default dtype and device,
    grad mode, deterministic, anomaly, flush-denormal, matmul-precision, TF32 and cudnn flags.
    An estimator that changes one without restoring it changes every model trained after it,
    far from the cause; use the context managers (``torch.no_grad()``, ``np.errstate()``,
    ``warnings.catch_warnings()``) or restore what you set, and join what you start.
    """
    data = ctx.data()
    with _virtual_thread_count(VIRTUAL_THREADS):
        _watch_all(ctx.new(), data, grace_s=0.0)  # the warm-up, see _watch_all
        watched, setup = _watch_all(ctx.new(), data), []
        if not any(w.findings for w in watched):
            setup = _caller_settings()
            with _set_first(setup):
                watched = _watch_all(ctx.new(), data)
    leaks = [f"{w.call.name} {finding}" for w in watched for finding in w.findings]
    if leaks:
        start = f" (from a caller's non-default settings: {', '.join(setup)})" if setup else ""
        ctx.fail("process-wide state changed: " + "; ".join(leaks) + start,
                 expected="every setting restored to the caller's value and every thread and process joined "
                          "before the method returns",
                 repro=ctx.repro(*_caller_lines(setup), *_repro_lines(watched)))
    rngs = [f"{w.call.name} drew from {name}" for w in watched for name in w.rngs]
    if rngs:
        return "the global RNGs were consumed (see the determinism checks): " + "; ".join(rngs)
    return None


def _caller_settings() -> list[str]:
    """The :data:`CALLER_SETTINGS` lines that apply here (torch's only when torch is imported)."""
    return [*CALLER_SETTINGS, *(TORCH_CALLER_SETTINGS if "torch" in sys.modules else ())]


def _caller_lines(setup: list[str]) -> list[str]:
    """The reproduction's first lines: the caller's settings, with what they import."""
    if not setup:
        return []
    torch_import = ["import torch"] if any(line.startswith("torch.") for line in setup) else []
    return [*CALLER_IMPORTS, *torch_import, *setup]


@contextlib.contextmanager
def _set_first(lines: list[str]):
    """Run ``lines`` (the caller's settings), then put the whole process-wide state back afterwards."""
    import logging
    import warnings

    state = GlobalState.capture()
    namespace = {"np": np, "logging": logging, "warnings": warnings, "torch": sys.modules.get("torch")}
    try:
        for line in lines:
            exec(line, namespace)  # noqa: S102 - the suite's own constant lines, shown in the repro as run
        yield
    finally:
        state.restore()


@dataclass(frozen=True)
class Call:
    """One call the check watches: its name, how to make it, and its line in a reproduction."""

    name: str
    run: Callable[[], object]
    code: str
    imports: tuple = ()


@dataclass(frozen=True)
class Watched:
    """What one call changed, left running, and drew from the global RNGs."""

    call: Call
    changes: list[Change]
    left: list[str]
    rngs: list[str]

    @property
    def findings(self) -> list[str]:
        return [str(change) for change in self.changes] + self.left


def _calls(estimator, data):
    """``fit``, then ``partial_fit`` and each inference method the fitted estimator has, in order.

    A generator: each method is looked up after the calls before it ran, so methods that
    sklearn's ``available_if`` shows only on a fitted estimator are found.
    """
    args = "X, y" if data.y is not None else "X"
    yield Call("fit", lambda: estimator.fit(*data.fit_args()), f"estimator.fit({args})")
    if hasattr(estimator, "partial_fit"):
        classes = _takes_classes(estimator)
        extra = {"classes": np.unique(data.y)} if classes else {}
        yield Call("partial_fit", lambda: estimator.partial_fit(*data.fit_args(), **extra),
                   f"estimator.partial_fit({args}{', classes=np.unique(y)' if classes else ''})",
                   ("import numpy as np",) if classes else ())
    for name in INFERENCE_METHODS:
        if hasattr(estimator, name):
            inputs, text = (data.fit_args(), args) if name == "score" else ((data.X,), "X")
            yield Call(name, lambda name=name, inputs=inputs: getattr(estimator, name)(*inputs),
                       f"estimator.{name}({text})")


def _takes_classes(estimator) -> bool:
    """Whether ``partial_fit`` is a classifier's, taking the ``classes`` sklearn's first call needs."""
    from sklearn.base import is_classifier

    try:
        return is_classifier(estimator) and "classes" in inspect.signature(estimator.partial_fit).parameters
    except (TypeError, ValueError):
        return False


def _watch_all(estimator, data, grace_s: float = GRACE_S) -> list[Watched]:
    """Watch each call of :func:`_calls`, putting the state back after each.

    The check does this twice and judges the second: a library imported lazily inside ``fit``
    registers its warnings filters, loggers, environment defaults and helper threads the first
    time, import-time effects that are not the estimator's. On the second round they exist
    already, so a call that changes the state then changes it on every call.
    """
    return [_watch(call, grace_s) for call in _calls(estimator, data)]


def _watch(call: Call, grace_s: float) -> Watched:
    before = GlobalState.capture()
    call.run()
    after = GlobalState.capture()
    watched = Watched(call, before.changes(after), before.left_running(after, grace_s), before.rng_changes(after))
    before.restore()  # each call is judged from the caller's state, not from an earlier call's leak
    return watched


def _repro_lines(watched: list[Watched]) -> list[str]:
    """The calls up to the last one that leaked, each leaking call wrapped in asserts of exactly what it changed."""
    last = max(i for i, w in enumerate(watched) if w.findings)
    imports = {line for w in watched[:last + 1] for line in w.call.imports}
    imports |= {line for w in watched[:last + 1] for change in w.changes for line in change.setting.imports}
    if any(w.left for w in watched[:last + 1]):
        imports.add("from conformance.globalstate import GlobalState")
    lines = sorted(imports)
    for w in watched[:last + 1]:
        lines += _asserted_call(w) if w.findings else [w.call.code]
    return lines


def _asserted_call(w: Watched) -> list[str]:
    names = ["before"] if len(w.changes) == 1 else [f"before_{i}" for i in range(1, len(w.changes) + 1)]
    lines = [f"{name} = {change.setting.expr}" for name, change in zip(names, w.changes)]
    lines += ["state = GlobalState.capture()"] if w.left else []
    lines.append(w.call.code)
    for name, change in zip(names, w.changes):
        expr = change.setting.expr
        read = f"({expr})" if " " in expr else expr
        lines.append(f"assert {read} == {name}, {f'{w.call.name} {change}'!r}")
    if w.left:
        lines += ["left = state.left_running(GlobalState.capture())",
                  f"assert not left, {w.call.name + ' '!r} + '; '.join(left)"]
    return lines


@contextlib.contextmanager
def _virtual_thread_count(count: int):
    """Show the estimator a torch thread count of ``count`` without using more threads.

    The check runs pinned to one thread: OpenMP pools do not survive ``fork``, so really
    running more threads in a forked child can hang. ``torch.get_num_threads`` and
    ``torch.set_num_threads`` are replaced by a counter starting at ``count``, so an estimator
    that pins one thread and leaves it pinned is seen changing the count.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    virtual = {"threads": count}

    def set_num_threads(n):
        virtual["threads"] = int(n)

    with mock.patch.object(torch, "get_num_threads", lambda: virtual["threads"]), \
            mock.patch.object(torch, "set_num_threads", set_num_threads):
        yield
