"""Calls sys.exit(3) at import: a SystemExit that pytest would report as an INTERNALERROR."""

import sys

from sklearn.linear_model import Ridge as Model  # noqa: F401 - what the target would name

sys.exit(3)
