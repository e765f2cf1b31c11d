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

from conformance.checks._support.continuation import (
    optimizer_steps,
    restarted_optimizers,
    trained_by_partial_fit,
    warm_started,
)
from conformance.checks._support.fresh_fit import fits_in_fresh_process, thread_counts
from conformance.checks._support.outputs import Recipe, fail_if_differ, same_outputs
from conformance.checks._support.seeding import fit_outputs, seed_global_rngs, seed_params
from conformance.globalstate import GlobalState
from conformance.registry import register
from conformance.repro import params_text
from conformance.tolerance import compare_outputs, continuous_outputs

OTHER_GLOBAL_SEED = 12345
# global_rng_untouched fits with this seed from global RNGs seeded with CALLER_SEED: neither is 0
# and they differ, so an estimator that reseeds a global RNG with its random_state (or with 0)
# moves it (docs/writing-checks.md, "Coincidences").
UNTOUCHED_RANDOM_STATE = 7
CALLER_SEED = 31337
MAX_THREADS = 4
# How each global RNG is read, for a reproduction asserting it unchanged.
RNG_READERS = {"numpy.random (legacy global)": "np.random.get_state()", "random": "random.getstate()",
               "torch (CPU)": "torch.random.get_rng_state().tolist()",
               "torch (CUDA)": "[s.tolist() for s in torch.cuda.get_rng_state_all()]"}
# The fresh interpreter's side of the fresh-process reproduction: fit as the check's child does.
FRESH_FIT_CHILD = ("import pickle, sys; from conformance.testing import fitted_outputs, seed_global_rngs; "
                   "estimator, X, y = pickle.loads(sys.stdin.buffer.read()); seed_global_rngs(0); "
                   "sys.stdout.buffer.write(pickle.dumps(fitted_outputs(estimator.fit(X, y), X)))")
SEEDING = ("from sklearn.base import clone", "from conformance.testing import seed_global_rngs")


def seeded_fit_line(name: str, params: dict, global_seed: int = 0, data: str = "X, y", estimator: str = "") -> str:
    """A repro line fitting as :func:`fit_outputs` does: global RNGs seeded, then a fresh clone fitted."""
    built = estimator or f"clone(estimator).set_params({params_text(params)})"
    return f"seed_global_rngs({global_seed}); {name} = {built}.fit({data})"


@register("determinism.same_seed_same_fit", applies_to=("torch", "seeded"))
def same_seed_same_fit(ctx):
    """Two fits with the same int ``random_state`` (and the same global seeds) give bitwise-identical outputs.

    An experiment that cannot be rerun cannot be debugged, compared or audited; on one device and
    in one process nothing but a bug (an unseeded RNG, iteration over a set) can change the bytes.
    """
    data = ctx.data()
    params = seed_params(ctx, 0)
    first = fit_outputs(ctx, data, params)
    second = fit_outputs(ctx, data, params)
    fail_if_differ(ctx, second, first, "bitwise", f"two fits with {params_text(params) or 'the same global seeds'} "
                   "gave different outputs",
                   Recipe((*SEEDING, seeded_fit_line("expected", params), seeded_fit_line("observed", params))))


@register("determinism.fresh_process_same_fit", applies_to=("torch", "seeded"), fresh_process=True)
def fresh_process_same_fit(ctx):
    """A fit in a fresh Python process gives bitwise the outputs of the same fit in this one.

    Users rerun training in new processes (a CI job, a scheduled retrain, a colleague's machine);
    per-process state such as ``hash()`` randomisation, import-time RNG draws or caches must not
    leak into the model.
    """
    data = ctx.data()
    params = seed_params(ctx, 0)
    [(there, _)] = fits_in_fresh_process(ctx, data, params, [thread_counts()])
    here = fit_outputs(ctx, data, params)
    fail_if_differ(ctx, there, here, "process", "a fit in a fresh process gave different outputs than the same fit "
                   "here", Recipe((*SEEDING, "import pickle, subprocess, sys",
                                   "from conformance.testing import fitted_outputs", seeded_fit_line("fitted", params),
                                   "expected = fitted_outputs(fitted, X)",
                                   "# the same fit in a new interpreter, its outputs sent back",
                                   f"child = {FRESH_FIT_CHILD!r}",
                                   f"job = pickle.dumps((clone(estimator).set_params({params_text(params)}), X, y))",
                                   "observed = pickle.loads(subprocess.run([sys.executable, '-c', child], input=job, "
                                   "capture_output=True, check=True).stdout)"),
                                  as_dict=True))


