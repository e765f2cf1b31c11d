"""The pytest plugin: options, targets, one item per (estimator, check), report and summaries.

Registered through the ``pytest11`` entry point, so it loads in every pytest run of the
environment: at import and configure time it touches neither torch nor CUDA, and it does
nothing unless the suite (``--pyargs conformance``) is being run or ``--estimator`` is given.

When it is, the run is contained from start to finish: targets are resolved in a probe first
(:mod:`conformance.target_probe`), a signal cancels the run in order
(:mod:`conformance.cancellation`), no process outlives it (:mod:`conformance.lifetime`), and
the report is on disk as results arrive (:mod:`conformance.live_report`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.errors import TargetError

SUITE_MODULE = Path(__file__).with_name("test_suite.py")
RESULT_PROPERTY = "conformance_result"


def pytest_addoption(parser):
    group = parser.getgroup("conformance", "scikit-learn conformance suite for torch estimators")
    group.addoption("--estimator", action="append", default=[], metavar="MODULE:ATTR",
                    help="estimator to check: a class, instance, or callable returning estimators (repeatable)")
    group.addoption("--conformance-report", metavar="PATH", default=None,
                    help="write the JSON report of every check's result to PATH")
    group.addoption("--conformance-baseline", metavar="PATH", default=None,
                    help="JSON of known failures {check_id: reason}: reported xfailed, stale entries listed")
    group.addoption("--conformance-profile", default="standard", metavar="NAME",
                    help="data sizes and example budgets: quick, standard (default) or thorough")
    group.addoption("--conformance-devices", default=None, metavar="LIST",
                    help="devices for the device checks, e.g. cpu,cuda (default: every available)")
    group.addoption("--conformance-timeout", type=float, default=300.0, metavar="SECONDS",
                    help="per-check time limit; a check past it fails and the run goes on (default 300)")
    group.addoption("--conformance-memory-limit", type=float, default=None, metavar="MB",
                    help="address-space cap per check process; past it the check fails (default: half of RAM, 0: none)")
    group.addoption("--conformance-isolation", default="auto", metavar="MODE",
                    help="worker: checks in long-lived forked workers that survive crashes (default on Linux); "
                         "fork-each: a forked child per check; none: in-process")
    group.addoption("--conformance-jobs", default=None, metavar="N",
                    help="run N checks at once from this process (auto: one per CPU, the default on Linux "
                         "without xdist's -n; 1: one at a time); faster than -n for one estimator")
    group.addoption("--conformance-variants", default="auto", metavar="N",
                    help="configurations besides the defaults per estimator (auto: 0 quick, 8 standard, 24 thorough; 0: defaults only)")
    group.addoption("--conformance-target-timeout", type=float, default=60.0, metavar="SECONDS",
                    help="time limit to import and build each target; past it the run stops with a usage error (default 60)")


STATE_KEY = pytest.StashKey["Session"]()
POOL_KEY = pytest.StashKey[object]()
CANCEL_KEY = pytest.StashKey[object]()


def pytest_configure(config):
    if not _suite_requested(config):
        return
    from conformance import heap
    from conformance.cancellation import RunCancelled
    from conformance.target_probe import TargetProbeError

    heap.hold_collection()  # until the imports are done: see pytest_collection_finish
    config.add_cleanup(heap.freeze_and_release)
    cancellation = _contain(config)
    try:
        session = _build_session(config)
    except TargetProbeError as exc:
        _report_unusable_targets(config, exc)
        raise pytest.UsageError(*usage_lines(exc)) from None
    except (ValueError, TargetError) as exc:
        raise pytest.UsageError(f"conformance: {exc}") from None
    except RunCancelled as exc:
        pytest.exit(f"conformance: {exc} while its targets were resolved; no check ran",
                    returncode=cancellation.exit_code)
    # A forked child hangs in an OpenMP region when its parent already started torch's thread
    # pool. The suite's process runs no estimator code itself, so one thread costs it nothing
    # and keeps every check, the thread-count ones included, safe to fork.
    from conformance.processes import pin_threads

    pin_threads()
    config.stash[STATE_KEY] = session
    if not hasattr(config, "workerinput"):  # xdist workers report to the controller instead
        config.pluginmanager.register(SuiteReporter(config, session, cancellation), "conformance-reporter")
        if not config.option.keyword and not config.option.markexpr and session.needs_fresh_processes:
            from conformance.fresh import ensure_server

            # Now, so its imports use a core that collection leaves idle; under xdist, one
            # server for all workers, which start after this and inherit its address.
            ensure_server()


def _contain(config):
    """Contain the run in this process: the signals that cancel it, the guard that outlives it.

    An xdist worker also dies with the suite's process that started it.
    """
    from conformance import lifetime
    from conformance.cancellation import Cancellation

    worker = hasattr(config, "workerinput")
    if worker:
        lifetime.die_with_parent(os.getppid())
    lifetime.start_guard()
    config.add_cleanup(lifetime.stop_guard)
    cancellation = Cancellation(main_process=not worker).install()
    config.add_cleanup(cancellation.uninstall)
    config.stash[CANCEL_KEY] = cancellation
    return cancellation


def usage_lines(error) -> list[str]:
    """One line per target that could not be used; then the others, which resolved."""
    lines = [f"conformance: {probe.error}" for probe in error.failed]
    if error.resolved:
        lines.append("conformance: no check ran; resolved without error: "
                     + ", ".join(f"{row.label} ({row.target})" for row in error.resolved))
    return lines


def _report_unusable_targets(config, error) -> None:
    """The report of a run stopped by unusable targets: their errors, and the estimators that resolved."""
    from conformance.report import Report

    report = Report(estimators=error.resolved, state="usage_error",
                    target_errors=[{"target": p.spec, "error": p.error, "stack": p.stack} for p in error.failed])
    path = report_path(config)
    if path is not None:
        report.write_json(path)
    _append_step_summary(report)


def report_path(config) -> Path | None:
    """``--conformance-report``, from the directory pytest was started in; None without the option."""
    path = config.getoption("conformance_report")
    return Path(config.invocation_params.dir, path) if path else None


def _append_step_summary(report) -> None:
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path and (report.results or report.state != "finished"):
        with open(summary_path, "a", encoding="utf-8") as handle:
            handle.write(report.markdown())


def _build_session(config):
    """The run as the options, the environment and the project's pyproject.toml describe it."""
    from conformance.baseline import Baseline
    from conformance.project import read_project_config
    from conformance.session import Session, build_settings
    from conformance.targets import resolve_all, target_specs

    project = read_project_config(project_candidates(config))
    jobs = config.getoption("conformance_jobs")
    xdist = bool(getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"))
    if jobs is None:
        jobs = default_jobs(xdist, config.getoption("conformance_isolation"))
    elif str(jobs).strip() != "1" and xdist:
        raise ValueError("--conformance-jobs and pytest-xdist's -n both run checks in parallel: use one "
                         "(--conformance-jobs shares one process's imports and fits, so it is the faster)")
    from conformance.settings import InvalidSetting

    try:
        settings = build_settings(profile=config.getoption("conformance_profile"),
                                  devices=config.getoption("conformance_devices") or (),
                                  isolation=config.getoption("conformance_isolation"),
                                  timeout_s=config.getoption("conformance_timeout"),
                                  memory_limit_mb=config.getoption("conformance_memory_limit"),
                                  jobs=jobs, variants=config.getoption("conformance_variants"),
                                  target_timeout_s=config.getoption("conformance_target_timeout"), project=project)
    except InvalidSetting as exc:
        raise ValueError(f"{OPTIONS.get(exc.setting, exc.setting)}: {exc}") from None
    if report_path(config) is not None:
        writable_or_raise(report_path(config))
    baseline_path = config.getoption("conformance_baseline")
    baseline = Baseline.load(baseline_path) if baseline_path else Baseline()
    specs, source = target_specs(config.getoption("estimator"), project)
    if settings.forks and not hasattr(config, "workerinput"):  # workers resolve what the suite's process probed
        from conformance.registry import load_check_modules
        from conformance.target_probe import probe_targets

        probe_targets(specs, settings.target_timeout_s, meanwhile=load_check_modules)
    session = Session(resolve_all(specs), settings, baseline, source=source)
    session.checked_targets  # noqa: B018 - a declared configuration that cannot be set is a usage error now
    return session


def default_jobs(xdist: bool, isolation: str):
    """``auto`` (one check per CPU at a time) where checks fork (Linux) and xdist does not spread them; else 1."""
    import sys

    forks = hasattr(os, "fork") and sys.platform.startswith("linux") and isolation != "none"
    return "auto" if forks and not xdist else 1


def writable_or_raise(path: Path) -> None:
    """``ValueError`` naming the problem unless a report can be written to ``path`` (checked before the run)."""
    import os

    if path.is_dir():
        raise ValueError(f"--conformance-report {path}: is a directory; give a file path such as {path / 'report.json'}")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"--conformance-report {path}: the folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--conformance-report {path}: not writable by this user")


