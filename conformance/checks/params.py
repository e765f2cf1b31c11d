"""Parameter and cloning checks, torch-aware (see docs/checks/params.md).

sklearn's model selection rests on one contract: an estimator is its parameters. ``clone``
rebuilds it from ``get_params``, ``GridSearchCV`` changes it with ``set_params``, and neither
works when ``__init__`` does work, defaults are shared, ``fit`` rewrites a parameter or state
leaks between copies. sklearn's own checks compare parameters with ``joblib.hash``, which
differs between identical copies of a tensor or module; the comparisons here look at values.
"""

from __future__ import annotations

import copy
import pickle
import sys
from contextlib import ExitStack
from unittest import mock

import numpy as np

from conformance.checks._support.fingerprints import (
    Leaf,
    fingerprint_changes,
    params_fingerprint,
    shared_state,
    short_repr,
)
from conformance.checks._support.outputs import Recipe, assert_same_outputs, outputs, same_outputs
from conformance.checks._support.seeding import seed_global_rngs, seed_params, seeded_fit
from conformance.checks._support.refusals import refusal_names
from conformance.checks._support.tags import is_fitted, requires_fit
from conformance.registry import register
from conformance.repro import changed_params, params_text
from conformance.torch_state import is_torch_object
from conformance.variants import FITS_CHECK
# Parameters that never change what a fit computes (or that the checks set themselves).
INERT_PARAMS = frozenset({"random_state", "verbose", "n_jobs", "copy", "copy_X", "warm_start",
                          "device", "compile", "use_caching", "memory"})
_LOADERS = ("torch.load", "torch.jit.load", "torch.hub.load", "torch.hub.load_state_dict_from_url")


# --- values to try: parameters worth changing, and how to change them ------------------------

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
    built = [name for name, value in vars(instance).items()
             if is_torch_object(value) and not (name in params and params[name] is value)]
    problems += [f"built self.{name}" for name in built]
    restored = [name for name, value in params.items() if getattr(instance, name, _MISSING) is not value]
    problems += [f"stored {name} as something other than the object given" for name in restored]
    if problems:
        ctx.fail(f"{klass.__name__}.__init__ does more than store its arguments: " + "; ".join(problems),
                 expected="__init__ only assigns self.<name> = <name>; build modules, load weights "
                          "and allocate tensors in fit",
                 repro=ctx.repro(*_init_repro(sorted(set(activity.loads)), bool(activity.tensor_calls), built, restored)))


def _init_repro(loads: list[str], allocated: bool, built: list[str], restored: list[str]) -> list[str]:
    """Lines constructing a copy under watch, then asserting exactly what ``__init__`` did."""
    lines = ["import torch", "from unittest import mock", "params = estimator.get_params(deep=False)"]
    if allocated:
        lines += ["from torch.overrides import TorchFunctionMode",
                  "class Allocations(TorchFunctionMode):",
                  "    made = []",
                  "    def __torch_function__(self, func, types, args=(), kwargs=None):",
                  "        out = func(*args, **(kwargs or {}))",
                  "        if isinstance(out, torch.Tensor):",
                  "            self.made.append(getattr(func, '__name__', str(func)))",
                  "        return out"]
    watches = [f"mock.patch({name!r}, wraps={name}) as load_{i}" for i, name in enumerate(loads)]
    watches += ["Allocations() as allocations"] if allocated else []
    lines += [f"with {', '.join(watches)}:" if watches else "if True:",
              "    copy_ = type(estimator)(**params)"]
    lines += [f"assert not load_{i}.called, '__init__ called {name}'" for i, name in enumerate(loads)]
    if allocated:
        lines.append("assert not allocations.made, f'__init__ allocated tensors: {sorted(set(allocations.made))}'")
    if built:
        lines.append(f"assert not any(hasattr(copy_, name) for name in {built!r}), '__init__ built {', '.join(built)}'")
    if restored:
        lines.append(f"assert all(getattr(copy_, name, None) is params[name] for name in {restored!r}), "
                     "'__init__ stored a parameter as another object'")
    return lines


