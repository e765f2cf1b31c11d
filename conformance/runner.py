"""Run one planned case and get its :class:`~conformance.result.Result`, whatever the estimator does.

The suite must survive the estimators it tests. By default (on Linux), during a run, checks go
to long-lived workers forked from the suite's process (:mod:`conformance.workers`); with
``fork-each``, outside a run, and for the checks that need a process of their own (threads,
CUDA, fresh interpreters), each check runs in a forked child (:mod:`conformance.processes`).
Either way the process inherits the imported modules and the shared fit, runs the check with
torch pinned to one thread (:mod:`conformance.judge` decides the verdict there) and sends back
its result, within a time limit derived from the shared fit (:mod:`conformance.hangs`). Where
fork is unavailable the check runs in-process, and global state is restored afterwards. A case
the plan skipped costs no process at all.
"""

from __future__ import annotations

import pickle
import sys
import time

from conformance.context import CheckContext
from conformance.globalstate import GlobalState
from conformance.hangs import Hang, check_budget, locate_call, refusing_known_hangs
from conformance.judge import exception_line, judge, process_failure, skipped
from conformance.plan import Case, skip_reason
from conformance.processes import ChildRun, pinned_threads, run_in_child, wait_until_finished
from conformance.result import Result
from conformance.settings import Settings
from conformance.targets import Target
from conformance.variants import FITS_CHECK
from conformance.workers import active_pool, suits_a_worker

FIT_FAILED = "fit failed"  # the shared fit's record of a fit that raised


def run_case(case) -> Result:
    """Run a planned case (see :mod:`conformance.plan`) in the configured isolation."""
    pending = start_case(case)
    if pending.child is not None:
        wait_until_finished(pending.child)
    return pending.result()


def run_check(target: Target, entry, settings: Settings) -> Result:
    """Run one entry on one target, planning it on the spot (skips decided as in a whole run)."""
    return run_case(Case(target, entry, settings, skip_reason(entry, settings, target)))


class PendingCheck:
    """A case started by :func:`start_case`: running in a forked child, or already decided."""

    def __init__(self, entry, child: ChildRun | None = None, result: Result | None = None, target=None):
        self.entry = entry
        self.child = child
        self._result = result
        self.target = target

    @property
    def done(self) -> bool:
        return self._result is not None or self.child.finished

    def result(self) -> Result:
        if self._result is None:
            outcome = self.child.outcome
            if isinstance(outcome, Result):
                self._result = outcome
            else:
                record_hang(self.target, self.entry.id, outcome)
                self._result = process_failure(self.entry, outcome, getattr(outcome, "duration_s", 0.0))
        return self._result


def record_hang(target: Target | None, where: str, outcome) -> None:
    """Remember the call a timed-out child was making, so the same call is not waited on again."""
    call = getattr(outcome, "location", None)
    if target is not None and getattr(outcome, "timed_out", False) and call is not None:
        target.history.record_hang(Hang(call, where, outcome.limit_s))


def start_case(case) -> PendingCheck:
    """Start ``case``: in a forked child (returned running), or in-process or skipped (returned done)."""
    target, entry, settings = case.target, case.entry, case.settings
    if case.skip is not None:
        return PendingCheck(entry, result=skipped(entry, case.skip))
    refused = configuration_fit_failure(target, entry, settings)
    if refused is not None:
        return PendingCheck(entry, result=skipped(entry, f"not run: this configuration does not fit ({refused}); "
                                                         f"{FITS_CHECK} judges that"))
    if case.needs_fresh_process:
        from conformance.fresh import ensure_server

        ensure_server()  # here, before forking: the check's child finds it
    if not settings.forks:
        return PendingCheck(entry, result=_run_in_process(target, entry, settings))
    warm_up_torch()
    prime_shared_fit(target, settings)  # for the checks that read it, and timed: every check's budget
    # CUDA reserves far more address space than it uses, so device checks run uncapped.
    memory = None if entry.device or _may_use_cuda(target) else settings.memory_limit_bytes
    budget = check_budget(target.history, settings, entry)
    note = f"this check's budget: {budget.why}"
    pool = active_pool()
    if pool is not None and suits_a_worker(case, memory):
        task = pool.start(case, target.history, target.fit_cache, budget.seconds, note)
        return PendingCheck(entry, child=task, target=target)
    child = ChildRun(lambda: judge_refusing_known_hangs(target, entry, settings), budget.seconds,
                     pin=not entry.threads, memory_limit=memory, locate=locate_call(type(target.estimator)),
                     timeout_note=note)
    return PendingCheck(entry, child=child, target=target)


