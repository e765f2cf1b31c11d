"""What counts as an estimator refusing input clearly, and what leaked from the libraries below it.

An estimator may refuse data it cannot use, with a ``ValueError`` of its own (sklearn's
validation raises those). An exception raised inside torch, or numpy's ``LinAlgError`` from a
matrix that happens to be singular, is not a refusal: it is the estimator's plumbing failing on
data it never looked at, and the message names the symptom ("Expected more than 1 value per
channel", "Singular matrix"), not the data. Warnings that an array is not writable come from
torch's ``from_numpy``/``as_tensor`` on read-only input (memmaps, joblib's shared arrays).
"""

from __future__ import annotations

import os
import sys
import traceback


def innermost_file(exc: BaseException) -> str | None:
    """The file of the frame that raised ``exc`` (the last frame of its traceback), or None."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    return frames[-1].filename if frames else None


def raised_inside_torch(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by torch's own code (its Python frames or its C++ core)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if type(exc).__module__.startswith("torch"):
        return True
    filename = innermost_file(exc)
    root = os.path.dirname(os.path.abspath(torch.__file__))
    return filename is not None and os.path.abspath(filename).startswith(root + os.sep)


def leaked_error(exc: BaseException) -> str | None:
    """Why ``exc`` is a library's error leaking through rather than the estimator's refusal, or None."""
    import numpy as np

    if raised_inside_torch(exc):
        return "raised inside torch, not by the estimator's own validation"
    if isinstance(exc, np.linalg.LinAlgError):
        return "numpy.linalg's LinAlgError from a singular or degenerate matrix, not a refusal naming the data"
    return None


def is_clear_refusal(exc: BaseException) -> bool:
    """A ``ValueError`` the estimator (or sklearn's validation) raised, not one leaking from below."""
    return isinstance(exc, ValueError) and leaked_error(exc) is None


def first_line(exc: BaseException, limit: int = 200) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:limit]


UNWRITABLE = ("not writable", "non-writable", "not writeable", "non-writeable")


def unwritable_warnings(records) -> list[str]:
    """The messages among the recorded ``warnings`` that say an array is not writable."""
    return [str(r.message) for r in records if any(word in str(r.message).lower() for word in UNWRITABLE)]


# How a refusal of a way of fitting may name it.
FIT_WORDS = {"sample_weight": ("sample_weight", "sample weight", "weight"), "partial_fit": ("partial_fit",)}


def refusal_names(variant) -> tuple:
    """What a clear refusal of ``variant`` may name: its parameters (and string values), or its way of fitting."""
    names = []
    for key, value in variant.params.items():
        names += [key.lower(), key.rsplit("__", 1)[-1].lower()]
        if isinstance(value, str) and value:
            names.append(value.lower())
    names += FIT_WORDS.get(variant.fit_with, ())
    return tuple(dict.fromkeys(names))