_MISSING = object()


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
    found, sharing = [], []
    for name in defaulted:
        a, b = first.get_params(deep=False)[name], second.get_params(deep=False)[name]
        paths = shared_state(a, b, name, name)
        found += [f"{name} ({path})" for path in paths]
        sharing += [name] if paths else []
    if found:
        klass = type(ctx.estimator).__name__
        ctx.fail(f"two default-constructed {klass} share mutable defaults: " + "; ".join(found[:5]),
                 observed="the same object in both instances",
                 expected="default None (build the object in fit) or an immutable default",
                 repro=ctx.repro(*_siblings_lines(ctx.estimator), "from conformance.testing import assert_no_shared_state",
                                 f"assert_no_shared_state(first.get_params()[{sharing[0]!r}], "
                                 f"second.get_params()[{sharing[0]!r}])"))


def _siblings_lines(estimator) -> list[str]:
    """Repro lines building ``first`` and ``second`` as :func:`_default_siblings` does."""
    given = sorted(changed_params(estimator))
    return ["import copy", f"given = {{k: v for k, v in estimator.get_params(deep=False).items() if k in {given!r}}}",
            "first, second = type(estimator)(**copy.deepcopy(given)), type(estimator)(**copy.deepcopy(given))"]


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
    ctx.fit(first, data)
    before = outputs(first, data.X)
    ctx.fit(second, other)
    assert_same_outputs(ctx, outputs(first, data.X), before,
                        "fitting a second instance changed the first one's outputs",
                        Recipe((*_siblings_lines(ctx.estimator), "from conformance.testing import fitted_outputs",
                                "expected = fitted_outputs(first.fit(X, y), X)", "second.fit(X_other, y_other)",
                                "observed = fitted_outputs(first, X)"), as_dict=True))


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
    ctx.fit(estimator, data)
    changes = fingerprint_changes(before, params_fingerprint(estimator))
    if changes:
        ctx.fail("fit changed parameters: " + "; ".join(changes[:5]) + ("; ..." if len(changes) > 5 else ""),
                 expected="fit reads parameters and stores what it learns in attributes ending in '_' "
                          "(copy a given module before training it)",
                 repro=ctx.repro("from conformance.testing import assert_params_unchanged, params_snapshot",
                                 "before = params_snapshot(estimator)", "estimator.fit(X, y)",
                                 "assert_params_unchanged(before, estimator, 'fit changed parameters')"))


@register("params.clone_is_unfitted_and_independent", applies_to=("any",))
def clone_is_unfitted_and_independent(ctx):
    """``clone`` of a fitted estimator is unfitted, has equal parameters and shares no state with the original; fitting the clone leaves the original unchanged.

    Every fold of ``cross_val_score`` and every ``GridSearchCV`` candidate is a clone: one that
    carries fitted state or shares a module or tensor with the original corrupts the original
    or starts from its weights.
    """
    from sklearn.base import clone

    fitted, data = ctx.fitted()
    expected = outputs(fitted, data.X)
    copy_ = clone(fitted)
    setup = ("from sklearn.base import clone", "estimator.fit(X, y)", "copy_ = clone(estimator)")
    if is_fitted(copy_) and requires_fit(ctx.traits):  # a stateless estimator is fitted from the start
        fitted_attrs = [k for k in vars(copy_) if k.endswith("_") and not k.startswith("__")]
        ctx.fail("clone of a fitted estimator is still fitted", observed=fitted_attrs or "__sklearn_is_fitted__() is True",
                 expected="no attributes ending in '_' on the clone",
                 repro=ctx.repro(*setup, "from sklearn.exceptions import NotFittedError",
                                 "from sklearn.utils.validation import check_is_fitted",
                                 "try:", "    check_is_fitted(copy_)", "except NotFittedError:", "    pass",
                                 "else:", "    raise AssertionError('the clone of a fitted estimator is fitted')"))
    changes = fingerprint_changes(params_fingerprint(fitted), params_fingerprint(copy_))
    if changes:
        ctx.fail("clone has other parameters than the original: " + "; ".join(changes[:5]),
                 repro=ctx.repro(*setup, "from conformance.testing import assert_same_params",
                                 "assert_same_params(estimator, copy_)"))
    shared = shared_state(fitted, copy_, "original", "clone")
    if shared:
        ctx.fail("clone shares state with the original: " + "; ".join(shared[:5]),
                 expected="no mutable object reachable from both",
                 repro=ctx.repro(*setup, "from conformance.testing import assert_no_shared_state",
                                 "assert_no_shared_state(estimator, copy_)"))
    ctx.fit(copy_, ctx.data(seed=1))
    assert_same_outputs(ctx, outputs(fitted, data.X), expected, "fitting the clone changed the original's outputs",
                        Recipe((*setup, "from conformance.testing import fitted_outputs",
                                "expected = fitted_outputs(estimator, X)", "copy_.fit(X_other, y_other)",
                                "observed = fitted_outputs(estimator, X)"), as_dict=True))


