"""GitHub workflow annotations: each failure shown on the estimator's own source in the pull request.

On GitHub Actions (``GITHUB_ACTIONS=true``) the suite prints one ``::error`` workflow command
per shared cause and per remaining failure, at the line of the estimator's code that raised,
or else at its class definition, so the diff view points at the code to change.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

MAX_ANNOTATIONS = 50  # GitHub shows at most 10 errors per step; the rest stay in the log


def enabled() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def class_location(estimator) -> tuple[str, int] | None:
    """``(file, line)`` of the estimator's class definition, or None (built-ins, dynamic classes)."""
    klass = type(estimator)
    try:
        return inspect.getsourcefile(klass), inspect.getsourcelines(klass)[1]
    except (OSError, TypeError):
        return None


def _workspace_path(path: str) -> str:
    base = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return path


def command(title: str, message: str, location: tuple[str, int] | None) -> str:
    """One ``::error`` workflow command (with ``file`` and ``line`` when the location is known)."""
    props = [f"title={escape_property(title)}"]
    if location is not None:
        props = [f"file={escape_property(_workspace_path(location[0]))}", f"line={location[1]}", *props]
    return f"::error {','.join(props)}::{escape_data(message)}"


def _split(where: str | None) -> tuple[str, int] | None:
    if not where or ":" not in where:
        return None
    path, _, line = where.rpartition(":")
    return (path, int(line)) if line.isdigit() else None


def annotations(report, targets) -> list[str]:
    """The workflow commands for ``report``: shared causes first, then the ungrouped failures."""
    places = {t.label: class_location(t.estimator) for t in targets}
    groups = report.shared_causes()
    results = {(e.label, r.check): r for e in report.estimators for r in e.results}
    lines = []
    for group in groups:
        first = results[(group.label, group.checks[0])]
        lines.append(command(f"conformance: {group.count} failures of {group.label} share one cause",
                             group.headline() + "\nchecks: " + ", ".join(group.checks),
                             _split(first.where) or places.get(group.label)))
    grouped = {(g.label, c) for g in groups for c in g.checks}
    for label, result in report.failures():
        if (label, result.check) not in grouped:
            lines.append(command(f"conformance: {result.check} ({label})", result.message,
                                 _split(result.where) or places.get(label)))
    return lines[:MAX_ANNOTATIONS]
