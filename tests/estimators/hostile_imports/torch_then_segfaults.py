"""Imports torch (a library the suite trusts and imports alongside a probe), then crashes the interpreter (SIGSEGV)."""

import ctypes

import torch  # noqa: F401 - the suite's process may import it too; this module's own code must run in the probe only
from sklearn.linear_model import Ridge as Model  # noqa: F401 - what the target would name

ctypes.string_at(0)  # reads address 0