@register("params.get_set_params_roundtrip", applies_to=("any",))
def get_set_params_roundtrip(ctx):
    """Every name ``get_params(deep=True)`` reports, nested ``module__``/``optimizer__``/``scaler__`` names included, is accepted by ``set_params``, and ``get_params`` then reports the new value.

    ``GridSearchCV`` and ``RandomizedSearchCV`` search exactly the names ``get_params``
    reports, through ``set_params``; a name that is listed but not settable, or set but not
    reported back (or not passed on to the nested object), makes a search silently wrong.
    """
    params = ctx.new().get_params(deep=True)
    problems, repro = [], None
    for name, value in params.items():
        changed = changed_value(value)
        for new in ([value] + ([changed] if changed is not None else [])):
            found = _set_and_read_back(ctx.new(), name, new)
            if found:
                problems.append(found[0])
                value_line = f"value = {new!r}" if new is changed else f"value = estimator.get_params(deep=True)[{name!r}]"
                repro = repro or [value_line, f"estimator.set_params(**{{{name!r}: value}})", *found[1]]
                break
    if problems:
        ctx.fail("get_params/set_params do not round-trip: " + "; ".join(problems[:5]),
                 expected="set_params(name=v) then get_params(deep=True)[name] is v, for every name",
                 repro=ctx.repro(*repro))


