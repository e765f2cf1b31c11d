"""Exceptions a check raises to give its verdict, and the framework's own usage errors."""

from __future__ import annotations


class CheckFailure(AssertionError):
    """The estimator broke the check's rule.

    ``message`` says what rule was broken; ``observed`` and ``expected`` say what happened
    versus what should have; ``repro`` is a copy-paste Python snippet reproducing it; ``cause``
    is the exception the estimator raised, when that is what broke the rule.
    """

    def __init__(self, message: str, *, observed=None, expected=None, repro: str | None = None,
                 cause: BaseException | None = None):
        super().__init__(message)
        self.message = message
        self.observed = observed
        self.expected = expected
        self.repro = repro
        self.cause = cause

    def details(self) -> str:
        lines = [self.message]
        if self.observed is not None:
            lines.append(f"  observed: {self.observed}")
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.repro:
            lines.append("  reproduce with:")
            lines.extend("    " + line for line in self.repro.rstrip().splitlines())
        return "\n".join(lines)


class CheckSkipped(Exception):
    """The check does not apply to this estimator here; the reason says why."""


class KnownFailure(Exception):
    """The check failed in a way already recorded as expected (reported ``xfailed``)."""


class CheckError(Exception):
    """The check itself broke (a bug or a missing precondition of the suite, not the estimator)."""


class TargetError(Exception):
    """A target named on the command line, environment or pyproject cannot be used."""
