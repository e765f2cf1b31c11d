"""Parameter and cloning checks, torch-aware (see docs/checks/params.md).

sklearn's model selection rests on one contract: an estimator is its parameters. ``clone``
rebuilds it from ``get_params``, ``GridSearchCV`` changes it with ``set_params``, and neither
works when ``__init__`` does work, defaults are shared, ``fit`` rewrites a parameter or state
leaks between copies. sklearn's own checks compare parameters with ``joblib.hash``, which
differs between identical copies of a tensor or module; the comparisons here look at values.
"""

from __future__ import annotations

import copy
import enum
import functools
import inspect
import pickle
import random
import sys
import types
from contextlib import ExitStack
from unittest import mock

import numpy as np

from conformance.context import changed_params
from conformance.registry import register

OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform")
# Parameters that never change what a fit computes (or that the checks set themselves).
INERT_PARAMS = frozenset({"random_state", "verbose", "n_jobs", "copy", "copy_X", "warm_start",
                          "device", "compile", "use_caching", "memory"})
_LOADERS = ("torch.load", "torch.jit.load", "torch.hub.load", "torch.hub.load_state_dict_from_url")


# --- shared plumbing: outputs, seeded fits, torch-aware fingerprints -------------------------

def outputs(estimator, X) -> dict:
    """``{method: array}`` for every output method the fitted estimator offers."""
    return {name: np.asarray(getattr(estimator, name)(X)) for name in OUTPUT_METHODS
            if hasattr(estimator, name)}


def assert_same_outputs(ctx, observed: dict, expected: dict, what: str, repro: str | None = None):
    """Fail unless both estimators offer the same methods and they agree bitwise."""
    if sorted(observed) != sorted(expected):
        ctx.fail(f"{what}: the output methods differ", observed=sorted(observed),
                 expected=sorted(expected), repro=repro)
    for name in expected:
        ctx.assert_close(observed[name], expected[name], "bitwise", f"{what}: {name}", repro)


def seed_global_rngs(seed: int = 0) -> None:
    """Seed the process-wide RNGs so estimators that draw from them fit reproducibly."""
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def seeded_fit(estimator, dataset):
    """``estimator.fit`` on ``dataset`` from seeded global RNGs (checks here are not about RNGs)."""
    seed_global_rngs()
    return estimator.fit(*dataset.fit_args())


def reproducible_params(estimator) -> dict:
    """``random_state=0`` when the estimator has one left at ``None`` (two fits must agree)."""
    params = estimator.get_params(deep=False)
    return {"random_state": 0} if "random_state" in params and params["random_state"] is None else {}


class Leaf:
    """A fingerprint's leaf: a value with how to compare it and how to show it."""

    def __init__(self, kind: str, value, shown: str):
        self.kind, self.value, self.shown = kind, value, shown

    def same(self, other: "Leaf") -> bool:
        if self.kind != other.kind:
            return False
        if self.kind == "tensor":
            a, b = self.value, other.value
            both_nan = a.isnan() & b.isnan() if a.is_floating_point() else a != a
            return bool(((a == b) | both_nan).all())
        if self.kind == "ndarray":
            return np.array_equal(self.value, other.value, equal_nan=self.value.dtype.kind in "fc")
        if self.kind == "identity":
            return self.value is other.value
        if self.kind == "value":
            a, b = self.value, other.value
            if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
                return True
            try:
                return bool(a == b)
            except Exception:  # noqa: BLE001 - an == that raises says "not equal"
                return False
        return self.value == other.value  # pickle bytes


