"""What containment costs a run: the target probe at start-up, and the report rewritten after every result.

- ``probe``: resolving targets as the suite does (a probe in a forked child first, then in the
  suite's process) against resolving them directly, each in a fresh interpreter, interleaved
  rounds; the extra seconds are what the probe adds to a run's start-up.
- ``live report``: a 300-check report rewritten after every result, as the suite does
  (:class:`conformance.live_report.LiveReportFile`), against re-encoding the whole report each
  time, with the rows of a real run (the quick profile on a defective estimator, replicated to
  300). Printed as the total time spent writing, and as a share of that run's wall time scaled to
  300 checks.

    python benchmarks/bench_containment.py               # 5 rounds of each probe mode (about 2 min)
    python benchmarks/bench_containment.py --runs 1      # smoke test
    python benchmarks/bench_containment.py --only live   # the report rewrites alone (about 1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("sklearn.linear_model:Ridge", "tests.estimators.base:TinyTorchClassifier",
           "reference_estimators:default_estimators")
REPORT_RUN_TARGET = "tests.estimators.naive:NaiveTorchClassifier"
N_RESULTS = 300

RESOLVE = "from conformance.targets import resolve_all; resolve_all([{spec!r}])"
PROBE_THEN_RESOLVE = ("from conformance.target_probe import probe_targets; from conformance.targets import resolve_all; "
                      "probe_targets([{spec!r}], 60.0); resolve_all([{spec!r}])")


def timed_python(code: str) -> float:
    begun = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - begun


def bench_probe(runs: int) -> None:
    print(f"start-up: resolving one target, median of {runs} interleaved runs (fresh interpreters)")
    print(f"{'target':<45} {'direct s':>9} {'probe+direct s':>15} {'extra s':>8} {'ratio':>6}")
    for spec in TARGETS:
        direct, probed = [], []
        for _ in range(runs):
            direct.append(timed_python(RESOLVE.format(spec=spec)))
            probed.append(timed_python(PROBE_THEN_RESOLVE.format(spec=spec)))
        d, p = statistics.median(direct), statistics.median(probed)
        print(f"{spec:<45} {d:>9.2f} {p:>15.2f} {p - d:>8.2f} {p / d:>6.2f}")


def real_run_report(folder: Path) -> tuple[dict, float]:
    """The report of a quick run on a defective estimator (realistic messages), and its wall time."""
    path = folder / "run.json"
    begun = time.perf_counter()
    subprocess.run([sys.executable, "-m", "conformance", REPORT_RUN_TARGET, "--conformance-profile", "quick",
                    "-q", "-p", "no:cacheprovider", "--conformance-report", str(path)], cwd=ROOT,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(path.read_text()), time.perf_counter() - begun


def bench_live_report() -> None:
    from conformance.live_report import LiveReportFile
    from conformance.report import EstimatorReport, Report, versions
    from conformance.result import Result

    versions()  # imports scikit-learn once, outside the timings

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        document, wall_s = real_run_report(folder)
        (row,) = document["estimators"]
        rows = [Result.from_dict(r) for r in row["results"]]
        per_check_s = wall_s / len(rows)

        def write_all(rewrite) -> tuple[float, float]:
            report = Report(state="running")
            estimator = EstimatorReport(row["label"], row["target"], row["params"], kind=row["kind"])
            report.estimators.append(estimator)
            total = last = 0.0
            for i in range(N_RESULTS):
                estimator.results.append(Result.from_dict(rows[i % len(rows)].to_dict()))
                begun = time.perf_counter()
                rewrite(report)
                last = time.perf_counter() - begun
                total += last
            return total, last

        def naive(report):
            with open(folder / "naive.json", "w", encoding="utf-8") as handle:
                json.dump(report.to_dict(), handle, indent=2, default=repr)

        live = LiveReportFile(folder / "live.json", max_share=1.0)  # every result written: the worst case
        live_totals, naive_totals = [], []
        for _ in range(3):  # interleaved: the load of a shared machine hits both alike
            live_total, live_last = write_all(live.update)
            naive_total, naive_last = write_all(naive)
            live_totals.append(live_total)
            naive_totals.append(naive_total)
        live_total, naive_total = statistics.median(live_totals), statistics.median(naive_totals)
        size_kb = (folder / "live.json").stat().st_size / 1024
    run_s = per_check_s * N_RESULTS
    print(f"\nlive report: {N_RESULTS} results ({size_kb:.0f} KB at the end), one rewrite per result; rows from a "
          f"quick run of {REPORT_RUN_TARGET} ({len(rows)} checks in {wall_s:.1f} s)")
    print(f"{'writer (median of 3)':<40} {'total s':>8} {'last write ms':>14} {'share of a 300-check run':>25}")
    for name, total, last in (("LiveReportFile (atomic, cached rows)", live_total, live_last),
                              ("json.dump of the whole report", naive_total, naive_last)):
        print(f"{name:<40} {total:>8.3f} {last * 1000:>14.2f} {total / run_s:>24.2%}")
    print(f"ratio live / naive: {live_total / naive_total:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of each probe mode (default 5)")
    parser.add_argument("--only", choices=("probe", "live"), help="run one of the two benchmarks")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.only != "live":
        bench_probe(args.runs)
    if args.only != "probe":
        bench_live_report()


if __name__ == "__main__":
    main()
