"""Hangs at import: the suite must stop it at --conformance-target-timeout and show where it was."""

import time

from sklearn.linear_model import Ridge as Model  # noqa: F401 - what the target would name

time.sleep(3600)
