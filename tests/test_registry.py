"""The registry is the table of contents: every check has a rule, a docs entry and a test."""

import re
from pathlib import Path

import pytest

from conformance.registry import registered_checks

REPO = Path(__file__).resolve().parents[1]
CHECKS = registered_checks()


def test_registry_is_not_empty_and_ids_are_stable_names():
    assert len(CHECKS) >= 30
    for check in CHECKS:
        assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", check.id), check.id
        assert check.category in {"inputs", "params", "persistence", "hygiene", "determinism", "devices"}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_check_states_its_rule_and_has_a_docs_entry(check):
    assert check.rule.endswith("."), f"{check.id}: the docstring's first sentence is its rule"
    page = REPO / check.docs.split("#")[0]
    assert page.is_file(), f"{check.id}: no docs page {page}"
    headings = re.findall(r"^#{2,3} +`?([a-z0-9_.]+)`?\s*$", page.read_text(), flags=re.M)
    assert check.name in headings, f"{check.id}: {page.name} has no '## {check.name}' heading"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_check_is_exercised_by_a_test(check):
    sources = [p.read_text() for p in (REPO / "tests").glob("test_*.py") if p.name != "test_registry.py"]
    sources += [p.read_text() for p in (REPO / "tests" / "estimators").glob("*.py")]
    assert any(check.id in text or f'"{check.name}"' in text for text in sources), \
        f"{check.id} is named by no test: prove it fails a defect and passes a correct twin"


def test_docs_index_lists_the_registry_as_it_is():
    from conformance.__main__ import list_checks

    index = (REPO / "docs" / "checks" / "README.md").read_text()
    assert list_checks(markdown=True) in index, \
        "docs/checks/README.md is stale: regenerate its table with python -m conformance --list-checks --markdown"