def fingerprint(value):
    """A tree of :class:`Leaf` values standing for ``value`` as it is now, torch-aware.

    Modules by type and ``state_dict`` tensors; tensors by dtype, shape, device and values;
    estimators by type and ``get_params`` (recursively); arrays by dtype, shape and values;
    classes and functions by identity; other objects by ``==`` when they define it, else by
    their pickle bytes. Taking a fingerprint copies what it needs, so it survives mutation.
    Keys starting with ``#`` describe the object itself; the others extend its path.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.nn.Module):
        return {"#type": _type_leaf(value),
                **{f"[{k!r}]": fingerprint(t) for k, t in value.state_dict().items()}}
    if torch is not None and isinstance(value, torch.Tensor):
        shown = f"tensor(dtype={value.dtype}, shape={tuple(value.shape)}, device={value.device})"
        return {"#meta": Leaf("value", (str(value.dtype), tuple(value.shape), str(value.device)), shown),
                "#values": Leaf("tensor", value.detach().cpu().clone(), shown)}
    if isinstance(value, np.ndarray):
        shown = f"array(dtype={value.dtype}, shape={value.shape})"
        return {"#meta": Leaf("value", (value.dtype.str, value.shape), shown),
                "#values": Leaf("ndarray", value.copy(), shown)}
    if hasattr(value, "get_params") and not inspect.isclass(value):
        return {"#type": _type_leaf(value),
                **{f"__{k}": fingerprint(v) for k, v in value.get_params(deep=False).items()}}
    if type(value) in (list, tuple):
        return {"#type": _type_leaf(value), "#len": Leaf("value", len(value), f"length {len(value)}"),
                **{f"[{i}]": fingerprint(v) for i, v in enumerate(value)}}
    if type(value) is dict:
        keys = list(map(repr, value))
        return {"#type": _type_leaf(value), "#keys": Leaf("value", keys, f"keys {keys}"),
                **{f"[{k!r}]": fingerprint(v) for k, v in value.items()}}
    return _leaf(value)


def _type_leaf(value) -> Leaf:
    return Leaf("identity", type(value), type(value).__qualname__)


def _leaf(value) -> Leaf:
    shown = _short_repr(value)
    if inspect.isclass(value) or inspect.ismodule(value) or isinstance(value, _FUNCTION_TYPES):
        return Leaf("identity", value, shown)
    if type(value).__eq__ is not object.__eq__:
        try:
            twin = copy.deepcopy(value)
            if isinstance(value == twin, (bool, np.bool_)):
                return Leaf("value", twin, shown)
        except Exception:  # noqa: BLE001 - fall through to pickle bytes
            pass
    try:
        return Leaf("pickle", pickle.dumps(value), shown)
    except Exception:  # noqa: BLE001 - unpicklable: all we can tell is whether it was replaced
        return Leaf("identity", value, shown)


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                   types.BuiltinMethodType, functools.partial)


def _short_repr(value, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fingerprint_changes(before, after, path: str = "") -> list[str]:
    """``path: before -> after`` for every place where two fingerprints differ."""
    if isinstance(before, Leaf) and isinstance(after, Leaf):
        if before.same(after):
            return []
        shown = after.shown if after.shown != before.shown else after.shown + " with other values"
        return [f"{path or '<value>'}: {before.shown} -> {shown}"]
    if isinstance(before, Leaf) or isinstance(after, Leaf):
        return [f"{path or '<value>'}: replaced by an object of another kind"]
    changes = []
    for key in list(before) + [k for k in after if k not in before]:
        sub = path if key.startswith("#") else path + key
        if key not in before or key not in after:
            changes.append(f"{sub}: {'added' if key not in before else 'removed'}")
            continue
        found = fingerprint_changes(before[key], after[key], sub)
        if found and key in ("#type", "#meta", "#len", "#keys"):
            return changes + found  # the object was replaced: the rest is noise
        changes.extend(found)
    return changes


def params_fingerprint(estimator) -> dict:
    return {name: fingerprint(value) for name, value in estimator.get_params(deep=False).items()}


def is_immutable(value) -> bool:
    """True for values that can be shared safely: scalars, strings, classes, functions, dtypes."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, range, slice,
                                           np.generic, enum.Enum, type(Ellipsis))):
        return True
    if inspect.isclass(value) or inspect.ismodule(value) or isinstance(value, _FUNCTION_TYPES[:4]):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(is_immutable(v) for v in value)
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, (torch.dtype, torch.device))


