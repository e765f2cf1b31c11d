"""The pytest plugin: options, targets, one item per (estimator, check), report and summaries.

Registered through the ``pytest11`` entry point, so it loads in every pytest run of the
environment: at import and configure time it touches neither torch nor CUDA, and it does
nothing unless the suite (``--pyargs conformance``) is being run or ``--estimator`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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
                    help="fork: each check in a child process (default on Linux); none: in-process")
    group.addoption("--conformance-jobs", default="1", metavar="N",
                    help="run N checks at once in this process (auto: one per CPU); faster than xdist's -n for one estimator")


@dataclass
class SuiteState:
    """What the suite resolved at configure time, shared by collection and reporting."""

    targets: list = field(default_factory=list)
    settings: object = None
    baseline: object = None
    source: str = ""
    results: list = field(default_factory=list)  # dicts received from every item's report
    jobs: int = 1
    pool: object = None  # a ParallelRunner when --conformance-jobs > 1


STATE_KEY = pytest.StashKey[SuiteState]()


def pytest_configure(config):
    if not _suite_requested(config):
        return
    from conformance.baseline import Baseline
    from conformance.errors import TargetError
    from conformance.settings import Settings
    from conformance.targets import resolve_all, target_specs

    try:
        devices = tuple(d.strip() for d in (config.getoption("conformance_devices") or "").split(",") if d.strip())
        from conformance.tolerance import load_pyproject_overrides

        tolerances = load_pyproject_overrides(Path(config.invocation_params.dir, "pyproject.toml"))
        settings = Settings(profile=config.getoption("conformance_profile"), devices=devices,
                            extra={"tolerances": tolerances},
                            timeout_s=config.getoption("conformance_timeout"),
                            memory_limit_mb=config.getoption("conformance_memory_limit"),
                            isolation=config.getoption("conformance_isolation"))
        baseline_path = config.getoption("conformance_baseline")
        baseline = Baseline.load(baseline_path) if baseline_path else Baseline()
        specs, source = target_specs(config.getoption("estimator"), Path(config.invocation_params.dir))
        jobs = _jobs_option(config, settings)
        targets = resolve_all(specs)
    except (ValueError, TargetError) as exc:
        raise pytest.UsageError(f"conformance: {exc}") from None
    # A forked child hangs in an OpenMP region when its parent already started torch's thread
    # pool. The suite's process runs no estimator code itself, so one thread costs it nothing
    # and keeps every check, the thread-count ones included, safe to fork.
    from conformance.runner import pin_threads

    pin_threads()
    state = SuiteState(targets, settings, baseline, source, jobs=jobs)
    config.stash[STATE_KEY] = state
    if not hasattr(config, "workerinput"):  # xdist workers report to the controller instead
        config.pluginmanager.register(SuiteReporter(config, state), "conformance-reporter")
        if _runs_fresh_process_checks(config, settings):
            from conformance.fresh import ensure_server

            # Now, so its imports use a core that collection leaves idle; under xdist, one
            # server for all workers, which start after this and inherit its address.
            ensure_server()


def _jobs_option(config, settings) -> int:
    from conformance.parallel import parse_jobs
    from conformance.runner import use_fork

    jobs = parse_jobs(config.getoption("conformance_jobs"))
    if jobs > 1 and (getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput")):
        raise ValueError("--conformance-jobs and pytest-xdist's -n both run checks in parallel: use one "
                         "(--conformance-jobs shares one process's imports and fits, so it is the faster)")
    if jobs > 1 and not use_fork(settings):
        raise ValueError("--conformance-jobs needs each check in a forked child (--conformance-isolation fork, "
                         "Linux); with isolation 'none' checks run one at a time")
    return jobs


def _runs_fresh_process_checks(config, settings) -> bool:
    """Whether the run will (probably) need fresh processes: not quick, not narrowed by -k or -m."""
    return settings.profile != "quick" and not config.option.keyword and not config.option.markexpr


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Start the fresh-process server now, so its imports overlap the first checks; plan parallel runs."""
    state = session.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    suite_cases = [item.callspec.params["conformance_case"] for item in session.items
                   if "conformance_case" in getattr(getattr(item, "callspec", None), "params", {})]
    if state.settings.profile != "quick" and any(getattr(c.entry, "fresh_process", False) for c in suite_cases):
        from conformance.fresh import ensure_server

        ensure_server()
    if state.jobs > 1 and suite_cases:
        from conformance.parallel import ParallelRunner

        state.pool = ParallelRunner(suite_cases, state.jobs)


