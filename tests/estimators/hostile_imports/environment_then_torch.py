"""Sets an environment variable, then imports torch: torch must be imported after that change wherever it is."""

import os

os.environ["CONFORMANCE_TEST_SET_BY_TARGET"] = "1"  # as OMP_NUM_THREADS is set before import torch

import torch  # noqa: E402,F401 - after the environment change, on purpose
from sklearn.linear_model import Ridge as Model  # noqa: E402,F401 - what the target names
