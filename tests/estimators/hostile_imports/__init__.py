"""Target modules that attack the suite before any check runs: at import, or when the estimator is built.

Each must cost a usage error naming the target and what happened, never a hung or crashed run.
"""
