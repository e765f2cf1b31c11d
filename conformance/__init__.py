"""A scikit-learn conformance suite for PyTorch-backed estimators.

Run it as ``pytest --pyargs conformance --estimator pkg.mod:obj``, or from Python::

    import conformance
    report = conformance.check(estimator)
    report.ok

Importing this package imports neither torch nor scikit-learn; they load when checks run.
"""

__version__ = "0.1.0"

__all__ = ["check", "parametrize", "Report", "Result", "Status", "CheckFailure", "CheckSkipped", "__version__"]


def __getattr__(name):
    # Lazy, so that the pytest plugin (loaded in every pytest run) stays cheap.
    if name in ("check", "parametrize"):
        from conformance import api

        return getattr(api, name)
    if name == "Report":
        from conformance.report import Report

        return Report
    if name in ("Result", "Status"):
        from conformance.result import Result, Status

        return Result if name == "Result" else Status
    if name in ("CheckFailure", "CheckSkipped"):
        from conformance import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'conformance' has no attribute {name!r}")
