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
from dataclasses import dataclass, field

from conformance.errors import TargetError

ENV_VAR = "CONFORMANCE_ESTIMATOR"
DEFAULT_TARGETS = ("reference_estimators:default_estimators",)
DEFAULT_SOURCE = "default (the reference estimators)"


@dataclass
class Target:
    """One estimator under test, with how it was named (for labels and reproductions)."""

    label: str
    estimator: object
    spec: str | None = None  # "pkg.mod:attr" as given by the user, when there was one
    index: int | None = None  # position in the list a callable returned
    base: "Target | None" = field(default=None, repr=False)  # the default target this configures
    configuration: object = None  # the conformance.variants.Variant checked; None: the defaults
    configurations: object = field(default=None, repr=False)  # on a default target: what the plan derived
    fit_cache: dict = field(default_factory=dict, repr=False)
    history: object = field(default=None, repr=False)  # what the run learned of it (conformance.hangs.History)
    _traits: object = field(default=None, repr=False)

    def __post_init__(self):
        if self.history is None:
            from conformance.hangs import History

            self.history = History()

    @property
    def traits(self):
        """The estimator's :class:`~conformance.traits.EstimatorTraits` in this configuration, computed once."""
        if self._traits is None:
            from dataclasses import replace

            from conformance.traits import estimator_traits

            self._traits = replace(estimator_traits(self.estimator), configuration=self.configuration)
        return self._traits


def target_specs(cli: list[str] | None, project=None) -> tuple[list[str], str]:
    """The target strings to use and where they came from (cli, environment, pyproject, default).

    ``project`` is the run's :class:`~conformance.project.ProjectConfig` (or None).
    """
    if cli:
        return _split(cli), "--estimator"
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _split([env]), ENV_VAR
    from_file = project.estimators() if project is not None else []
    if from_file:
        return from_file, f"{project.path} [tool.conformance] estimators"
    return list(DEFAULT_TARGETS), DEFAULT_SOURCE


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def resolve(spec: str, stage=None) -> list[Target]:
    """The targets a ``module.path:attr`` string names; :class:`TargetError` says why not.

    Whatever the user's code raises, ``SystemExit`` included, becomes that error (a
    ``KeyboardInterrupt`` is let through). ``stage``, if given, is called with a short text
    before each step that runs the user's code (``"importing 'pkg.mod'"``).
    """
    stage = stage or _no_stage
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"target {spec!r}: expected 'module.path:attr', e.g. 'sklearn.linear_model:Ridge'")
    stage(f"importing {module_name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        raise TargetError(f"target {spec!r}: module {missing!r} not found; {_import_hint(missing)}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's module failed to import (or exited)
        raise TargetError(f"target {spec!r}: importing {module_name!r} {raised(exc)}") from None
    value = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise TargetError(f"target {spec!r}: module {module_name!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return _targets_from(spec, value, stage)


def _no_stage(text: str) -> None:
    return None


def raised(exc: BaseException) -> str:
    """What the user's code did, for a message: ``raised ValueError: ...``, or ``called sys.exit(3)``."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})" if exc.code is not None else "called sys.exit()"
    return f"raised {type(exc).__name__}: {exc}"


def _import_hint(missing: str) -> str:
    """How to make ``missing`` importable: it is often a file right here that is not on ``sys.path``."""
    import sys
    from pathlib import Path

    top = missing.split(".")[0]
    here = Path.cwd()
    local = next((p for p in (here / f"{top}.py", here / top) if p.exists()), None)
    if local is not None and str(here) not in [str(Path(p).resolve()) for p in sys.path if p]:
        return (f"{local.name} is in {here} but that folder is not on sys.path: run `python -m pytest ...` "
                "(which adds it), or set pythonpath = [\".\"] under [tool.pytest.ini_options] in pyproject.toml, "
                "or install your package (pip install -e .)")
    return ("is it installed in this environment? (pip install -e . for your own package; for a module in a "
            "folder of your project, set pythonpath under [tool.pytest.ini_options])")


def _targets_from(spec: str, value, stage) -> list[Target]:
    if inspect.isclass(value):
        if not _is_estimator(value):
            raise TargetError(f"target {spec!r}: class {value.__name__} is not a scikit-learn estimator (no get_params/fit)")
        stage(f"building {value.__name__}()")
        return [Target(value.__name__, _call(spec, value, f"{value.__name__}()"), spec)]
    if _is_estimator(value):
        return [Target(type(value).__name__, value, spec)]
    if callable(value):
        stage(f"calling {spec.partition(':')[2]}()")
        made = _call(spec, value, "calling it")
        items = made if isinstance(made, (list, tuple)) else [made]
        bad = [type(item).__name__ for item in items if not _is_estimator(item)]
        if bad or not items:
            raise TargetError(f"target {spec!r}: the callable returned {', '.join(bad) or 'an empty list'}, "
                              "not scikit-learn estimators")
        indexed = isinstance(made, (list, tuple))
        return [Target(type(item).__name__, item, spec, index=i if indexed else None) for i, item in enumerate(items)]
    raise TargetError(f"target {spec!r}: {type(value).__name__} object is not an estimator, an estimator class, "
                      "or a callable returning estimators")


def _call(spec: str, function, what: str):
    """``function()``, whatever it raises (``SystemExit`` included) turned into a :class:`TargetError`."""
    try:
        return function()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's constructor or factory failed
        raise TargetError(f"target {spec!r}: {what} {raised(exc)}") from None


def _is_estimator(value) -> bool:
    return hasattr(value, "get_params") and hasattr(value, "fit")


def resolve_all(specs: list[str], stage=None) -> list[Target]:
    """Resolve every spec and give each target a label unique in the run (``stage`` as for :func:`resolve`)."""
    stage = stage or _no_stage
    targets = [t for spec in specs for t in resolve(spec, stage)]
    for target in targets:
        stage(f"reading the tags and traits of {target.label}")
        try:
            target.traits
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - bad tags are a usage error of the target
            raise TargetError(f"target {target.spec or target.label!r}: {type(exc).__name__}: {exc}") from None
    return with_unique_labels(targets)


def with_unique_labels(targets: list) -> list:
    """Number repeated labels (``Ridge_1``, ``Ridge_2``); ``targets`` are anything with a ``label``."""
    counts: dict[str, int] = {}
    for target in targets:
        counts[target.label] = counts.get(target.label, 0) + 1
    seen: dict[str, int] = {}
    for target in targets:
        if counts[target.label] > 1:
            seen[target.label] = seen.get(target.label, 0) + 1
            target.label = f"{target.label}_{seen[target.label]}"
    return targets


def targets_from_objects(objects) -> list[Target]:
    """Targets for estimators given from Python: instances, or classes built with no arguments.

    ``objects`` is one of those or a list of them; anything else raises ``TypeError`` naming it.
    """
    items = list(objects) if isinstance(objects, (list, tuple)) else [objects]
    if not items:
        raise ValueError("no estimator given: pass an estimator, an estimator class, or a list of them")
    targets = []
    for item in items:
        if inspect.isclass(item) and _is_estimator(item):
            try:
                item = item()
            except Exception as exc:  # noqa: BLE001 - the constructor's error, named
                raise TypeError(f"{item.__name__}() raised {type(exc).__name__}: {exc}; pass an instance "
                                "built with the arguments it needs") from None
        if not _is_estimator(item) or inspect.isclass(item):
            raise TypeError(f"{item!r} is not a scikit-learn estimator (an object with get_params and fit) "
                            "or an estimator class")
        targets.append(Target(type(item).__name__, item))
    return with_unique_labels(targets)