def mutable_objects(value, path: str, seen: dict | None = None) -> dict:
    """``{key: path}`` of every mutable object reachable from ``value``, keyed by identity.

    Tensors (module parameters and buffers included) are keyed by their storage, so two
    tensors sharing memory count as one object; arrays by the buffer they view.
    """
    seen = {} if seen is None else seen
    if is_immutable(value) and not isinstance(value, tuple):
        return seen
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.numel():
            seen.setdefault(("storage", value.untyped_storage().data_ptr()), path)
        return seen
    if isinstance(value, np.ndarray):
        root = value
        while isinstance(root, np.ndarray) and root.base is not None:
            root = root.base
        if value.size:
            seen.setdefault(("object", id(root)), path)
        return seen
    if not isinstance(value, tuple):
        key = ("object", id(value))
        if key in seen:
            return seen
        seen[key] = path
    if torch is not None and isinstance(value, torch.nn.Module):
        for name, tensor in value.state_dict(keep_vars=True).items():
            mutable_objects(tensor, f"{path}.{name}", seen)
        return seen
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            mutable_objects(item, f"{path}[{i}]", seen)
    elif isinstance(value, dict):
        for k, item in value.items():
            mutable_objects(item, f"{path}[{k!r}]", seen)
    elif hasattr(value, "__dict__") and not inspect.isclass(value):
        for k, item in vars(value).items():
            mutable_objects(item, f"{path}.{k}", seen)
    return seen


def shared_state(first, second, first_name: str, second_name: str) -> list[str]:
    """Paths of mutable objects reachable from both ``first`` and ``second``."""
    mine = mutable_objects(first, first_name)
    theirs = mutable_objects(second, second_name)
    return [f"{theirs[key]} is {mine[key]}" for key in theirs if key in mine]


