"""The suite's own checks, one module per concern, and :mod:`._support`, the helpers they share.

Each check module imports shared helpers from :mod:`conformance.checks._support` and the
suite's core modules, never another check module. Importing this package imports no check
module (a fresh interpreter that needs a helper loads only that helper); the registry imports
every module here whose name does not start with ``_``, which registers its checks, and
``sklearn_checks`` registers the provider expanding into sklearn's own checks.
"""
