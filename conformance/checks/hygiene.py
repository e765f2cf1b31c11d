"""Global-state hygiene: the estimator's calls leave process-wide settings as they found them
(see docs/checks/hygiene.md).

Whatever an estimator leaks, the suite contains: each check runs in a forked child (or, run
in-process, the runner restores :class:`~conformance.globalstate.GlobalState` afterwards), so a
leak cannot change another check's verdict. This check makes the leak itself the verdict.
"""

from __future__ import annotations

import contextlib
import sys
from unittest import mock

from conformance.checks.params import OUTPUT_METHODS
from conformance.globalstate import GlobalState
from conformance.registry import register

# The torch thread count the estimator is shown (see _virtual_thread_count).
VIRTUAL_THREADS = 2


@register("hygiene.fit_and_predict_leave_global_state", applies_to=("any",))
def fit_and_predict_leave_global_state(ctx):
    """``fit`` and predicting leave process-wide settings as they found them: torch's thread count, default dtype, grad mode and deterministic-algorithms flag, and numpy's error settings.

    These settings belong to the user's program. An estimator that calls
    ``torch.set_default_dtype(torch.float64)`` or ``torch.set_grad_enabled(False)`` without
    restoring it changes every model trained after it, far from the cause; use the context
    managers (``torch.no_grad()``, ``np.errstate()``) or restore what you set.
    """
    data = ctx.data()
    estimator = ctx.new()
    changed, rngs = [], []

    def watch(method: str, call):
        before = GlobalState.capture()
        call()
        after = GlobalState.capture()
        changed.extend(f"{method} changed {change}" for change in map(str, before.changes(after)))
        rngs.extend(f"{method} drew from {name}" for name in before.rng_changes(after))

    with _virtual_thread_count(VIRTUAL_THREADS):
        watch("fit", lambda: estimator.fit(*data.fit_args()))
        for name in OUTPUT_METHODS:
            if hasattr(estimator, name):
                watch(name, lambda name=name: getattr(estimator, name)(data.X))
    if changed:
        ctx.fail("process-wide settings changed: " + "; ".join(changed),
                 expected="every setting restored before the method returns (use a context manager)",
                 repro=ctx.repro("import torch", "before = torch.get_default_dtype(), torch.is_grad_enabled()",
                                 "estimator.fit(X, y).predict(X)",
                                 "assert (torch.get_default_dtype(), torch.is_grad_enabled()) == before"))
    if rngs:
        return "the global RNGs were consumed (see the determinism checks): " + "; ".join(rngs)
    return None



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
