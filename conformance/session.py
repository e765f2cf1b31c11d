"""The composition root: one run assembled from what the user gave, for both entry points.

The pytest plugin and :func:`conformance.check` differ only in where the user's choices come
from (command-line options, or keyword arguments). Both hand them to :func:`build_settings`
and :class:`Session`, so validation, the project's ``[tool.conformance]`` table, the plan and
the baseline behave the same way in each; a bad value is a ``ValueError`` saying what was
wrong and what is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.baseline import Baseline
from conformance.plan import Case, checked_targets, plan
from conformance.project import ProjectConfig
from conformance.settings import Settings
from conformance.targets import Target


def build_settings(*, profile: str = "standard", devices=(), isolation: str = "auto",
                   timeout_s: float = 300.0, memory_limit_mb: float | None = None, jobs=1,
                   variants="auto", target_timeout_s: float = 60.0,
                   project: ProjectConfig | None = None) -> Settings:
    """Validated :class:`Settings` from the user's choices and the project's tolerances.

    ``devices`` is a sequence or a comma-separated string (``"cpu,cuda"``); ``jobs`` an int or
    ``"auto"`` (one per CPU); ``variants`` the configurations besides the defaults checked per
    estimator, an int or ``"auto"`` (the profile's budget: none in quick, 8 in standard, 24 in
    thorough).
    """
    from conformance.parallel import parse_jobs
    from conformance.settings import parse_variants

    if isinstance(devices, str):
        devices = devices.split(",")
    devices = tuple(d.strip() for d in devices or () if d and d.strip())
    tolerances = (project or ProjectConfig()).tolerances()
    return Settings(profile=profile, devices=devices, isolation=isolation, timeout_s=timeout_s,
                    memory_limit_mb=memory_limit_mb, tolerances=tolerances, jobs=parse_jobs(jobs),
                    variants=parse_variants(variants), target_timeout_s=target_timeout_s)


@dataclass
class Session:
    """The targets, settings and baseline of one run, and its plan (made once)."""

    targets: list[Target]
    settings: Settings
    baseline: Baseline = field(default_factory=Baseline)
    select: list[str] | None = None
    source: str = ""  # where the targets came from, for the header
    _cases: list[Case] | None = field(default=None, repr=False)

    @property
    def cases(self) -> list[Case]:
        """Every planned case, in order (planned on first use, then kept)."""
        if self._cases is None:
            self._cases = plan(self.targets, self.settings, self.select)
        return self._cases

    @property
    def checked_targets(self) -> list[Target]:
        """Every target of the plan: each given one, then the configurations it is checked in.

        Derived once (cheap: no check runs); a declared configuration that cannot be set raises
        :class:`~conformance.errors.TargetError` here.
        """
        return checked_targets(self.targets, self.settings)

    def baseline_reason(self, case: Case) -> str | None:
        return self.baseline.reason(case.target.label, case.entry.id)

    def stale_baseline_entries(self) -> list[str]:
        """Baseline entries naming no planned (label, check) pair; no planning without a baseline."""
        if self.baseline.empty:
            return []
        return self.baseline.unused_entries({(c.target.label, c.entry.id) for c in self.cases})

    @property
    def needs_fresh_processes(self) -> bool:
        return any(case.needs_fresh_process for case in self.cases)
