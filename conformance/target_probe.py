"""Targets tried in a forked child first, so a hostile module or constructor costs a usage error, not the run.

Resolving a target runs the user's code: a module that sleeps at import would hang the suite,
one that segfaults would kill it, one that calls ``sys.exit`` would end it. So the suite first
resolves every target in a *probe*, a child forked from its process with a time limit
(``--conformance-target-timeout``), that imports the module, builds the estimators, reads their
traits and sends back one report row per estimator. Only when every probe succeeded does the
suite resolve the targets itself. A probe that failed says what happened and where: the
exception, the exit status, the signal, or the timeout with the stack it was stuck in
(faulthandler dumps it just before the limit).

The libraries the suite itself depends on (``SHARED_LIBRARIES``: numpy, scipy, scikit-learn,
torch) are trusted, and slow to import. A probe notes each module of theirs that the target's
code imports (``torch``, ``torch._dynamo``), and the suite's process imports it too while the
probe goes on. The target's own code still runs in the probe first; only the imports the
suite's process would pay anyway, once the probe is done, overlap the probe's. A target that
changes the environment or ``sys.path`` first has nothing imported for it after that change.
"""

from __future__ import annotations

import faulthandler
import importlib
import linecache
import os
import re
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

from conformance.errors import TargetError
from conformance.processes import ChildRun, wait_for

STAGE_MARK = "conformance-stage: "
IMPORT_MARK = "conformance-import: "
SHARED_LIBRARIES = ("numpy", "scipy", "sklearn", "torch")  # third-party, slow to import: the suite's process imports them alongside a probe
POLL_S = 0.05  # how often the suite looks in the probes' traces for a shared library being imported
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


def probe_targets(specs: list[str], timeout_s: float, meanwhile: Callable[[], None] | None = None) -> list[Probe]:
    """Resolve each spec in its own probe, one per CPU at a time; :class:`TargetProbeError` if one fails.

    ``meanwhile`` is the suite's own work that needs no target (importing its checks): it runs
    here while the first probes do, once the imports they asked for are under way.
    """
    from conformance.parallel import available_cpus
    from conformance.targets import with_unique_labels

    waiting, running, probes = list(enumerate(specs)), [], {}
    try:
        while waiting or running:
            while waiting and len(running) < available_cpus():
                running.append(_ProbeRun(*waiting.pop(0), timeout_s))
            wait_for([run.child for run in running], at_most_s=POLL_S)
            for run in [run for run in running if run.child.finished]:
                running.remove(run)
                probes[run.index] = run.verdict()
            _import_alongside(running)
            if meanwhile is not None and running:
                meanwhile, work = None, meanwhile
                work()
    finally:
        for run in running:  # interrupted (the run cancelled): none outlives this call
            run.child.kill(timed_out=False)
    ordered = [probes[index] for index in sorted(probes)]
    with_unique_labels([row for probe in ordered for row in probe.estimators])
    if any(probe.error for probe in ordered):
        raise TargetProbeError(ordered)
    return ordered


def _import_alongside(runs: list[_ProbeRun]) -> None:
    """Import here each module of a shared library a running probe has begun to import (the target asked for it)."""
    for name in dict.fromkeys(name for run in runs for name in run.shared_imports()):
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the probe reports what the import does to the target
                pass


class _NoteSharedImports:
    """A finder, first on ``sys.meta_path`` in a probe, that notes each module of a shared library the target imports.

    Only the imports the target's code makes are noted (``torch``, ``torch._dynamo``), not those
    the library makes of itself: importing the noted ones imports the rest, in the library's order.
    Once the target has changed the environment or ``sys.path`` (``OMP_NUM_THREADS`` set before
    ``import torch``, a vendored copy put first), nothing more is noted: an import in the suite's
    process would not see that change, so there the target's own import must come first.
    """

    def __init__(self, trace):
        self.trace, self.noted, self.stopped = trace, set(), False
        self.environment, self.path = dict(os.environ), list(sys.path)

    def find_spec(self, name, path=None, target=None):
        if self.stopped or not _shared(name) or name in self.noted or _shared(_importing_module()):
            return None
        if dict(os.environ) != self.environment or list(sys.path) != self.path:
            self.stopped = True
            return None
        self.noted.add(name)
        self.trace.write(f"{IMPORT_MARK}{name}\n")
        return None  # the real finders import it


def _shared(module: str) -> bool:
    return module.partition(".")[0] in SHARED_LIBRARIES


def _importing_module() -> str:
    """The name of the module whose code runs the import under way (past the import machinery's frames)."""
    frame = sys._getframe(2)
    while frame is not None and _import_machinery(frame.f_code.co_filename):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


class _ProbeRun:
    """One spec's probe while it runs: the child, and the file where it notes its stages and stack."""

    def __init__(self, index: int, spec: str, timeout_s: float):
        self.index, self.spec, self.timeout_s = index, spec, timeout_s
        self.trace = tempfile.TemporaryFile()
        self.child = ChildRun(partial(_probe, spec, self.trace.fileno(), timeout_s), timeout_s + GRACE_S, pin=False)

    def shared_imports(self) -> list[str]:
        """The shared libraries the probe has noted so far (read without moving the file's offset)."""
        noted = os.pread(self.trace.fileno(), 1 << 16, 0).decode("utf-8", "replace")
        return [line[len(IMPORT_MARK):] for line in noted.splitlines() if line.startswith(IMPORT_MARK)]

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
    sys.meta_path.insert(0, _NoteSharedImports(trace))
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
        if found is None or _import_machinery(found["path"]):
            continue
        if _in_package(found["path"]):
            break  # the probe's own frames, and pytest's below them
        frames.append(_describe_frame(found["path"], int(found["line"]), found["function"].strip()))
    return frames


def _import_machinery(path: str) -> bool:
    """Whether code at ``path`` is Python's import system (frozen or in importlib), never the target's."""
    return path.startswith("<frozen") or path.startswith(_IMPORTLIB)


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