@register("determinism.independent_of_global_seeds", applies_to=("seeded",))
def independent_of_global_seeds(ctx):
    """With an int ``random_state``, the fitted outputs do not depend on the global seeds set before ``fit``.

    ``random_state`` is the estimator's promise of reproducibility; an estimator that also draws
    from ``torch``'s, numpy's or python's global RNG breaks it as soon as the caller (or any other
    library) touches those RNGs.
    """
    data = ctx.data()
    params = seed_params(ctx, 0)
    first = fit_outputs(ctx, data, params, global_seed=0)
    second = fit_outputs(ctx, data, params, global_seed=OTHER_GLOBAL_SEED)
    fail_if_differ(ctx, second, first, "bitwise", f"with {params_text(params)} the outputs changed when the global "
                   f"seeds changed (torch.manual_seed, np.random.seed, random.seed: 0 versus {OTHER_GLOBAL_SEED})",
                   Recipe((*SEEDING, seeded_fit_line("expected", params, 0),
                           seeded_fit_line("observed", params, OTHER_GLOBAL_SEED))))


@register("determinism.global_rng_untouched", applies_to=("seeded",))
def global_rng_untouched(ctx):
    """``fit`` with an int ``random_state`` leaves the global RNG states (torch CPU and CUDA, numpy, random) as it found them.

    A library that reseeds or draws from the caller's RNGs silently changes everything the
    caller does next (their data split, their dropout). Note that building an ``nn.Linear`` draws
    from torch's global RNG: build modules under ``torch.random.fork_rng`` or seed them locally.
    The caller's seed and ``random_state`` differ and neither is 0, so reseeding with either is seen.
    """
    data = ctx.data()
    params = seed_params(ctx, UNTOUCHED_RANDOM_STATE)
    estimator = ctx.new(**params)
    if ctx.traits.torch:
        _prepare_torch_rngs(ctx, estimator)
    seed_global_rngs(CALLER_SEED, ctx.traits.torch)
    before = GlobalState.capture()
    ctx.fit(estimator, data)
    changed = before.rng_changes(GlobalState.capture())
    if changed:
        reads = [RNG_READERS[name] for name in changed if name in RNG_READERS]
        ctx.fail(f"fit with {params_text(params)} changed the global RNG state of: {', '.join(changed)}",
                 observed="changed: " + ", ".join(changed),
                 expected=f"every global RNG state unchanged (the caller had seeded them with {CALLER_SEED})",
                 repro=ctx.repro("import pickle, random", "import numpy as np, torch",
                                 f"estimator.set_params({params_text(params)})",
                                 "from conformance.testing import seed_global_rngs", f"seed_global_rngs({CALLER_SEED})",
                                 *(f"before_{i} = pickle.dumps({read})" for i, read in enumerate(reads)),
                                 f"estimator.fit({'X, y' if data.y is not None else 'X'})",
                                 *(f"assert pickle.dumps({read}) == before_{i}, 'fit changed {read}'"
                                   for i, read in enumerate(reads))))


def _prepare_torch_rngs(ctx, estimator) -> None:
    """Import torch (so its RNG is captured) and, for a CUDA estimator, initialise CUDA first.

    The CUDA RNG state only exists once CUDA is initialised; initialising it before the
    snapshot lets the check compare it. (Safe here: checks run in child processes.)
    """
    import torch

    device = str(estimator.get_params(deep=False).get(ctx.traits.device_param or "", "cpu"))
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
    name = ctx.traits.seed_param
    finding = (f"{name}=0 and {name}=1 gave bitwise-identical outputs "
               f"({', '.join(first)}): {name} looks accepted but never used")
    if not ctx.traits.torch:
        ctx.warn(f"{finding}; fine if the estimator is deterministic with these parameters "
                 "(see docs/checks/determinism.md#different_seeds_differ)")
        return None
    method = next(iter(continuous_outputs(first)))
    ctx.fail(finding, observed=f"identical outputs for {name} 0 and 1",
             expected="different weights, so different predict_proba/predict values",
             repro=ctx.repro("import numpy as np", *SEEDING, seeded_fit_line("a", {name: 0}),
                             seeded_fit_line("b", {name: 1}),
                             f"assert not np.array_equal(a.{method}(X), b.{method}(X)), "
                             f"'{name}=0 and {name}=1 fit the same model'"))


@register("determinism.refit_matches_fresh_fit", applies_to=("torch", "seeded"))
def refit_matches_fresh_fit(ctx):
    """A second ``fit`` on an already fitted estimator gives bitwise the outputs of a fresh estimator's fit.

    ``fit`` means "learn from this data", not "continue": weights must be re-initialised and the
    optimizer state reset unless ``warm_start`` asks for carry-over, or grid searches and
    cross-validation (which refit one object) silently leak earlier folds into later ones.
    """
    if ctx.estimator.get_params(deep=False).get("warm_start"):
        ctx.skip("warm_start is set: carrying state over between fits is what the user asked for "
                 "(determinism.warm_start_continues_training checks that it does)")
    if trained_by_partial_fit(ctx.traits):
        ctx.skip("this configuration trains with partial_fit, which continues by design "
                 "(determinism.partial_fit_continues_training checks that it does)")
    data = ctx.data()
    params = seed_params(ctx, 0)
    estimator = ctx.new(**params)
    fit_outputs(ctx, ctx.data(seed=1), params, estimator=estimator)
    refit = fit_outputs(ctx, data, params, estimator=estimator)
    fresh = fit_outputs(ctx, data, params)
    fail_if_differ(ctx, refit, fresh, "bitwise", "a refit after an earlier fit (on other data) gave different "
                   "outputs than a fresh fit: state carried over between fits",
                   Recipe((*SEEDING, seeded_fit_line("observed", params, data="X_other, y_other"),
                           seeded_fit_line("observed", params, estimator="observed"),
                           seeded_fit_line("expected", params))))


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
    params = seed_params(ctx, 0)
    (single, compute), (several, _) = fits_in_fresh_process(ctx, data, params, [(1, None), (many, None)])
    fail_if_differ(ctx, continuous_outputs(several), continuous_outputs(single), "threads",
                   f"fits with torch.set_num_threads(1) and ({many}) disagree",
                   Recipe((*SEEDING, "import torch", "torch.set_num_threads(1)", seeded_fit_line("expected", params),
                           f"torch.set_num_threads({many})", seeded_fit_line("observed", params))), compute=compute)


