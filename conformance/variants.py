"""Configurations besides the defaults: derived from the estimator's parameters, or declared by it.

A default instance only runs the code its defaults reach; a user who turns on
``early_stopping=True``, passes ``sample_weight`` or streams batches through ``partial_fit``
runs code no default-only check touched. So the suite checks each estimator in a few other
configurations too, each changing one thing:

- every boolean parameter, flipped;
- every other accepted value of a string parameter, where the accepted values can be found:
  sklearn's ``_parameter_constraints`` (``StrOptions``, and ``"boolean"``) when the class has
  them, else the numpydoc ``Parameters`` entry of the class (or a base class) listing them as
  ``{'a', 'b'}`` or as quoted literals (``"passthrough" or None``);
- ``fit`` with ``sample_weight`` (integer weights with zeros), when ``fit`` takes it;
- ``partial_fit`` over batches in place of ``fit``, when the estimator has it.

Parameters that cannot change what is learnt (``verbose``, ``n_jobs``, ...), the seed and the
device (their own checks vary them), numbers (no valid other value is known) and objects are
not varied; the report lists each with why. An estimator declares the configurations that
matter to its users with ``__conformance_tags__`` ``{"configurations": [{"early_stopping":
True}, ...]}`` (they come first), and turns derivation off with ``"derive_configurations":
False``. The profile's budget caps how many run (:func:`configurations`); which checks each
runs is the plan's decision (:mod:`conformance.plan`).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

from conformance.errors import TargetError

# The check whose verdict a configuration's fit is; the others skip when that fit fails.
FITS_CHECK = "params.variant_fits_or_refuses_clearly"
# Parameters that only change how the work is done or reported, never what is learnt.
INERT = {
    "verbose": "only changes what is printed",
    "n_jobs": "only changes how many workers run",
    "copy": "only changes whether the input is copied",
    "copy_X": "only changes whether the input is copied",
    "memory": "only changes caching",
    "use_caching": "only changes caching",
    "compile": ("compiling takes minutes and a C++ toolchain; declare it under 'configurations' "
                "in __conformance_tags__ to check it"),
}
# numpydoc hedges that introduce examples, not the accepted values.
_EXAMPLE_WORDS = re.compile(r"\b(e\.g|for example|such as|like)\b", re.I)
_QUOTED = re.compile(r"""(?<![\w])(['"])([^'"]*)\1""")


@dataclass(frozen=True, eq=False)
class Variant:
    """One configuration besides the defaults: parameters set on the default instance, and how it fits."""

    params: dict = field(default_factory=dict)
    fit_with: str = "fit"  # "fit", "sample_weight" or "partial_fit" (see conformance.fitting)
    source: str = "derived"  # "derived", "declared" (in __conformance_tags__) or "requested" (check(fit_with=...))
    why: str = ""

    @property
    def name(self) -> str:
        """What the label shows in brackets: ``early_stopping=True``, ``sample_weight``."""
        parts = [f"{key}={_label_value(value)}" for key, value in self.params.items()]
        return ",".join(parts + ([self.fit_with] if self.fit_with != "fit" else []))

    def same_as(self, other: "Variant") -> bool:
        return self.fit_with == other.fit_with and _same_params(self.params, other.params)

    def to_dict(self) -> dict:
        """The report's ``variant`` field: the parameters set, how it fits, where it came from."""
        return {"params": {k: _json_value(v) for k, v in self.params.items()}, "fit": self.fit_with,
                "source": self.source, "why": self.why}


@dataclass(frozen=True)
class NotVaried:
    """A parameter (or way of fitting) the suite did not vary, and why."""

    name: str
    reason: str

    def to_dict(self) -> dict:
        return {"name": self.name, "reason": self.reason}


@dataclass
class Configurations:
    """What the suite made of one estimator's configurations: those checked, those left out, and why."""

    budget: int
    checked: list = field(default_factory=list)  # Targets, one per configuration run
    over_budget: list = field(default_factory=list)  # Variants past the budget
    not_varied: list = field(default_factory=list)  # NotVaried

    def to_dict(self) -> dict:
        return {"budget": self.budget, "checked": [t.configuration.name for t in self.checked],
                "over_budget": [v.name for v in self.over_budget],
                "not_varied": [n.to_dict() for n in self.not_varied]}

    def summary(self) -> list[str]:
        """Lines for the run's header: the configurations checked, and what was not varied."""
        if self.checked:
            lines = ["configurations besides the defaults: " + ", ".join(f"[{t.configuration.name}]"
                                                                        for t in self.checked)]
        else:
            lines = [f"configurations besides the defaults: none (budget {self.budget}"
                     + (": --conformance-variants N checks some)" if self.budget == 0 else ")")]
        if self.over_budget:
            lines.append(f"over the budget of {self.budget}: " + ", ".join(f"[{v.name}]" for v in self.over_budget))
        reasons: dict[str, list[str]] = {}
        for item in self.not_varied:
            reasons.setdefault(item.reason, []).append(item.name)
        lines += [f"not varied: {', '.join(names)} ({reason})" for reason, names in reasons.items()]
        return lines


# --- deriving ------------------------------------------------------------------------------

def derive(estimator, traits) -> tuple[list[Variant], list[NotVaried]]:
    """The configurations the estimator's parameters and methods suggest, most telling first.

    Ways of fitting come first, then one value per parameter in the order ``get_params``
    lists them, then each parameter's next value, and so on: a budget that cuts the list
    still varies every parameter once.
    """
    params = estimator.get_params(deep=False)
    constraints = getattr(type(estimator), "_parameter_constraints", None)
    constraints = constraints if isinstance(constraints, dict) else {}
    documented = documented_choices(type(estimator))
    rounds, not_varied = [], []
    for name, value in params.items():
        reason = _inert_reason(name, traits)
        values, why = ([], "") if reason else alternatives(value, constraints.get(name), documented.get(name))
        if not values:
            not_varied.append(NotVaried(name, reason or _why_not_varied(value)))
            continue
        rounds.append([Variant({name: v}, why=why) for v in values])
    fits, not_fitted = _fit_variants(estimator, traits)
    return fits + _round_robin(rounds), not_fitted + not_varied


def _inert_reason(name: str, traits) -> str | None:
    if name == traits.seed_param:
        return "the determinism checks vary the seed"
    if name == traits.device_param:
        return "the devices checks vary the device"
    return INERT.get(name)


def alternatives(value, constraint, documented) -> tuple[list, str]:
    """The other values worth trying for one parameter, and where they were found (``([], "")``: none)."""
    if isinstance(value, bool):
        return [not value], "a boolean, flipped"
    found = [v for v in constrained_values(constraint, value) if not _same_value(v, value)]
    if found:
        return found, "accepted by its _parameter_constraints"
    if isinstance(value, str) or value is None:
        found = [v for v in documented or () if not _same_value(v, value)]
        if found:
            return found, "listed as accepted in its docstring"
    return [], ""


def constrained_values(constraint, current) -> list:
    """The string options (and booleans) a sklearn ``_parameter_constraints`` entry accepts.

    Only ``StrOptions`` (without its deprecated options) and the ``"boolean"`` constraint are
    read; hidden options, intervals and types name no value to try.
    """
    values = []
    for item in constraint if isinstance(constraint, (list, tuple)) else ():
        if type(item).__name__ == "StrOptions":
            deprecated = set(getattr(item, "deprecated", None) or ())
            values += sorted(str(option) for option in item.options if option not in deprecated)
        elif (isinstance(item, str) and item == "boolean") or item is bool:
            values += [] if isinstance(current, bool) else [True, False]
    return values


def _why_not_varied(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "numbers: no other valid value is known; params.set_params_acts_like_constructor changes them"
    if isinstance(value, str):
        return ("strings whose accepted values are not listed, in _parameter_constraints or as "
                "{'a', 'b'} in the numpydoc Parameters section")
    if value is None:
        return "None, with no accepted string listed"
    return "objects: no alternative is known; declare one under 'configurations' in __conformance_tags__"


def _fit_variants(estimator, traits) -> tuple[list[Variant], list[NotVaried]]:
    made, not_made = [], []
    if traits.fit_accepts_sample_weight:
        made.append(Variant(fit_with="sample_weight", why="fit takes sample_weight"))
    else:
        not_made.append(NotVaried("sample_weight", "fit takes no sample_weight"))
    if hasattr(estimator, "partial_fit"):
        made.append(Variant(fit_with="partial_fit", why="the estimator has partial_fit"))
    return made, not_made


def _round_robin(rounds: list[list]) -> list:
    ordered, depth = [], max((len(r) for r in rounds), default=0)
    for i in range(depth):
        ordered += [r[i] for r in rounds if i < len(r)]
    return ordered


# --- numpydoc ------------------------------------------------------------------------------

def documented_choices(klass) -> dict[str, list]:
    """``{parameter: [accepted values]}`` from the numpydoc ``Parameters`` sections of ``klass`` and its bases.

    The first class in the MRO that documents a parameter decides. Only literal values in the
    type line count: ``{'a', 'b'}`` sets (``None`` included) and quoted strings outside them,
    never the ``default=`` clause, and no quoted string at all when the line gives examples
    (``e.g.``, ``such as``).
    """
    found: dict[str, list] = {}
    for owner in getattr(klass, "__mro__", ()):
        for names, spec in numpydoc_parameters(owner.__dict__.get("__doc__") or ""):
            for name in names:
                found.setdefault(name, literal_choices(spec))
    return {name: values for name, values in found.items() if values}


def numpydoc_parameters(doc: str) -> list[tuple[list[str], str]]:
    """``[(names, type line), ...]`` of a docstring's ``Parameters`` section (empty without one)."""
    lines = inspect.cleandoc(doc).splitlines()
    start = next((i for i in range(len(lines) - 1) if lines[i].strip() == "Parameters"
                  and re.fullmatch(r"-{3,}", lines[i + 1].strip())), None)
    if start is None:
        return []
    indent = len(lines[start]) - len(lines[start].lstrip())
    entries = []
    for i in range(start + 2, len(lines)):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            break  # the next section's heading
        if len(line) - len(line.lstrip()) != indent:
            continue
        match = re.fullmatch(r"\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*:\s*(.*)", line)
        if match:
            entries.append(([n.strip() for n in match.group(1).split(",")], match.group(2)))
    return entries


def literal_choices(spec: str) -> list:
    """The literal values one numpydoc type line lists as accepted (see :func:`documented_choices`)."""
    spec = re.split(r"(?:[,(;]|^)\s*default\b", spec, maxsplit=1)[0]
    values = []
    for group in re.findall(r"\{([^}]*)\}", spec):
        for item in group.split(","):
            item = item.strip()
            quoted = _QUOTED.fullmatch(item)
            if quoted:
                values.append(quoted.group(2))
            elif item == "None":
                values.append(None)
    outside = re.sub(r"\{[^}]*\}", "", spec)
    if not _EXAMPLE_WORDS.search(outside):
        values += [m.group(2) for m in _QUOTED.finditer(outside)]
    unique = []
    for value in values:
        if not any(_same_value(value, seen) for seen in unique):
            unique.append(value)
    return unique


# --- choosing and building -----------------------------------------------------------------

def declared(traits) -> list[Variant]:
    """The configurations ``__conformance_tags__`` names under ``configurations``, in order."""
    return [Variant(dict(params), source="declared", why="declared in __conformance_tags__")
            for params in traits.declared_configurations]


def configurations(target, budget: int) -> Configurations:
    """The configurations of ``target`` to check: declared first, then derived, at most ``budget``.

    Never raises for a broken estimator: what cannot be derived or built is listed as not
    varied, with the error. A declared configuration that cannot be set is a :class:`TargetError`.
    """
    traits = target.traits
    result = Configurations(budget)
    wanted = declared(traits)
    if traits.derive_configurations:
        try:
            derived, result.not_varied = derive(target.estimator, traits)
        except Exception as exc:  # noqa: BLE001 - a broken get_params is the params checks' verdict
            derived, result.not_varied = [], [NotVaried("*", f"not derived: {type(exc).__name__}: {exc}")]
        wanted += [v for v in derived if not any(v.same_as(w) for w in wanted)]
    else:
        result.not_varied = [NotVaried("*", "derivation turned off ({'derive_configurations': False})")]
    for variant in wanted:
        if len(result.checked) >= budget:
            result.over_budget.append(variant)
            continue
        built = configured_target(target, variant)
        if isinstance(built, NotVaried):
            result.not_varied.append(built)
        else:
            result.checked.append(built)
    return result


def configured_target(target, variant: Variant):
    """``target`` in ``variant``'s configuration: a Target labelled ``Name[variant]``, or why it cannot be built."""
    from sklearn.base import clone

    from conformance.targets import Target

    try:
        estimator = clone(target.estimator)
        if variant.params:
            estimator.set_params(**variant.params)
        configured = Target(f"{target.label}[{variant.name}]", estimator, target.spec, target.index,
                            base=target, configuration=variant)
        configured.traits  # noqa: B018 - computed here, so a configuration whose traits raise is not varied
    except Exception as exc:  # noqa: BLE001 - reported, never raised past the plan
        text = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        if variant.source == "declared":
            raise TargetError(f"target {target.spec or target.label!r}: the declared configuration "
                              f"{variant.params!r} cannot be set: {text}") from None
        return NotVaried(variant.name, f"could not be set up: {text}")
    return configured


def requested(target, fit_with: str):
    """``target`` checked the way ``fit_with`` says (``conformance.check(..., fit_with=...)``), as its only configuration."""
    return configured_target(target, Variant(fit_with=fit_with, source="requested", why="asked for"))


# --- values --------------------------------------------------------------------------------

def _label_value(value) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__name__
    return repr(value)


def _json_value(value):
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def _same_value(first, second) -> bool:
    if type(first) is not type(second):
        return False
    try:
        return bool(first == second)
    except Exception:  # noqa: BLE001 - an == that raises: not the same
        return False


def _same_params(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(_same_value(first[k], second[k]) for k in first)
