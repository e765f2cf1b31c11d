"""The verdict of one check on one estimator: its :class:`Status` and the :class:`Result` row.

This module is the vocabulary shared by the runner that produces results, the report that
writes them and the pytest items that show them; it imports nothing else of the suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Status(str, Enum):
    """The six statuses of DESIGN.md; equal to their lowercase names, so ``status == "failed"`` works."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


STATUSES = tuple(status.value for status in Status)
# Statuses that make a run not ok: the estimator broke a rule, or a check broke.
BAD_STATUSES = (Status.FAILED, Status.ERROR)


@dataclass
class Result:
    """One check's verdict on one estimator, as the JSON report records it.

    ``message`` explains a failure or skip, or carries a passing check's note; ``warnings``
    are findings that do not fail the check (a deterministic estimator ignoring its seed).
    """

    check: str
    category: str
    status: Status
    message: str = ""
    duration_s: float = 0.0
    warnings: list = field(default_factory=list)
    cause: str | None = None  # what the estimator raised, and where (see conformance.causes)
    cause_key: str | None = None  # the same, normalised: failures sharing it share one cause
    where: str | None = None  # "path:line" in the estimator's own code where it raised
    cancelled: bool = False  # the run was cancelled before this check finished (reported skipped)

    def __post_init__(self):
        self.status = Status(self.status)

    @property
    def summary(self) -> str:
        """The message's first line: what the one-line summaries show."""
        return self.message.split("\n", 1)[0]

    def to_dict(self) -> dict:
        row = {"check": self.check, "category": self.category, "status": self.status.value,
               "message": self.message, "duration_s": self.duration_s, "warnings": list(self.warnings),
               "cause": self.cause, "cause_key": self.cause_key, "where": self.where}
        if self.cancelled:
            row["cancelled"] = True
        return row

    @classmethod
    def from_dict(cls, data: dict) -> "Result":
        return cls(data["check"], data["category"], data["status"], data.get("message", ""),
                   data.get("duration_s", 0.0), list(data.get("warnings", [])), data.get("cause"),
                   data.get("cause_key"), data.get("where"), bool(data.get("cancelled", False)))


def with_baseline(result: Result, reason: str | None) -> Result:
    """A known failure becomes ``xfailed``; a known failure that passed becomes ``xpassed``."""
    if reason is None:
        return result
    if result.status == Status.FAILED:
        result.status, result.message = Status.XFAILED, f"known failure ({reason}): {result.message}"
    elif result.status == Status.PASSED:
        result.status, result.message = Status.XPASSED, f"baseline says it fails ({reason}) but it passed"
    return result


def raise_pytest_outcome(result: Result) -> Result:
    """Show ``result`` as a pytest outcome: skip, xfail or fail (without the suite's frames)."""
    __tracebackhide__ = True
    import pytest

    if result.status == Status.SKIPPED:
        pytest.skip(result.message)
    if result.status == Status.XFAILED:
        pytest.xfail(result.message)
    if result.status in BAD_STATUSES:
        pytest.fail(result.message, pytrace=False)
    return result
