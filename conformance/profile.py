"""Deprecated alias of :mod:`conformance.traits` (renamed in 0.2), kept so that reproduction
snippets printed by earlier versions still run."""

import warnings

from conformance.traits import EstimatorTraits as EstimatorProfile  # noqa: F401
from conformance.traits import estimator_traits as profile_estimator  # noqa: F401

warnings.warn("conformance.profile is renamed conformance.traits (profile_estimator is estimator_traits)",
              DeprecationWarning, stacklevel=2)
