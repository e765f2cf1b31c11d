"""Run one check against one estimator and turn whatever happens into a :class:`Result`.

The suite must survive the estimators it tests: a check that segfaults, hangs, calls
``sys.exit``, prints megabytes, exhausts memory or leaks global torch state must give that one
check a clear verdict and change nothing for the next. So by default (on Linux) each check runs
in a forked child process: the child inherits the imported modules and the shared fit, runs the
check with torch pinned to one thread, and sends back its result through a pipe. The parent
enforces the timeout and reads a crash from the exit status. Forking costs about 20 ms per check.
Where fork is unavailable the check runs in-process, and global state is restored afterwards.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import sys
import tempfile
import time
import traceback
import unittest
from dataclasses import asdict, dataclass

from conformance.context import CheckContext, Target
from conformance.errors import CheckError, CheckFailure, CheckSkipped, KnownFailure
from conformance.globalstate import GlobalState
from conformance.settings import Settings

STATUSES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error")
OUTPUT_TAIL_LINES = 15


@dataclass
class Result:
    """The verdict of one check on one estimator, as the JSON report records it."""

    check: str
    category: str
    status: str
    message: str = ""
    duration_s: float = 0.0

    @property
    def summary(self) -> str:
        """The message's first line: what the one-line summaries show."""
        return self.message.split("\n", 1)[0]

    def to_dict(self) -> dict:
        return asdict(self)


def use_fork(settings: Settings) -> bool:
    if settings.isolation == "auto":
        return hasattr(os, "fork") and sys.platform.startswith("linux")
    return settings.isolation == "fork"


def run_check(target: Target, check, settings: Settings) -> Result:
    """Run ``check`` (a registry or sklearn entry) on ``target`` in the configured isolation."""
    pending = start_check(target, check, settings)
    if pending.child is not None:
        wait_for([pending.child], until=pending.child)
    return pending.result()


class PendingCheck:
    """A check started by :func:`start_check`: running in a forked child, or already decided."""

    def __init__(self, check, child: "ChildRun | None" = None, result: Result | None = None):
        self.check = check
        self.child = child
        self._result = result

    @property
    def done(self) -> bool:
        return self._result is not None or self.child.finished

    def result(self) -> Result:
        if self._result is None:
            outcome = self.child.outcome
            if isinstance(outcome, Result):
                self._result = outcome
            else:
                self._result = Result(self.check.id, self.check.category, "failed", _with_docs(outcome, self.check),
                                      outcome_duration(outcome))
        return self._result


def start_check(target: Target, check, settings: Settings) -> PendingCheck:
    """Start ``check`` on ``target``: in a forked child (returned running), or in-process (returned done)."""
    shared_fit = getattr(check, "uses_shared_fit", True)
    if getattr(check, "fresh_process", False) and settings.profile != "quick":
        from conformance.fresh import ensure_server

        ensure_server()  # here, before forking: the check's child finds it
    if use_fork(settings):
        warm_up_torch()
        if shared_fit:
            prime_shared_fit(target, settings)
        # CUDA reserves far more address space than it uses, so device checks run uncapped.
        memory = None if check.device or _may_use_cuda(target) else settings.memory_limit_bytes
        child = ChildRun(lambda: _execute(target, check, settings), settings.timeout_s,
                         pin=not check.threads, memory_limit=memory)
        return PendingCheck(check, child=child)
    return PendingCheck(check, result=_run_in_process(target, check, settings, shared_fit))


def _run_in_process(target: Target, check, settings: Settings, shared_fit: bool) -> Result:
    state = GlobalState.capture()
    try:
        if shared_fit:  # the shared fit may leak state too: put it back before the check
            with _pinned_threads(enabled=True):
                prime_shared_fit(target, settings, in_child=False)
            state.restore()
        with _pinned_threads(enabled=not check.threads):
            return _execute(target, check, settings)
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
    name = target.get_profile().device_param
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
        estimator, _ = context.fitted()
        return pickle.dumps(estimator)

    if in_child:
        memory = None if _may_use_cuda(target) else settings.memory_limit_bytes
        payload = run_in_child(fit_and_pickle, settings.timeout_s, pin=True, memory_limit=memory)
    else:
        try:
            payload = fit_and_pickle()
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - see the docstring; SystemExit included
            payload = None
    target.fit_cache[settings.budget] = payload if isinstance(payload, bytes) else None


