"""The input checks' hypothesis search: a spent shrink budget ends the search and reports.

Shrinking refits the estimator on every candidate, so it runs within a budget of calls
(``SHRINK_CALLS``). Past it the search must stop drawing candidates and report the smallest
failure found, not let hypothesis's shrinker keep drawing (minutes of it on text inputs).
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from conformance.checks._support import search as search_module
from conformance.context import CheckContext
from conformance.errors import CheckFailure
from conformance.settings import Settings
from conformance.targets import Target
from tests.estimators.text import TinyTextEmbedder


def context() -> CheckContext:
    estimator = TinyTextEmbedder()
    return CheckContext(Target(type(estimator).__name__, estimator),
                        Settings(profile="quick", isolation="none"), "inputs.search_test")


def test_spent_shrink_budget_ends_the_search_and_reports_the_last_failure(monkeypatch):
    monkeypatch.setattr(search_module, "SHRINK_CALLS", 3)
    drawn, failed = [], []

    def prop(docs, script):
        script.lines.append(f"docs = {docs!r}")
        if any(len(doc) > 1 for doc in docs):  # fails on most draws; shrinks towards ["aa"]
            failed.append(docs)
            raise search_module.Violation(f"rule broken on {len(docs)} documents")

    strategy = st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=12).map(
        lambda docs: drawn.append(docs) or docs)
    with pytest.raises(CheckFailure) as caught:
        search_module.search(context(), strategy, prop)
    first = next(i for i, docs in enumerate(drawn) if docs is failed[0])
    new_after_first = {repr(docs) for docs in drawn[first + 1:]} - {repr(docs) for docs in drawn[:first + 1]}
    # 3 new candidates are tried within the budget; the 4th ends the search (83 were drawn when
    # spent-budget candidates were let pass instead).
    assert len(new_after_first) <= 3 + 1, f"{len(new_after_first)} new candidates drawn after a budget of 3"
    assert caught.value.message == f"rule broken on {len(failed[-1])} documents"
    assert f"docs = {failed[-1]!r}" in caught.value.repro