def judge_refusing_known_hangs(target: Target, entry, settings: Settings) -> Result:
    """:func:`judge`, with the calls already seen to hang on ``target`` failing at once."""
    if not target.history.hangs:
        return judge(target, entry, settings)
    with refusing_known_hangs(type(target.estimator), target.history):
        return judge(target, entry, settings)


def configuration_fit_failure(target: Target, entry, settings: Settings) -> str | None:
    """Why a configuration besides the defaults does not fit, if it does not (the shared fit is the probe).

    Its other checks are then skipped with that reason: one verdict, :data:`FITS_CHECK`'s, not
    the same exception repeated by every check. At the defaults nothing is skipped this way.
    """
    if target.configuration is None or entry.id == FITS_CHECK or not entry.uses_shared_fit:
        return None
    if settings.forks:
        prime_shared_fit(target, settings)
    else:
        state = GlobalState.capture()
        try:
            with pinned_threads(enabled=True):
                prime_shared_fit(target, settings, in_child=False)
        finally:
            state.restore()
    return target.fit_cache.get((FIT_FAILED, settings.budget))


def _run_in_process(target: Target, entry, settings: Settings) -> Result:
    state = GlobalState.capture()
    try:
        if entry.uses_shared_fit:  # the shared fit may leak state too: put it back before the check
            with pinned_threads(enabled=True):
                prime_shared_fit(target, settings, in_child=False)
            state.restore()
        with pinned_threads(enabled=not entry.threads):
            return judge(target, entry, settings)
    finally:
        state.restore()


_WARM = False


def warm_up_torch() -> None:
    """Pay torch's lazy first-use costs once in the parent, so no forked check pays them.

    The first optimizer built imports ``torch._dynamo`` (about 2 s): without this every child
    would pay it again. Only torch's own code runs here, single-threaded (so no thread pool
    exists to break the fork), with the global RNG and thread count put back.
    """
    global _WARM
    torch = sys.modules.get("torch")
    if _WARM or torch is None:
        return
    _WARM = True
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            layer = torch.nn.Linear(2, 2)
            for optimizer in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
                step = optimizer(layer.parameters(), lr=0.01)
                step.zero_grad()
                torch.nn.functional.mse_loss(layer(torch.zeros(4, 2)), torch.zeros(4, 2)).backward()
                step.step()
            with torch.inference_mode():
                torch.softmax(layer(torch.zeros(4, 2)), dim=1)
    finally:
        torch.set_num_threads(threads)


def _may_use_cuda(target: Target) -> bool:
    name = target.traits.device_param
    if name is None:
        return False
    value = target.estimator.get_params(deep=False).get(name)
    return value is not None and str(value) != "cpu"


def prime_shared_fit(target: Target, settings: Settings, in_child: bool = True) -> None:
    """Fit the estimator once for the read-only checks, keeping the pickled result.

    In a child by default, so a hostile fit is contained. When the fit or the pickle fails the
    cache records that, and every check fits its own copy and reports what goes wrong.
    """
    if settings.budget in target.fit_cache:
        return

    def fit_and_pickle():
        context = CheckContext(target, settings, "shared-fit")
        start = time.perf_counter()
        try:
            estimator, _ = context.fitted()
        except Exception as exc:  # noqa: BLE001 - recorded: the configuration's fit verdict
            return (FIT_FAILED, exception_line(exc))
        return time.perf_counter() - start, pickle.dumps(estimator)

    if in_child:
        memory = None if _may_use_cuda(target) else settings.memory_limit_bytes
        outcome = run_in_child(fit_and_pickle, settings.timeout_s, pin=True, memory_limit=memory,
                               locate=locate_call(type(target.estimator)))
        record_hang(target, "the shared fit", outcome)
    else:
        try:
            outcome = fit_and_pickle()
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - see the docstring; SystemExit included
            outcome = None
    if isinstance(outcome, tuple) and outcome[:1] == (FIT_FAILED,):
        target.fit_cache[(FIT_FAILED, settings.budget)] = outcome[1]
        outcome = None  # a fit that failed fast says nothing of its time
    fitted = isinstance(outcome, tuple)
    target.fit_cache[settings.budget] = outcome[1] if fitted else None
    if fitted or getattr(outcome, "timed_out", False):
        target.history.shared_fit_s[settings.budget] = outcome[0] if fitted else None