def changed_value(value):
    """A different value of the same type that stays valid for most parameters, or None."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float) and value != 0 and value == value:
        return value / 2
    return None


def tunable_params(estimator) -> list[str]:
    """Numeric or boolean top-level parameters worth changing, floats first."""
    params = estimator.get_params(deep=False)
    order = {float: 0, int: 1, bool: 2}
    names = [n for n, v in params.items() if n not in INERT_PARAMS and type(v) in order
             and changed_value(v) is not None]
    return sorted(names, key=lambda n: order[type(params[n])])


def constructed(estimator, **changes):
    """The estimator built by its constructor from (copies of) its parameters and ``changes``."""
    from sklearn.base import clone

    params = clone(estimator).get_params(deep=False)
    params.update(changes)
    return type(estimator)(**params)


def _repr_params(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


# --- checks -------------------------------------------------------------------------------

@register("params.init_stores_arguments_only", applies_to=("any",))
def init_stores_arguments_only(ctx):
    """``__init__`` stores its arguments as given and does nothing else: no module built, no weights loaded, no tensors allocated.

    ``clone``, ``GridSearchCV`` and ``cross_val_score`` call the constructor once per candidate
    and fold; work done there is repeated, happens before ``set_params`` can change what it
    depends on, and (for ``torch.load``) ties every copy to a file at construction time.
    """
    from sklearn.base import clone

    klass = type(ctx.estimator)
    params = clone(ctx.estimator).get_params(deep=False)
    with _TorchActivity() as activity:
        instance = klass(**params)
    problems = [f"called {name}" for name in activity.loads]
    if activity.tensor_calls:
        names = sorted(set(activity.tensor_calls))
        problems.append(f"allocated tensors ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")
    problems += [f"built self.{name}" for name, value in vars(instance).items()
                 if _is_torch_object(value) and not (name in params and params[name] is value)]
    for name, value in params.items():
        if getattr(instance, name, _MISSING) is not value:
            problems.append(f"stored {name} as something other than the object given")
    if problems:
        ctx.fail(f"{klass.__name__}.__init__ does more than store its arguments: " + "; ".join(problems),
                 expected="__init__ only assigns self.<name> = <name>; build modules, load weights "
                          "and allocate tensors in fit",
                 repro=ctx.repro("import torch", "from unittest import mock",
                                 "with mock.patch('torch.load', wraps=torch.load) as load:",
                                 "    copy_ = type(estimator)(**estimator.get_params(deep=False))",
                                 "print(load.called, sorted(set(vars(copy_)) - set(estimator.get_params(deep=False))))"))


_MISSING = object()


def _is_torch_object(value) -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if isinstance(value, (torch.nn.Module, torch.Tensor, torch.optim.Optimizer)):
        return True
    if isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        return any(_is_torch_object(v) for v in items)
    return False


class _TorchActivity:
    """Records tensor-producing torch calls and weight loading while active (torch only)."""

    def __init__(self):
        self.tensor_calls, self.loads = [], []
        self._stack = ExitStack()

    def __enter__(self):
        torch = sys.modules.get("torch")
        if torch is None:
            return self
        from torch.overrides import TorchFunctionMode

        activity = self

        class Recorder(TorchFunctionMode):
            def __torch_function__(self, func, types_, args=(), kwargs=None):
                result = func(*args, **(kwargs or {}))
                if isinstance(result, torch.Tensor):
                    activity.tensor_calls.append(getattr(func, "__name__", str(func)))
                return result

        for dotted in _LOADERS:
            owner_name, attr = dotted.rsplit(".", 1)
            owner = _import_attr(owner_name)
            if owner is not None and hasattr(owner, attr):
                self._stack.enter_context(mock.patch.object(owner, attr, self._recording(dotted, getattr(owner, attr))))
        self._stack.enter_context(Recorder())
        return self

    def _recording(self, name, original):
        def wrapper(*args, **kwargs):
            self.loads.append(name)
            return original(*args, **kwargs)
        return wrapper

    def __exit__(self, *exc):
        self._stack.close()
        return False


def _import_attr(dotted: str):
    import importlib

    try:
        return importlib.import_module(dotted)
    except ImportError:
        return None


@register("params.defaults_are_fresh", applies_to=("any",))
def defaults_are_fresh(ctx):
    """Two estimators built with default arguments share no mutable object.

    A default evaluated once at ``def`` time (``act=nn.PReLU()``, ``scaler=StandardScaler()``,
    ``layers=[]``) is one object shared by every instance: training or ``set_params`` on one
    changes the others. sklearn's check lets any callable through, so it misses a module.
    """
    first, second, defaulted = _default_siblings(ctx.estimator)
    if not defaulted:
        ctx.skip("every parameter is given explicitly; no default is left to share")
    found = []
    for name in defaulted:
        a, b = first.get_params(deep=False)[name], second.get_params(deep=False)[name]
        found += [f"{name} ({path})" for path in shared_state(a, b, name, name)]
    if found:
        klass = type(ctx.estimator).__name__
        ctx.fail(f"two default-constructed {klass} share mutable defaults: " + "; ".join(found[:5]),
                 observed="the same object in both instances",
                 expected="default None (build the object in fit) or an immutable default",
                 repro=ctx.repro("first, second = type(estimator)(), type(estimator)()",
                                 f"assert first.get_params()[{defaulted[0]!r}] is not "
                                 f"second.get_params()[{defaulted[0]!r}]"))


def _default_siblings(estimator):
    """Two instances built from copies of the non-default parameters; the defaulted names."""
    given = changed_params(estimator)
    klass = type(estimator)
    first, second = klass(**copy.deepcopy(given)), klass(**copy.deepcopy(given))
    defaulted = [n for n in estimator.get_params(deep=False) if n not in given]
    return first, second, defaulted


@register("params.instances_are_independent", applies_to=("any",))
def instances_are_independent(ctx):
    """Fitting one instance never changes the predictions of another, separately constructed one.

    Shared defaults, class attributes and module-level caches let one model's training leak
    into another's: the second model of a script, or the next fold of a cross-validation,
    silently changes the first.
    """
    first, second, _ = _default_siblings(ctx.estimator)
    data, other = ctx.data(), ctx.data(seed=1)
    first.fit(*data.fit_args())
    before = outputs(first, data.X)
    second.fit(*other.fit_args())
    assert_same_outputs(ctx, outputs(first, data.X), before,
                        "fitting a second instance changed the first one's outputs",
                        ctx.repro("first = type(estimator)(**estimator.get_params()).fit(X, y)",
                                  "before = first.predict(X)",
                                  "type(estimator)(**estimator.get_params()).fit(X_other, y_other)",
                                  "assert (first.predict(X) == before).all()"))


@register("params.fit_does_not_mutate_params", applies_to=("any",))
def fit_does_not_mutate_params(ctx):
    """``fit`` leaves every parameter as it was given, compared by value (module weights, tensors, nested estimators, arrays).

    A ``fit`` that rewrites ``self.lr`` or trains the module object it was given makes
    ``get_params`` lie: ``clone`` and ``GridSearchCV`` then copy the trained or rewritten
    value instead of the user's setting. sklearn's ``check_estimators_overwrite_params``
    enforces the same rule with ``joblib.hash``, which differs between identical tensors.
    """
    estimator = ctx.new()
    data = ctx.data()
    before = params_fingerprint(estimator)
    estimator.fit(*data.fit_args())
    changes = fingerprint_changes(before, params_fingerprint(estimator))
    if changes:
        ctx.fail("fit changed parameters: " + "; ".join(changes[:5]) + ("; ..." if len(changes) > 5 else ""),
                 expected="fit reads parameters and stores what it learns in attributes ending in '_' "
                          "(copy a given module before training it)",
                 repro=ctx.repro("import copy", "before = copy.deepcopy(estimator.get_params())",
                                 "estimator.fit(X, y)", "# compare estimator.get_params() with before"))


@register("params.clone_is_unfitted_and_independent", applies_to=("any",))
def clone_is_unfitted_and_independent(ctx):
    """``clone`` of a fitted estimator is unfitted, has equal parameters and shares no state with the original; fitting the clone leaves the original unchanged.

    Every fold of ``cross_val_score`` and every ``GridSearchCV`` candidate is a clone: one that
    carries fitted state or shares a module or tensor with the original corrupts the original
    or starts from its weights.
    """
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    fitted, data = ctx.fitted()
    expected = outputs(fitted, data.X)
    copy_ = clone(fitted)
    repro = ctx.repro("from sklearn.base import clone", "estimator.fit(X, y)", "copy_ = clone(estimator)")
    try:
        check_is_fitted(copy_)
    except NotFittedError:
        pass
    else:
        fitted_attrs = [k for k in vars(copy_) if k.endswith("_") and not k.startswith("__")]
        ctx.fail("clone of a fitted estimator is still fitted", observed=fitted_attrs or "__sklearn_is_fitted__() is True",
                 expected="no attributes ending in '_' on the clone", repro=repro)
    changes = fingerprint_changes(params_fingerprint(fitted), params_fingerprint(copy_))
    if changes:
        ctx.fail("clone has other parameters than the original: " + "; ".join(changes[:5]), repro=repro)
    shared = shared_state(fitted, copy_, "original", "clone")
    if shared:
        ctx.fail("clone shares state with the original: " + "; ".join(shared[:5]),
                 expected="no mutable object reachable from both", repro=repro)
    copy_.fit(*ctx.data(seed=1).fit_args())
    assert_same_outputs(ctx, outputs(fitted, data.X), expected,
                        "fitting the clone changed the original's outputs", repro + "\ncopy_.fit(X_other, y_other)")


@register("params.get_set_params_roundtrip", applies_to=("any",))
def get_set_params_roundtrip(ctx):
    """Every name ``get_params(deep=True)`` reports, nested ``module__``/``optimizer__``/``scaler__`` names included, is accepted by ``set_params``, and ``get_params`` then reports the new value.

    ``GridSearchCV`` and ``RandomizedSearchCV`` search exactly the names ``get_params``
    reports, through ``set_params``; a name that is listed but not settable, or set but not
    reported back (or not passed on to the nested object), makes a search silently wrong.
    """
    params = ctx.new().get_params(deep=True)
    problems = []
    for name, value in params.items():
        for new in ([value] + ([changed_value(value)] if changed_value(value) is not None else [])):
            problem = _set_and_read_back(ctx.new(), name, new)
            if problem:
                problems.append(problem)
                break
    if problems:
        ctx.fail("get_params/set_params do not round-trip: " + "; ".join(problems[:5]),
                 expected="set_params(name=v) then get_params(deep=True)[name] is v, for every name",
                 repro=ctx.repro("params = estimator.get_params(deep=True)",
                                 "for name, value in params.items():",
                                 "    estimator.set_params(**{name: value})",
                                 "    assert estimator.get_params(deep=True)[name] is value"))


def _set_and_read_back(estimator, name: str, value) -> str | None:
    try:
        estimator.set_params(**{name: value})
    except Exception as exc:  # noqa: BLE001 - the estimator's refusal is the finding
        return f"set_params({name}={_short_repr(value)}) raised {type(exc).__name__}: {exc}"
    reported = estimator.get_params(deep=True)
    if name not in reported:
        return f"after set_params({name}=...), get_params(deep=True) no longer lists {name}"
    if not _is_or_equals(reported[name], value):
        return f"set_params({name}={_short_repr(value)}) but get_params reports {_short_repr(reported[name])}"
    owner, _, leaf = name.rpartition("__")
    if owner and owner in reported and hasattr(reported[owner], "get_params"):
        nested = reported[owner].get_params(deep=False).get(leaf, _MISSING)
        if not _is_or_equals(nested, value):
            return f"set_params({name}=...) did not reach {owner}, whose {leaf} is {_short_repr(nested)}"
    return None


def _is_or_equals(first, second) -> bool:
    return first is second or Leaf("value", first, "").same(Leaf("value", second, ""))


@register("params.set_params_acts_like_constructor", applies_to=("any",))
def set_params_acts_like_constructor(ctx):
    """A value given through ``set_params`` acts exactly as the same value given to the constructor.

    ``GridSearchCV`` and ``clone`` change settings with ``set_params``: an estimator that copies
    ``lr`` in ``__init__`` and trains with the copy ignores every value a search tries, and the
    search reports the default's score for each candidate without any error.
    """
    base = ctx.new(**reproducible_params(ctx.estimator))
    data = ctx.data()
    reference = outputs(seeded_fit(constructed(base), data), data.X)
    tried = []
    for name in tunable_params(base)[:4]:
        new = changed_value(base.get_params()[name])
        try:
            by_constructor = outputs(seeded_fit(constructed(base, **{name: new}), data), data.X)
        except Exception:  # noqa: BLE001 - the changed value is not valid here: try another
            tried.append(f"{name}={new!r} (invalid)")
            continue
        if _same(by_constructor, reference):
            tried.append(f"{name}={new!r} (no effect)")
            continue
        by_set_params = outputs(seeded_fit(ctx.new(**reproducible_params(ctx.estimator), **{name: new}), data), data.X)
        if not _same(by_set_params, by_constructor):
            again = outputs(seeded_fit(constructed(base, **{name: new}), data), data.X)
            if not _same(again, by_constructor):
                ctx.skip(f"two identical fits with {name}={new!r} disagree, so set_params cannot be "
                         "compared with the constructor (see the determinism checks)")
            assert_same_outputs(ctx, by_set_params, by_constructor,
                                f"set_params({name}={new!r}) fits differently from the constructor given {name}={new!r}",
                                ctx.repro(f"a = type(estimator)(**{{**estimator.get_params(), {name!r}: {new!r}}}).fit(X, y)",
                                          f"b = estimator.set_params({name}={new!r}).fit(X, y)",
                                          "assert (a.predict(X) == b.predict(X)).all()"))
        return f"compared set_params({name}={new!r}) with the constructor"
    ctx.skip("no numeric or boolean parameter changes the fitted result when changed "
             f"(tried: {', '.join(tried) or 'none'}), so set_params cannot be compared with the constructor")


def scoring_for(estimator):
    """``None`` (the estimator's own ``score``), or for estimators without one a scorer that
    only drives the machinery: the mean of the first output."""
    return None if hasattr(estimator, "score") else mean_output_score


def mean_output_score(estimator, X, y=None) -> float:
    return float(np.mean(next(iter(outputs(estimator, X).values()))))


def _same(first: dict, second: dict) -> bool:
    return sorted(first) == sorted(second) and all(
        np.array_equal(first[k], second[k], equal_nan=first[k].dtype.kind in "fc") for k in first)


@register("params.works_in_pipeline_and_cross_val_score", applies_to=("any",))
def works_in_pipeline_and_cross_val_score(ctx):
    """The estimator fits and predicts as the last step of a ``Pipeline`` after a ``StandardScaler``, and under ``cross_val_score``.

    This is how most users meet the estimator: preprocessing chained in front, scored by
    cross-validation on clones. Both go through ``clone``, ``get_params`` and the scorer.
    """
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = ctx.data()
    pipeline = make_pipeline(StandardScaler(), ctx.new()).fit(*data.fit_args())
    for name, produced in outputs(pipeline, data.X).items():
        if produced.shape[:1] != (len(data.X),):
            ctx.fail(f"inside a Pipeline, {name} returns shape {produced.shape}",
                     expected=f"one row per sample: ({len(data.X)}, ...)",
                     repro=ctx.repro("from sklearn.pipeline import make_pipeline",
                                     "from sklearn.preprocessing import StandardScaler",
                                     f"make_pipeline(StandardScaler(), estimator).fit(X, y).{name}(X)"))
    scores = cross_val_score(ctx.new(), *data.fit_args(), cv=2, error_score="raise", scoring=scoring_for(ctx.new()))
    if not np.all(np.isfinite(scores)):
        ctx.fail("cross_val_score gave non-finite scores", observed=scores.tolist(),
                 repro=ctx.repro("from sklearn.model_selection import cross_val_score",
                                 "cross_val_score(estimator, X, y, cv=2, error_score='raise')"))


@register("params.grid_search_parallel", applies_to=("any",))
def grid_search_parallel(ctx):
    """``GridSearchCV`` with ``n_jobs=2`` runs (estimators cross process boundaries), and ``best_params_`` are in effect in the refit ``best_estimator_``.

    Parallel searches pickle the estimator into worker processes and refit the winner through
    ``set_params``: an estimator that cannot travel, or that ignores ``set_params``, breaks
    the search or returns a model that is not the one the search selected.
    """
    from sklearn.model_selection import GridSearchCV

    base = ctx.new(**reproducible_params(ctx.estimator))
    names = tunable_params(base)
    if not names:
        ctx.skip("no numeric or boolean parameter to search over")
    name = names[0]
    first = changed_value(base.get_params()[name])
    second = changed_value(first) if not isinstance(first, bool) else base.get_params()[name]
    grid = {name: [first, second]}
    data = ctx.data()
    search = GridSearchCV(base, grid, cv=2, n_jobs=2, error_score="raise", scoring=scoring_for(base))
    seed_global_rngs()
    with _forked_workers():
        search.fit(*data.fit_args())  # folds fit in workers; the refit runs here, from the seeded RNGs
    best = search.best_params_[name]
    repro = ctx.repro("from sklearn.model_selection import GridSearchCV",
                      f"search = GridSearchCV(estimator, {grid!r}, cv=2, n_jobs=2).fit(X, y)",
                      "refit = type(estimator)(**{**estimator.get_params(), **search.best_params_}).fit(X, y)",
                      "assert (search.predict(X) == refit.predict(X)).all()")
    reported = search.best_estimator_.get_params()[name]
    if reported != best:
        ctx.fail(f"best_estimator_ has {name}={reported!r}", expected=f"{name}={best!r} (best_params_)", repro=repro)
    expected = outputs(seeded_fit(constructed(base, **{name: best}), data), data.X)
    observed = outputs(search.best_estimator_, data.X)
    if not _same(observed, expected):
        again = outputs(seeded_fit(constructed(base, **{name: best}), data), data.X)
        if not _same(again, expected):
            return f"refit not compared: two identical fits with {name}={best!r} disagree"
        assert_same_outputs(ctx, observed, expected,
                            f"the refit best_estimator_ does not act like {name}={best!r} given to the constructor", repro)
    return f"searched {name} over {grid[name]!r}"


def _forked_workers():
    """joblib's ``multiprocessing`` backend: workers forked from this check's process.

    The estimator is still pickled to the workers and the fitted folds pickled back, which is
    the boundary this check is about, but no worker starts an interpreter and imports torch
    (loky's workers cost 3-4 s of CPU each). Whether a fresh interpreter can import and fit
    the estimator is what ``determinism.fresh_process_same_fit`` and
    ``persistence.fresh_process_load`` check.
    """
    try:
        from joblib import parallel_config
    except ImportError:  # joblib < 1.3
        from joblib import parallel_backend as parallel_config

    return parallel_config(backend="multiprocessing")