def _set_and_read_back(estimator, name: str, value) -> tuple[str, list[str]] | None:
    """``(problem, repro lines asserting it)`` when ``set_params(name=value)`` does not round-trip."""
    try:
        estimator.set_params(**{name: value})
    except Exception as exc:  # noqa: BLE001 - the estimator's refusal is the finding
        return f"set_params({name}={short_repr(value)}) raised {type(exc).__name__}: {exc}", []
    reported = estimator.get_params(deep=True)
    if name not in reported:
        return (f"after set_params({name}=...), get_params(deep=True) no longer lists {name}",
                [f"assert {name!r} in estimator.get_params(deep=True)"])
    if not _is_or_equals(reported[name], value):
        return (f"set_params({name}={short_repr(value)}) but get_params reports {short_repr(reported[name])}",
                [f"reported = estimator.get_params(deep=True)[{name!r}]",
                 "assert reported is value or reported == value, f'get_params reports {reported!r}'"])
    owner, _, leaf = name.rpartition("__")
    if owner and owner in reported and hasattr(reported[owner], "get_params"):
        nested = reported[owner].get_params(deep=False).get(leaf, _MISSING)
        if not _is_or_equals(nested, value):
            return (f"set_params({name}=...) did not reach {owner}, whose {leaf} is {short_repr(nested)}",
                    [f"nested = estimator.get_params(deep=True)[{owner!r}].get_params(deep=False).get({leaf!r})",
                     f"assert nested is value or nested == value, f'{owner}.{leaf} is {{nested!r}}'"])
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
    base = ctx.new(**seed_params(ctx))
    data = ctx.data()
    reference = outputs(seeded_fit(ctx, constructed(base), data), data.X)
    tried = []
    for name in tunable_params(base)[:4]:
        new = changed_value(base.get_params()[name])
        try:
            by_constructor = outputs(seeded_fit(ctx, constructed(base, **{name: new}), data), data.X)
        except Exception:  # noqa: BLE001 - the changed value is not valid here: try another
            tried.append(f"{name}={new!r} (invalid)")
            continue
        if same_outputs(by_constructor, reference):
            tried.append(f"{name}={new!r} (no effect)")
            continue
        by_set_params = outputs(seeded_fit(ctx, ctx.new(**seed_params(ctx), **{name: new}), data), data.X)
        if not same_outputs(by_set_params, by_constructor):
            again = outputs(seeded_fit(ctx, constructed(base, **{name: new}), data), data.X)
            if not same_outputs(again, by_constructor):
                ctx.skip(f"two identical fits with {name}={new!r} disagree, so set_params cannot be "
                         "compared with the constructor (see the determinism checks)")
            assert_same_outputs(ctx, by_set_params, by_constructor,
                                f"set_params({name}={new!r}) fits differently from the constructor given {name}={new!r}",
                                Recipe(("from sklearn.base import clone", "from conformance.testing import seed_global_rngs",
                                        f"base = clone(estimator).set_params({params_text(seed_params(ctx))})",
                                        f"seed_global_rngs(0); expected = type(base)(**{{**base.get_params(deep=False), "
                                        f"{name!r}: {new!r}}}).fit(X, y)",
                                        f"seed_global_rngs(0); observed = clone(base).set_params({name}={new!r}).fit(X, y)")))
        return f"compared set_params({name}={new!r}) with the constructor"
    ctx.skip("no numeric or boolean parameter changes the fitted result when changed "
             f"(tried: {', '.join(tried) or 'none'}), so set_params cannot be compared with the constructor")


def scoring_for(estimator):
    """``None`` (the estimator's own ``score``), or for estimators without one a scorer that
    only drives the machinery: the mean of the first output."""
    return None if hasattr(estimator, "score") else mean_output_score


_MEAN_OUTPUT_SCORER = "lambda est, X, y=None: float(np.mean(next(iter(fitted_outputs(est, X).values()))))"


def mean_output_score(estimator, X, y=None) -> float:
    return float(np.mean(next(iter(outputs(estimator, X).values()))))


@register("params.works_in_pipeline_and_cross_val_score", applies_to=("any",), fits_as_configured=False)
def works_in_pipeline_and_cross_val_score(ctx):
    """The estimator fits and predicts inside a ``Pipeline`` (last, after a ``StandardScaler``; a text transformer first, before one) and under ``cross_val_score``.

    This is how most users meet the estimator: preprocessing chained in front (or, for a
    text encoder, a model chained behind), scored by cross-validation on clones. Both go
    through ``clone``, ``get_params`` and the scorer.
    """
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    data = ctx.data()
    steps, steps_code = _pipeline_steps(ctx)
    pipeline = make_pipeline(*steps).fit(*data.fit_args())
    setup = ("import numpy as np", "from sklearn.pipeline import make_pipeline",
             "from sklearn.preprocessing import FunctionTransformer, StandardScaler")
    for name, produced in outputs(pipeline, data.X).items():
        if produced.shape[:1] != (len(data.X),):
            ctx.fail(f"inside a Pipeline, {name} returns shape {produced.shape}",
                     expected=f"one row per sample: ({len(data.X)}, ...)",
                     repro=ctx.repro(*setup, "from conformance.testing import dense",
                                     f"out = dense(make_pipeline({steps_code}).fit(X, y).{name}(X))",
                                     "assert out.shape[:1] == (len(X),), f'shape {out.shape}'"))
    scores = cross_val_score(ctx.new(), *data.fit_args(), cv=2, error_score="raise", scoring=scoring_for(ctx.new()))
    if not np.all(np.isfinite(scores)):
        ctx.fail("cross_val_score gave non-finite scores", observed=scores.tolist(),
                 repro=ctx.repro("import numpy as np", "from sklearn.model_selection import cross_val_score",
                                 "scores = cross_val_score(estimator, X, y, cv=2, error_score='raise')",
                                 "assert np.isfinite(scores).all(), scores"))


