"""The registry: the single table of contents of every check the suite runs.

A check is a plain function taking a :class:`~conformance.context.CheckContext`. It passes by
returning, fails by raising :class:`~conformance.errors.CheckFailure` (or any exception the
estimator raises), and skips by raising :class:`~conformance.errors.CheckSkipped`. Registering
it here gives it a stable id, a category, the kinds of estimator it applies to and a docs page.

sklearn's own checks are not registered one by one: they depend on the estimator, so the
``sklearn`` category is a *provider* that expands into one entry per check sklearn yields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

# Kinds an estimator can have; a check applies when it shares at least one with the estimator.
KINDS = frozenset(
    {"any", "classifier", "regressor", "transformer", "clusterer", "torch", "seeded"}
)
_CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
DOCS_ROOT = "docs/checks"


@dataclass(frozen=True)
class Check:
    """One rule of the suite, bound to nothing: the registry's row for it."""

    id: str
    func: Callable = field(repr=False, compare=False)
    applies_to: frozenset = frozenset({"any"})
    # Extra predicate on the estimator's profile (see conformance.profile.EstimatorProfile).
    requires: Callable | None = field(default=None, repr=False, compare=False)
    # True when the check is about threads and must not be pinned to one torch thread.
    threads: bool = False
    # True when the check needs a CUDA device (it skips with a reason otherwise).
    device: bool = False
    # True when the check starts fresh Python interpreters (seconds each): skipped in `quick`.
    fresh_process: bool = False

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def docs(self) -> str:
        return docs_url(self.category, self.name)

    @property
    def rule(self) -> str:
        """The first sentence of the docstring: the rule the check enforces."""
        doc = (self.func.__doc__ or "").strip()
        return " ".join(doc.split("\n\n", 1)[0].split())

    def applies(self, profile) -> bool:
        if not (self.applies_to & profile.kinds):
            return False
        return self.requires is None or bool(self.requires(profile))


def docs_url(category: str, name: str) -> str:
    return f"{DOCS_ROOT}/{category}.md#{name.replace('.', '-')}"


_REGISTRY: dict[str, Check] = {}


def register(
    check_id: str,
    *,
    applies_to: Iterable[str] = ("any",),
    requires: Callable | None = None,
    threads: bool = False,
    device: bool = False,
    fresh_process: bool = False,
):
    """Decorator adding a check function to the registry under ``check_id``."""
    if not _CHECK_ID.match(check_id):
        raise ValueError(
            f"check id {check_id!r} must be 'category.name' in lowercase letters, digits, "
            "dots and underscores"
        )
    kinds = frozenset(applies_to)
    unknown = kinds - KINDS
    if unknown:
        raise ValueError(f"check {check_id!r}: unknown kinds {sorted(unknown)}; known: {sorted(KINDS)}")

    def decorate(func):
        if not (func.__doc__ or "").strip():
            raise ValueError(f"check {check_id!r} needs a docstring stating its rule")
        if check_id in _REGISTRY and _REGISTRY[check_id].func is not func:
            raise ValueError(f"check id {check_id!r} is registered twice")
        _REGISTRY[check_id] = Check(check_id, func, kinds, requires, threads, device, fresh_process)
        return func

    return decorate


def registered_checks() -> list[Check]:
    """Every registered check (sklearn's excluded), in a stable order."""
    _load_check_modules()
    return sorted(_REGISTRY.values(), key=lambda c: c.id)


def get_check(check_id: str) -> Check:
    _load_check_modules()
    return _REGISTRY[check_id]


def _load_check_modules() -> None:
    # Importing the package registers every check module's checks.
    from conformance import checks  # noqa: F401
