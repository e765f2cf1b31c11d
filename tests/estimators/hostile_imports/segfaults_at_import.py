"""Crashes the interpreter at import (SIGSEGV)."""

import ctypes

from sklearn.linear_model import Ridge as Model  # noqa: F401 - what the target would name

ctypes.string_at(0)  # reads address 0