def project_candidates(config) -> list:
    """Where the project's pyproject.toml may be: the file pytest chose, its rootdir, the invocation dir."""
    inipath = getattr(config, "inipath", None)
    return [inipath if inipath is not None and Path(inipath).name == "pyproject.toml" else None,
            Path(config.rootpath), Path(config.invocation_params.dir)]


OPTIONS = {"profile": "--conformance-profile", "isolation": "--conformance-isolation",
           "timeout_s": "--conformance-timeout", "memory_limit_mb": "--conformance-memory-limit",
           "devices": "--conformance-devices", "jobs": "--conformance-jobs", "variants": "--conformance-variants",
           "target_timeout_s": "--conformance-target-timeout"}


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Start the fresh-process server now, so its imports overlap the first checks; plan parallel runs.

    Before either forks, the imports of the suite's process are frozen out of the collector's sight.
    """
    state = session.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    from conformance import heap

    heap.freeze_and_release()
    suite_cases = [item.callspec.params["conformance_case"] for item in session.items
                   if "conformance_case" in getattr(getattr(item, "callspec", None), "params", {})]
    if any(case.needs_fresh_process for case in suite_cases):
        from conformance.fresh import ensure_server

        ensure_server()
    if state.settings.uses_workers and suite_cases:
        from conformance.workers import open_pool

        open_pool(suite_cases)
    if state.settings.jobs > 1 and suite_cases:
        from conformance.parallel import ParallelRunner

        session.config.stash[POOL_KEY] = ParallelRunner(suite_cases, state.settings.jobs)


def run_case(config, case):
    """The result of one item's case: from the parallel runner when there is one."""
    pool = config.stash.get(POOL_KEY, None)
    from conformance.runner import run_case as run

    return pool.result(case) if pool is not None else run(case)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """The collector runs again by the time checks do, also where this process collected nothing (xdist's controller)."""
    if session.config.stash.get(STATE_KEY, None) is not None:
        from conformance import heap

        heap.freeze_and_release()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    cancellation = session.config.stash.get(CANCEL_KEY, None)
    if cancellation is not None:
        cancellation.finishing = True  # from here on a signal no longer interrupts the write-up
    pool = session.config.stash.get(POOL_KEY, None)
    if pool is not None:
        pool.close()
    if session.config.stash.get(STATE_KEY, None) is not None:
        from conformance.workers import close_pool

        close_pool()


