"""Targets tried in a forked child first, so a hostile module or constructor costs a usage error, not the run.

Resolving a target runs the user's code: a module that sleeps at import would hang the suite,
one that segfaults would kill it, one that calls ``sys.exit`` would end it. So the suite first
resolves every target in a *probe*, a child forked from its process with a time limit
(``--conformance-target-timeout``), that imports the module, builds the estimators, reads their
traits and sends back one report row per estimator. Only when every probe succeeded does the
suite resolve the targets itself. A probe that failed says what happened and where: the
exception, the exit status, the signal, or the timeout with the stack it was stuck in
(faulthandler dumps it just before the limit).
"""

from __future__ import annotations

import faulthandler
import importlib
import linecache
import os
import re
import signal
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from conformance.errors import TargetError
from conformance.processes import ChildRun, wait_for

STAGE_MARK = "conformance-stage: "
GRACE_S = 2.0  # past the limit, for faulthandler to dump the stack and exit before the probe is killed
SHOWN_FRAMES = 3
_FRAME = re.compile(r'^\s*File "(?P<path>.+)", line (?P<line>\d+) in (?P<function>.+)$')
_PACKAGE = Path(__file__).resolve().parent
_IMPORTLIB = os.path.dirname(importlib.__file__) + os.sep  # the import machinery: never where the user's code is


@dataclass
class Probe:
    """What one target's probe found: its estimators as report rows, or the error that stopped it."""

    spec: str
    estimators: list = field(default_factory=list)  # EstimatorReport rows, without results
    error: str | None = None
    stack: list[str] = field(default_factory=list)  # where it was stuck or crashed, innermost first


class TargetProbeError(TargetError):
    """At least one probe failed; ``probes`` holds every probe, the successful ones included."""

    def __init__(self, probes: list[Probe]):
        self.probes = probes
        super().__init__("\n".join(p.error for p in probes if p.error))

    @property
    def failed(self) -> list[Probe]:
        return [p for p in self.probes if p.error]

    @property
    def resolved(self) -> list:
        return [row for p in self.probes if not p.error for row in p.estimators]


def probe_targets(specs: list[str], timeout_s: float) -> list[Probe]:
    """Resolve each spec in its own probe, one per CPU at a time; :class:`TargetProbeError` if one fails."""
    from conformance.parallel import available_cpus
    from conformance.targets import with_unique_labels

    preload()
    waiting, running, probes = list(enumerate(specs)), [], {}
    try:
        while waiting or running:
            while waiting and len(running) < available_cpus():
                running.append(_ProbeRun(*waiting.pop(0), timeout_s))
            wait_for([run.child for run in running])
            for run in [run for run in running if run.child.finished]:
                running.remove(run)
                probes[run.index] = run.verdict()
    finally:
        for run in running:  # interrupted (the run cancelled): none outlives this call
            run.child.kill(timed_out=False)
    ordered = [probes[index] for index in sorted(probes)]
    with_unique_labels([row for probe in ordered for row in probe.estimators])
    if any(probe.error for probe in ordered):
        raise TargetProbeError(ordered)
    return ordered


def preload() -> None:
    """Import, before forking, the libraries every run needs, so each probe does not import them again."""
    for name in ("numpy", "sklearn.base"):
        try:
            __import__(name)
        except ImportError:
            pass


class _ProbeRun:
    """One spec's probe while it runs: the child, and the file where it notes its stages and stack."""

    def __init__(self, index: int, spec: str, timeout_s: float):
        self.index, self.spec, self.timeout_s = index, spec, timeout_s
        self.trace = tempfile.TemporaryFile()
        self.child = ChildRun(partial(_probe, spec, self.trace.fileno(), timeout_s), timeout_s + GRACE_S, pin=False)

    def verdict(self) -> Probe:
        with self.trace:
            self.trace.seek(0)
            trace = self.trace.read().decode("utf-8", "replace")
        return _verdict(self.spec, self.child, trace, self.timeout_s)


