"""How a run is configured: the budget profile, devices, isolation, timeouts, tolerances, jobs, variants.

:class:`Settings` is built once per run by :func:`conformance.session.build_settings`, for the
pytest plugin and the Python API alike; every value is validated here, so a bad one is a usage
error before anything runs.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, replace

PROFILE_NAMES = ("quick", "standard", "thorough")
# "fork" is the former name of "fork-each", still accepted.
ISOLATIONS = ("auto", "worker", "fork-each", "fork", "none")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


class InvalidSetting(ValueError):
    """A setting's value is not accepted; ``setting`` names the field (``jobs``, ``devices``...)."""

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Budget:
    """Data sizes, hypothesis example counts and configurations checked besides the defaults, of one profile."""

    n_samples: int
    max_examples: int
    derandomize: bool
    max_variants: int = 0  # configurations besides the defaults, per estimator (conformance.variants)
    # Hypothesis examples in a configuration besides the defaults: the defaults' search explores
    # the inputs; a configuration re-checks its rule on the first few of the same draws.
    variant_examples: int = 4


# Row counts are primes, so no batch size divides the ordinary data: a last partial mini-batch
# always exists (see docs/writing-checks.md, "Coincidences").
BUDGETS = {
    "quick": Budget(n_samples=43, max_examples=8, derandomize=True, max_variants=0, variant_examples=4),
    "standard": Budget(n_samples=83, max_examples=25, derandomize=True, max_variants=8, variant_examples=5),
    "thorough": Budget(n_samples=307, max_examples=200, derandomize=False, max_variants=24, variant_examples=50),
}


@dataclass(frozen=True)
class Settings:
    """Everything a check run may consult besides the estimator itself."""

    profile: str = "standard"
    devices: tuple = ()  # empty: every available device
    # "worker" (long-lived forked workers), "fork-each" (one child per check), "none", or "auto"
    isolation: str = "auto"
    timeout_s: float = 300.0
    memory_limit_mb: float | None = None  # None: half the machine's memory; 0: no limit
    seed: int = 0
    # [tool.conformance.tolerances] of the project: {kind: {...}} or {class name: {kind: {...}}}
    tolerances: dict = field(default_factory=dict)
    jobs: int = 1  # checks run at once, forked from one process (needs worker or fork-each isolation)
    variants: int | None = None  # configurations besides the defaults per estimator; None: the profile's
    target_timeout_s: float = 60.0  # to import and build each target, in its probe (conformance.target_probe)

    def __post_init__(self):
        if self.profile not in BUDGETS:
            raise InvalidSetting("profile", f"unknown profile {self.profile!r}; accepted: {', '.join(PROFILE_NAMES)}")
        if self.isolation not in ISOLATIONS:
            raise InvalidSetting("isolation", f"unknown isolation {self.isolation!r}; accepted: {', '.join(ISOLATIONS)}")
        if not (isinstance(self.timeout_s, (int, float)) and self.timeout_s > 0):
            raise InvalidSetting("timeout_s", f"timeout must be a positive number of seconds, got {self.timeout_s!r}")
        if not (isinstance(self.target_timeout_s, (int, float)) and self.target_timeout_s > 0):
            raise InvalidSetting("target_timeout_s", "target timeout must be a positive number of seconds, "
                                 f"got {self.target_timeout_s!r}")
        if self.memory_limit_mb is not None and not self.memory_limit_mb >= 0:
            raise InvalidSetting("memory_limit_mb",
                                 f"memory limit must be a number of MB >= 0 (0: none), got {self.memory_limit_mb!r}")
        bad = [d for d in self.devices if not _DEVICE.match(d)]
        if bad:
            raise InvalidSetting("devices", f"unknown device {bad[0]!r}; accepted: cpu, cuda, cuda:N")
        if not (isinstance(self.jobs, int) and self.jobs >= 1):
            raise InvalidSetting("jobs", f"jobs must be a positive integer, got {self.jobs!r}")
        if self.variants is not None and not (isinstance(self.variants, int) and not isinstance(self.variants, bool)
                                              and self.variants >= 0):
            raise InvalidSetting("variants", f"variants must be a whole number >= 0 (0: the defaults only) or "
                                 f"'auto' (the profile's budget), got {self.variants!r}")
        if self.jobs > 1 and not self.forks:
            raise InvalidSetting("jobs", "running several checks at once (jobs > 1) needs forked processes "
                                 "(isolation 'worker' or 'fork-each', on Linux); with isolation 'none' checks run "
                                 "one at a time")

    @property
    def forks(self) -> bool:
        """Whether checks run in forked processes, workers or one child each (``auto``: on Linux)."""
        if self.isolation == "auto":
            return hasattr(os, "fork") and sys.platform.startswith("linux")
        return self.isolation != "none"

    @property
    def uses_workers(self) -> bool:
        """Whether checks run in long-lived forked workers (``auto``: on Linux) rather than a fork each."""
        return self.forks and self.isolation in ("auto", "worker")

    @property
    def memory_limit_bytes(self) -> int | None:
        """Address-space cap for one check's child process, or None for no cap."""
        if self.memory_limit_mb == 0:
            return None
        if self.memory_limit_mb is not None:
            return int(self.memory_limit_mb * 2**20)
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
        except (ValueError, OSError, AttributeError):
            return None

    @property
    def budget(self) -> Budget:
        return BUDGETS[self.profile]

    @property
    def max_variants(self) -> int:
        """How many configurations besides the defaults each estimator is checked in."""
        return self.budget.max_variants if self.variants is None else self.variants

    @property
    def cuda_selected(self) -> bool:
        """Whether the device checks may use CUDA: no devices named (every available), or one is CUDA."""
        return not self.devices or any(d.startswith("cuda") for d in self.devices)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def parse_variants(text) -> int | None:
    """``--conformance-variants``: a whole number >= 0, or ``auto`` (None: the profile's budget)."""
    if text is None or str(text).strip().lower() == "auto":
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    try:
        return int(str(text).strip())
    except ValueError:
        raise InvalidSetting("variants", f"variants must be a whole number >= 0 (0: the defaults only) or "
                             f"'auto' (the profile's budget), got {text!r}") from None