class ChildFailure(str):
    """Why a child process gave no result (crash, timeout, unpicklable outcome)."""

    duration_s = 0.0


def outcome_duration(outcome) -> float:
    return getattr(outcome, "duration_s", 0.0)


def run_in_child(func, timeout_s: float, pin: bool = True, memory_limit: int | None = None):
    """Call ``func`` in a forked child; return its value, or a :class:`ChildFailure`."""
    child = ChildRun(func, timeout_s, pin, memory_limit)
    wait_for([child], until=child)
    return child.outcome


class ChildRun:
    """``func`` running in a forked child: its result pipe, its captured output and its deadline.

    The parent reads the pipe as data arrives (:func:`wait_for`), so a child with a large
    result never blocks on a full pipe while its clock runs; ``outcome`` is set once it ends.
    """

    def __init__(self, func, timeout_s: float, pin: bool = True, memory_limit: int | None = None):
        self.timeout_s = timeout_s
        self.output = tempfile.TemporaryFile()
        self.chunks: list[bytes] = []
        self.outcome = None
        self.finished = False
        self.read_fd, write_fd = os.pipe()
        self.start = time.perf_counter()
        self.deadline = time.monotonic() + timeout_s
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            os.close(self.read_fd)
            _child_main(func, write_fd, self.output, pin, memory_limit)
        os.close(write_fd)

    def fileno(self) -> int:
        return self.read_fd

    def read_available(self) -> None:
        chunk = os.read(self.read_fd, 1 << 20)
        if chunk:
            self.chunks.append(chunk)
        else:
            self._finish(timed_out=False)

    def kill(self, timed_out: bool = True) -> None:
        _kill_group(self.pid)
        self._finish(timed_out)

    def _finish(self, timed_out: bool) -> None:
        os.close(self.read_fd)
        _, status = os.waitpid(self.pid, 0)
        self.finished = True
        self.outcome = self._outcome(b"".join(self.chunks), timed_out, status)
        self.output.close()

    def _outcome(self, payload: bytes, timed_out: bool, status: int):
        if payload and not timed_out:
            try:
                return pickle.loads(payload)
            except Exception as exc:  # noqa: BLE001 - anything unpickling raises is reported
                failure = ChildFailure(f"the check's result could not be read back: {exc!r}")
        elif timed_out:
            failure = ChildFailure(f"timed out after {self.timeout_s:g} s (the per-check timeout, "
                                   "--conformance-timeout); the process was killed and the run goes on")
        else:
            failure = ChildFailure(_describe_exit(status))
        tail = _output_tail(self.output)
        if tail:
            failure = ChildFailure(failure + "\n  last output of the check:\n" + tail)
        failure.duration_s = time.perf_counter() - self.start
        return failure


def wait_for(children: list[ChildRun], until: ChildRun | None = None) -> None:
    """Read every running child's pipe until ``until`` has finished (or, without it, any child).

    A child past its deadline is killed and finished as timed out, unless its result is
    already waiting in the pipe (it finished while the parent was busy elsewhere).
    """
    while True:
        running = [child for child in children if not child.finished]
        if (until.finished if until is not None else len(running) < len(children)) or not running:
            return
        wait = min(max(0.0, min(child.deadline for child in running) - time.monotonic()), 1.0)
        ready, _, _ = select.select(running, [], [], wait)
        for child in ready:
            child.read_available()
        now = time.monotonic()
        for child in running:
            if not child.finished and child not in ready and child.deadline <= now:
                child.kill(timed_out=True)