def _pipeline_steps(ctx):
    """The pipeline's steps and their source: a scaler in front of numeric input; for text, the
    estimator first (a transformer, with a scaler behind it) or behind a pass-through step."""
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if ctx.traits.input_kind == "text" and ctx.traits.is_transformer:
        return [ctx.new(), StandardScaler(with_mean=False)], "estimator, StandardScaler(with_mean=False)"
    if ctx.traits.input_kind == "text":
        return [FunctionTransformer(), ctx.new()], "FunctionTransformer(), estimator"
    return [StandardScaler(), ctx.new()], "StandardScaler(), estimator"


@register("params.grid_search_parallel", applies_to=("any",), fits_as_configured=False)
def grid_search_parallel(ctx):
    """``GridSearchCV`` with ``n_jobs=2`` runs (estimators cross process boundaries), and ``best_params_`` are in effect in the refit ``best_estimator_``.

    Parallel searches pickle the estimator into worker processes and refit the winner through
    ``set_params``: an estimator that cannot travel, or that ignores ``set_params``, breaks
    the search or returns a model that is not the one the search selected.
    """
    from sklearn.model_selection import GridSearchCV

    base = ctx.new(**seed_params(ctx))
    names = tunable_params(base)
    if not names:
        ctx.skip("no numeric or boolean parameter to search over")
    name = names[0]
    first = changed_value(base.get_params()[name])
    second = changed_value(first) if not isinstance(first, bool) else base.get_params()[name]
    grid = {name: [first, second]}
    data = ctx.data()
    first_fit = _fit_here_before_the_pool(ctx, base, {name: first}, data)
    search = GridSearchCV(base, grid, cv=2, n_jobs=2, error_score="raise", scoring=scoring_for(base))
    seed_global_rngs()
    with _forked_workers():
        search.fit(*data.fit_args())  # folds fit in workers; the refit runs here, from the seeded RNGs
    best = search.best_params_[name]
    steps = ("import numpy as np", "from sklearn.base import clone", "from sklearn.model_selection import GridSearchCV",
             "from conformance.testing import fitted_outputs, seed_global_rngs",
             f"base = clone(estimator).set_params({params_text(seed_params(ctx))})",
             f"seed_global_rngs(0); search = GridSearchCV(base, {grid!r}, cv=2, n_jobs=2, error_score='raise', "
             f"scoring={None if hasattr(base, 'score') else _MEAN_OUTPUT_SCORER}).fit(X, y)")
    reported = search.best_estimator_.get_params()[name]
    if reported != best:
        ctx.fail(f"best_estimator_ has {name}={reported!r}", expected=f"{name}={best!r} (best_params_)",
                 repro=ctx.repro(*steps, f"assert search.best_estimator_.get_params()[{name!r}] == "
                                 f"search.best_params_[{name!r}]"))
    refit = first_fit if best == first else seeded_fit(ctx, constructed(base, **{name: best}), data)
    expected = outputs(refit, data.X)
    observed = outputs(search.best_estimator_, data.X)
    if not same_outputs(observed, expected):
        again = outputs(seeded_fit(ctx, constructed(base, **{name: best}), data), data.X)
        if not same_outputs(again, expected):
            return f"refit not compared: two identical fits with {name}={best!r} disagree"
        assert_same_outputs(ctx, observed, expected,
                            f"the refit best_estimator_ does not act like {name}={best!r} given to the constructor",
                            Recipe((*steps, "observed = search.best_estimator_",
                                    "seed_global_rngs(0); expected = type(base)(**{**base.get_params(deep=False), "
                                    "**search.best_params_}).fit(X, y)")))
    return f"searched {name} over {grid[name]!r}"


