"""The Python API: ``check(estimator)`` returns a Report; ``parametrize`` feeds a user's test.

Both build their run through :mod:`conformance.session`, exactly as the pytest plugin does:
the same validation, the same ``[tool.conformance]`` table (the nearest ``pyproject.toml`` up
from the working directory), the same plan and skips.
"""

from __future__ import annotations

from pathlib import Path

from conformance.baseline import Baseline
from conformance.plan import Case
from conformance.project import read_project_config, upwards
from conformance.report import EstimatorReport, Report
from conformance.result import Result, raise_pytest_outcome, with_baseline
from conformance.runner import run_case
from conformance.session import Session, build_settings
from conformance.targets import Target, targets_from_objects


def _session(estimators, *, checks, profile, baseline=None, fit_with="fit", **options) -> Session:
    project = read_project_config(upwards(Path.cwd()))
    settings = build_settings(profile=profile, project=project, **options)
    targets = targets_from_objects(estimators)
    if fit_with != "fit":
        targets = [_trained_with(target, fit_with) for target in targets]
    session = Session(targets, settings, Baseline.from_dict(baseline or {}),
                      select=list(checks) if checks is not None else None, source="conformance.check")
    session.checked_targets  # noqa: B018 - a declared configuration that cannot be set raises now
    return session


def _trained_with(target: Target, fit_with: str) -> Target:
    """``target`` as the one configuration that trains the way ``fit_with`` says."""
    from conformance.fitting import FIT_MODES
    from conformance.variants import NotVaried, requested

    if fit_with not in FIT_MODES:
        raise ValueError(f"fit_with={fit_with!r}; accepted: {', '.join(FIT_MODES)}")
    configured = requested(target, fit_with)
    if isinstance(configured, NotVaried):
        raise ValueError(f"{target.label} cannot be checked with fit_with={fit_with!r}: {configured.reason}")
    return configured


def check(estimator, *, checks: list[str] | None = None, profile: str = "standard",
          baseline: dict | None = None, isolation: str = "auto", timeout_s: float = 300.0,
          jobs: int | str = 1, devices=(), variants: int | str = "auto", fit_with: str = "fit") -> Report:
    """Run every applicable check on ``estimator`` and return the :class:`~conformance.report.Report`.

    ``estimator`` is an estimator, an estimator class (built with no arguments) or a list of
    them. ``checks`` keeps only ids matching one of its glob patterns (``"persistence.*"``); a
    pattern matching nothing is a ``ValueError``. ``baseline`` is ``{check_id: reason}`` of known
    failures, reported ``xfailed``. ``jobs`` runs that many checks at once (``"auto"``: one per
    CPU; needs forked processes). ``isolation`` is ``"worker"`` (long-lived forked workers, the
    default on Linux), ``"fork-each"`` (a forked child per check) or ``"none"``. ``devices``
    selects the device checks' devices (``"cpu,cuda"``).
    ``variants`` is how many configurations besides the defaults each estimator is also checked
    in (``"auto"``: the profile's budget, none in quick; ``0``: the defaults only; see
    :mod:`conformance.variants`); each is a row of the report labelled by its parameters
    (``TorchClassifier[early_stopping=True]``). ``fit_with`` (``"sample_weight"`` or
    ``"partial_fit"``) checks the estimator in that one way of training instead.

    Checks run in children forked from this process. While they run, this process's objects are
    frozen out of the garbage collector's sight (``gc.freeze``), so the children never scan them;
    they are given back (``gc.unfreeze``) when ``check`` returns. Once this process has run torch on several
    threads, a child whose estimator raises torch's thread count can hang until its timeout
    (OpenMP is not fork-safe): call ``check`` before training anything here, or run the suite
    from the command line, whose process never runs torch on more than one thread.
    """
    from conformance import workers
    from conformance.heap import frozen_while_checking
    from conformance.parallel import ParallelRunner

    session = _session(estimator, checks=checks, profile=profile, baseline=baseline, isolation=isolation,
                       timeout_s=timeout_s, jobs=jobs, devices=devices, variants=variants, fit_with=fit_with)
    with frozen_while_checking():
        if session.settings.uses_workers:
            workers.open_pool(session.cases)
        runner = ParallelRunner(session.cases, session.settings.jobs)
        try:
            return _report(session, runner)
        finally:
            runner.close()
            workers.close_pool()


def _report(session, runner) -> Report:
    """The report of ``session``'s cases, in order, each result from ``runner``."""
    report = Report(devices=list(session.settings.devices or ["cpu"]))
    rows: dict[str, EstimatorReport] = {}
    for case in session.cases:
        row = rows.get(case.target.label)
        if row is None:
            row = rows[case.target.label] = EstimatorReport.of(case.target)
            report.estimators.append(row)
        row.results.append(with_baseline(runner.result(case), session.baseline_reason(case)))
    return report


def parametrize(estimators, *, checks: list[str] | None = None, profile: str = "standard",
                variants: int | str = "auto"):
    """Decorator for a user's own test: one test per (estimator or configuration, check) pair.

    The test receives ``estimator`` and ``check``; calling ``check(estimator)`` runs it and
    fails the test with the full message (skips or xfails it likewise)::

        @conformance.parametrize([MyEstimator()])
        def test_conformance(estimator, check):
            check(estimator)

    ``variants`` is as for :func:`check`: the configurations besides the defaults get their
    own tests, with ids such as ``MyEstimator[early_stopping=True]-persistence.pickle_roundtrip``.
    """
    import pytest

    session = _session(estimators, checks=checks, profile=profile, variants=variants)
    params = [pytest.param(c.target.estimator, BoundCheck(c), id=c.id) for c in session.cases]
    return pytest.mark.parametrize("estimator, check", params)


class BoundCheck:
    """A planned check ready to call on its estimator, as ``parametrize`` hands it to a test."""

    def __init__(self, case: Case):
        self.case = case

    def __repr__(self) -> str:
        return self.case.entry.id

    def __call__(self, estimator=None) -> Result:
        __tracebackhide__ = True
        case = self.case
        if estimator is not None and estimator is not case.target.estimator:
            case = Case(Target(case.target.label, estimator, configuration=case.target.configuration),
                        case.entry, case.settings, case.skip)
        return raise_pytest_outcome(run_case(case))
