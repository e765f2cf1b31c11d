"""The registry: the single table of contents of every check the suite runs.

A check is a plain function taking a :class:`~conformance.context.CheckContext`. It passes by
returning, fails by raising :class:`~conformance.errors.CheckFailure` (or any exception the
estimator raises), and skips by raising :class:`~conformance.errors.CheckSkipped`. Registering
it here gives it a stable id, a category, the kinds of estimator it applies to and a docs page.

Every entry a run can hold, registered or not, implements :class:`CheckEntry`: the runner, the
plan and the report read those fields and nothing else. sklearn's own checks are not registered
one by one: they depend on the estimator, so the ``sklearn`` category is a *provider* that
expands into one entry per check sklearn yields (:func:`register_provider`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, runtime_checkable

from conformance.traits import INPUT_KINDS

# Kinds an estimator can have; a check applies when it shares at least one with the estimator.
KINDS = frozenset(
    {"any", "classifier", "regressor", "transformer", "clusterer", "torch", "seeded"}
)
_CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
ALL_INPUT_KINDS = tuple(INPUT_KINDS)
DOCS_ROOT = "docs/checks"


@runtime_checkable
class CheckEntry(Protocol):
    """What the runner needs of one check, whatever made it (the registry, sklearn, a failure)."""

    id: str  # stable "category.name"
    category: str
    rule: str  # one sentence: what the estimator must do
    docs: str  # where the fix is explained
    threads: bool  # runs with torch's thread count left alone (not pinned to one)
    device: bool  # needs a CUDA device
    fresh_process: bool  # starts fresh interpreters (seconds): not run in `quick`
    uses_shared_fit: bool  # reads the estimator fitted once for all checks
    fits_as_configured: bool  # fits through CheckContext.fit, so it honours sample_weight/partial_fit configurations
    skip_reason: str | None  # why it cannot run, when known as the entry is made
    input_kinds: tuple  # the input kinds (traits.INPUT_KINDS) its data can be made of

    def run(self, context) -> object:
        """The check body: return (a note, or None) to pass, raise to fail or skip."""

    def repro(self, target, settings) -> str | None:
        """A snippet reproducing the check when the estimator raised inside it, or None."""


def rule_of(func, fallback: str = "") -> str:
    """The first paragraph of ``func``'s docstring, on one line: the rule a check enforces."""
    doc = (getattr(func, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n", 1)[0].split()) or fallback


def docs_url(category: str, name: str) -> str:
    return f"{DOCS_ROOT}/{category}.md#{name.replace('.', '-')}"


@dataclass(frozen=True)
class Check:
    """One rule of the suite, bound to nothing: the registry's row for it."""

    id: str
    func: Callable = field(repr=False, compare=False)
    applies_to: frozenset = frozenset({"any"})
    # Extra predicate on the estimator's traits (see conformance.traits.EstimatorTraits).
    requires: Callable | None = field(default=None, repr=False, compare=False)
    threads: bool = False
    device: bool = False
    fresh_process: bool = False
    uses_shared_fit: bool = True
    fits_as_configured: bool = True
    skip_reason: str | None = None
    input_kinds: tuple = ALL_INPUT_KINDS
    rule: str = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "rule", rule_of(self.func))

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def docs(self) -> str:
        return docs_url(self.category, self.name)

    def applies(self, traits) -> bool:
        if not (self.applies_to & traits.kinds):
            return False
        return self.requires is None or bool(self.requires(traits))

    def run(self, context) -> object:
        return self.func(context)

    def repro(self, target, settings) -> str | None:
        """Rerun this one check: for an exception the check did not turn into a failure of its own."""
        from conformance.repro import construction_lines

        fit_with = target.traits.fit_with
        how = f", fit_with={fit_with!r}" if fit_with != "fit" else ""
        return "\n".join([*construction_lines(target), "import conformance",
                          f"conformance.check(estimator, checks=[{self.id!r}], profile={settings.profile!r}, "
                          f"variants=0{how}).assert_ok()"])


_REGISTRY: dict[str, Check] = {}
_PROVIDERS: dict[str, Callable] = {}


def register(
    check_id: str,
    *,
    applies_to: Iterable[str] = ("any",),
    requires: Callable | None = None,
    threads: bool = False,
    device: bool = False,
    fresh_process: bool = False,
    fits_as_configured: bool = True,
    input_kinds: Iterable[str] = ALL_INPUT_KINDS,
):
    """Decorator adding a check function to the registry under ``check_id``.

    ``threads``: the check is about threads and must not be pinned to one torch thread;
    ``device``: it needs a CUDA device (it skips with a reason otherwise); ``fresh_process``:
    it starts fresh Python interpreters (seconds each), so the ``quick`` profile skips it;
    ``fits_as_configured=False``: it calls ``fit`` its own way (its own weights, a pipeline,
    a search), not through ``CheckContext.fit``, so configurations that change how the
    estimator fits (``sample_weight``, ``partial_fit``) do not run it.
    ``input_kinds``: the input kinds whose rule it states (an estimator of another kind gets it
    skipped, with the reason).
    """
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
        unknown_inputs = set(input_kinds) - set(ALL_INPUT_KINDS)
        if unknown_inputs:
            raise ValueError(f"check {check_id!r}: unknown input kinds {sorted(unknown_inputs)}")
        _REGISTRY[check_id] = Check(check_id, func, kinds, requires, threads, device, fresh_process,
                                    fits_as_configured=fits_as_configured, input_kinds=tuple(input_kinds))
        return func

    return decorate


def register_provider(category: str, provider: Callable) -> None:
    """``provider(target) -> [CheckEntry]`` expands ``category`` into entries for one target."""
    _PROVIDERS[category] = provider


def registered_checks() -> list[Check]:
    """Every registered check (sklearn's excluded), in a stable order."""
    load_check_modules()
    return sorted(_REGISTRY.values(), key=lambda c: c.id)


def get_check(check_id: str) -> Check:
    load_check_modules()
    return _REGISTRY[check_id]


def entries_for(target) -> list:
    """Every entry that applies to ``target``: the providers' (sklearn's first), then the registry's."""
    load_check_modules()
    provided = [entry for category in sorted(_PROVIDERS, key=lambda c: c != "sklearn")
                for entry in _PROVIDERS[category](target)]
    return provided + [c for c in registered_checks() if c.applies(target.traits)]


_LOADED = False


def load_check_modules() -> None:
    """Import every check module (``conformance/checks/<name>.py``): that registers its checks."""
    global _LOADED
    if _LOADED:
        return
    import importlib
    import pkgutil

    from conformance import checks

    for module in sorted(m.name for m in pkgutil.iter_modules(checks.__path__) if not m.name.startswith("_")):
        importlib.import_module(f"conformance.checks.{module}")
    _LOADED = True
