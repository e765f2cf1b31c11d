"""Reproductions: the Python lines, printed under a failure, that rebuild what a check did.

A snippet must run as pasted in a fresh interpreter and fail there as the check did. So every
snippet starts by building the estimator the way the user named it (:func:`construction_lines`),
and, when its lines use ``X``/``y`` (or ``X_other``/``y_other``) without defining them, by
rebuilding the suite's data (:func:`data_lines`) with the public :func:`conformance.data.dataset_for`.
Those imports are public API: they must keep working across refactors.
"""

from __future__ import annotations

import importlib
import inspect
import re

# Names a snippet may use without defining them, and the seed of the data they stand for.
DATA_NAMES = {("X", "y"): 0, ("X_other", "y_other"): 1}


def params_text(params: dict) -> str:
    """``a=1, b='x'``: keyword arguments as Python source."""
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def data_lines(n_samples: int, seed: int = 0, names: tuple = ("X", "y")) -> list[str]:
    """Lines defining ``names`` as the suite's data for ``estimator`` (``n_samples`` rows, ``seed``)."""
    x_name, y_name = names
    return ["from conformance.data import dataset_for",
            f"{x_name}, {y_name} = dataset_for(estimator, {n_samples}, seed={seed}).xy"]


def snippet(target, lines, n_samples: int) -> str:
    """The whole reproduction: build the estimator, rebuild the data ``lines`` use, then ``lines``."""
    body = [line for chunk in lines for line in str(chunk).splitlines()]
    setup = list(construction_lines(target))
    for names, seed in DATA_NAMES.items():
        if _uses_undefined(body, names):
            setup += data_lines(n_samples, seed, names)
    return "\n".join(_dedupe_imports(setup + body))


def _uses_undefined(lines: list[str], names: tuple) -> bool:
    """Whether ``lines`` read one of ``names`` before (or without) assigning it."""
    pattern = re.compile(r"(?<![\w.'\"])(" + "|".join(map(re.escape, names)) + r")(?![\w'\"])")
    assigns = re.compile(r"^\s*(" + "|".join(map(re.escape, names)) + r")\s*(,\s*\w+\s*)*=[^=]")
    for line in lines:
        code = line.split("#", 1)[0]
        if assigns.match(code):
            return False
        if pattern.search(code):
            return True
    return False


def _dedupe_imports(lines: list[str]) -> list[str]:
    seen, kept = set(), []
    for line in lines:
        if line.startswith(("import ", "from ")) and line in seen:
            continue
        seen.add(line)
        kept.append(line)
    return kept


def construction_lines(target) -> list[str]:
    """Python lines that build ``target``'s estimator in a fresh interpreter, as ``estimator``."""
    if target.spec:
        module, attr = target.spec.split(":", 1)
        lines = [f"from {module} import {attr.split('.')[0]}"]
        kind = _resolved_kind(target.spec)
        if kind == "class":
            lines.append(f"estimator = {attr}()")
        elif kind == "callable":
            call = f"{attr}()" + (f"[{target.index}]" if target.index is not None else "")
            lines.append(f"estimator = {call}")
        else:
            lines += ["from sklearn.base import clone", f"estimator = clone({attr})"]
        return lines
    klass = type(target.estimator)
    return [f"from {klass.__module__} import {klass.__name__}",
            f"estimator = {klass.__name__}({params_text(changed_params(target.estimator))})"]


def _resolved_kind(spec: str) -> str:
    module, attr = spec.split(":", 1)
    value = importlib.import_module(module)
    for part in attr.split("."):
        value = getattr(value, part)
    if inspect.isclass(value):
        return "class"
    if callable(value) and not hasattr(value, "get_params"):
        return "callable"
    return "instance"


def changed_params(estimator) -> dict:
    """The parameters whose values differ from the constructor's defaults."""
    params = estimator.get_params(deep=False)
    try:
        signature = inspect.signature(type(estimator).__init__)
    except (TypeError, ValueError):
        return params
    changed = {}
    for name, value in params.items():
        default = signature.parameters.get(name)
        if default is None or default.default is inspect.Parameter.empty:
            changed[name] = value
            continue
        try:
            same = bool(default.default == value) if default.default is not value else True
        except Exception:  # noqa: BLE001 - an == that raises: treat as changed
            same = False
        if not same:
            changed[name] = value
    return changed
