"""Check documentation where the user is: ``python -m conformance explain CHECK_ID``.

The check pages (``docs/checks/<category>.md`` in the source) ship inside the package as
``conformance.checkdocs``, so an installed wheel can print any check's rule, why it matters,
how it is checked and how to fix it. A failure message points at the same text: an absolute
link when the package metadata names a documentation URL, otherwise the explain command.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

DOCS_PACKAGE = "conformance.checkdocs"
_SOURCE_DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks"
_HEADING = re.compile(r"^(#{2,3}) +`?([A-Za-z0-9_.-]+)`?\s*$")


def docs_dir() -> Path | None:
    """Where the check pages are: the installed ``conformance.checkdocs``, else a source checkout's docs."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(DOCS_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location, "README.md").is_file():
            return Path(location)
    return _SOURCE_DOCS if (_SOURCE_DOCS / "README.md").is_file() else None


def page_and_anchor(check_id: str) -> tuple[str, str]:
    """``("params.md", "fit_does_not_mutate_params")`` for a check id (sklearn's: its base check name)."""
    category, _, name = check_id.partition(".")
    if category == "sklearn":
        name = name.split(".", 1)[0]
    return f"{category}.md", name


def section(check_id: str) -> str | None:
    """The docs section of ``check_id``: its heading and everything up to the next heading of its level."""
    folder = docs_dir()
    page, anchor = page_and_anchor(check_id)
    if folder is None or not (folder / page).is_file():
        return None
    lines = (folder / page).read_text(encoding="utf-8").splitlines()
    start = level = None
    for i, line in enumerate(lines):
        found = _HEADING.match(line)
        if start is None and found and found.group(2) == anchor:
            start, level = i, len(found.group(1))
        elif start is not None and line.startswith("#") and len(line) - len(line.lstrip("#")) <= level:
            return "\n".join(lines[start:i]).strip()
    return "\n".join(lines[start:]).strip() if start is not None else None


def explain(check_id: str) -> str:
    """What ``python -m conformance explain`` prints; ``ValueError`` naming close ids when unknown."""
    text = section(check_id)
    if text is None:
        raise ValueError(_unknown(check_id))
    return f"{check_id}\n\n{text}\n"


def _unknown(check_id: str) -> str:
    import difflib

    from conformance.registry import registered_checks

    known = [c.id for c in registered_checks()]
    close = difflib.get_close_matches(check_id, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; python -m conformance --list-checks lists them"
    if docs_dir() is None:
        return f"no documentation is installed for {check_id!r} (the check pages are missing from this install)"
    return f"no check {check_id!r} is documented{hint}"


@functools.lru_cache(maxsize=1)
def documentation_url() -> str | None:
    """The ``Documentation`` project URL of the installed package's metadata, if it has one."""
    from importlib import metadata

    try:
        urls = metadata.metadata("torch-sklearn-conformance").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation" and url.strip():
            return url.strip().rstrip("/")
    return None


def docs_reference(check_id: str) -> str:
    """How a failure message points at the docs of ``check_id``: a link, or the explain command."""
    page, anchor = page_and_anchor(check_id)
    base = documentation_url()
    if base:
        return f"{base}/checks/{page}#{anchor.replace('.', '-')}"
    return f"python -m conformance explain {check_id}  (docs/checks/{page}#{anchor} in the source)"
