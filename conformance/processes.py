"""Forked child processes: start one, read its result as it arrives, and contain what it does.

A check may segfault, hang, call ``sys.exit``, print megabytes or exhaust memory. Run in a
:class:`ChildRun`, it does so in a forked child in its own process group, with its output
captured to a file, an address-space cap and a deadline; the parent reads the child's pickled
value through a pipe and turns an exit, a signal or a timeout into a :class:`ChildFailure` text.
Forking costs about 20 ms per check. Nothing here knows what a check is.

A child dies with the process that forked it (:mod:`conformance.lifetime`), and whatever it
left running in its group is killed when it ends. The children still running can be killed
at once (:func:`kill_running`): that is how a cancelled run stops its checks.
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

from conformance import lifetime

OUTPUT_TAIL_LINES = 15
LOCATE_GRACE_S = 2.0  # how long a child past its deadline gets to say where it is, before SIGKILL
LOCATE_SIGNAL = signal.SIGUSR2
_RUNNING: dict[int, "ChildRun"] = {}  # the children forked here that have not been reaped


class ChildFailure(str):
    """Why a child process gave no result (crash, timeout, unpicklable outcome).

    ``timed_out`` says it ran past its deadline; ``location`` is then what the child's
    ``locate`` said it was doing (None when it could not answer in time).
    """

    duration_s = 0.0
    timed_out = False
    location = None
    limit_s = None  # the time limit the child ran under
    output_tail = ""  # the end of what the child printed


class Located:
    """What a child past its deadline sends instead of a result: where it was (its ``locate``'s value)."""

    def __init__(self, value):
        self.value = value


def outcome_duration(outcome) -> float:
    return getattr(outcome, "duration_s", 0.0)


def run_in_child(func, timeout_s: float, pin: bool = True, memory_limit: int | None = None, locate=None,
                 timeout_note: str = ""):
    """Call ``func`` in a forked child; return its value, or a :class:`ChildFailure`."""
    child = ChildRun(func, timeout_s, pin, memory_limit, locate=locate, timeout_note=timeout_note)
    wait_until_finished(child)
    return child.outcome


def wait_until_finished(child: "ChildRun") -> None:
    """Wait for ``child``; if the wait is interrupted (the run cancelled), the child is killed first."""
    try:
        wait_for([child], until=child)
    except BaseException:
        if not child.finished:
            child.kill(timed_out=False)
        raise


def kill_running() -> None:
    """Kill every child forked here and still running, with its group (they are reaped later)."""
    for pid in list(_RUNNING):
        kill_group(pid)


class ChildRun:
    """``func`` running in a forked child: its result pipe, its captured output and its deadline.

    The parent reads the pipe as data arrives (:func:`wait_for`), so a child with a large
    result never blocks on a full pipe while its clock runs; ``outcome`` is set once it ends,
    with ``status`` (as ``os.waitpid`` gives it) and ``timed_out``.

    With ``locate`` (a function of the interrupted frame, run in the child), a child past its
    deadline is first signalled to send ``locate``'s answer (:class:`Located`), and killed when
    it has, or after ``LOCATE_GRACE_S``. ``timeout_note`` says where the time limit came from.
    """

    def __init__(self, func, timeout_s: float, pin: bool = True, memory_limit: int | None = None, locate=None,
                 timeout_note: str = ""):
        self.timeout_s = timeout_s
        self.timeout_note = timeout_note or "the per-check timeout, --conformance-timeout"
        self.locate = locate
        self.asked_where = False
        self.output = tempfile.TemporaryFile()
        self.chunks: list[bytes] = []
        self.outcome = None
        self.finished = False
        self.status: int | None = None
        self.timed_out = False
        self.output_tail = ""  # the end of what the child printed, once it has ended
        self.read_fd, write_fd = os.pipe()
        self.start = time.perf_counter()
        self.deadline = time.monotonic() + timeout_s
        parent = os.getpid()
        lifetime.prepare_fork()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            os.close(self.read_fd)
            _child_main(func, write_fd, self.output, pin, memory_limit, parent, locate)
        os.close(write_fd)
        own_group(self.pid)
        _RUNNING[self.pid] = self
        lifetime.watch_group(self.pid)

    def fileno(self) -> int:
        return self.read_fd

    def read_available(self) -> None:
        chunk = os.read(self.read_fd, 1 << 20)
        if chunk:
            self.chunks.append(chunk)
        else:
            self._finish(timed_out=False)

    def expire(self) -> None:
        """The deadline passed: ask the child where it is (once, with a grace period), else kill it."""
        if self.locate is not None and not self.asked_where:
            self.asked_where = True
            self.deadline = time.monotonic() + LOCATE_GRACE_S
            try:
                os.kill(self.pid, LOCATE_SIGNAL)
                return
            except ProcessLookupError:
                pass
        self.kill(timed_out=True)

    def kill(self, timed_out: bool = True) -> None:
        kill_group(self.pid)
        self._finish(timed_out)

    def _finish(self, timed_out: bool) -> None:
        os.close(self.read_fd)
        kill_group(self.pid)  # what the child started and left running ends with it
        _, self.status = os.waitpid(self.pid, 0)
        _RUNNING.pop(self.pid, None)
        lifetime.release_group(self.pid)
        self.finished = True
        self.timed_out = timed_out
        self.outcome = self._outcome(b"".join(self.chunks), timed_out, self.status)
        self.output.close()

    def _outcome(self, payload: bytes, killed_late: bool, status: int):
        value, location = None, None
        if payload and not killed_late:
            try:
                value = pickle.loads(payload)
            except Exception as exc:  # noqa: BLE001 - anything unpickling raises is reported
                value = ChildFailure(f"the check's result could not be read back: {exc!r}")
            if isinstance(value, Located):
                location, value = value.value, None
            elif not isinstance(value, ChildFailure):
                return value  # a result, even one that arrived while the child was asked where it was
        timed_out = killed_late or self.asked_where
        if timed_out:
            failure = timeout_text(self.timeout_s, self.timeout_note)
        else:
            failure = value if value is not None else describe_exit(status)
        self.timed_out = timed_out
        failure = child_failure(failure, self.output, self.start, timed_out, location, self.timeout_s)
        self.output_tail = failure.output_tail
        return failure


def timeout_text(timeout_s: float, note: str) -> str:
    return f"timed out after {timeout_s:g} s ({note}); the process was killed and the run goes on"


def child_failure(text: str, output, start: float, timed_out: bool = False, location=None,
                  limit_s: float | None = None) -> ChildFailure:
    """A :class:`ChildFailure` of ``text``, then the end of what the process printed to ``output``."""
    tail = _output_tail(output)
    failure = ChildFailure(text + "\n  last output of the check:\n" + tail if tail else text)
    failure.duration_s = time.perf_counter() - start
    failure.timed_out, failure.location, failure.limit_s = timed_out, location, limit_s
    failure.output_tail = tail
    return failure


def wait_for(children: list[ChildRun], until: ChildRun | None = None, at_most_s: float | None = None) -> None:
    """Read every running child's pipe until ``until`` has finished (or, without it, any child).

    A child past its deadline is killed and finished as timed out, unless its result is
    already waiting in the pipe (it finished while the parent was busy elsewhere). With
    ``at_most_s``, it also returns once that long has passed, whether or not a child finished.
    """
    give_up = time.monotonic() + at_most_s if at_most_s is not None else float("inf")
    while True:
        running = [child for child in children if not child.finished]
        if (until.finished if until is not None else len(running) < len(children)) or not running:
            return
        now = time.monotonic()
        if now >= give_up:
            return
        wait = min(max(0.0, min(child.deadline for child in running) - now), 1.0, give_up - now)
        ready, _, _ = select.select(running, [], [], wait)
        for child in ready:
            child.read_available()
        now = time.monotonic()
        for child in running:
            if not child.finished and child not in ready and child.deadline <= now:
                child.expire()


def own_group(pid: int) -> None:
    """Put the child ``pid`` in a group of its own (it does so too: whichever runs first wins)."""
    try:
        os.setpgid(pid, pid)
    except OSError:  # it already did, or has already exited
        pass


def become_contained_child(parent: int, output, memory_limit: int | None, pin: bool) -> None:
    """Set up a process just forked from the suite's to run checks: its group, cap, output and threads."""
    lifetime.in_forked_child(parent)
    _RUNNING.clear()  # the parent's children are not this one's to kill
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


def _child_main(func, write_fd: int, output, pin: bool, memory_limit: int | None, parent: int,
                locate=None) -> None:
    code = 0
    answered = []  # set once the result (or the location) is being written: never both
    try:
        become_contained_child(parent, output, memory_limit, pin)
        if locate is not None:
            _answer_where(locate, write_fd, answered)
        value = func()
        answered.append(True)
        data = pickle.dumps(value)
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)
    except BaseException:  # noqa: BLE001 - the child reports everything and exits
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _answer_where(locate, write_fd: int, answered: list) -> None:
    """On ``LOCATE_SIGNAL``, send ``Located(locate(frame))`` down the result pipe and exit."""

    def answer(signum, frame):
        if answered:
            return  # the result is already on its way
        answered.append(True)
        try:
            value = locate(frame)
            data = pickle.dumps(Located(value))
        except BaseException:  # noqa: BLE001 - no answer then; the parent kills after its grace
            os._exit(1)
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view):]
        os._exit(0)

    signal.signal(LOCATE_SIGNAL, answer)


def kill_group(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass


def describe_exit(status: int) -> str:
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


class pinned_threads:
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
