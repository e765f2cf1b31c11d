"""The run is contained from start to finish (issue 17).

Hostile targets cost a usage error naming what happened; a cancelled run writes what finished
and exits 128 + the signal; a killed run leaves a readable report; and no process of the run
outlives it. Each run is ``python -m conformance`` with a marker in its environment, which every
process of its tree inherits, so the test finds them all in ``/proc`` whatever they are called.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.estimators.hanging import FIT_STARTED_VARIABLE

REPO = Path(__file__).resolve().parents[1]
MARKER = "CONFORMANCE_TEST_RUN_MARKER"
HOSTILE = "tests.estimators.hostile_imports"
RIDGE = "sklearn.linear_model:Ridge"
HANGS = "tests.estimators.hanging:SpawnsAndHangsInFit"
TWO_FITS = "check_fit2d_1sample or check_fit2d_1feature"
SERIAL = ("--conformance-jobs", "1")  # one check at a time: the tests count what finished before the hang
TARGET_LIMIT_S = 8  # short, for the hanging targets, yet long enough to import scikit-learn on two busy cores
TARGET_TIMEOUT = ("--conformance-target-timeout", str(TARGET_LIMIT_S))

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the run's processes in /proc")


class Suite:
    """``python -m conformance *args`` started in ``folder``, its output in files, its tree marked."""

    def __init__(self, folder: Path, *args: str, **env: str):
        self.folder = folder
        self.marker = uuid.uuid4().hex
        self.fit_started = folder / "fit-started"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_FRESH_SERVER")}
        # Not this test process's fresh-process server: the run starts its own, which it must stop.
        environment = {**inherited, "PYTHONPATH": str(REPO), MARKER: self.marker,
                       FIT_STARTED_VARIABLE: str(self.fit_started), **env}
        self.out, self.err = open(folder / "out.txt", "w"), open(folder / "err.txt", "w")
        self.process = subprocess.Popen([sys.executable, "-m", "conformance", *args, "-p", "no:cacheprovider"],
                                        cwd=folder, env=environment, stdout=self.out, stderr=self.err)

    def wait_until_fit_started(self, timeout: float = 180.0) -> list[str]:
        """The lines the hanging estimator wrote when its fit began (it hangs there from then on)."""
        deadline = time.monotonic() + timeout
        while not (self.fit_started.exists() and self.fit_started.read_text().endswith("\n")):
            assert self.process.poll() is None, f"the suite ended before any fit began:\n{self.output()}"
            assert time.monotonic() < deadline, f"no fit began within {timeout} s:\n{self.output()}"
            time.sleep(0.1)
        time.sleep(0.3)  # the check is now stuck in fit
        return self.fit_started.read_text().split()

    def finish(self, timeout: float = 120.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.out.close()
            self.err.close()

    def stderr_lines(self) -> list[str]:
        return [line for line in (self.folder / "err.txt").read_text().splitlines() if line.strip()]

    def output(self) -> str:
        return (self.folder / "out.txt").read_text() + (self.folder / "err.txt").read_text()

    def report(self, name: str = "r.json") -> dict:
        return json.loads((self.folder / name).read_text())

    def remaining(self) -> dict[int, str]:
        return processes_marked(self.marker)

    def assert_nothing_remains(self, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while self.remaining() and time.monotonic() < deadline:
            time.sleep(0.2)
        left = self.remaining()
        for pid in left:  # do not leave them to the next test
            os.kill(pid, signal.SIGKILL)
        assert not left, f"processes of the run still alive {within} s after it ended: {left}"


def processes_marked(marker: str) -> dict[int, str]:
    """``{pid: command line}`` of the live processes (zombies are dead) whose environment holds ``marker``."""
    found = {}
    wanted = f"{MARKER}={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended while we looked
            continue
        if wanted in environ.split(b"\0") and stat[stat.rfind(")") + 2] not in "ZX":
            found[int(entry)] = command.strip()
    return found


def results_by_check(report: dict) -> dict[tuple[str, str], dict]:
    return {(e["label"], r["check"]): r for e in report["estimators"] for r in e["results"]}


# --- hostile targets: a usage error, within seconds, that names the target and what happened -------

@pytest.mark.parametrize("module, expected", [
    ("sleeps_at_import", [f"importing 'tests.estimators.hostile_imports.sleeps_at_import' did not finish within {TARGET_LIMIT_S} s "
                          "(--conformance-target-timeout)",
                          "; it was at ", "hostile_imports/sleeps_at_import.py:7 in <module>: time.sleep(3600)"]),
    ("segfaults_at_import", ["importing 'tests.estimators.hostile_imports.segfaults_at_import' crashed the process "
                             "with SIGSEGV", "hostile_imports/segfaults_at_import.py:7 in <module>"]),
    ("exits_at_import", ["importing 'tests.estimators.hostile_imports.exits_at_import' called sys.exit(3)"]),
])
def test_target_module_that_misbehaves_at_import_is_one_usage_error_line(tmp_path, module, expected):
    target = f"{HOSTILE}.{module}:Model"
    suite = Suite(tmp_path, target, *TARGET_TIMEOUT, "--conformance-report", "r.json")
    assert suite.finish() == 4, suite.output()
    (line,) = suite.stderr_lines()
    assert line.startswith(f"ERROR: conformance: target '{target}': ")
    assert all(fragment in line for fragment in expected), line
    assert "INTERNALERROR" not in suite.output()
    report = suite.report()
    assert report["state"] == "usage_error" and report["estimators"] == []
    assert [(e["target"], e["error"]) for e in report["target_errors"]] == [(target, line.split("conformance: ", 1)[1])]
    suite.assert_nothing_remains()


PROBE_ALONGSIDE = """
import sys
from conformance.target_probe import TargetProbeError, probe_targets
try:
    probe_targets([sys.argv[1]], timeout_s=120)