def _child_main(func, write_fd: int, output, pin: bool, memory_limit: int | None) -> None:
    code = 0
    try:
        os.setpgid(0, 0)  # so a timeout can kill what the check started too
        if memory_limit:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)
        faulthandler.enable(file=sys.stderr)
        if pin:
            pin_threads()
        value = func()
        data = pickle.dumps(value)
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
    except BaseException:  # noqa: BLE001 - the child reports everything and exits
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _kill_group(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        hint = " (the kernel's out-of-memory killer sends this)" if number == signal.SIGKILL else ""
        return (f"the process running the check was killed by {name}{hint}; the estimator crashed "
                "the interpreter, and the run goes on with the next check")
    return f"the process running the check exited with status {os.WEXITSTATUS(status)} before reporting"


def _output_tail(output) -> str:
    output.seek(0, os.SEEK_END)
    size = output.tell()
    output.seek(max(0, size - 256 * 1024))
    text = output.read().decode("utf-8", "replace")
    lines = text.splitlines()
    crash = next((i for i, line in enumerate(lines) if line.startswith("Fatal Python error")), None)
    # faulthandler prints the crashing frame first: keep the top of its trace, not the bottom.
    lines = lines[crash:crash + OUTPUT_TAIL_LINES] if crash is not None else lines[-OUTPUT_TAIL_LINES:]
    return "\n".join("    " + line[:300] for line in lines)


def pin_threads():
    """Pin torch and the BLAS pools to one thread; returns the BLAS limiter (or None) to undo it."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(1)


class _pinned_threads:
    """In-process counterpart of the child's thread pinning (GlobalState restores torch's)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.limits = None

    def __enter__(self):
        if self.enabled:
            self.limits = pin_threads()
        return self

    def __exit__(self, *exc):
        if self.limits is not None:
            self.limits.restore_original_limits()
        return False


def _execute(target: Target, check, settings: Settings) -> Result:
    """Run the check body and classify its outcome (in whichever process we are)."""
    context = CheckContext(target, settings, check.id)
    start = time.perf_counter()
    status, message = "passed", ""
    if getattr(check, "fresh_process", False) and settings.profile == "quick":
        return Result(check.id, check.category, "skipped", "not run in the quick profile: it starts a fresh "
                      "Python interpreter (seconds); the standard profile runs it")
    try:
        note = check.func(context)
        message = note if isinstance(note, str) else ""
    except CheckSkipped as exc:
        status, message = "skipped", str(exc)
    except KnownFailure as exc:
        status, message = "xfailed", str(exc)
    except unittest.SkipTest as exc:
        status, message = "skipped", str(exc) or "skipped by the check"
    except CheckError as exc:
        status, message = "error", f"the check itself broke: {exc}"
    except CheckFailure as exc:
        status, message = "failed", _failure_text(exc.message, check, exc)
    except BaseException as exc:  # noqa: BLE001 - any exception from the estimator is a verdict
        if type(exc).__name__ == "Skipped":  # pytest.skip / importorskip inside a check
            status, message = "skipped", str(getattr(exc, "msg", exc))
        elif isinstance(exc, KeyboardInterrupt) and not use_fork(settings):
            raise
        else:
            status, message = "failed", _failure_text(_exception_line(exc), check, exc, target)
    return Result(check.id, check.category, status, message, time.perf_counter() - start)


def _failure_text(headline: str, check, exc, target: Target | None = None) -> str:
    lines = [headline]
    rule = getattr(check, "rule", "")
    if rule:
        lines.append(f"  rule: {rule}")
    if isinstance(exc, CheckFailure):
        lines.extend(exc.details().splitlines()[1:])
    else:
        lines.append("  raised at:")
        lines.extend("    " + line for line in _short_traceback(exc))
        repro = getattr(check, "repro", None)
        if repro is not None and target is not None:
            lines.append("  reproduce with:")
            lines.extend("    " + line for line in repro(target).splitlines())
    lines.append(f"  docs: {check.docs}")
    return "\n".join(lines)


def _with_docs(text: str, check) -> str:
    rule = getattr(check, "rule", "")
    lines = [str(text)]
    if rule:
        lines.append(f"  rule: {rule}")
    lines.append(f"  docs: {check.docs}")
    return "\n".join(lines)


def _exception_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _short_traceback(exc: BaseException, frames: int = 3) -> list[str]:
    summary = traceback.extract_tb(exc.__traceback__)[-frames:]
    return [f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line or ''}".rstrip() for frame in summary]
