"""Ends the process with os._exit(5) at import, after printing why: no exception to catch."""

import os

from sklearn.linear_model import Ridge as Model  # noqa: F401 - what the target would name

print("config file missing, giving up", flush=True)
os._exit(5)
