"""Reproductions: the Python lines, printed under a failure, that rebuild what a check did.

A snippet must run as pasted in a fresh interpreter and fail there as the check did. So every
snippet starts by building the estimator the way the user named it (:func:`construction_lines`),
and, when its lines use ``X``/``y`` (or ``X_other``/``y_other``) without defining them, by
rebuilding the suite's data (:func:`data_lines`) with the public :func:`conformance.data.dataset_for`.
A configuration besides the defaults adds its ``set_params`` line; one that trains another way
(``sample_weight``, ``partial_fit``) has every ``.fit(...)`` of the snippet rewritten to
``fit_as(..., fit_with=...)`` (:func:`fits_rewritten`), the public call the checks trained with.
Those imports are public API: they must keep working across refactors.
"""

from __future__ import annotations

import ast
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
    fit_with = target.traits.fit_with
    if fit_with != "fit":
        rewritten = fits_rewritten(body, fit_with)
        if rewritten != body:
            body = ["from conformance.testing import fit_as", *rewritten]
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


def fits_rewritten(lines: list[str], fit_with: str) -> list[str]:
    """``lines`` with each ``<estimator>.fit(<args>)`` call turned into ``fit_as(<estimator>, <args>, fit_with=...)``.

    Lines that are not whole statements on their own (``try:``) are left as they are, as are
    ``fit`` calls with keywords (they already choose how to fit).
    """
    return [new for line in lines for new in _line_rewritten(line, fit_with)]


def _line_rewritten(line: str, fit_with: str) -> list[str]:
    if ".fit(" not in line:
        return [line]
    indent = line[:len(line) - len(line.lstrip())]
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return [line]
    rewriter = _FitCalls(fit_with)
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    if not rewriter.changed:
        return [line]
    return [indent + statement for statement in ast.unparse(tree).splitlines()]


class _FitCalls(ast.NodeTransformer):
    def __init__(self, fit_with: str):
        self.fit_with, self.changed = fit_with, False

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "fit" and not node.keywords:
            self.changed = True
            return ast.Call(ast.Name("fit_as", ast.Load()), [node.func.value, *node.args],
                            [ast.keyword("fit_with", ast.Constant(self.fit_with))])
        return node


def construction_lines(target) -> list[str]:
    """Python lines that build ``target``'s estimator in a fresh interpreter, as ``estimator``.

    A configuration besides the defaults is built as its default target, then ``set_params``.
    """
    variant = target.configuration
    if variant is not None and target.base is not None:
        lines = construction_lines(target.base)
        return lines + ([f"estimator.set_params({params_text(variant.params)})"] if variant.params else [])
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
