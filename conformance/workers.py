"""Long-lived workers: checks run one after another in a few forked processes, not one fork each.

``--conformance-isolation worker`` (the default on Linux). A :class:`Worker` is forked from the
suite's warm process (torch warmed up, one thread, the plan made) and runs check after check.
Between two checks it puts back the process-wide state and the global RNGs
(:class:`~conformance.globalstate.GlobalState`); a worker that cannot be put back (a thread or a
process the check left running, a setting that resists, torch's thread count changed) retires
after sending its result, and the next check gets a fresh one.

Containment is the fork-per-check runner's: a check that crashes or exits its worker, runs past
its time limit or out of memory gets that verdict (:mod:`conformance.processes` writes it), the
worker is killed with its process group, and a fresh one is forked from the suite's process for
the next check. Workers die with the suite (:mod:`conformance.lifetime`), are killed with the
running children when a run is cancelled, and are stopped when their run ends.

Only checks that the suite's ordinary child would run pinned to one thread, under the memory
cap, go to workers: the thread-count checks, the CUDA checks and those that start fresh
interpreters keep a fork of their own (:func:`suits_a_worker`).

A worker knows the cases by the key they were registered under before it was forked
(:meth:`WorkerPool.register`): a task names its case and carries what the suite's process has
learned since (the shared fit, the hangs), never the estimator itself.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import tempfile
import time

from conformance import lifetime, processes
from conformance.processes import (LOCATE_GRACE_S, LOCATE_SIGNAL, ChildFailure, Located, child_failure,
                                   describe_exit, kill_group, own_group, timeout_text)

_HEADER = struct.Struct("!Q")
_POOL: "WorkerPool | None" = None
_CASES: dict[int, object] = {}  # key -> case, as registered before a worker forks (it inherits this)


def active_pool() -> "WorkerPool | None":
    """The pool of the run in progress, or None (then checks fork one child each)."""
    return _POOL


def open_pool(cases) -> "WorkerPool":
    """Open the run's pool (closing any previous one) with its planned ``cases`` registered."""
    global _POOL
    if _POOL is not None:
        _POOL.close()
    _POOL = WorkerPool()
    for case in cases:
        _POOL.register(case)
    return _POOL


def close_pool() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL = None


def suits_a_worker(case, memory_limit: int | None) -> bool:
    """Whether ``case`` can share a worker: pinned to one thread, capped, no interpreter of its own."""
    entry = case.entry
    return (case.settings.uses_workers and not (entry.threads or entry.device or entry.fresh_process)
            and memory_limit == case.settings.memory_limit_bytes)


class WorkerPool:
    """The workers of one run: idle ones waiting for a task, busy ones running one."""

    def __init__(self):
        self.keys: dict[int, int] = {}  # id(case) -> key
        self.idle: list[Worker] = []
        self.busy: set = set()

    def register(self, case) -> int:
        key = self.keys.get(id(case))
        if key is None:
            key = self.keys[id(case)] = len(_CASES) + 1
            _CASES[key] = case
        return key

    def start(self, case, history, fit_cache, timeout_s: float, timeout_note: str) -> "WorkerTask":
        """Send ``case`` to an idle worker that knows it (forking one if none does); return the running task."""
        key = self.register(case)
        memory = case.settings.memory_limit_bytes
        worker = self._idle_worker(key, memory)
        task = WorkerTask(self, worker, timeout_s, timeout_note)
        try:
            worker.send((key, history, fit_cache))
        except OSError:  # it died while idle (killed from outside): the task fails as a crash would
            task.worker_died()
            return task
        self.busy.add(worker)
        return task

    def _idle_worker(self, key: int, memory: int | None) -> "Worker":
        for worker in list(self.idle):
            self.idle.remove(worker)
            if worker.knows(key) and worker.memory_limit == memory:
                return worker
            worker.stop()  # forked before this case was planned, or capped differently
        return Worker(memory)

    def finished(self, worker: "Worker", reusable: bool) -> None:
        self.busy.discard(worker)
        if reusable:
            self.idle.append(worker)
        else:
            worker.stop()

    def close(self) -> None:
        """Stop every worker, idle or busy (a busy one's check is abandoned)."""
        for worker in [*self.idle, *self.busy]:
            worker.stop()
        self.idle.clear()
        self.busy.clear()


