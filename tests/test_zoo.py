"""The defect zoo: the suite fails every defect with a check aimed at it, and passes every twin.

Each defect (tests/estimators/zoo.py) is a correct twin with exactly one real-world mistake;
``aimed_at`` names the checks meant to catch it. Running only those checks keeps this fast;
``scripts/mutation-score`` runs the whole suite on all of them (docs/proof.md).
"""

from __future__ import annotations

import pytest

import conformance
from conformance.registry import registered_checks
from tests.estimators import zoo

# Checks that need fresh processes or a worker pool (seconds each on a 2-core runner): run on a
# defect only when it is aimed at nothing cheaper.
SLOW = {"determinism.fresh_process_same_fit", "determinism.thread_count_agrees",
        "params.grid_search_parallel", "persistence.fresh_process_load"}
# Failures of correct twins that are the suite's known limits, not the twins' mistakes. Each is
# reported xfailed; if one starts passing the twin test fails, so the list stays tight.
KNOWN_TWIN_FAILURES: dict[str, str] = {}
CATEGORIES = ("sklearn", "inputs", "params", "persistence", "determinism", "devices", "hygiene")
# The twins of the defects that hide behind a configuration pass the checks of every configuration
# in tests/test_variants.py; the whole suite on them runs in scripts/mutation-score (docs/proof.md):
# here they would add minutes to CI for the same tiny network the twins above already run.
TWIN_CASES = [pytest.param(twin, category, id=f"{twin.__name__}-{category}")
              for twin in zoo.TWINS if twin not in zoo.VARIANT_TWINS for category in CATEGORIES]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# Configurations besides the defaults a defect that hides behind one is checked in.
VARIANTS = 8


def known_ids(estimator, variants: int = 0) -> set[str]:
    """Every check id the suite would run on ``estimator`` (sklearn's included), in ``variants`` configurations too."""
    from conformance.plan import checked_targets, planned_entries
    from conformance.settings import Settings
    from conformance.targets import Target

    settings = Settings(profile="quick", variants=variants)
    targets = checked_targets([Target(type(estimator).__name__, estimator)], settings)
    return {entry.id for target in targets for entry in planned_entries(target, settings)}


def statuses_in(report, configuration: str | None) -> dict:
    """``{check: status}`` of the report's row for ``configuration`` (``early_stopping=True``), or of the defaults."""
    rows = [e for e in report.estimators if (configuration is None and e.variant is None)
            or (configuration is not None and e.label.endswith(f"[{configuration}]"))]
    return {r.check: r.status for row in rows for r in row.results}


def reproduction(message: str) -> str | None:
    """The snippet under "reproduce with:" in a failure message, dedented (None when there is none)."""
    lines = message.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "reproduce with:"), None)
    if start is None:
        return None
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    body = []
    for line in lines[start + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line[indent:])
    return "\n".join(body)


def run_snippet(code: str):
    """Run ``code`` as a fresh interpreter does (the suite's fresh-process server), from the repo root."""
    import os
    from pathlib import Path

    from conformance.fresh import ensure_server, run_python

    ensure_server()
    root = str(Path(__file__).resolve().parents[1])
    return run_python(code, env={**os.environ, "PYTHONPATH": root}, timeout=300, text=True)


def as_twin(code: str, defect) -> str:
    """``code`` with the estimator built as ``defect``'s correct twin instead of the defect."""
    twin = next(t for t in defect.__mro__[1:] if t in zoo.TWINS)
    lines = [line for line in code.splitlines() if line != f"from {defect.__module__} import {defect.__name__}"
             and not line.endswith(f" import {defect.__name__}")]
    return "\n".join(lines).replace(f"estimator = {defect.__name__}(", f"from {twin.__module__} import "
                                     f"{twin.__name__}\nestimator = {twin.__name__}(", 1)


def _calls_what_the_twin_lacks(code: str, defect) -> bool:
    """Whether ``code`` calls a method the defect added (``partial_fit``): the twin cannot run it."""
    twin = next(t for t in defect.__mro__[1:] if t in zoo.TWINS)
    added = {name for name in dir(defect) if not name.startswith("_") and not hasattr(twin, name)}
    return any(f".{name}(" in code for name in added)


def assert_reproductions_fail_on_defect_and_pass_on_twin(report, defect) -> None:
    """Every failure's snippet, pasted into a fresh interpreter, fails; built as the twin, it passes."""
    for result in report.results:
        if result.status != "failed":
            continue
        code = reproduction(result.message)
        assert code, f"{result.check} failed {defect.__name__} without a reproduction:\n{result.message}"
        done = run_snippet(code)
        assert done.returncode != 0, (f"{result.check}'s reproduction passes on {defect.__name__}, where the "
                                      f"check failed:\n{code}\n{done.stdout}{done.stderr}")
        if f"estimator = {defect.__name__}(" in code and not _calls_what_the_twin_lacks(code, defect):
            twin = run_snippet(as_twin(code, defect))
            assert twin.returncode == 0, (f"{result.check}'s reproduction also fails on the correct twin of "
                                          f"{defect.__name__}: it does not assert what the check does:\n"
                                          f"{as_twin(code, defect)}\n{twin.stderr[-3000:]}")