def _suite_requested(config) -> bool:
    if config.getoption("estimator"):
        return True
    package = SUITE_MODULE.parent.resolve()
    for arg in config.args:
        head = str(arg).split("::", 1)[0]
        if config.option.pyargs and head.split(".", 1)[0] == "conformance":
            return True
        path = Path(config.invocation_params.dir, head).resolve()
        if path == package or package in path.parents:
            return True
    return False


def pytest_collect_file(file_path, parent):
    # Collect the suite even where the user's python_files pattern would not match it.
    if file_path.resolve() != SUITE_MODULE.resolve():
        return None
    from _pytest.python import path_matches_patterns

    if path_matches_patterns(file_path, parent.config.getini("python_files")):
        return None
    return pytest.Module.from_parent(parent, path=file_path)


def pytest_report_header(config):
    session = config.stash.get(STATE_KEY, None)
    return header_lines(session) if session is not None else None


def header_lines(session) -> list[str]:
    """What is checked: where the targets came from, then per target its kind and input kind.

    Disagreements between the kind signals come first, and a run that fell back to the
    reference estimators says so before anything else.
    """
    from conformance.targets import DEFAULT_SOURCE

    lines = []
    if session.source == DEFAULT_SOURCE:
        lines.append("conformance: NO TARGET WAS NAMED, so the reference estimators are checked. To check yours: "
                     "--estimator pkg.module:MyEstimator, CONFORMANCE_ESTIMATOR=pkg.module:MyEstimator, or "
                     "[tool.conformance] estimators = [\"pkg.module:MyEstimator\"] in pyproject.toml")
    for target in session.targets:
        for disagreement in target.traits.kind.disagreements:
            lines.append(f"conformance: ! {target.label}: {disagreement}")
    lines.append(f"conformance: {len(session.targets)} target(s) from {session.source}")
    session.checked_targets  # noqa: B018 - derives each target's configurations
    for target in session.targets:
        traits = target.traits
        lines.append(f"  {target.label}: checked as {traits.kind.describe()}; input {traits.input_kind_text}")
        hint = seed_hint(target)
        if hint:
            lines.append(f"    {hint}")
        if target.configurations is not None:
            lines += [f"    {line}" for line in target.configurations.summary()]
    return lines