def _fit_here_before_the_pool(ctx, base, params: dict, data):
    """Pickle the estimator and fit one candidate in this process, before any worker does.

    A task that raises inside joblib's ``multiprocessing`` pool makes joblib abort and restart
    the pool, and that restart can deadlock (a garbage collection waits on a lock of the pool
    being torn down). An estimator whose fit raises, or that cannot be pickled, fails here
    with its own traceback and never reaches the pool. Returns the fitted candidate.
    """
    pickle.dumps(base)
    return seeded_fit(ctx, constructed(base, **params), data)


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


# --- configurations besides the defaults ----------------------------------------------------

CLEAR_REFUSALS = (ValueError, TypeError, NotImplementedError)


def _in_a_configuration(traits) -> bool:
    return traits.configuration is not None


@register(FITS_CHECK, applies_to=("any",), requires=_in_a_configuration)
def variant_fits_or_refuses_clearly(ctx):
    """In each configuration besides the defaults, ``fit`` trains a model that predicts, or raises a ``ValueError`` (or ``TypeError``, ``NotImplementedError``) that names the parameter or way of fitting it refuses.

    Users reach these configurations with ``set_params`` and ``GridSearchCV``, one flag or
    option at a time. A combination the estimator cannot train must say so where the user can
    act on it; a ``RuntimeError`` from deep inside torch ("mat1 and mat2 shapes cannot be
    multiplied") or a ``KeyError`` from a lookup table sends them debugging the network.
    """
    variant = ctx.traits.configuration
    names = refusal_names(variant)
    data, estimator = ctx.data(), ctx.new()
    lines = ["from conformance.testing import fitted_outputs", "try:",
             f"    estimator.fit(X{', y' if data.y is not None else ''})",
             f"except ({', '.join(c.__name__ for c in CLEAR_REFUSALS)}) as exc:",
             f"    assert any(name in str(exc).lower() for name in {names!r}), "
             "f'refused without naming what it refuses: {exc!r}'", "else:", "    fitted_outputs(estimator, X)"]
    try:
        ctx.fit(estimator, data)
    except Exception as exc:  # noqa: BLE001 - how fit fails is the verdict
        problem = refusal_problem(exc, names)
        if problem is None:
            return f"refused clearly: {type(exc).__name__}: {_first_line(exc)}"
        ctx.fail(f"fit in the configuration [{variant.name}] {problem}", cause=exc,
                 expected=f"fit succeeds, or raises ValueError/TypeError naming one of {list(names)}",
                 repro=ctx.repro(*lines))
    try:
        outputs(estimator, data.X)
    except Exception as exc:  # noqa: BLE001 - a fitted model that cannot predict is the verdict
        ctx.fail(f"fit in the configuration [{variant.name}] succeeded, but predicting raised "
                 f"{type(exc).__name__}: {_first_line(exc)} ({_raised_where(exc)})", cause=exc,
                 expected="a fitted estimator whose output methods work", repro=ctx.repro(*lines))
    return None