class Worker:
    """One long-lived forked child running the checks it is sent, one at a time."""

    def __init__(self, memory_limit: int | None):
        self.memory_limit = memory_limit
        self.known = len(_CASES)  # keys up to this one were registered before the fork
        self.output = tempfile.TemporaryFile()
        task_read, self.task_fd = os.pipe()
        self.result_fd, result_write = os.pipe()
        parent = os.getpid()
        lifetime.prepare_fork()
        self.pid = os.fork()
        if self.pid == 0:  # the worker: never returns
            os.close(self.task_fd)
            os.close(self.result_fd)
            _worker_main(task_read, result_write, self.output, memory_limit, parent)
        os.close(task_read)
        os.close(result_write)
        own_group(self.pid)
        processes._RUNNING[self.pid] = self  # a cancelled run kills it with the running children
        lifetime.watch_group(self.pid)
        self.stopped = False
        self.status: int | None = None

    def knows(self, key: int) -> bool:
        return key <= self.known

    def send(self, message) -> None:
        _write_message(self.task_fd, message)

    def stop(self, keep_output: bool = False) -> int | None:
        """Kill the worker with its process group and reap it; its exit status.

        ``keep_output`` leaves its output file open, for the failure's last output.
        """
        if self.stopped:
            return self.status
        self.stopped = True
        kill_group(self.pid)
        for fd in (self.task_fd, self.result_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            _, self.status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            self.status = 0
        processes._RUNNING.pop(self.pid, None)
        lifetime.release_group(self.pid)
        if not keep_output:
            self.output.close()
        return self.status


class WorkerTask:
    """One check running in a worker; looks to :func:`~conformance.processes.wait_for` like a ChildRun."""

    def __init__(self, pool: WorkerPool, worker: Worker, timeout_s: float, timeout_note: str):
        self.pool, self.worker = pool, worker
        self.timeout_s, self.timeout_note = timeout_s, timeout_note
        self.start = time.perf_counter()
        self.deadline = time.monotonic() + timeout_s
        self.asked_where = False
        self.buffer = b""
        self.finished = False
        self.timed_out = False
        self.outcome = None

    def fileno(self) -> int:
        return self.worker.result_fd

    def read_available(self) -> None:
        chunk = os.read(self.worker.result_fd, 1 << 20)
        if not chunk:
            self.worker_died()
            return
        self.buffer += chunk
        message = _complete_message(self.buffer)
        if message is None:
            return
        try:
            value = pickle.loads(message)
        except Exception as exc:  # noqa: BLE001 - reported as the check's result
            self._end(ChildFailure(f"the check's result could not be read back: {exc!r}"), reusable=False)
            return
        if isinstance(value, Located):
            self._timed_out(value.value)
            return
        result, reusable = value
        self._end(result, reusable)

    def expire(self) -> None:
        """Past the deadline: ask the worker where it is (once, with a grace period), then kill it."""
        if not self.asked_where:
            self.asked_where = True
            self.deadline = time.monotonic() + LOCATE_GRACE_S
            try:
                os.kill(self.worker.pid, LOCATE_SIGNAL)
                return
            except ProcessLookupError:
                pass
        self._timed_out(None)

    def kill(self, timed_out: bool = True) -> None:
        if timed_out:
            self._timed_out(None)
        else:
            self.worker.stop()
            self._end(ChildFailure("the check was stopped before it finished"), reusable=False)

    def worker_died(self) -> None:
        """The worker ended without a result: its exit is the verdict (a timeout if it was asked where it was)."""
        if self.asked_where:
            self._timed_out(None)
            return
        output, start = self.worker.output, self.start
        status = self.worker.stop(keep_output=True)
        self._end(child_failure(describe_exit(status), output, start), reusable=False, output=output)

    def _timed_out(self, location) -> None:
        self.timed_out = True
        output = self.worker.output
        self.worker.stop(keep_output=True)
        failure = child_failure(timeout_text(self.timeout_s, self.timeout_note), output, self.start, True,
                                location, self.timeout_s)
        self._end(failure, reusable=False, output=output)

    def _end(self, outcome, reusable: bool, output=None) -> None:
        self.finished = True
        self.outcome = outcome
        if output is not None:
            output.close()
        self.pool.finished(self.worker, reusable and not self.worker.stopped)


# --- the worker's side -----------------------------------------------------------------------------

def _worker_main(task_fd: int, result_fd: int, output, memory_limit: int | None, parent: int) -> None:
    code = 0
    try:
        processes.become_contained_child(parent, output, memory_limit, pin=True)
        _serve(task_fd, result_fd, output)
    except BaseException:  # noqa: BLE001 - the worker reports everything and exits
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _serve(task_fd: int, result_fd: int, output) -> None:
    from conformance.globalstate import GlobalState, child_processes, running_threads
    from conformance.hangs import locate_call
    from conformance.runner import judge_refusing_known_hangs

    running = {"locate": None}  # the current task's locate, while its check runs
    signal.signal(LOCATE_SIGNAL, lambda number, frame: _answer_where(running, frame, result_fd))
    clean = GlobalState.capture()
    while True:
        message = _read_message(task_fd)
        if message is None:
            return  # the suite closed the pipe: the run is over
        key, history, fit_cache = pickle.loads(message)
        case = _CASES[key]
        target = case.target
        target.history = history
        target.fit_cache.update(fit_cache)
        _truncate(output)
        running["locate"] = locate_call(type(target.estimator))
        result = judge_refusing_known_hangs(target, case.entry, case.settings)
        running["locate"] = None
        reusable = _put_back(clean, running_threads, child_processes)
        _write_message(result_fd, (result, reusable))
        if not reusable:
            return


def _put_back(clean, running_threads, child_processes) -> bool:
    """Restore the state captured when the worker started; whether the worker is fit for another check."""
    torch = __import__("sys").modules.get("torch")
    threads_changed = torch is not None and torch.get_num_threads() != 1
    resisting = clean.restore()
    left = (running_threads() - clean.threads) or set(child_processes()) - set(clean.children)
    return not (threads_changed or resisting or left)


def _answer_where(running: dict, frame, result_fd: int) -> None:
    locate = running["locate"]
    if locate is None:
        return  # between checks: the result is already on its way
    running["locate"] = None
    try:
        value = locate(frame)
        _write_message(result_fd, Located(value))
    finally:
        os._exit(0)


def _truncate(output) -> None:
    """Empty the worker's output file, so a failure shows what this check printed."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a stream the last check replaced or closed
            pass
    os.ftruncate(1, 0)
    os.lseek(1, 0, os.SEEK_SET)


def _write_message(fd: int, value) -> None:
    data = pickle.dumps(value)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_message(fd: int) -> bytes | None:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    return _read_exactly(fd, _HEADER.unpack(header)[0])


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _complete_message(buffer: bytes) -> bytes | None:
    if len(buffer) < _HEADER.size:
        return None
    size = _HEADER.unpack(buffer[:_HEADER.size])[0]
    end = _HEADER.size + size
    return buffer[_HEADER.size:end] if len(buffer) >= end else None
