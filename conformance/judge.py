"""Judging a check: run its body once and turn whatever happens into a :class:`Result`.

This module decides verdicts and writes their messages; where the body runs (a forked child
or this process) is :mod:`conformance.runner`'s business. Every message carries the rule that
was broken, what was observed, a reproduction where one can be built, and the docs link.
"""

from __future__ import annotations

import time
import traceback
import unittest

from conformance.causes import cause_key, cause_text, is_machinery_frame, normalized, own_location, owner_paths
from conformance.context import CheckContext
from conformance.explain import docs_reference
from conformance.hangs import KnownHang
from conformance.errors import CheckError, CheckFailure, CheckSkipped, KnownFailure
from conformance.registry import CheckEntry
from conformance.result import Result, Status
from conformance.settings import Settings
from conformance.targets import Target


def judge(target: Target, entry: CheckEntry, settings: Settings) -> Result:
    """Run ``entry`` on ``target`` here and classify the outcome (any exception is a verdict)."""
    context = CheckContext(target, settings, entry.id)
    start = time.perf_counter()
    status, message, underlying, refused = Status.PASSED, "", None, None
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
    except KnownHang as exc:
        status, message, refused = Status.FAILED, with_rule_and_docs([str(exc)], entry), exc
    except CheckFailure as exc:
        status, message, underlying = Status.FAILED, failure_text(exc.message, entry, exc), _estimator_error(exc)
    except BaseException as exc:  # noqa: BLE001 - any exception from the estimator is a verdict
        if type(exc).__name__ == "Skipped":  # pytest.skip / importorskip inside a check
            status, message = Status.SKIPPED, str(getattr(exc, "msg", exc))
        elif isinstance(exc, KeyboardInterrupt) and not settings.forks:
            raise
        else:
            status, message, underlying = Status.FAILED, failure_text(exception_line(exc), entry, exc, target, settings), exc
    result = Result(entry.id, entry.category, status, message, time.perf_counter() - start, list(context.warnings))
    if refused is not None:
        result.cause, result.cause_key = hang_cause(refused.hang.call)
    if underlying is not None:
        owners = owner_paths(target.estimator)
        result.cause, result.cause_key = cause_text(underlying, owners), cause_key(underlying, owners)
        result.where = own_location(underlying, owners)
    return result


def _estimator_error(failure: CheckFailure) -> BaseException | None:
    """The estimator's exception behind a check's failure (the check caught it and failed), if any."""
    underlying = failure.cause or failure.__cause__ or failure.__context__
    if underlying is None or type(underlying).__module__.startswith("conformance"):
        return None  # a rule the check broke itself, not something the estimator raised
    return underlying


def skipped(entry: CheckEntry, reason: str) -> Result:
    """The result of a check the plan decided not to run."""
    return Result(entry.id, entry.category, Status.SKIPPED, reason)


def process_failure(entry: CheckEntry, text: str, duration_s: float) -> Result:
    """The result of a check whose process gave no verdict (crash, timeout, unreadable result).

    A timeout in a known call of the estimator names it (the call later checks are spared).
    """
    call = getattr(text, "location", None)
    text = str(text)
    if call is not None:
        text = text.replace("timed out after", f"{call.describe()} timed out after", 1)
    first = text.split("\n", 1)[0]
    cause, key = hang_cause(call) if call is not None else (first, normalized(first))
    return Result(entry.id, entry.category, Status.FAILED, with_rule_and_docs([text], entry), duration_s,
                  cause=cause, cause_key=key)


def hang_cause(call) -> tuple[str, str]:
    """The shared cause of a timed-out call and of the checks failed at once for making it again."""
    text = f"{call.describe()} hung"
    return text, normalized(text)


def failure_text(headline: str, entry: CheckEntry, exc: BaseException, target: Target | None = None,
                 settings: Settings | None = None) -> str:
    lines = [headline]
    if isinstance(exc, CheckFailure):
        body = exc.details().splitlines()[1:]
    else:
        lines += ["    " + line for line in message_rest(exc)]
        body = ["  raised at:", *("    " + line for line in short_traceback(exc))]
        repro = entry.repro(target, settings) if target is not None else None
        if repro:
            body += ["  reproduce with:", *("    " + line for line in repro.splitlines())]
    return with_rule_and_docs(lines, entry, body)


def with_rule_and_docs(lines: list[str], entry: CheckEntry, body: list[str] = ()) -> str:
    """``lines``, then the entry's rule, then ``body``, then its docs link."""
    lines = list(lines)
    if entry.rule:
        lines.append(f"  rule: {entry.rule}")
    lines.extend(body)
    lines.append(f"  docs: {docs_reference(entry.id)}")
    return "\n".join(lines)


MESSAGE_LINES = 60
TRACEBACK_FRAMES = 8


def exception_line(exc: BaseException) -> str:
    """``Type: first line``; for a bare ``assert``, the asserting line of source instead."""
    text = str(exc).strip().splitlines()
    if text:
        return f"{type(exc).__name__}: {text[0]}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and frames[-1].line:
        return f"{type(exc).__name__} at {frames[-1].name}: {frames[-1].line.strip()}"
    return type(exc).__name__


def message_rest(exc: BaseException) -> list[str]:
    """The lines of the exception's message after the first, whole (sklearn puts its fix there)."""
    rest = str(exc).strip().splitlines()[1:]
    if len(rest) > MESSAGE_LINES:
        rest = rest[:MESSAGE_LINES] + [f"... ({len(rest) - MESSAGE_LINES} more lines)"]
    return rest


def short_traceback(exc: BaseException, frames: int = TRACEBACK_FRAMES) -> list[str]:
    """The traceback without the suite's and the libraries' call machinery, at most ``frames`` long."""
    summary = [f for f in traceback.extract_tb(exc.__traceback__) if not is_machinery_frame(f.filename)]
    shown = [f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line or ''}".rstrip() for frame in summary]
    if len(shown) > frames:
        shown = shown[:2] + [f"... ({len(shown) - frames + 1} frames)"] + shown[-(frames - 3):]
    return shown