def run_case(config, case):
    """The result of one item's case: from the parallel runner when there is one."""
    state = config.stash.get(STATE_KEY, None)
    if state is not None and state.pool is not None:
        return state.pool.result(case)
    return case.run()


def pytest_sessionfinish(session):
    state = session.config.stash.get(STATE_KEY, None)
    if state is not None and state.pool is not None:
        state.pool.close()


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


def pytest_generate_tests(metafunc):
    if "conformance_case" not in metafunc.fixturenames:
        return
    state = metafunc.config.stash.get(STATE_KEY, None)
    if state is None:
        raise pytest.UsageError("conformance: the suite module was collected without the plugin configured")
    from conformance.api import cases

    params = []
    for case in cases(state.targets, state.settings):
        reason = state.baseline.reason(case.target.label, case.entry.id)
        marks = [pytest.mark.xfail(reason=f"baseline: {reason}", strict=False)] if reason else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("conformance_case", params)


def record_result(item, case, result) -> None:
    """Attach the result to the item so the report sees it, under xdist too."""
    from conformance.api import params_of

    payload = {"label": case.target.label, "target": case.target.spec,
               "params": params_of(case.target.estimator), **result.to_dict()}
    item.user_properties.append((RESULT_PROPERTY, payload))


class SuiteReporter:
    """Gathers every item's result (from xdist workers too) into the report and summaries."""

    def __init__(self, config, state: SuiteState):
        self.config = config
        self.state = state

    def pytest_runtest_logreport(self, report):
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        for name, payload in report.user_properties:
            if name == RESULT_PROPERTY:
                payload = dict(payload)
                if hasattr(report, "wasxfail"):
                    payload["status"] = "xfailed" if report.skipped else "xpassed"
                self.state.results.append(payload)

    def report(self):
        from conformance.report import EstimatorReport, Report
        from conformance.runner import Result

        report = Report(devices=list(self.state.settings.devices or ["cpu"]))
        by_label: dict[str, EstimatorReport] = {}
        for payload in self.state.results:
            entry = by_label.get(payload["label"])
            if entry is None:
                entry = EstimatorReport(payload["label"], payload["target"], payload["params"])
                by_label[payload["label"]] = entry
                report.estimators.append(entry)
            entry.results.append(Result(payload["check"], payload["category"], payload["status"],
                                        payload["message"], payload["duration_s"]))
        return report

    def pytest_sessionfinish(self, session):
        report = self.report()
        path = self.config.getoption("conformance_report")
        if path:
            # Asked in a subprocess (about 2 s), so this process never initialises CUDA.
            from conformance.devices_info import describe_devices

            report.device_info = describe_devices(self.state.settings.devices)
            report.devices = report.device_info.get("devices", report.devices)
            report.write_json(path)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path and report.results:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(report.markdown())

    def pytest_terminal_summary(self, terminalreporter):
        report = self.report()
        if not report.results:
            return
        terminalreporter.section("conformance")
        terminalreporter.line(f"targets ({self.state.source}): " + ", ".join(t.label for t in self.state.targets))
        for line in report.text_table():
            terminalreporter.line(line)
        results = self.state.results
        for payload in results:
            if payload["status"] == "xpassed":
                terminalreporter.line(f"baseline entry now passes (remove it): {payload['label']}: {payload['check']}")
        from conformance.api import cases

        # Against every planned pair, not only those -k selected, so deselection is not staleness.
        planned = {(c.target.label, c.entry.id) for c in cases(self.state.targets, self.state.settings)}
        for entry in self.state.baseline.unused_entries(planned):
            terminalreporter.line(f"baseline entry names no check of this suite (remove or fix it): {entry}")
