"""Judging a check: run its body once and turn whatever happens into a :class:`Result`.

This module decides verdicts and writes their messages; where the body runs (a forked child
or this process) is :mod:`conformance.runner`'s business. Every message carries the rule that
was broken, what was observed, a reproduction where one can be built, and the docs link.
"""

from __future__ import annotations

import time
import traceback
import unittest

from conformance.context import CheckContext
from conformance.errors import CheckError, CheckFailure, CheckSkipped, KnownFailure
from conformance.registry import CheckEntry
from conformance.result import Result, Status
from conformance.settings import Settings
from conformance.targets import Target


def judge(target: Target, entry: CheckEntry, settings: Settings) -> Result:
    """Run ``entry`` on ``target`` here and classify the outcome (any exception is a verdict)."""
    context = CheckContext(target, settings, entry.id)
    start = time.perf_counter()
    status, message = Status.PASSED, ""
    try:
        note = entry.run(context)
        message = note if isinstance(note, str) else ""
    except CheckSkipped as exc:
        status, message = Status.SKIPPED, str(exc)
    except KnownFailure as exc:
        status, message = Status.XFAILED, str(exc)
    except unittest.SkipTest as exc:
        status, message = Status.SKIPPED, str(exc) or "skipped by the check"
    except CheckError as exc:
        status, message = Status.ERROR, f"the check itself broke: {exc}"
    except CheckFailure as exc:
        status, message = Status.FAILED, failure_text(exc.message, entry, exc)
    except BaseException as exc:  # noqa: BLE001 - any exception from the estimator is a verdict
        if type(exc).__name__ == "Skipped":  # pytest.skip / importorskip inside a check
            status, message = Status.SKIPPED, str(getattr(exc, "msg", exc))
        elif isinstance(exc, KeyboardInterrupt) and not settings.forks:
            raise
        else:
            status, message = Status.FAILED, failure_text(exception_line(exc), entry, exc, target)
    return Result(entry.id, entry.category, status, message, time.perf_counter() - start,
                  list(context.warnings))


def skipped(entry: CheckEntry, reason: str) -> Result:
    """The result of a check the plan decided not to run."""
    return Result(entry.id, entry.category, Status.SKIPPED, reason)


def process_failure(entry: CheckEntry, text: str, duration_s: float) -> Result:
    """The result of a check whose process gave no verdict (crash, timeout, unreadable result)."""
    return Result(entry.id, entry.category, Status.FAILED, with_rule_and_docs([str(text)], entry), duration_s)


def failure_text(headline: str, entry: CheckEntry, exc: BaseException, target: Target | None = None) -> str:
    lines = [headline]
    if isinstance(exc, CheckFailure):
        body = exc.details().splitlines()[1:]
    else:
        body = ["  raised at:", *("    " + line for line in short_traceback(exc))]
        repro = entry.repro(target) if target is not None else None
        if repro:
            body += ["  reproduce with:", *("    " + line for line in repro.splitlines())]
    return with_rule_and_docs(lines, entry, body)


def with_rule_and_docs(lines: list[str], entry: CheckEntry, body: list[str] = ()) -> str:
    """``lines``, then the entry's rule, then ``body``, then its docs link."""
    lines = list(lines)
    if entry.rule:
        lines.append(f"  rule: {entry.rule}")
    lines.extend(body)
    lines.append(f"  docs: {entry.docs}")
    return "\n".join(lines)


def exception_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def short_traceback(exc: BaseException, frames: int = 3) -> list[str]:
    summary = traceback.extract_tb(exc.__traceback__)[-frames:]
    return [f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line or ''}".rstrip() for frame in summary]