def failures_text(report) -> str:
    return "\n".join(f"  {r.check} [{r.status}]: {(r.message or '').strip()[:400]}" for _, r in report.failures())


def test_zoo_has_at_least_30_defects_covering_every_category():
    assert len(zoo.DEFECTS) >= 30
    categories = {aim.split(".", 1)[0] for d in zoo.DEFECTS for aim in d.aimed_at}
    assert set(CATEGORIES) <= categories
    for defect in zoo.DEFECTS:
        assert defect.__doc__ and defect.aimed_at, defect
        assert any(issubclass(defect, twin) for twin in zoo.TWINS), f"{defect.__name__} has no correct twin"


def checks_run_on(defect) -> list[str]:
    """The aimed-at checks :func:`test_suite_fails_defect_with_a_check_aimed_at_it` runs on ``defect``
    (each must fail it): all of them for a defect aimed at slow checks only; else the cheap ones,
    and a slow one only on the first defect aimed at it, so that every check is proven once
    without paying for the slow ones on every defect."""
    available = known_ids(defect(), VARIANTS if getattr(defect, "hidden_behind", None) else 0)
    aimed = [c for c in defect.aimed_at if c in available]
    if all(c in SLOW for c in aimed):
        return aimed
    first_for = {c: next(d for d in zoo.DEFECTS if c in d.aimed_at) for c in aimed if c in SLOW}
    return [c for c in aimed if c not in SLOW or first_for[c] is defect]


def profile_for(checks) -> str:
    """``quick``, unless a check starts fresh interpreters (the quick profile skips those)."""
    fresh = {c.id for c in registered_checks() if c.fresh_process}
    return "standard" if fresh & set(checks) else "quick"


def test_every_registered_check_fails_a_zoo_defect():
    # Each check is proven able to fail: some zoo defect is aimed at it, and the test below runs
    # that check on the defect and requires it to fail (CUDA-only defects where CUDA exists).
    proven = {check for defect in zoo.DEFECTS for check in checks_run_on(defect)}
    unproven = sorted(c.id for c in registered_checks() if c.id not in proven)
    assert not unproven, f"no zoo defect is failed by {unproven}: add one to tests/estimators (docs/proof.md)"


def test_every_aimed_at_check_exists():
    known = {c.id for c in registered_checks()}
    stale = {d.__name__: [c for c in d.aimed_at if c not in known and not c.startswith("sklearn.")]
             for d in zoo.DEFECTS}
    assert not {name: ids for name, ids in stale.items() if ids}


@pytest.mark.parametrize("defect", zoo.DEFECTS, ids=lambda d: d.__name__)
def test_suite_fails_defect_with_a_check_aimed_at_it(defect):
    if getattr(defect, "needs_cuda", False) and not cuda_available():
        pytest.skip(f"{defect.__name__}'s mistake is only visible where CUDA exists")
    estimator = defect()
    hidden = getattr(defect, "hidden_behind", None)  # the configuration it hides behind, if any
    available = known_ids(estimator, VARIANTS if hidden else 0)
    aimed = [c for c in defect.aimed_at if c in available]
    missing = [c for c in defect.aimed_at if c not in available]
    if not aimed:
        registered = {c.id for c in registered_checks()}
        why = "not registered" if not any(c in registered for c in missing) else "not applicable"
        pytest.xfail(f"{defect.__name__}: its aimed-at checks {missing} are {why} in this suite")
    aimed = checks_run_on(defect)
    report = conformance.check(estimator, checks=aimed, profile=profile_for(aimed),
                               variants=VARIANTS if hidden else 0)
    statuses = statuses_in(report, hidden)
    assert not report.ok, f"{defect.__name__} passed {statuses} ({defect.__doc__.strip()})"
    missed = [c for c in aimed if statuses.get(c) != "failed"]
    assert not missed, (f"{defect.__name__}: aimed at {missed}, which did not fail it (aimed_at lists the "
                        f"checks that catch it): {statuses}\n{failures_text(report)}")
    errors = [c for c in aimed if statuses.get(c) == "error"]
    assert not errors, f"checks broke on {defect.__name__} instead of judging it:\n{failures_text(report)}"
    assert_reproductions_fail_on_defect_and_pass_on_twin(report, defect)


@pytest.mark.parametrize(("twin", "category"), TWIN_CASES)
def test_suite_passes_correct_twin(twin, category):
    # One category per item, so xdist spreads a twin's suite over the workers. The SLOW checks
    # are left to scripts/mutation-score and to their own tests (tests/test_checks_*), which run
    # them on these twins' bases: here they would take most of the CI budget.
    checks = [i for i in known_ids(twin()) if i.startswith(category + ".") and i not in SLOW]
    if not checks:
        pytest.skip(f"no {category} check applies to {twin.__name__}")
    report = conformance.check(twin(), checks=checks, profile="quick", baseline=KNOWN_TWIN_FAILURES)
    assert {r.check for r in report.results} == set(checks)
    assert report.ok, f"the correct twin {twin.__name__} failed:\n{failures_text(report)}"
    xpassed = [r.check for r in report.results if r.status == "xpassed"]
    assert not xpassed, f"{xpassed} now pass on {twin.__name__}: drop them from KNOWN_TWIN_FAILURES"
