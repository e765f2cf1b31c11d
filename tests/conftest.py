"""Shared helpers for the framework's own tests."""

import pytest

import conformance


def verdict(estimator, check_id: str, **kwargs):
    """The Result of one check on one estimator at its defaults (``variants=0`` unless given), run as the suite runs it."""
    kwargs.setdefault("variants", 0)
    report = conformance.check(estimator, checks=[check_id], **kwargs)
    results = [r for r in report.results if r.check == check_id]
    assert len(results) == 1, f"{check_id} did not run exactly once on {estimator!r}: {report.results}"
    return results[0]


@pytest.fixture
def run_check():
    return verdict


@pytest.fixture
def one_torch_thread():
    """One torch thread: fast on a small shared machine, and bitwise comparisons stay meaningful."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_configure(config):
    # Checks fork from the test process. libgomp is not fork-safe: once a process has run a
    # parallel torch region, a forked child that raises its thread count hangs (a defect that
    # changes the thread count does exactly that). One thread here, as the suite's own process
    # pins itself, keeps every forked check safe whatever ran in this worker before it.
    import torch

    torch.set_num_threads(1)
