"""The plan: which checks run on which estimator and configuration, and every skip decided before anything runs.

One function decides skips (:func:`skip_reason`), for the pytest plugin and the Python API
alike, so a check is never skipped in one entry point and run in the other. A planned skip
costs no process: the runner reports it as it is.

Each estimator is checked at its defaults, then in the configurations :mod:`conformance.variants`
derives or the estimator declares, as many as the profile's budget allows (none in ``quick``).
At the defaults every check runs; in another configuration, ``quick`` and ``standard`` run
:data:`VARIANT_CHECKS` and ``thorough`` runs every check of the suite. sklearn's own checks run
at the defaults only: they assume that ``fit`` restarts and that one sample or a changed width
can be fitted, which ``warm_start=True`` or ``early_stopping=True`` legitimately refuse (sklearn
itself runs them on parameter tables made per check).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from conformance.registry import CheckEntry, entries_for, registered_checks
from conformance.settings import Settings
from conformance.targets import Target
from conformance.traits import INPUT_KINDS
from conformance.variants import FITS_CHECK, configurations

QUICK_FRESH_PROCESS = ("not run in the quick profile: it starts a fresh Python interpreter (seconds); "
                       "the standard profile runs it")


# What a configuration besides the defaults is checked for in the quick and standard profiles:
# that it fits, that its outputs keep the contract, that it still refuses invalid input clearly
# (a configuration that drops a scaler may drop the width check the scaler made), that it is
# reproducible and independent of the global seeds, that a refit restarts (or, with warm_start or partial_fit, that training
# continues, also after pickle), that it survives pickle, that its weights act as repeated
# rows, and that it still learns (and, with early stopping, trains past its patience). These are
# the rules a changed path breaks most; each costs a few fits of small data.
VARIANT_CHECKS = (
    FITS_CHECK,
    "inputs.output_contract",
    "inputs.learns_unstandardised_data",
    "inputs.invalid_input_errors",
    "inputs.sample_weight_equivalence",
    "params.early_stopping_waits_for_patience",
    "determinism.same_seed_same_fit",
    "determinism.independent_of_global_seeds",
    "determinism.refit_matches_fresh_fit",
    "determinism.warm_start_continues_training",
    "determinism.partial_fit_continues_training",
    "persistence.pickle_roundtrip",
    "persistence.training_resumes_after_pickle",
)

NO_DEVICE_PARAM = ("the estimator has no device parameter (name one with __conformance_tags__ "
                   "{'device_param': ...}; see docs/checks/devices.md)")


@dataclass
class Case:
    """One (estimator, check) pair, as planned: what one pytest item runs."""

    target: Target
    entry: CheckEntry
    settings: Settings
    skip: str | None = None  # the planned skip's reason: the check is not run

    @property
    def id(self) -> str:
        return f"{self.target.label}-{self.entry.id}"

    @property
    def needs_fresh_process(self) -> bool:
        return self.skip is None and self.entry.fresh_process


def plan(targets: list[Target], settings: Settings, select: list[str] | None = None) -> list[Case]:
    """Every case of the run, in a stable order; ``select`` keeps check ids matching its globs.

    A pattern of ``select`` that matches no check of any target is a ``ValueError`` naming it,
    so a typo cannot turn into an empty, passing run.
    """
    cases, matched = [], set()
    for target in checked_targets(targets, settings):
        for entry in planned_entries(target, settings):
            hits = [p for p in select or () if fnmatch.fnmatchcase(entry.id, p)]
            if select and not hits:
                continue
            matched.update(hits)
            cases.append(Case(target, entry, settings, skip_reason(entry, settings, target)))
    unmatched = [p for p in select or () if p not in matched]
    if unmatched:
        raise ValueError(_no_match_message(unmatched, targets))
    return cases


def checked_targets(targets: list[Target], settings: Settings) -> list[Target]:
    """Each target, followed by the configurations it is checked in (derived once per target)."""
    checked = []
    for target in targets:
        checked.append(target)
        if target.configuration is not None:
            continue  # already one configuration (conformance.check(..., fit_with=...))
        if target.configurations is None or target.configurations.budget != settings.max_variants:
            target.configurations = configurations(target, settings.max_variants)
        checked += target.configurations.checked
    return checked


def planned_entries(target: Target, settings: Settings) -> list[CheckEntry]:
    """The entries run on ``target``: all that apply at the defaults; in another configuration,
    the registered checks the profile runs there (those that fit their own way excepted, when
    the configuration changes how the estimator fits)."""
    if target.configuration is None:
        return entries_for(target)
    everything = settings.profile == "thorough"
    fits_differently = target.traits.fit_with != "fit"
    return [entry for entry in registered_checks() if entry.applies(target.traits)
            and (everything or entry.id in VARIANT_CHECKS)
            and not (fits_differently and not entry.fits_as_configured)]


def skip_reason(entry: CheckEntry, settings: Settings, target: Target) -> str | None:
    """Why ``entry`` is not run on ``target`` with ``settings``, or None: the one place skips are decided."""
    if entry.skip_reason:
        return entry.skip_reason
    if target.traits.input_kind not in entry.input_kinds:
        return (f"states a rule about {' or '.join(INPUT_KINDS[k] for k in entry.input_kinds)} input; this "
                f"estimator takes {target.traits.input_kind_text}")
    if entry.fresh_process and settings.profile == "quick":
        return QUICK_FRESH_PROCESS
    if entry.device:
        if not settings.cuda_selected:
            return f"cuda is not selected (--conformance-devices {','.join(settings.devices)})"
        if target.traits.device_param is None:
            return NO_DEVICE_PARAM
        from conformance.devices_info import cpu_only_build

        build = cpu_only_build()  # read from a file: never initialises CUDA here
        if build is not None:
            return f"CUDA is not available: torch {build['torch_version']} is a CPU-only build"
    return None


def _no_match_message(patterns: list[str], targets: list[Target]) -> str:
    from conformance.registry import registered_checks

    known = [c.id for c in registered_checks()]
    hints = []
    for pattern in patterns:
        elsewhere = [i for i in known if fnmatch.fnmatchcase(i, pattern)]
        if elsewhere:
            hints.append(f"{pattern!r} names {', '.join(elsewhere[:3])}, which apply to none of "
                         f"{', '.join(t.label for t in targets)}")
        else:
            close = fnmatch.filter(known, pattern.split(".", 1)[0] + ".*")[:3]
            hints.append(f"{pattern!r} matches no check" + (f" (in that category: {', '.join(close)})" if close else
                                                             "; categories: sklearn, " + ", ".join(
                                                                 sorted({i.split('.')[0] for i in known}))))
    return "checks: " + "; ".join(hints) + " (python -m conformance --list-checks lists them)"
