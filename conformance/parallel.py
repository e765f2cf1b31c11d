"""Several checks at once in one process: ``--conformance-jobs N`` and ``check(..., jobs=N)``.

Every check already runs in its own forked child, so running N of them at a time needs no new
interpreters: the children fork from the suite's process, with torch and sklearn imported and
the shared fit done once. (pytest-xdist's ``-n N`` instead starts N workers, each importing
everything, collecting and fitting again.) Checks start in the order they will be asked for,
up to N at a time, and a result waits until its test asks for it, so the report reads in
order whatever finished first.
"""

from __future__ import annotations

import os

from conformance.processes import wait_for
from conformance.result import Result
from conformance.runner import run_case, start_case


def parse_jobs(text) -> int:
    """``--conformance-jobs``: a positive integer, or ``auto`` for the CPUs this process may use."""
    if str(text).strip().lower() == "auto":
        return available_cpus()
    try:
        jobs = int(text)
    except (TypeError, ValueError):
        jobs = 0
    if jobs < 1:
        from conformance.settings import InvalidSetting

        raise InvalidSetting("jobs", f"jobs must be a positive integer or 'auto', got {text!r}")
    return jobs


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class ParallelRunner:
    """Runs planned ``cases`` (see :mod:`conformance.plan`) ahead, ``jobs`` at a time."""

    def __init__(self, cases, jobs: int):
        self.jobs = max(1, int(jobs))
        self.queue = list(cases)
        self.known = {id(case) for case in self.queue}
        self.started: dict[int, object] = {}

    def result(self, case) -> Result:
        """``case``'s result, starting and waiting for checks as needed (others keep running)."""
        key = id(case)
        if key not in self.known:
            return run_case(case)  # not one of ours (asked again, or never planned): run it now
        while True:
            pending = self.started.get(key)
            if pending is not None and pending.done:
                self.known.discard(key)
                return self.started.pop(key).result()
            self._fill(case)
            running = [p.child for p in self.started.values() if not p.done]
            if running:
                wait_for(running)

    def _fill(self, wanted) -> None:
        while self.queue and self._running() < self.jobs:
            case = self.queue.pop(0)
            pending = self.started[id(case)] = start_case(case)
            if pending.done and id(wanted) in self.started:
                return  # checks run in-process (no fork) finish as they start: never run ahead

    def _running(self) -> int:
        return sum(1 for pending in self.started.values() if not pending.done)

    def close(self) -> None:
        """Kill the checks still running (the session ended early, say with ``-x``)."""
        for pending in self.started.values():
            if not pending.done:
                pending.child.kill(timed_out=False)
        self.started.clear()
        self.queue.clear()
        self.known.clear()
