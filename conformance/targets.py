"""Turn the names users give (``pkg.mod:attr``) into estimators to test.

``attr`` may be an estimator class (instantiated with no arguments), an estimator instance, or
a zero-argument callable returning an estimator or a list of them. Targets come from the
command line, else ``CONFORMANCE_ESTIMATOR`` (comma-separated), else ``[tool.conformance]
estimators`` in ``pyproject.toml``, else the reference estimators.
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

from conformance.context import Target
from conformance.errors import TargetError

ENV_VAR = "CONFORMANCE_ESTIMATOR"
DEFAULT_TARGETS = ("reference_estimators:default_estimators",)


def target_specs(cli: list[str] | None, rootdir: Path | None = None) -> tuple[list[str], str]:
    """The target strings to use and where they came from (cli, environment, pyproject, default)."""
    if cli:
        return _split(cli), "--estimator"
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _split([env]), ENV_VAR
    from_file = _pyproject_targets(rootdir or Path.cwd())
    if from_file:
        return from_file, "pyproject.toml [tool.conformance] estimators"
    return list(DEFAULT_TARGETS), "default (the reference estimators)"


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _pyproject_targets(rootdir: Path) -> list[str]:
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    estimators = data.get("tool", {}).get("conformance", {}).get("estimators", [])
    if isinstance(estimators, str):
        estimators = [estimators]
    if not isinstance(estimators, list) or not all(isinstance(e, str) for e in estimators):
        raise TargetError(f"{path}: [tool.conformance] estimators must be a list of 'module:attr' strings")
    return estimators


def resolve(spec: str) -> list[Target]:
    """The targets a ``module.path:attr`` string names; :class:`TargetError` says why not."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"target {spec!r}: expected 'module.path:attr', e.g. 'sklearn.linear_model:Ridge'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        raise TargetError(f"target {spec!r}: module {missing!r} not found (is it installed in this environment?)") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import
        raise TargetError(f"target {spec!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    value = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise TargetError(f"target {spec!r}: module {module_name!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return _targets_from(spec, value)


def _targets_from(spec: str, value) -> list[Target]:
    if inspect.isclass(value):
        if not _is_estimator(value):
            raise TargetError(f"target {spec!r}: class {value.__name__} is not a scikit-learn estimator (no get_params/fit)")
        try:
            return [Target(value.__name__, value(), spec)]
        except Exception as exc:  # noqa: BLE001
            raise TargetError(f"target {spec!r}: {value.__name__}() raised {type(exc).__name__}: {exc}") from None
    if _is_estimator(value):
        return [Target(type(value).__name__, value, spec)]
    if callable(value):
        try:
            made = value()
        except Exception as exc:  # noqa: BLE001
            raise TargetError(f"target {spec!r}: calling it raised {type(exc).__name__}: {exc}") from None
        items = made if isinstance(made, (list, tuple)) else [made]
        bad = [type(item).__name__ for item in items if not _is_estimator(item)]
        if bad or not items:
            raise TargetError(f"target {spec!r}: the callable returned {', '.join(bad) or 'an empty list'}, "
                              "not scikit-learn estimators")
        indexed = isinstance(made, (list, tuple))
        return [Target(type(item).__name__, item, spec, index=i if indexed else None) for i, item in enumerate(items)]
    raise TargetError(f"target {spec!r}: {type(value).__name__} object is not an estimator, an estimator class, "
                      "or a callable returning estimators")


def _is_estimator(value) -> bool:
    return hasattr(value, "get_params") and hasattr(value, "fit")


def resolve_all(specs: list[str]) -> list[Target]:
    """Resolve every spec and give each target a label unique in the run."""
    targets = [t for spec in specs for t in resolve(spec)]
    for target in targets:
        try:
            target.get_profile()
        except Exception as exc:  # noqa: BLE001 - bad tags are a usage error of the target
            raise TargetError(f"target {target.spec or target.label!r}: {type(exc).__name__}: {exc}") from None
    return with_unique_labels(targets)


def with_unique_labels(targets: list[Target]) -> list[Target]:
    counts: dict[str, int] = {}
    for target in targets:
        counts[target.label] = counts.get(target.label, 0) + 1
    seen: dict[str, int] = {}
    for target in targets:
        if counts[target.label] > 1:
            seen[target.label] = seen.get(target.label, 0) + 1
            target.label = f"{target.label}_{seen[target.label]}"
    return targets
