"""A stand-in for a library with import-time side effects, imported lazily by ``LazyImportClassifier``.

Many libraries register warnings filters and loggers, or set environment defaults, when first
imported. That happens once per process, not per call, so it is not the estimator's leak.
"""

import logging
import os
import warnings

warnings.filterwarnings("ignore", message="lazy_import_effects")
os.environ.setdefault("CONFORMANCE_LAZY_IMPORT_EFFECTS", "1")
logging.getLogger("tests.estimators.lazy_import_effects").addHandler(logging.NullHandler())