def _probe(spec: str, trace_fd: int, timeout_s: float) -> dict:
    """In the probe: resolve ``spec``; note each stage and, at the limit, the stack, in the trace file."""
    from conformance.report import EstimatorReport
    from conformance.targets import resolve_all

    trace = open(trace_fd, "w", buffering=1, closefd=False)
    faulthandler.enable(file=trace)
    faulthandler.dump_traceback_later(timeout_s, exit=True, file=trace)
    stages = []

    def stage(text: str) -> None:
        stages.append(text)
        trace.write(f"{STAGE_MARK}{text}\n")

    try:
        return {"estimators": [EstimatorReport.of(target) for target in resolve_all([spec], stage)]}
    except TargetError as exc:
        return {"error": str(exc)}
    except KeyboardInterrupt:
        return {"error": f"target {spec!r}: {stages[-1] if stages else 'resolving it'} raised KeyboardInterrupt"}
    finally:
        faulthandler.cancel_dump_traceback_later()


def _verdict(spec: str, child: ChildRun, trace: str, timeout_s: float) -> Probe:
    """The :class:`Probe` of a finished child: its rows or its error, or what ended it and where."""
    outcome = child.outcome
    if isinstance(outcome, dict):
        return Probe(spec, outcome.get("estimators", []), outcome.get("error"))
    stages = [line[len(STAGE_MARK):] for line in trace.splitlines() if line.startswith(STAGE_MARK)]
    doing = stages[-1] if stages else "resolving it"
    stack = stuck_frames(trace)
    where = f" at {_show_frames(stack)}" if stack else ""
    status = child.status or 0
    if child.timed_out or "Timeout (" in trace:
        what = (f"{doing} did not finish within {timeout_s:g} s (--conformance-target-timeout); "
                f"it was{where or ' stuck where no stack could be taken'}")
    elif os.WIFSIGNALED(status):
        what = f"{doing} crashed the process with {_signal_name(os.WTERMSIG(status))}{where}"
    else:
        what = f"{doing} ended the process with exit status {os.WEXITSTATUS(status)}{where}"
    last = [line.strip() for line in child.output_tail.splitlines() if line.strip()]
    if last and not child.timed_out:
        what += f"; its last output: {last[-1]}"
    return Probe(spec, error=f"target {spec!r}: {what}", stack=stack)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def stuck_frames(trace: str) -> list[str]:
    """The frames of the user's code in a faulthandler dump, innermost first, as ``path:line in function: source``.

    Of the threads dumped, the one that ran the probe; the import machinery's frames and the
    suite's own are left out.
    """
    blocks = re.split(r"^(?:Current thread|Thread) 0x[0-9a-f]+.*$", trace, flags=re.MULTILINE)[1:]
    ours = [block for block in blocks if _in_package(block)] or blocks
    frames = []
    for line in (ours[0] if ours else "").splitlines():
        found = _FRAME.match(line)
        if found is None or found["path"].startswith("<frozen") or found["path"].startswith(_IMPORTLIB):
            continue
        if _in_package(found["path"]):
            break  # the probe's own frames, and pytest's below them
        frames.append(_describe_frame(found["path"], int(found["line"]), found["function"].strip()))
    return frames


def _in_package(text: str) -> bool:
    return str(_PACKAGE) + os.sep in text


def _describe_frame(path: str, line: int, function: str) -> str:
    source = linecache.getline(path, line).strip()
    try:
        shown = os.path.relpath(path)
        shown = path if shown.startswith("..") else shown
    except ValueError:
        shown = path
    return f"{shown}:{line} in {function}" + (f": {source}" if source else "")


def _show_frames(frames: list[str]) -> str:
    shown = frames[0]
    if len(frames) > 1:
        shown += " (called from " + ", ".join(f.split(": ", 1)[0] for f in frames[1:SHOWN_FRAMES]) + ")"
    return shown
