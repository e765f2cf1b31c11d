"""Verdicts of the same cases under two isolations: long-lived workers against a fork per check.

Shared by ``tests/test_workers.py`` (a cheap selection, in CI) and ``scripts/compare-isolation``
(the whole zoo with every aimed-at check, and the hostile estimators).
"""

from __future__ import annotations

from conformance import workers
from conformance.plan import plan
from conformance.registry import entries_for
from conformance.runner import run_case
from conformance.session import build_settings
from conformance.targets import Target
from tests.estimators import hanging, hostile, zoo

# Cheap checks each hostile estimator meets: sklearn's, one reading the shared fit, one of ours.
HOSTILE_CHECKS = ("sklearn.check_fit2d_1sample", "params.clone_is_unfitted_and_independent",
                  "persistence.pickle_roundtrip")
HOSTILE = (hostile.HangsInFit, hostile.SegfaultsInFit, hostile.ExitsInFit, hostile.InterruptsInFit,
           hostile.PrintsMegabytes, hostile.AllocatesWithoutBound, hostile.LeaksGlobalTorchState,
           hostile.WritesIntoReadOnlyMemmap, hanging.HangsInFit, hanging.SpawnsAndHangsInFit,
           hanging.HangsOnLargeInput, hanging.SpinsInFit)
HANGING = (hostile.HangsInFit, hanging.HangsInFit, hanging.SpawnsAndHangsInFit, hanging.HangsOnLargeInput,
           hanging.SpinsInFit)
SLOW = {"determinism.fresh_process_same_fit", "determinism.thread_count_agrees",
        "params.grid_search_parallel", "persistence.fresh_process_load"}


def zoo_selection(defects=zoo.DEFECTS, slow: bool = False) -> list:
    """``(defect class, its aimed-at checks that apply)`` for each defect; without ``slow``, the cheap ones."""
    pairs = []
    for defect in defects:
        if getattr(defect, "needs_cuda", False):
            continue
        available = {entry.id for entry in entries_for(Target(defect.__name__, defect()))}
        aimed = [c for c in defect.aimed_at if c in available and (slow or c not in SLOW)]
        if aimed:
            pairs.append((defect, aimed))
    return pairs


def hostile_selection() -> list:
    return [(estimator, list(HOSTILE_CHECKS)) for estimator in HOSTILE]


def verdicts(pairs, isolation: str, profile: str = "quick", timeout_s: float = 3.0,
             memory_limit_mb: float = 3000) -> list[tuple[str, str, str]]:
    """``(label, check, status)`` of every (estimator class, checks) pair, run in order under ``isolation``."""
    settings = build_settings(profile=profile, isolation=isolation, timeout_s=timeout_s,
                              memory_limit_mb=memory_limit_mb)
    cases = []
    for klass, checks in pairs:
        cases += plan([Target(klass.__name__, klass())], settings, select=checks)
    if settings.uses_workers:
        workers.open_pool(cases)
    try:
        return [(case.target.label, case.entry.id, run_case(case).status.value) for case in cases]
    finally:
        workers.close_pool()


def differences(pairs, **options) -> list[str]:
    """Where the workers' verdicts differ from the fork-per-check runner's (empty: identical)."""
    each = verdicts(pairs, "fork-each", **options)
    pooled = verdicts(pairs, "worker", **options)
    assert [v[:2] for v in each] == [v[:2] for v in pooled]
    return [f"{label} {check}: fork-each {a}, worker {b}"
            for (label, check, a), (_, _, b) in zip(each, pooled) if a != b]