def refusal_problem(exc: BaseException, names: tuple) -> str | None:
    """What is unclear about ``exc`` as a refusal of a configuration, or None when it is clear."""
    text = f"{type(exc).__name__}: {_first_line(exc)}"
    if not isinstance(exc, CLEAR_REFUSALS):
        return (f"raised {text} ({_raised_where(exc)}): not a ValueError or TypeError saying what is refused")
    if not any(name in str(exc).lower() for name in names):
        return f"raised {text} ({_raised_where(exc)}), which names none of {list(names)}"
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _raised_where(exc: BaseException) -> str:
    """``raised in torch/nn/modules/linear.py:125`` (the innermost frame), shortened to the package."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "raised where no traceback shows"
    frame = frames[-1]
    path = frame.filename.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            return f"raised inside {path.split('/', 1)[0]}, at {path}:{frame.lineno}"
    return f"raised at {path}:{frame.lineno}"


# --- early stopping -------------------------------------------------------------------------

# How estimators name the epochs early stopping waits for an improvement, and their epoch limit.
PATIENCE_PARAMS = ("n_iter_no_change", "patience")
EPOCH_LIMIT_PARAMS = ("max_iter", "max_epochs", "epochs", "n_epochs")


def _whole_number(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _patience(params: dict):
    """``(name, value)`` of the patience parameter in ``params``, or None."""
    return next(((name, int(params[name])) for name in PATIENCE_PARAMS if _whole_number(params.get(name))), None)


def _stops_early(traits) -> bool:
    return traits.params.get("early_stopping") is True and _patience(traits.params) is not None


@register("params.early_stopping_waits_for_patience", applies_to=("any",), requires=_stops_early)
def early_stopping_waits_for_patience(ctx):
    """With ``early_stopping=True``, ``fit`` trains more epochs (``n_iter_``) than its patience (``n_iter_no_change``) unless its epoch limit comes first: the first epoch always improves on none at all, so a stop after exactly the patience means no epoch ever counted as an improvement.

    An inverted comparison (``>=`` for ``<``), a best loss that starts at 0 instead of infinity,
    or a counter never reset on an improvement all stop training after ``n_iter_no_change``
    epochs whatever the validation loss does, and keep those weights. On easy data the model
    still predicts well enough that no other rule notices; with real data it is undertrained,
    and ``max_iter`` no longer matters. sklearn's ``MLPClassifier`` and ``SGDClassifier`` count
    epochs in ``n_iter_``; an estimator without that attribute is skipped. A short fit fails only
    when the same fit with ``early_stopping=False`` runs longer: a solver that converged, or one
    that ignores early stopping (``solver="lbfgs"``), is not early stopping's doing.
    """
    estimator, data = ctx.fitted()
    n_iter = getattr(estimator, "n_iter_", None)
    if not _whole_number(n_iter):
        ctx.skip("the fitted estimator has no integer n_iter_ counting its epochs")
    name, patience = _patience(ctx.traits.params)
    limit = next((int(ctx.traits.params[p]) for p in EPOCH_LIMIT_PARAMS if _whole_number(ctx.traits.params.get(p))),
                 None)
    if limit is not None and limit <= patience + 1:
        ctx.skip(f"its epoch limit ({limit}) comes before {name}={patience} can end training")
    if n_iter > patience or (limit is not None and n_iter >= limit):
        return f"n_iter_={int(n_iter)} after fit, with {name}={patience}"
    without = ctx.new(early_stopping=False)
    ctx.fit(without, data)
    n_without = getattr(without, "n_iter_", None)
    if not _whole_number(n_without) or n_without <= n_iter:  # it converged: early stopping did not end it
        return f"n_iter_={int(n_iter)} after fit, with {name}={patience}, and no more with early_stopping=False"
    ctx.fail(f"with early_stopping=True, fit stopped after {int(n_iter)} epochs, {name}={patience} (with "
             f"early_stopping=False: {int(n_without)}): the first epoch always improves on no epoch at all, so "
             f"early stopping cannot end training before epoch {patience + 1}; does an epoch ever count as an "
             "improvement (the comparison with the best loss, the best loss's starting value, the counter's reset)?",
             observed=f"n_iter_={int(n_iter)}", expected=f"n_iter_ > {patience}",
             repro=ctx.repro("estimator.fit(X, y)",
                             f"assert estimator.n_iter_ > {patience}, f'stopped after {{estimator.n_iter_}} epochs'"))