def seed_hint(target) -> str | None:
    """When a parameter looks like a seed but none is declared, say that the seeded checks do not apply."""
    if target.traits.seed_param is not None:
        return None
    try:
        names = list(target.estimator.get_params(deep=False))
    except Exception:  # noqa: BLE001 - a broken get_params is a check's verdict
        return None
    seeds = [n for n in names if n in ("seed", "rng", "random_seed", "torch_seed") or n.endswith("_seed")]
    if not seeds:
        return None
    return (f"the seeded determinism checks do not apply: it has no random_state; if {seeds[0]!r} seeds it, "
            f"declare __conformance_tags__ returning {{'seed_param': {seeds[0]!r}}}")


def pytest_generate_tests(metafunc):
    if "conformance_case" not in metafunc.fixturenames:
        return
    state = metafunc.config.stash.get(STATE_KEY, None)
    if state is None:
        raise pytest.UsageError("conformance: the suite module was collected without the plugin configured")
    params = []
    for case in state.cases:
        reason = state.baseline_reason(case)
        marks = [pytest.mark.xfail(reason=f"baseline: {reason}", strict=False)] if reason else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("conformance_case", params)


def record_result(item, case, result) -> None:
    """Attach the result to the item so the report sees it, under xdist too."""
    from conformance.report import params_of

    payload = {"label": case.target.label, "target": case.target.spec,
               "params": params_of(case.target.estimator), **result.to_dict()}
    item.user_properties.append((RESULT_PROPERTY, payload))


