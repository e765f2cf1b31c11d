"""Cancelling a run: SIGTERM, SIGINT or SIGHUP stop every process of the run, and what finished is kept.

While the suite runs, its process (and each pytest-xdist worker's) handles the three signals.
The first one kills every check still running, with its group. In the suite's own process it
also kills the process's other children (xdist workers, the fresh-process server, whose forks
follow it), then interrupts pytest as Ctrl-C does, so that pytest ends the session normally:
the JSON report (the unfinished checks marked cancelled), JUnit and the job summary are
written, and the run exits 128 + the signal's number (143 for SIGTERM, 130 for SIGINT, 129 for
SIGHUP). A worker exits at once after killing its checks: the suite's process reports for it.
A second signal exits at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from conformance import fresh, lifetime
from conformance.lifetime import CANCEL_SIGNALS
from conformance.processes import kill_running


class RunCancelled(KeyboardInterrupt):
    """Raised in the suite's process by the first cancelling signal: pytest ends the session as for Ctrl-C."""


class Cancellation:
    """This process's handlers for the signals that cancel a run, and which signal came (if one did).

    ``finishing`` is set once the session is being written up: a signal then stops the
    processes but no longer interrupts, so the report being written is not cut short.
    """

    def __init__(self, main_process: bool):
        self.main_process = main_process
        self.signal_number: int | None = None
        self.finishing = False
        self.started = time.monotonic()
        self.cancelled_after_s: float | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> "Cancellation":
        """Handle the signals from now on (only the main thread may: elsewhere this does nothing)."""
        if threading.current_thread() is threading.main_thread():
            for number in CANCEL_SIGNALS:
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def uninstall(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    @property
    def cancelled(self) -> bool:
        return self.signal_number is not None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal_number).name if self.cancelled else ""

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by the signal: 128 + its number."""
        return 128 + (self.signal_number or 0)

    def _on_signal(self, number, frame) -> None:
        again = self.cancelled
        if not again:
            self.signal_number = number
            self.cancelled_after_s = time.monotonic() - self.started
        stop_processes(self.main_process)
        if again or not self.main_process:
            os._exit(128 + number)
        if not self.finishing:
            raise RunCancelled(f"the run was cancelled by {self.signal_name}")


def stop_processes(main_process: bool) -> None:
    """Kill the running checks with their groups; in the suite's own process, every other child too.

    The guard is spared: it ends on its own once this process has, and kills what is left.
    """
    kill_running()
    if not main_process:
        return
    spared = lifetime.guard_pid()
    for pid in lifetime.proc_children(os.getpid()):
        if pid != spared:
            kill_group_member(pid)
    server = fresh.server_pid()
    if server is not None:  # where /proc cannot list children
        kill_group_member(server)


def kill_group_member(pid: int) -> None:
    """SIGKILL ``pid`` alone (it may share this process's group: the group is not killed)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
