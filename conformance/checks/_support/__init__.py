"""Helpers shared by the check modules, one concern per module.

A check module (``conformance/checks/<category>.py``) imports from here and from the suite's
core modules, never from another check module: a new check is written by reading one helper
module and one check module.

- :mod:`.outputs`: the methods whose outputs stand for a fitted model, and comparing them;
- :mod:`.seeding`: the global RNGs and the estimator's seed parameter;
- :mod:`.fingerprints`: torch-aware snapshots of values, and what changed between two;
- :mod:`.tags`: the estimator's sklearn tags, read one boolean at a time;
- :mod:`.search`: the hypothesis search that turns a property into a shrunk, reproducible failure;
- :mod:`.fresh_fit`: fits done here without a pickle, or in a fresh interpreter;
- :mod:`.cuda`: which CUDA device a check may use, or why it skips.
"""