@register("determinism.warm_start_continues_training", applies_to=("torch",), requires=warm_started)
def warm_start_continues_training(ctx):
    """With ``warm_start=True`` a second ``fit`` continues from the first: the outputs differ from a fresh fit's, and each fitted torch optimizer keeps its state (its step count goes on).

    ``warm_start=True`` is how users train in stages (more epochs, new data, a lower learning
    rate); an estimator that ignores it retrains from scratch, and one that rebuilds its
    optimizer throws away Adam's moment estimates or the momentum at every stage, so the
    staged training is not the one they asked for.
    """
    data = ctx.data()
    params = seed_params(ctx, 0)
    estimator = ctx.new(**params)
    fit_outputs(ctx, data, params, estimator=estimator)
    first = optimizer_steps(estimator)
    continued = fit_outputs(ctx, data, params, estimator=estimator)
    second = optimizer_steps(estimator)
    setup = ("import numpy as np", *SEEDING, "from conformance.testing import fitted_outputs, optimizer_steps",
             f"warm = clone(estimator).set_params({params_text(params)})", "seed_global_rngs(0); warm.fit(X, y)",
             "first = optimizer_steps(warm)", "seed_global_rngs(0); warm.fit(X, y)", "second = optimizer_steps(warm)")
    if same_outputs(continued, fit_outputs(ctx, data, params)):
        ctx.fail("a second fit with warm_start=True gave bitwise the outputs of a fresh fit: it started over",
                 expected="the second fit starts from the first fit's model, so its outputs differ",
                 repro=ctx.repro(*setup, seeded_fit_line("fresh", params), "a, b = fitted_outputs(warm, X), "
                                 "fitted_outputs(fresh, X)", "assert any(not np.array_equal(a[m], b[m]) for m in a), "
                                 "'warm_start=True: the second fit is a fresh fit'"))
    restarted = restarted_optimizers(first, second)
    if restarted:
        ctx.fail("with warm_start=True the second fit rebuilt the optimizer, losing its state: " + "; ".join(restarted),
                 expected="the optimizer of the first fit, its state kept, takes the second fit's steps",
                 repro=ctx.repro(*setup, "assert all(second.get(name, 0) > steps for name, steps in first.items()), "
                                 "f'the optimizer restarted: steps {first} after the first fit, {second} after the second'"))
    return None if first else "no fitted torch optimizer counts its steps: only the outputs were compared"


@register("determinism.partial_fit_continues_training", applies_to=("any",), requires=trained_by_partial_fit)
def partial_fit_continues_training(ctx):
    """``partial_fit`` continues from what earlier calls learnt: after a pass over one dataset, a pass over a second gives another model than the second pass alone.

    ``partial_fit`` is how users train on data that arrives in chunks or does not fit in memory;
    one that rebuilds the model (or the optimizer's state) at each call forgets every earlier
    chunk and quietly keeps only the last one.
    """
    first, second = ctx.data(seed=1), ctx.data()
    params = seed_params(ctx, 0)
    both = ctx.new(**params)
    fit_outputs(ctx, first, params, estimator=both)
    after_both = fit_outputs(ctx, second, params, estimator=both)
    alone = fit_outputs(ctx, second, params)
    if same_outputs(after_both, alone):
        ctx.fail("partial_fit over a second dataset gave bitwise the model of that pass alone: the first pass was "
                 "forgotten", expected="a model that still reflects the earlier calls, so its outputs differ",
                 repro=ctx.repro("import numpy as np", *SEEDING, "from conformance.testing import fitted_outputs",
                                 seeded_fit_line("both", params, data="X_other, y_other"),
                                 seeded_fit_line("both", params, estimator="both"), seeded_fit_line("alone", params),
                                 "a, b = fitted_outputs(both, X), fitted_outputs(alone, X)",
                                 "assert any(not np.array_equal(a[m], b[m]) for m in a), "
                                 "'partial_fit forgot the first pass'"))
