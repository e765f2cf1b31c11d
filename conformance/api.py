"""The Python API: ``check(estimator)`` returns a Report; ``parametrize`` feeds a user's test."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.context import Target
from conformance.report import EstimatorReport, Report
from conformance.runner import Result, run_check
from conformance.settings import Settings


@dataclass
class Case:
    """One (estimator, check) pair: what one pytest item runs."""

    target: Target
    entry: object
    settings: Settings

    @property
    def id(self) -> str:
        return f"{self.target.label}-{self.entry.id}"

    def run(self) -> Result:
        return run_check(self.target, self.entry, self.settings)


def cases(targets: list[Target], settings: Settings, select: list[str] | None = None) -> list[Case]:
    from conformance.suite import plan

    return [Case(t, entry, settings) for t in targets for entry in plan(t, select)]


def check(estimator, *, checks: list[str] | None = None, profile: str = "standard",
          baseline: dict | None = None, isolation: str = "auto", timeout_s: float = 300.0,
          jobs: int | str = 1) -> Report:
    """Run every applicable check on ``estimator`` (or a list of them) and return the Report.

    ``checks`` keeps only ids matching one of its glob patterns (``"persistence.*"``);
    ``baseline`` is ``{check_id: reason}`` of known failures, reported ``xfailed``;
    ``jobs`` runs that many checks at once (``"auto"``: one per CPU; needs fork isolation).
    """
    from conformance.baseline import Baseline
    from conformance.parallel import ParallelRunner, parse_jobs
    from conformance.runner import use_fork
    from conformance.targets import with_unique_labels

    settings = Settings(profile=profile, isolation=isolation, timeout_s=timeout_s)
    jobs = parse_jobs(jobs) if use_fork(settings) else 1
    known = Baseline.from_dict(baseline or {})
    estimators = estimator if isinstance(estimator, (list, tuple)) else [estimator]
    targets = with_unique_labels([Target(type(e).__name__, e) for e in estimators])
    planned = {target.label: cases([target], settings, checks) for target in targets}
    runner = ParallelRunner([c for target_cases in planned.values() for c in target_cases], jobs)
    report = Report()
    try:
        for target in targets:
            entry_report = EstimatorReport(target.label, None, params_of(target.estimator))
            for case in planned[target.label]:
                result = runner.result(case)
                entry_report.results.append(apply_baseline(result, known.reason(target.label, case.entry.id)))
            report.estimators.append(entry_report)
    finally:
        runner.close()
    return report


def apply_baseline(result: Result, reason: str | None) -> Result:
    """A known failure becomes ``xfailed``; a known failure that passed becomes ``xpassed``."""
    if reason is None:
        return result
    if result.status == "failed":
        result.status, result.message = "xfailed", f"known failure ({reason}): {result.message}"
    elif result.status == "passed":
        result.status, result.message = "xpassed", f"baseline says it fails ({reason}) but it passed"
    return result


def params_of(estimator) -> dict:
    try:
        return {k: repr(v) for k, v in estimator.get_params(deep=False).items()}
    except Exception:  # noqa: BLE001 - a broken get_params is a check's verdict, not the report's
        return {}


def parametrize(estimators, *, checks: list[str] | None = None, profile: str = "standard"):
    """Decorator for a user's own test: one test per (estimator, check) pair.

    The test receives ``estimator`` and ``check``; calling ``check(estimator)`` runs it and
    raises ``AssertionError`` with the full message on failure (``pytest.skip`` on a skip)::

        @conformance.parametrize([MyEstimator()])
        def test_conformance(estimator, check):
            check(estimator)
    """
    import pytest

    from conformance.targets import with_unique_labels

    settings = Settings(profile=profile)
    estimators = estimators if isinstance(estimators, (list, tuple)) else [estimators]
    targets = with_unique_labels([Target(type(e).__name__, e) for e in estimators])
    all_cases = cases(targets, settings, checks)
    params = [pytest.param(c.target.estimator, BoundCheck(c), id=c.id) for c in all_cases]
    return pytest.mark.parametrize("estimator, check", params)


class BoundCheck:
    """A check ready to call on its estimator, as ``parametrize`` hands it to a test."""

    def __init__(self, case: Case):
        self.case = case

    def __repr__(self) -> str:
        return self.case.entry.id

    def __call__(self, estimator=None) -> Result:
        import pytest

        if estimator is not None and estimator is not self.case.target.estimator:
            self.case = Case(Target(self.case.target.label, estimator), self.case.entry, self.case.settings)
        result = self.case.run()
        if result.status == "skipped":
            pytest.skip(result.message)
        if result.status == "xfailed":
            pytest.xfail(result.message)
        if result.status in ("failed", "error"):
            raise AssertionError(result.message)
        return result