except TargetProbeError as exc:
    print(exc)
print(sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "tests")))
"""


def test_the_libraries_a_probed_target_imports_are_imported_alongside_but_its_own_code_runs_only_in_the_probe():
    """The suite's process imports torch while the probe does (the target imports it), never the target's module."""
    pytest.importorskip("torch")
    target = f"{HOSTILE}.torch_then_segfaults:Model"
    done = subprocess.run([sys.executable, "-c", PROBE_ALONGSIDE, target], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    error, imported = done.stdout.strip().splitlines()[-2:]
    assert done.returncode == 0, done.stderr
    assert f"target '{target}': importing" in error and "crashed the process with SIGSEGV" in error
    imported = eval(imported)  # noqa: S307 - the list this test's own script printed
    assert "torch" in imported, "torch was not imported alongside the probe"
    assert not [name for name in imported if name.startswith("tests")], imported


def test_a_target_that_changes_the_environment_before_importing_torch_has_torch_imported_after_the_change_only():
    """Importing torch alongside the probe would miss the target's change of environment: it is not done."""
    pytest.importorskip("torch")
    target = f"{HOSTILE}.environment_then_torch:Model"
    done = subprocess.run([sys.executable, "-c", PROBE_ALONGSIDE, target], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, done.stderr
    imported = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - the list this test's own script printed
    assert "torch" not in imported, "torch was imported alongside although the target changed the environment first"


BUILDERS = f"{HOSTILE}.builders"
UNUSABLE = {
    f"{BUILDERS}:HangsInConstructor": [f"building HangsInConstructor() did not finish within {TARGET_LIMIT_S} s",
                                       "builders.py:12 in __init__: time.sleep(3600)"],
    f"{BUILDERS}:hanging_factory": [f"calling hanging_factory() did not finish within {TARGET_LIMIT_S} s",
                                    "builders.py:23 in hanging_factory: time.sleep(3600)"],
    f"{BUILDERS}:crashing_factory": ["calling crashing_factory() crashed the process with SIGSEGV",
                                     "builders.py:28 in crashing_factory"],
    f"{BUILDERS}:ExitsInConstructor": ["ExitsInConstructor() called sys.exit('no licence')"],
    f"{HOSTILE}.ends_process_at_import:Model": ["ended the process with exit status 5",
                                                "its last output: config file missing, giving up"],
}


def test_every_unusable_target_is_named_and_those_that_resolved_are_still_reported(tmp_path):
    targets = [RIDGE, *UNUSABLE, f"{BUILDERS}:good_factory"]
    suite = Suite(tmp_path, *[arg for t in targets for arg in ("--estimator", t)], *TARGET_TIMEOUT,
                  "--conformance-report", "r.json", GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    assert suite.finish() == 4, suite.output()
    *errors, resolved = suite.stderr_lines()
    assert len(errors) == len(UNUSABLE)
    for line, (target, expected) in zip(errors, UNUSABLE.items()):
        assert f"target '{target}': " in line and all(fragment in line for fragment in expected), line
    assert resolved == (f"ERROR: conformance: no check ran; resolved without error: Ridge ({RIDGE}), "
                        f"Ridge_1 ({BUILDERS}:good_factory), Ridge_2 ({BUILDERS}:good_factory)")
    report = suite.report()
    assert report["state"] == "usage_error"
    assert [(e["label"], e["kind"], e["results"]) for e in report["estimators"]] == [
        ("Ridge", "regressor", []), ("Ridge_1", "regressor", []), ("Ridge_2", "regressor", [])]
    assert [e["target"] for e in report["target_errors"]] == list(UNUSABLE)
    assert "No check ran: target" in (tmp_path / "summary.md").read_text()
    suite.assert_nothing_remains()


# --- cancellation: what finished is written, unfinished checks are marked, nothing keeps running ----

def test_sigterm_during_a_hanging_check_keeps_what_finished_stops_every_process_and_exits_143(tmp_path):
    name = "SIGTERM"
    summary = tmp_path / "summary.md"
    suite = Suite(tmp_path, RIDGE, "--estimator", HANGS, "-k", TWO_FITS, *SERIAL, "--conformance-report", "r.json",
                  "--junitxml", "j.xml", GITHUB_STEP_SUMMARY=str(summary))
    spawned = int(suite.wait_until_fit_started()[1])
    assert spawned in suite.remaining()  # the estimator's own process, in the check's group
    suite.process.send_signal(signal.SIGTERM)
    assert suite.finish() == 143, suite.output()
    report = suite.report()
    assert (report["state"], report["cancelled_by"]) == ("cancelled", name)
    results = results_by_check(report)
    assert {check: r["status"] for (label, check), r in results.items() if label == "Ridge"} == {
        "sklearn.check_fit2d_1sample": "passed", "sklearn.check_fit2d_1feature": "passed"}
    stuck = [r for (label, _), r in results.items() if label == "SpawnsAndHangsInFit"]
    assert [(r["status"], r["cancelled"]) for r in stuck] == [("skipped", True)] * 2
    assert f"stopped by {name}" in stuck[0]["message"] and "while this check was running" in stuck[0]["message"]
    assert "before this check started" in stuck[1]["message"]
    assert "test_conformance[Ridge-sklearn.check_fit2d_1sample]" in (tmp_path / "j.xml").read_text()
    assert f"The run was cancelled by {name}: 2 check(s) finished" in summary.read_text()
    suite.assert_nothing_remains()


def test_sigint_under_xdist_stops_the_workers_and_their_fresh_process_servers_and_exits_130(tmp_path):
    pytest.importorskip("xdist")
    suite = Suite(tmp_path, RIDGE, "--estimator", HANGS, "-n", "2", "--conformance-report", "r.json",
                  "-k", f"{TWO_FITS} or fresh_process_load")
    suite.wait_until_fit_started()
    commands = list(suite.remaining().values())
    assert sum("exec(eval(sys.stdin.readline()))" in c for c in commands) >= 2  # xdist's workers
    assert any("conformance.fresh import serve" in c for c in commands)
    suite.process.send_signal(signal.SIGINT)  # to the suite's process alone, not its group as Ctrl-C would
    assert suite.finish() == 130, suite.output()
    report = suite.report()
    assert (report["state"], report["cancelled_by"]) == ("cancelled", "SIGINT")
    assert any(r.get("cancelled") for r in results_by_check(report).values())
    suite.assert_nothing_remains()


def test_sigkill_of_the_suite_leaves_a_readable_report_and_no_orphan(tmp_path):
    suite = Suite(tmp_path, RIDGE, "--estimator", HANGS, "-k", TWO_FITS, *SERIAL, "--conformance-report", "r.json")
    spawned = int(suite.wait_until_fit_started()[1])
    assert spawned in suite.remaining()
    suite.process.kill()
    assert suite.finish() == -signal.SIGKILL
    report = suite.report()  # complete JSON: rewritten atomically after every result
    assert report["state"] == "running"
    assert {check: r["status"] for (_, check), r in results_by_check(report).items()} == {
        "sklearn.check_fit2d_1sample": "passed", "sklearn.check_fit2d_1feature": "passed"}
    suite.assert_nothing_remains()  # the check (PR_SET_PDEATHSIG), its own process (the run guard)


# --- the pieces: a child dies with its parent, the guard outlives the suite, a check takes its group -

def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_until_dead(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def orphan_after_parent_exits(in_child) -> int:
    """Fork a parent that forks a child running ``in_child(parent_pid)`` then sleeping; the parent exits.

    Returns the child's pid once its parent is gone.
    """
    ready_r, ready_w = os.pipe()  # child -> parent: in_child has run
    told_r, told_w = os.pipe()  # parent -> this test: the child's pid
    parent = os.fork()
    if parent == 0:
        try:
            me = os.getpid()
            child = os.fork()
            if child == 0:
                try:
                    in_child(me)
                    os.write(ready_w, b"ready")
                    time.sleep(60)
                finally:
                    os._exit(0)
            os.read(ready_r, 5)
            os.write(told_w, b"%d\n" % child)
        finally:
            os._exit(0)
    for fd in (ready_r, ready_w, told_w):
        os.close(fd)
    os.waitpid(parent, 0)
    with os.fdopen(told_r) as pipe:
        return int(pipe.readline())


@pytest.mark.parametrize("how", ["prctl", "watcher thread"])
def test_a_child_that_asked_to_die_with_its_parent_does(how):
    from conformance import lifetime

    ask = lifetime.die_with_parent if how == "prctl" else (lambda parent: lifetime._watch_parent(parent, signal.SIGKILL))
    child = orphan_after_parent_exits(ask)
    assert wait_until_dead(child), f"the child ({how}) outlived its parent"


def test_a_child_that_did_not_ask_outlives_its_parent():
    child = orphan_after_parent_exits(lambda parent: None)
    try:
        assert not wait_until_dead(child, within=1.5)
    finally:
        os.kill(child, signal.SIGKILL)


def test_the_guard_kills_the_groups_still_registered_when_the_suite_dies():
    from conformance import lifetime

    def suite_with_two_checks():  # this process plays the suite: it starts a guard and two "checks"
        guard = lifetime.RunGuard()
        watched, unwatched = (subprocess.Popen(["sleep", "60"], start_new_session=True) for _ in range(2))
        guard.send(b"+%d\n" % watched.pid)
        os.write(pids_w, b"%d %d\n" % (watched.pid, unwatched.pid))
        os._exit(0)  # killed, as far as the guard can tell: it never said goodbye

    pids_r, pids_w = os.pipe()
    suite = os.fork()
    if suite == 0:
        try:
            suite_with_two_checks()
        finally:
            os._exit(1)
    os.close(pids_w)
    os.waitpid(suite, 0)
    with os.fdopen(pids_r) as pipe:
        watched, unwatched = map(int, pipe.read().split())
    try:
        assert wait_until_dead(watched), "the guard left a registered group running"
        assert alive(unwatched)  # it kills what it was told about, nothing else
    finally:
        os.kill(unwatched, signal.SIGKILL)


def test_what_a_finished_check_left_running_in_its_group_is_killed_with_it():
    from conformance.processes import run_in_child

    def start_a_sleeper():
        return subprocess.Popen(["sleep", "60"]).pid

    left = run_in_child(start_a_sleeper, timeout_s=60)
    assert isinstance(left, int) and wait_until_dead(left)
