"""How a run is configured: the data/example budget profile, devices, isolation and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PROFILE_NAMES = ("quick", "standard", "thorough")


@dataclass(frozen=True)
class Budget:
    """Data sizes and hypothesis example counts of one profile."""

    n_samples: int
    max_examples: int
    derandomize: bool


BUDGETS = {
    "quick": Budget(n_samples=40, max_examples=8, derandomize=True),
    "standard": Budget(n_samples=80, max_examples=25, derandomize=True),
    "thorough": Budget(n_samples=300, max_examples=200, derandomize=False),
}


@dataclass(frozen=True)
class Settings:
    """Everything a check run may consult besides the estimator itself."""

    profile: str = "standard"
    devices: tuple = ()  # empty: every available device
    isolation: str = "auto"  # "fork" (one child process per check), "none", or "auto"
    timeout_s: float = 300.0
    memory_limit_mb: float | None = None  # None: half the machine's memory; 0: no limit
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.profile not in BUDGETS:
            raise ValueError(
                f"unknown profile {self.profile!r}; accepted: {', '.join(PROFILE_NAMES)}"
            )
        if self.isolation not in ("auto", "fork", "none"):
            raise ValueError(f"unknown isolation {self.isolation!r}; accepted: auto, fork, none")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout_s!r}")

    @property
    def memory_limit_bytes(self) -> int | None:
        """Address-space cap for one check's child process, or None for no cap."""
        if self.memory_limit_mb == 0:
            return None
        if self.memory_limit_mb is not None:
            return int(self.memory_limit_mb * 2**20)
        try:
            import os

            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
        except (ValueError, OSError, AttributeError):
            return None

    @property
    def budget(self) -> Budget:
        return BUDGETS[self.profile]

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
