"""Time the conformance suite against its anchor, sklearn's ``check_estimator``, in one run.

Every measurement is a whole process, as a user or CI meets it (interpreter start, imports,
collection, pytest-xdist start-up included):

- ``suite defaults``: ``python -m conformance TARGET`` (standard profile: the defaults, then the
  configurations the suite derives, each running the profile's subset of checks; on Linux
  long-lived workers and ``--conformance-jobs auto``);
- ``suite serial``: the same one check at a time (``--conformance-jobs 1``);
- ``suite defaults, defaults only`` and ``suite serial, defaults only``: the same with
  ``--conformance-variants 0``, so side by side they are what the configurations cost;
- ``suite fork-each --conformance-jobs 2``: a fork per check, two at a time (the former design);
- ``suite -n 2``: pytest-xdist's ``-n 2``;
- ``suite quick defaults``, ``suite quick serial``, ``suite quick fork-each --conformance-jobs 2``,
  ``suite quick -n 2``: the same with ``--conformance-profile quick`` (which checks the defaults only);
- ``check_estimator``: ``sklearn.utils.estimator_checks.check_estimator(TARGET())`` alone, with
  torch's default thread count and with ``torch.set_num_threads(1)``.

The modes run interleaved (one of each per round, ``--runs`` rounds), so a change in the load
of the machine hits every mode alike. It prints the median wall time of each mode, the median
CPU time of the process tree (user + system, steadier than wall time on a shared machine), and
the ratios of the suite's modes to ``check_estimator``. The targets (issue 14): the standard profile with the defaults no more than 1.5 times
``check_estimator`` (1 thread), quick no more than 1.0 times.

    python benchmarks/bench_suite.py                  # 3 rounds (several minutes)
    python benchmarks/bench_suite.py --runs 1         # smoke test: one round
    python benchmarks/bench_suite.py --runs 5 --target tests.estimators.base:TinyTorchClassifier
    python benchmarks/bench_suite.py --profile-report # also: where the suite's time goes

``--profile-report`` adds, from the JSON report of the last ``suite serial`` run, the slowest
checks by ``duration_s``, their share of the time inside checks, and the time per category.

``--hang`` times instead a hanging estimator against its correct twin, each a whole run with the
default time limits: ``tests.estimators.hanging:HangsOnLargeInput`` (a Ridge whose fit never
returns on 150 rows or more) against ``sklearn.linear_model:Ridge``. The issue's target: the
hanging one's report within the twin's time plus two default timeouts (600 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGET = "reference_estimators:TorchClassifier"
FALLBACK_TARGET = "tests.estimators.base:TinyTorchClassifier"

CHECK_ESTIMATOR = """
import importlib, sys
module, _, attr = sys.argv[1].partition(":")
threads = sys.argv[2]
import torch
if threads != "default":
    torch.set_num_threads(int(threads))
