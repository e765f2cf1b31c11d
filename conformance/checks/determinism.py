"""Determinism checks: the same seed gives the same model, and the caller's RNGs are left alone.

Which estimators they apply to: every check here applies to ``seeded`` estimators (a
``random_state`` parameter); those about refits, fresh processes and threads also apply to
``torch``-backed ones without ``random_state``, whose only seeds are the global ones (each fit
below seeds the globals identically first, so such an estimator is still comparable with itself).
An estimator whose ``random_state`` defaults to ``None`` is tested with ``random_state=0``: the
rules are about what an int seed promises.

Docs: docs/checks/determinism.md.
"""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys

import numpy as np

from conformance.fresh import run_python
from conformance.globalstate import GlobalState
from conformance.registry import register
from conformance.tolerance import compare_outputs, continuous_outputs, effective_dtype
from conformance.torch_state import compute_dtype

# The methods whose outputs stand for "the fitted model" (whichever the estimator has).
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform", "score_samples")
OTHER_GLOBAL_SEED = 12345
MAX_THREADS = 4


def raw_outputs(estimator, X) -> dict:
    """``{method: value}`` for every output method the fitted estimator has, values as returned."""
    values = {}
    for name in OUTPUT_METHODS:
        try:
            method = getattr(estimator, name)
        except AttributeError:  # absent, or hidden by sklearn's available_if
            continue
        values[name] = method(X)
    return values


def fitted_outputs(estimator, X) -> dict:
    """:func:`raw_outputs` as numpy arrays: what every comparison of fitted models compares."""
    return {name: np.asarray(value) for name, value in raw_outputs(estimator, X).items()}


def seed_globals(seed: int, torch_too: bool = True) -> None:
    """Seed python's ``random``, numpy's legacy global RNG and (if wanted) torch's."""
    random.seed(seed)
    np.random.seed(seed)
    if torch_too or "torch" in sys.modules:
        try:
            import torch
        except ImportError:
            return
        torch.manual_seed(seed)


def seed_params(ctx, random_state: int = 0) -> dict:
    """``{"random_state": random_state}`` for seeded estimators, ``{}`` for the others."""
    return {"random_state": random_state} if "seeded" in ctx.profile.kinds else {}


def fit_outputs(ctx, data, params: dict, global_seed: int = 0, estimator=None) -> dict:
    """Seed the globals, fit (a fresh clone with ``params``, or ``estimator``) and return its outputs."""
    seed_globals(global_seed, ctx.profile.torch)
    estimator = ctx.new(**params) if estimator is None else estimator
    estimator.fit(*data.fit_args())
    return fitted_outputs(estimator, data.X)


def data_lines(ctx, seed: int = 0) -> list[str]:
    """Repro lines recreating ``ctx.data(seed=seed)`` as ``X, y``."""
    return [
        "from conformance.data import make_dataset",
        "from conformance.profile import profile_estimator",
        f"data = make_dataset(profile_estimator(estimator), {ctx.budget.n_samples}, seed={seed})",
        "X, y = data.X, data.y",
    ]


def tolerance_of(ctx, kind: str, compute=None):
    """``dtype -> Tolerance`` for ``kind``, judging float outputs by the model's ``compute`` dtype."""
    return lambda dtype: ctx.tolerance(kind, effective_dtype(dtype, compute))


def _fail_if_differ(ctx, observed: dict, expected: dict, kind: str, headline: str, repro: list[str],
                    compute=None):
    problems = compare_outputs(observed, expected, tolerance_of(ctx, kind, compute))
    if problems:
        first = next(iter(expected.values()))
        ctx.fail(f"{headline}: " + "; ".join(problems),
                 expected=tolerance_of(ctx, kind, compute)(np.asarray(first).dtype).describe(),
                 repro=ctx.repro(*data_lines(ctx), *repro))


