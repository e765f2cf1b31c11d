"""Root causes: many failures of one estimator often share one, and it should be fixed first.

A float64 batch reaching a float32 module raises "mat1 and mat2 must have the same dtype" in
every check that predicts: dozens of failures, one fix. Each failure records its *cause*: the
exception the estimator raised, as its type, its message with the numbers taken out, and the
innermost frame of the estimator's own code (not the suite's, sklearn's or torch's); a failure
that raised nothing is keyed by its headline. :func:`shared_causes` groups an estimator's
failures by that key, largest group first.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field

_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(\.\d+)?(e[-+]?\d+)?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_SUITE_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple({os.path.abspath(p) for p in (sysconfig.get_paths().get("stdlib"),
                                                     sysconfig.get_paths().get("purelib"),
                                                     sysconfig.get_paths().get("platlib")) if p})
# sklearn's and torch's call machinery: frames that say nothing about where the problem is.
_MACHINERY = ("sklearn/utils/_testing.py", "sklearn/utils/_param_validation.py", "sklearn/utils/_set_output.py",
              "sklearn/base.py", "torch/nn/modules/module.py", "contextlib.py", "functools.py")


def normalized(text: str) -> str:
    """``text``'s first line with numbers and addresses replaced, so "(40x3 and 4x16)" matches "(80x3 ...)"."""
    first = (text.strip().splitlines() or [""])[0]
    return _NUMBER.sub("N", _ADDRESS.sub("0x…", first))[:240]


def is_suite_frame(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_SUITE_DIR + os.sep)


def is_library_frame(filename: str) -> bool:
    path = os.path.abspath(filename)
    return (is_suite_frame(path) or any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS)
            or f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path)


def owner_paths(estimator) -> tuple[str, ...]:
    """Where the estimator's own code lives: the top-level packages of its classes (sklearn's aside).

    Its code may be installed in site-packages like any library, so it is found by package,
    not by location.
    """
    paths = []
    for klass in type(estimator).__mro__:
        top = klass.__module__.split(".")[0]
        module = sys.modules.get(top)
        if top in ("builtins", "sklearn", "conformance") or module is None or not getattr(module, "__file__", None):
            continue
        path = os.path.abspath(module.__file__)
        path = os.path.dirname(path) if os.path.basename(path) == "__init__.py" else path
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def is_machinery_frame(filename: str) -> bool:
    path = filename.replace(os.sep, "/")
    return is_suite_frame(filename) or any(path.endswith(m) for m in _MACHINERY)


def _own_frames(exc: BaseException, owners: tuple = ()) -> list:
    frames = traceback.extract_tb(exc.__traceback__)
    owned = [f for f in frames if any(os.path.abspath(f.filename) == p or os.path.abspath(f.filename).startswith(p + os.sep)
                                      for p in owners)]
    return owned or [f for f in frames if not is_library_frame(f.filename)]


def user_frame(exc: BaseException, owners: tuple = ()):
    """The innermost frame of the estimator's own code (``owners``: see :func:`owner_paths`), else
    of any code that is not a library's, else the innermost frame; None without a traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    return (_own_frames(exc, owners) or frames or [None])[-1]


def own_location(exc: BaseException, owners: tuple = ()) -> str | None:
    """``path:line`` of the innermost frame in the estimator's own code, or None when all are libraries'."""
    own = _own_frames(exc, owners)
    return f"{os.path.abspath(own[-1].filename)}:{own[-1].lineno}" if own else None


def cause_key(exc: BaseException, owners: tuple = ()) -> str:
    """``Type: normalized message @ file:line`` of the innermost frame of the estimator's own code."""
    frame = user_frame(exc, owners)
    where = f" @ {_short_path(frame.filename)}:{frame.lineno}" if frame is not None else ""
    return f"{type(exc).__name__}: {normalized(str(exc))}{where}"


def cause_text(exc: BaseException, owners: tuple = ()) -> str:
    """How a group's headline names the cause: the exception, and where the estimator raised it."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    frame = user_frame(exc, owners)
    where = f" (raised at {_short_path(frame.filename)}:{frame.lineno} in {frame.name})" if frame is not None else ""
    return f"{type(exc).__name__}: {first}{where}" if first else f"{type(exc).__name__}{where}"


def _short_path(filename: str) -> str:
    path = os.path.abspath(filename)
    for base in sorted((p for p in sys.path if p and os.path.isdir(p)), key=len, reverse=True):
        base = os.path.abspath(base)
        if path.startswith(base + os.sep):
            return os.path.relpath(path, base)
    return path


@dataclass
class SharedCause:
    """Failures of one estimator that share one cause: fix it, and they may all pass."""

    label: str
    cause: str
    checks: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.checks)

    def headline(self) -> str:
        return f"{self.count} failures of {self.label} share one cause: {self.cause}; fix this first"

    def to_dict(self) -> dict:
        return {"estimator": self.label, "cause": self.cause, "count": self.count, "checks": list(self.checks)}


def shared_causes(failures) -> list[SharedCause]:
    """Groups of two or more ``(label, result)`` failures with the same cause key, largest first."""
    groups: dict[tuple, SharedCause] = {}
    for label, result in failures:
        key = result.cause_key or normalized(result.summary)
        group = groups.setdefault((label, key), SharedCause(label, result.cause or result.summary))
        group.checks.append(result.check)
    return sorted((g for g in groups.values() if g.count > 1), key=lambda g: -g.count)