class SuiteReporter:
    """Gathers every item's result (from xdist workers too) into the report and summaries.

    The report file is rewritten as results arrive (:mod:`conformance.live_report`). When the
    run is cancelled, every selected check without a result gets a ``skipped`` row marked
    ``cancelled``, and the run exits 128 + the signal's number.
    """

    def __init__(self, config, session, cancellation):
        from conformance.live_report import LiveReportFile
        from conformance.report import Report

        self.config = config
        self.session = session
        self.cancellation = cancellation
        self.results: list[dict] = []  # payloads received from every item's report
        self.started: set[str] = set()  # node ids of the items that began
        self.selected: list[str] | None = None  # node ids the xdist workers collected (none without xdist)
        self.live = Report(devices=list(session.settings.devices or ["cpu"]), state="running")
        self._rows: dict = {}
        path = report_path(config)
        self.file = LiveReportFile(path) if path is not None else None
        if self.file is not None:
            self.file.update(self.live)

    def pytest_runtest_logstart(self, nodeid):
        self.started.add(nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.selected = list(ids)

    def pytest_runtest_logreport(self, report):
        from conformance.result import Result

        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        for name, payload in report.user_properties:
            if name == RESULT_PROPERTY:
                payload = dict(payload)
                if hasattr(report, "wasxfail"):
                    payload["status"] = "xfailed" if report.skipped else "xpassed"
                self.results.append(payload)
                self._row(payload["label"], payload).results.append(Result.from_dict(payload))
                if self.file is not None:
                    self.file.update(self.live)

    def _row(self, label: str, payload: dict | None = None):
        """The report row of the estimator ``label``, made on its first result."""
        from conformance.report import EstimatorReport

        row = self._rows.get(label)
        if row is None:
            target = next((t for t in self.session.checked_targets if t.label == label), None)
            row = (EstimatorReport.of(target) if target is not None
                   else EstimatorReport(label, payload["target"], payload["params"]))
            self._rows[label] = row
            self.live.estimators.append(row)
        return row

    def pytest_sessionfinish(self, session):
        report = self.live
        if self.cancellation.cancelled:
            self._mark_unfinished(session)
            report.state, report.cancelled_by = "cancelled", self.cancellation.signal_name
            session.exitstatus = self.cancellation.exit_code
        else:
            report.state = "finished"
            if self.file is not None:
                # Asked in a subprocess (about 2 s), so this process never initialises CUDA.
                from conformance.devices_info import describe_devices

                report.device_info = describe_devices(self.session.settings.devices)
                report.devices = report.device_info.get("devices", report.devices)
        if self.file is not None:
            self.file.finish(report)
        _append_step_summary(report)

    def _mark_unfinished(self, session) -> None:
        """A ``skipped`` row, marked ``cancelled``, for every selected check that has no result."""
        from conformance.result import Result, Status

        cases = {case.id: case for case in self.session.cases}
        done = {(payload["label"], payload["check"]) for payload in self.results}
        selected = self.selected if self.selected is not None else [item.nodeid for item in session.items]
        for nodeid in selected:
            case = cases.get(nodeid.partition("[")[2][:-1])
            if case is None or (case.target.label, case.entry.id) in done:
                continue
            when = "while this check was running" if nodeid in self.started else "before this check started"
            message = (f"cancelled: the run was stopped by {self.cancellation.signal_name} after "
                       f"{self.cancellation.cancelled_after_s:.0f} s, {when}; its verdict is unknown")
            self._row(case.target.label).results.append(
                Result(case.entry.id, case.entry.category, Status.SKIPPED, message, cancelled=True))

    def pytest_terminal_summary(self, terminalreporter):
        report = self.live
        if not report.results and report.state == "finished":
            return
        terminalreporter.section("conformance")
        for line in header_lines(self.session):
            terminalreporter.line(line)
        for line in report.text_table():
            terminalreporter.line(line)
        for payload in self.results:
            if payload["status"] == "xpassed":
                terminalreporter.line(f"baseline entry now passes (remove it): {payload['label']}: {payload['check']}")
        # Against every planned pair, not only those -k selected, so deselection is not staleness.
        for entry in self.session.stale_baseline_entries():
            terminalreporter.line(f"baseline entry names no check of this suite (remove or fix it): {entry}")
        from conformance import annotations

        if annotations.enabled():
            for line in annotations.annotations(report, self.session.targets):
                terminalreporter.write_line(line)