def _params_text(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


@register("determinism.same_seed_same_fit", applies_to=("torch", "seeded"))
def same_seed_same_fit(ctx):
    """Two fits with the same int ``random_state`` (and the same global seeds) give bitwise-identical outputs.

    An experiment that cannot be rerun cannot be debugged, compared or audited; on one device and
    in one process nothing but a bug (an unseeded RNG, iteration over a set) can change the bytes.
    """
    data = ctx.data()
    params = seed_params(ctx)
    first = fit_outputs(ctx, data, params)
    second = fit_outputs(ctx, data, params)
    _fail_if_differ(ctx, second, first, "bitwise", f"two fits with {_params_text(params) or 'the same global seeds'} "
                    "gave different outputs", [
                        f"a = estimator.set_params({_params_text(params)}).fit(X, y).predict(X)",
                        f"b = estimator.set_params({_params_text(params)}).fit(X, y).predict(X)",
                        "assert (a == b).all()"])


@register("determinism.fresh_process_same_fit", applies_to=("torch", "seeded"), fresh_process=True)
def fresh_process_same_fit(ctx):
    """A fit in a fresh Python process gives bitwise the outputs of the same fit in this one.

    Users rerun training in new processes (a CI job, a scheduled retrain, a colleague's machine);
    per-process state such as ``hash()`` randomisation, import-time RNG draws or caches must not
    leak into the model.
    """
    data = ctx.data()
    params = seed_params(ctx)
    [(there, _)] = fits_in_fresh_process(ctx, data, params, [_thread_counts()])
    here = fit_outputs(ctx, data, params)
    _fail_if_differ(ctx, there, here, "process", "a fit in a fresh process gave different outputs than the same fit "
                    "here", ["# run this script twice and compare the printed outputs",
                             f"print(estimator.set_params({_params_text(params)}).fit(X, y).predict(X).tolist())"])


def _thread_counts() -> tuple:
    """``(torch threads, BLAS threads)`` of this process, for a fresh process to match."""
    torch = sys.modules.get("torch")
    blas = None
    try:
        from threadpoolctl import threadpool_info

        blas = min((pool["num_threads"] for pool in threadpool_info()), default=None)
    except ImportError:
        pass
    return (torch.get_num_threads() if torch is not None else None), blas


_CHILD = """
import sys
from conformance.checks.determinism import fresh_process_main
sys.stdout.buffer.write(fresh_process_main(sys.stdin.buffer.read()))
"""


def fits_in_fresh_process(ctx, data, params: dict, plan: list[tuple]) -> list[tuple]:
    """Fit clones of the estimator in one fresh interpreter, once per ``(torch, BLAS threads)`` of ``plan``.

    Returns ``[(outputs, compute dtype), ...]``; skips when the estimator cannot get there. One
    fresh process (not a fork) also keeps thread pools clean: OpenMP pools do not survive fork.
    """
    try:
        payload = pickle.dumps((ctx.new(**params), data, ctx.profile.torch, plan))
    except Exception as exc:  # noqa: BLE001 - any pickling error means the check cannot run
        ctx.skip(f"the unfitted estimator cannot be pickled to a fresh process ({type(exc).__name__}: {exc})")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("PYTHONHASHSEED", None)  # a fresh process as users start it: hash randomisation on
    try:
        done = run_python(_CHILD, input=payload, env=env, timeout=ctx.settings.timeout_s)
    except subprocess.TimeoutExpired:
        ctx.fail(f"the fit in a fresh process did not finish within {ctx.settings.timeout_s:g} s")
    if done.returncode != 0 or not done.stdout:
        stderr = done.stderr.decode("utf-8", "replace").strip().splitlines()
        ctx.fail("the fresh process could not run the fit: " + " | ".join(stderr[-6:]))
    stage, value = pickle.loads(done.stdout)
    if stage == "unpickle":
        ctx.skip(f"the estimator cannot be rebuilt in a fresh process (is its class importable, not defined "
                 f"in __main__ or a function?): {value}")
    if stage == "fit":
        ctx.fail(f"fit raised in a fresh process although it works here: {value}")
    return value


def fresh_process_main(payload: bytes) -> bytes:
    """The fresh process's side of :func:`fits_in_fresh_process`: unpickle, fit per plan, return outputs."""
    from sklearn.base import clone

    try:
        estimator, data, torch_too, plan = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - reported back as the reason to skip
        return pickle.dumps(("unpickle", f"{type(exc).__name__}: {exc}"))
    results = []
    try:
        for torch_threads, blas_threads in plan:
            _set_threads(torch_threads, blas_threads)
            fitted = clone(estimator)
            seed_globals(0, torch_too)
            fitted.fit(*data.fit_args())
            results.append((fitted_outputs(fitted, data.X), compute_dtype(fitted)))
    except Exception as exc:  # noqa: BLE001 - reported back as the verdict
        return pickle.dumps(("fit", f"{type(exc).__name__}: {exc}"))
    return pickle.dumps(("ok", results))


def _set_threads(torch_threads, blas_threads) -> None:
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(blas_threads)


@register("determinism.independent_of_global_seeds", applies_to=("seeded",))
def independent_of_global_seeds(ctx):
    """With an int ``random_state``, the fitted outputs do not depend on the global seeds set before ``fit``.

    ``random_state`` is the estimator's promise of reproducibility; an estimator that also draws
    from ``torch``'s, numpy's or python's global RNG breaks it as soon as the caller (or any other
    library) touches those RNGs.
    """
    data = ctx.data()
    params = seed_params(ctx)
    first = fit_outputs(ctx, data, params, global_seed=0)
    second = fit_outputs(ctx, data, params, global_seed=OTHER_GLOBAL_SEED)
    _fail_if_differ(ctx, second, first, "bitwise", f"with {_params_text(params)} the outputs changed when the global "
                    f"seeds changed (torch.manual_seed, np.random.seed, random.seed: 0 versus {OTHER_GLOBAL_SEED})", [
                        "import random, numpy as np, torch",
                        "outputs = []",
                        f"for seed in (0, {OTHER_GLOBAL_SEED}):",
                        "    random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)",
                        f"    outputs.append(estimator.set_params({_params_text(params)}).fit(X, y).predict(X))",
                        "assert (outputs[0] == outputs[1]).all()"])


@register("determinism.global_rng_untouched", applies_to=("seeded",))
def global_rng_untouched(ctx):
    """``fit`` with an int ``random_state`` leaves the global RNG states (torch CPU and CUDA, numpy, random) as it found them.

    A library that reseeds or draws from the caller's RNGs silently changes everything the
    caller does next (their data split, their dropout). Note that building an ``nn.Linear`` draws
    from torch's global RNG: build modules under ``torch.random.fork_rng`` or seed them locally.
    """
    data = ctx.data()
    params = seed_params(ctx)
    estimator = ctx.new(**params)
    if ctx.profile.torch:
        _prepare_torch_rngs(ctx, estimator)
    seed_globals(0, ctx.profile.torch)
    before = GlobalState.capture()
    estimator.fit(*data.fit_args())
    changed = before.rng_changes(GlobalState.capture())
    if changed:
        ctx.fail(f"fit with {_params_text(params)} changed the global RNG state of: {', '.join(changed)}",
                 observed="changed: " + ", ".join(changed), expected="every global RNG state unchanged",
                 repro=ctx.repro(*data_lines(ctx), "import torch",
                                 "before = torch.random.get_rng_state()",
                                 f"estimator.set_params({_params_text(params)}).fit(X, y)",
                                 "assert torch.equal(before, torch.random.get_rng_state())"))


def _prepare_torch_rngs(ctx, estimator) -> None:
    """Import torch (so its RNG is captured) and, for a CUDA estimator, initialise CUDA first.

    The CUDA RNG state only exists once CUDA is initialised; initialising it before the
    snapshot lets the check compare it. (Safe here: checks run in child processes.)
    """
    import torch

    device = str(estimator.get_params(deep=False).get(ctx.profile.device_param or "", "cpu"))
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.init()


@register("determinism.different_seeds_differ", applies_to=("seeded",))
def different_seeds_differ(ctx):
    """Different int ``random_state`` values give different fitted outputs when the estimator is stochastic.

    A ``random_state`` that is accepted and never used makes users believe they ran several
    seeds (an ensemble, a variance estimate) when they ran one. A torch-backed estimator
    initialises weights randomly, so identical outputs fail; for other estimators identical
    outputs may be legitimate (sklearn's ``LogisticRegression`` with ``lbfgs`` is deterministic)
    and are reported as a warning.
    """
    data = ctx.data()
    first = fit_outputs(ctx, data, seed_params(ctx, 0))
    second = fit_outputs(ctx, data, seed_params(ctx, 1))
    if compare_outputs(second, first, lambda dtype: ctx.tolerance("bitwise", dtype)):
        return None
    finding = ("random_state=0 and random_state=1 gave bitwise-identical outputs "
               f"({', '.join(first)}): random_state looks accepted but never used")
    if not ctx.profile.torch:
        return (f"warning: {finding}; fine if the estimator is deterministic with these parameters "
                "(see docs/checks/determinism.md#different_seeds_differ)")
    ctx.fail(finding, observed="identical outputs for random_state 0 and 1",
             expected="different weights, so different predict_proba/predict values",
             repro=ctx.repro(*data_lines(ctx),
                             "a = estimator.set_params(random_state=0).fit(X, y).predict(X)",
                             "b = estimator.set_params(random_state=1).fit(X, y).predict(X)",
                             "assert (a != b).any()"))


@register("determinism.refit_matches_fresh_fit", applies_to=("torch", "seeded"))
def refit_matches_fresh_fit(ctx):
    """A second ``fit`` on an already fitted estimator gives bitwise the outputs of a fresh estimator's fit.

    ``fit`` means "learn from this data", not "continue": weights must be re-initialised and the
    optimizer state reset unless ``warm_start`` asks for carry-over, or grid searches and
    cross-validation (which refit one object) silently leak earlier folds into later ones.
    """
    if ctx.estimator.get_params(deep=False).get("warm_start"):
        ctx.skip("warm_start is set: carrying state over between fits is what the user asked for")
    data = ctx.data()
    params = seed_params(ctx)
    estimator = ctx.new(**params)
    fit_outputs(ctx, ctx.data(seed=1), params, estimator=estimator)
    refit = fit_outputs(ctx, data, params, estimator=estimator)
    fresh = fit_outputs(ctx, data, params)
    _fail_if_differ(ctx, refit, fresh, "bitwise", "a refit after an earlier fit (on other data) gave different "
                    "outputs than a fresh fit: state carried over between fits", [
                        "other = make_dataset(profile_estimator(estimator), len(X), seed=1)",
                        f"estimator.set_params({_params_text(params)})",
                        "from sklearn.base import clone",
                        "fresh = clone(estimator).fit(X, y).predict(X)",
                        "refit = estimator.fit(other.X, other.y).fit(X, y).predict(X)",
                        "assert (fresh == refit).all()"])


@register("determinism.thread_count_agrees", applies_to=("torch",), threads=True, fresh_process=True)
def thread_count_agrees(ctx):
    """Outputs of fits with ``torch.set_num_threads(1)`` and with more threads agree within the ``threads`` tolerance.

    Users train on laptops and servers with different core counts; parallel reductions may
    reorder float additions (a few ulps), but more than that means the thread count changes
    the algorithm (a batch per worker, a thread-dependent shard), so results depend on the machine.
    Both fits run in one fresh process: OpenMP thread pools are not safe to use after a fork.
    """
    many = max(2, min(MAX_THREADS, os.cpu_count() or 2))
    data = ctx.data()
    params = seed_params(ctx)
    (single, compute), (several, _) = fits_in_fresh_process(ctx, data, params, [(1, None), (many, None)])
    _fail_if_differ(ctx, continuous_outputs(several), continuous_outputs(single), "threads",
                    f"fits with torch.set_num_threads(1) and ({many}) disagree", [
                        "import torch",
                        "torch.set_num_threads(1)",
                        f"one = estimator.set_params({_params_text(params)}).fit(X, y).predict(X)",
                        f"torch.set_num_threads({many})",
                        f"many = estimator.set_params({_params_text(params)}).fit(X, y).predict(X)",
                        "print(abs(one - many).max())"], compute=compute)
