"""Every process a run starts ends with the run, even when the suite's own process is killed.

Each process the suite forks (a check, a target probe, the fresh-process server and its forks)
learns that its parent died and ends: on Linux the kernel tells it (``prctl(PR_SET_PDEATHSIG)``),
elsewhere a watcher thread sees its parent change. What a check starts itself (an estimator's
own subprocesses) lives in the check's process group; the *run guard*, a small process forked
when the run starts, kills the groups of the checks still running once the suite's process is
gone, however it ended, SIGKILL included.

This module imports only the standard library: the fresh-process server uses it too.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_S = 0.5  # how often the fallback watcher and the guard look at their parent
WATCHER_THREAD_NAME = "conformance-parent-watch"  # the suite's prefix: never counted as the estimator's
CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_libc = None  # loaded once, in the parent, so forked children do not load it again
_guard: RunGuard | None = None


def prepare_fork() -> None:
    """Load what :func:`die_with_parent` needs before forking, so the child pays nothing for it."""
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        import ctypes

        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False


def die_with_parent(parent: int, signal_number: int = signal.SIGKILL) -> None:
    """Have this process receive ``signal_number`` when its parent ``parent`` ends.

    Call it first thing after a fork, with the pid the parent had before forking. On Linux the
    kernel sends the signal when the parent *thread* that forked ends, so fork from a thread
    that outlives the child (the suite forks from its main thread). Elsewhere a daemon thread
    polls the parent's pid. A parent already gone (this process re-parented before asking)
    gets the signal sent at once.
    """
    prepare_fork()
    if not (_libc and _libc.prctl(PR_SET_PDEATHSIG, int(signal_number), 0, 0, 0) == 0):
        _watch_parent(parent, signal_number)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal_number)


def _watch_parent(parent: int, signal_number: int) -> None:
    """The fallback of :func:`die_with_parent`: a thread that signals this process once ``parent`` is gone."""
    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal_number)

    threading.Thread(target=watch, name=WATCHER_THREAD_NAME, daemon=True).start()


def in_forked_child(parent: int, signal_number: int = signal.SIGKILL) -> None:
    """Make a process just forked from the suite's an ordinary child that dies with its parent.

    The suite's signal handlers (which cancel the run) and its guard's pipe stay with the suite.
    """
    die_with_parent(parent, signal_number)
    reset_signal_handlers()
    global _guard
    if _guard is not None:
        _guard.forget()
        _guard = None


def reset_signal_handlers() -> None:
    """Python's defaults for the signals that cancel a run: SIGINT raises KeyboardInterrupt, the others end the process."""
    for number in CANCEL_SIGNALS:
        signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)


# --- the run guard -----------------------------------------------------------------------------

def start_guard() -> RunGuard | None:
    """Start this process's run guard (once); None where fork is unavailable."""
    global _guard
    if _guard is None and hasattr(os, "fork"):
        _guard = RunGuard()
    return _guard


def stop_guard() -> None:
    """End the guard normally: it kills whatever group is still registered, then exits."""
    global _guard
    if _guard is not None:
        _guard.close()
        _guard = None


def guard_pid() -> int | None:
    return _guard.pid if _guard is not None else None


def watch_group(pgid: int) -> None:
    """Tell the guard that the process group ``pgid`` (a check) must end with the run."""
    if _guard is not None:
        _guard.send(b"+%d\n" % pgid)


def release_group(pgid: int) -> None:
    """Tell the guard that the group ``pgid`` has ended (the suite killed what was left of it)."""
    if _guard is not None:
        _guard.send(b"-%d\n" % pgid)


class RunGuard:
    """A process forked from the suite's that kills the registered check groups once the suite ends.

    It learns the groups through a pipe, and that the suite is gone when the pipe closes or
    its parent changes. It ignores the signals that cancel a run, so that a signal sent to a
    whole process group leaves it alive to clean up.
    """

    def __init__(self):
        read_fd, self._write_fd = os.pipe()
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:
            _guard_main(read_fd, self._write_fd, parent)  # never returns
        os.close(read_fd)

    def send(self, message: bytes) -> None:
        if self._write_fd is None:
            return
        try:
            os.write(self._write_fd, message)
        except OSError:  # the guard was killed: nothing more to tell it
            self.forget()

    def forget(self) -> None:
        """Drop this process's end of the pipe (in a forked child, or once the guard is gone)."""
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None

    def close(self) -> None:
        self.send(b"x\n")
        self.forget()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _guard_main(read_fd: int, write_fd: int, parent: int) -> None:
    try:
        os.close(write_fd)
        os.setpgid(0, 0)  # out of the suite's group: a signal to that group does not reach it
        for number in CANCEL_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        _detach_files(keep=read_fd)
        for pgid in _follow(read_fd, parent):
            _kill_group(pgid)
    finally:
        os._exit(0)


def _detach_files(keep: int) -> None:
    """Hold none of the suite's files: whoever reads its output sees the end when the suite ends."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


def _follow(read_fd: int, parent: int) -> set[int]:
    """The groups registered and not released when the suite ends (pipe closed, ``x``, or new parent)."""
    groups: set[int] = set()
    pending = b""
    while True:
        ready, _, _ = select.select([read_fd], [], [], PARENT_POLL_S)
        if not ready:
            if os.getppid() != parent:
                return groups
            continue
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            return groups
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if line == b"x":
                return groups
            (groups.add if line[:1] == b"+" else groups.discard)(int(line[1:]))


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- processes seen through /proc --------------------------------------------------------------

def proc_children(parent: int) -> dict[int, str]:
    """``{pid: command name}`` of ``parent``'s running children (not zombies), read from ``/proc``; {} without it."""
    children = {}
    if not os.path.isdir("/proc"):
        return children
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat_file:
                stat = stat_file.read().decode("utf-8", "replace")
        except OSError:  # it ended while we looked
            continue
        name, fields = stat[stat.find("(") + 1:stat.rfind(")")], stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == parent and fields[0] not in ("Z", "X"):
            children[int(entry)] = name
    return children
