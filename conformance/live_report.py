"""The JSON report kept current on disk while the run goes, so a run killed outright loses nothing.

The report file (``--conformance-report``) is written when the run starts and rewritten after
every result, each time atomically (a temporary file, then ``os.replace``): whenever the
suite's process dies, SIGKILL included, the file is a complete report of what had finished,
with ``"state": "running"``. The last write, when the session ends, says how it ended.

A rewrite re-encodes nothing already written (:meth:`conformance.report.Report.json_text`), so
it costs about the time to write the file: ``benchmarks/bench_live_report.py`` measures a
300-check run. Should rewrites ever add up to more than ``FREE_S`` plus ``MAX_SHARE`` of the run's
time (huge reports), they are spaced out to keep within it; the final write always happens. The
free allowance is for the start of a run, when results come fastest (sklearn's checks of a small
estimator, a few milliseconds each) and a share of the little time elapsed would defer them.
"""

from __future__ import annotations

import time
from pathlib import Path

from conformance.report import Report

MAX_SHARE = 0.01  # of the time since the run started, at most this much is spent rewriting the report
FREE_S = 1.0  # ... besides this much, whatever the run's length


class LiveReportFile:
    """Where the report goes, and the bookkeeping that keeps its rewrites cheap."""

    def __init__(self, path: Path, max_share: float = MAX_SHARE, free_s: float = FREE_S):
        self.path = Path(path)
        self.max_share, self.free_s = max_share, free_s
        self.started = time.monotonic()
        self.spent_s = 0.0
        self.writes = 0

    def update(self, report: Report) -> None:
        """Rewrite the file with ``report`` (state ``running``), unless rewrites are over their share."""
        if self.spent_s <= self.free_s + self.max_share * (time.monotonic() - self.started):
            self._write(report)

    def finish(self, report: Report) -> None:
        """The last write, with the report's final state."""
        self._write(report)

    def _write(self, report: Report) -> None:
        begun = time.perf_counter()
        report.write_json(self.path)
        self.spent_s += time.perf_counter() - begun
        self.writes += 1