from sklearn.utils.estimator_checks import check_estimator
value = getattr(importlib.import_module(module), attr)
estimator = value() if isinstance(value, type) or not hasattr(value, "fit") else value
check_estimator(estimator, on_fail=None)  # every check runs, as the suite runs every check
"""


def resolve_target(requested: str | None) -> tuple[str, str]:
    """The target to time, and a note when the default had to fall back."""
    if requested:
        return requested, ""
    probe = subprocess.run([sys.executable, "-c", "import reference_estimators as r; r.TorchClassifier"],
                           cwd=ROOT, env=environment(), capture_output=True)
    if probe.returncode == 0:
        return DEFAULT_TARGET, ""
    return FALLBACK_TARGET, f"{DEFAULT_TARGET} is not importable; timed {FALLBACK_TARGET} instead"


def environment() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


HANG_TARGET = "tests.estimators.hanging:HangsOnLargeInput"
HANG_TWIN = "sklearn.linear_model:Ridge"
FORK_EACH = ["--conformance-isolation", "fork-each", "--conformance-jobs", "2"]


def modes(target: str, report_dir: str) -> dict[str, list[str]]:
    suite = [sys.executable, "-m", "conformance", target, "-q", "-p", "no:cacheprovider"]
    check = [sys.executable, "-c", CHECK_ESTIMATOR, target]
    quick = suite + ["--conformance-profile", "quick"]
    return {
        "suite defaults": suite,
        "suite serial": suite + ["--conformance-jobs", "1", "--conformance-report",
                                 os.path.join(report_dir, "serial.json")],
        "suite fork-each --conformance-jobs 2": suite + FORK_EACH,
        "suite -n 2": suite + ["-n", "2"],
        "suite defaults, defaults only": suite + ["--conformance-variants", "0"],
        "suite serial, defaults only": suite + ["--conformance-jobs", "1", "--conformance-variants", "0"],
        "suite quick defaults": quick,
        "suite quick serial": quick + ["--conformance-jobs", "1"],
        "suite quick fork-each --conformance-jobs 2": quick + FORK_EACH,
        "suite quick -n 2": quick + ["-n", "2"],
        "check_estimator (torch default threads)": check + ["default"],
        "check_estimator (torch 1 thread)": check + ["1"],
    }


def hang_modes() -> dict[str, list[str]]:
    def suite(target: str) -> list[str]:  # the target first: python -m conformance TARGET [pytest options]
        return [sys.executable, "-m", "conformance", target, "-q", "-p", "no:cacheprovider"]

    return {f"suite defaults {HANG_TWIN} (the twin)": suite(HANG_TWIN),
            f"suite defaults {HANG_TARGET}": suite(HANG_TARGET)}


def time_process(command: list[str], cwd: str) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds of the process tree, exit status, tail of its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-3:])
    return wall, cpu, done.returncode, tail


def profile_report(path: str) -> list[str]:
    """Where the time of one serial standard run went, from its JSON report."""
    if not os.path.exists(path):
        return ["(no JSON report was written)"]
    data = json.load(open(path, encoding="utf-8"))
    results = [r for e in data["estimators"] for r in e["results"]]
    total = sum(r["duration_s"] for r in results)
    lines = [f"{len(results)} checks, {total:.1f} s inside checks (duration_s, forked child's own clock)", "",
             "slowest checks:"]
    for r in sorted(results, key=lambda r: -r["duration_s"])[:12]:
        lines.append(f"  {r['duration_s']:7.2f} s  {100 * r['duration_s'] / total:4.1f} %  {r['status']:8} {r['check']}")
    lines += ["", "per category:"]
    by_category: dict[str, list[float]] = {}
    for r in results:
        by_category.setdefault(r["category"], []).append(r["duration_s"])
    for category, values in sorted(by_category.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"  {category:12} {len(values):4} checks {sum(values):7.1f} s  {100 * sum(values) / total:4.1f} %")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of every mode (default 3; 1 = smoke test)")
    parser.add_argument("--target", default=None, help=f"estimator target (default {DEFAULT_TARGET})")
    parser.add_argument("--only", action="append", default=[], help="time only modes containing this text")
    parser.add_argument("--profile-report", action="store_true", help="also print where the serial run's time goes")
    parser.add_argument("--hang", action="store_true", help=f"time {HANG_TARGET} against its twin instead")
    args = parser.parse_args(argv)

    target, note = resolve_target(args.target)
    report_dir = tempfile.mkdtemp(prefix="bench_suite_")
    run_dir = tempfile.mkdtemp(prefix="bench_suite_cwd_")  # like a user: not inside the repo
    commands = hang_modes() if args.hang else modes(target, report_dir)
    if args.only:
        commands = {k: v for k, v in commands.items() if any(o in k for o in args.only)}
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    print(f"target {target}; {args.runs} round(s); python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    if note:
        print("note:", note)
    for round_number in range(args.runs):
        for name, command in commands.items():
            wall, cpu, code, tail = time_process(command, run_dir)
            walls[name].append(wall)
            cpus[name].append(cpu)
            flag = "" if code == 0 else f"  (exit {code}: {tail.splitlines()[-1] if tail else ''})"
            print(f"  round {round_number + 1}: {name:42} {wall:7.1f} s wall {cpu:7.1f} s cpu{flag}", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    anchor = next((k for k in commands if k == "check_estimator (torch 1 thread)"), None)
    slow_anchor = next((k for k in commands if k == "check_estimator (torch default threads)"), None)
    print()
    header = "| mode | median wall s | median cpu s | wall / check_estimator (1 thread) | wall / check_estimator (default threads) |"
    print(header)
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        ratio = f"{wall / statistics.median(walls[anchor]):.2f}" if anchor else "-"
        slow = f"{wall / statistics.median(walls[slow_anchor]):.2f}" if slow_anchor else "-"
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {ratio} | {slow} |")
    for name in commands:
        defaults = f"{name}, defaults only"
        if defaults in commands:  # what the configurations besides the defaults cost, side by side
            print(f"{name} / {defaults}: wall {statistics.median(walls[name]) / statistics.median(walls[defaults]):.2f}, "
                  f"cpu {statistics.median(cpus[name]) / statistics.median(cpus[defaults]):.2f}")
    if args.profile_report and "suite serial" in commands:
        print()
        print("\n".join(profile_report(os.path.join(report_dir, "serial.json"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
