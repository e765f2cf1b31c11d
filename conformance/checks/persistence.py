"""Persistence checks: pickle, joblib, deepcopy, a fresh process, CUDA-less loading, skops
(see docs/checks/persistence.md).

A model is trained once and used elsewhere: another process, another machine, often one
without a GPU. Each check saves a fitted (or unfitted) estimator one way and demands that the
loaded copy computes exactly what the original did.
"""

from __future__ import annotations

import copy
import io
import os
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

from conformance.checks._support.continuation import continues_training
from conformance.checks._support.cuda import cuda_under_test
from conformance.checks._support.fingerprints import fingerprint_changes, params_fingerprint
from conformance.checks._support.fresh_fit import fresh_fit
from conformance.checks._support.outputs import Recipe, assert_same_outputs, fail_if_differ, outputs
from conformance.checks._support.seeding import fit_outputs, seed_params, seeded_fit
from conformance.checks._support.tags import is_fitted, requires_fit
from conformance.data import lengthened
from conformance.fresh import run_python
from conformance.registry import register
from conformance.repro import params_text

FRESH_PROCESS_TIMEOUT_S = 120
# The new interpreter's side of the fresh-process reproduction.
_LOAD_CHILD = ("import pickle, sys; from conformance.testing import fitted_outputs; "
               "payload, X = pickle.loads(sys.stdin.buffer.read()); "
               "sys.stdout.buffer.write(pickle.dumps(fitted_outputs(pickle.loads(payload), X)))")
# Growth allowed per extra training row: less than one float32 per row.
BYTES_PER_ROW_LIMIT = 4
_LOAD_AND_PREDICT = r"""
import pickle, sys
import numpy as np
model, inputs, result, methods, device_param = sys.argv[1:6]
with open(model, "rb") as handle:
    estimator = pickle.load(handle)
with open(inputs, "rb") as handle:
    X = pickle.load(handle)  # documents too, not only numbers
dense = lambda value: value.toarray() if hasattr(value, "toarray") else np.asarray(value)
note = ""
try:
    produced = {name: dense(getattr(estimator, name)(X)) for name in methods.split(",")}
except Exception as first:
    if not device_param:
        raise
    estimator.set_params(**{device_param: "cpu"})  # the documented way back to the CPU
    produced = {name: dense(getattr(estimator, name)(X)) for name in methods.split(",")}
    note = f"predicting needed set_params({device_param}='cpu') after loading ({type(first).__name__}: {first})"
np.savez(result, **produced)
print("NOTE:" + note)
"""


def _roundtrip_check(ctx, how: str, save_and_load, repro_lines):
    fitted, data = fresh_fit(ctx)
    expected = outputs(fitted, data.X)
    # The outputs are taken before the round-trip, as here: a __getstate__ that edits the
    # estimator's own __dict__ changes the original too.
    steps = ("from conformance.testing import fitted_outputs", "estimator.fit(X, y)",
             "expected = fitted_outputs(estimator, X)", *repro_lines)
    try:
        loaded = save_and_load(fitted)
    except Exception as exc:  # noqa: BLE001 - the estimator cannot be saved or loaded this way
        ctx.fail(f"a {how} round-trip of the fitted estimator raised {type(exc).__name__}: {exc}",
                 expected=f"the fitted estimator can be saved and loaded with {how}",
                 repro=ctx.repro(*steps), cause=exc)
    try:
        observed = outputs(loaded, data.X)
    except Exception as exc:  # noqa: BLE001 - the loaded copy's failure is the verdict
        ctx.fail(f"after a {how} round-trip the estimator cannot predict: {type(exc).__name__}: {exc}",
                 expected="the loaded copy is fitted and computes what the original does",
                 repro=ctx.repro(*steps, "fitted_outputs(loaded, X)"), cause=exc)
    assert_same_outputs(ctx, observed, expected, f"outputs changed after a {how} round-trip",
                        Recipe((*steps, "observed = fitted_outputs(loaded, X)"), as_dict=True))


@register("persistence.pickle_roundtrip", applies_to=("any",))
def pickle_roundtrip(ctx):
    """A fitted estimator survives ``pickle`` with bitwise-identical outputs.

    Pickle is how models are shipped, cached and sent to worker processes; a wrapper that
    loses or rounds state on the way gives other answers in production than in the notebook.
    """
    _roundtrip_check(ctx, "pickle", lambda e: pickle.loads(pickle.dumps(e)),
                     ["import pickle", "loaded = pickle.loads(pickle.dumps(estimator))"])


@register("persistence.joblib_roundtrip", applies_to=("any",))
def joblib_roundtrip(ctx):
    """A fitted estimator survives ``joblib.dump``/``joblib.load`` with bitwise-identical outputs.

    ``joblib`` is what sklearn's documentation recommends for saving models, and it stores
    numpy arrays apart from the pickle stream, so it is a separate path from plain pickle.
    """
    import joblib

    def save_and_load(estimator):
        buffer = io.BytesIO()
        joblib.dump(estimator, buffer)
        buffer.seek(0)
        return joblib.load(buffer)

    _roundtrip_check(ctx, "joblib", save_and_load,
                     ["import io, joblib", "buffer = io.BytesIO(); joblib.dump(estimator, buffer); buffer.seek(0)",
                      "loaded = joblib.load(buffer)"])


@register("persistence.deepcopy_roundtrip", applies_to=("any",))
def deepcopy_roundtrip(ctx):
    """``copy.deepcopy`` of a fitted estimator has bitwise-identical outputs.

    Model selection tools, callbacks that keep the best model, and ensembles deep-copy fitted
    estimators; a ``__deepcopy__`` that drops the fitted network silently breaks them.
    """
    _roundtrip_check(ctx, "copy.deepcopy", copy.deepcopy,
                     ["import copy", "loaded = copy.deepcopy(estimator)"])


@register("persistence.unfitted_roundtrip", applies_to=("any",))
def unfitted_roundtrip(ctx):
    """An unfitted estimator survives ``pickle`` with equal parameters, still unfitted, and fits like the original.

    Unfitted estimators are pickled too: every parallel ``GridSearchCV`` or
    ``cross_val_score`` sends them to workers. A ``__getstate__`` written for the fitted case
    only (reading ``self.module_``) breaks all of these.
    """
    original = ctx.new(**seed_params(ctx))
    steps = ("import pickle", f"estimator.set_params({params_text(seed_params(ctx))})",
             "loaded = pickle.loads(pickle.dumps(estimator))")
    try:
        loaded = pickle.loads(pickle.dumps(original))
    except Exception as exc:  # noqa: BLE001 - an unfitted estimator that cannot travel is the finding
        ctx.fail(f"pickling the unfitted estimator raised {type(exc).__name__}: {exc}",
                 expected="an unfitted estimator pickles (parallel searches send it to workers)",
                 repro=ctx.repro(*steps), cause=exc)
    changes = fingerprint_changes(params_fingerprint(original), params_fingerprint(loaded))
    if changes:
        ctx.fail("parameters changed in a pickle round-trip of the unfitted estimator: " + "; ".join(changes[:5]),
                 repro=ctx.repro(*steps, "from conformance.testing import assert_same_params",
                                 "assert_same_params(estimator, loaded)"))
    if is_fitted(loaded) and requires_fit(ctx.traits):  # a stateless estimator is fitted from the start
        ctx.fail("the unfitted estimator is fitted after a pickle round-trip",
                 repro=ctx.repro(*steps, "from sklearn.exceptions import NotFittedError",
                                 "from sklearn.utils.validation import check_is_fitted",
                                 "try:", "    check_is_fitted(loaded)", "except NotFittedError:", "    pass",
                                 "else:", "    raise AssertionError('the unpickled unfitted estimator is fitted')"))
    data = ctx.data()
    observed = outputs(seeded_fit(ctx, loaded, data), data.X)
    expected = outputs(seeded_fit(ctx, original, data), data.X)
    assert_same_outputs(ctx, observed, expected, "the unpickled unfitted estimator fits differently",
                        Recipe((*steps, "from conformance.testing import seed_global_rngs",
                                "seed_global_rngs(0); observed = loaded.fit(X, y)",
                                "seed_global_rngs(0); expected = estimator.fit(X, y)")))


@register("persistence.fresh_process_load", applies_to=("any",), fresh_process=True)
def fresh_process_load(ctx):
    """A pickled fitted estimator loads and predicts identically in a fresh Python process.

    Models are saved by one program and loaded by another. Classes defined in ``__main__`` (a
    script or notebook), lambdas, and state kept in module-level variables all survive a
    round-trip inside one process and fail, or predict differently, anywhere else.
    """
    fitted, data = fresh_fit(ctx)
    expected = outputs(fitted, data.X)
    with tempfile.TemporaryDirectory() as folder:
        produced, note, problem = _load_elsewhere(Path(folder), pickle.dumps(fitted), data.X, list(expected))
    recipe = Recipe(("import pickle, subprocess, sys", "from conformance.testing import fitted_outputs",
                     "estimator.fit(X, y)", "expected = fitted_outputs(estimator, X)",
                     "# load and predict in a new interpreter, outputs sent back",
                     f"child = {_LOAD_CHILD!r}",
                     "observed = pickle.loads(subprocess.run([sys.executable, '-c', child], "
                     "input=pickle.dumps((pickle.dumps(estimator), X)), capture_output=True, check=True).stdout)"),
                    as_dict=True)
    if problem:
        hint = ""
        if type(ctx.estimator).__module__ == "__main__":
            hint = (f" ({type(ctx.estimator).__name__} is defined in __main__, so pickle stores it by "
                    "that name; move the class into an importable module)")
        ctx.fail("loading and predicting in a fresh process failed" + hint, observed=problem,
                 repro=ctx.repro(*recipe.steps))
    assert_same_outputs(ctx, produced, expected, "outputs differ when loaded in a fresh process", recipe)
    return note or None


def _load_elsewhere(folder: Path, payload: bytes, X, methods, env=None, device_param: str = ""):
    """Load ``payload`` and call ``methods`` on ``X`` in a new interpreter.

    Returns ``(outputs, note, problem)``: ``problem`` is the tail of the child's error output.
    """
    model, inputs, result = folder / "model.pkl", folder / "X.pkl", folder / "outputs.npz"
    model.write_bytes(payload)
    inputs.write_bytes(pickle.dumps(X))
    child_env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
                 "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    completed = run_python(_LOAD_AND_PREDICT, [str(model), str(inputs), str(result), ",".join(methods), device_param],
                           text=True, env=child_env, timeout=FRESH_PROCESS_TIMEOUT_S)
    if completed.returncode != 0:
        tail = [line for line in completed.stderr.strip().splitlines() if line.strip()][-6:]
        return None, "", "\n    ".join(tail) or f"exit status {completed.returncode}"
    with np.load(result) as archive:
        produced = {name: archive[name] for name in archive.files}
    note = completed.stdout.strip().rpartition("NOTE:")[2].strip()
    return produced, note, None


@register("persistence.pickle_size_independent_of_n_samples", applies_to=("torch",))
def pickle_size_independent_of_n_samples(ctx):
    """The pickle of a fitted torch estimator does not grow with the training set: its number of rows, or for text the length of its documents.

    A network's fitted state has a fixed size. A pickle that grows with the rows seen keeps
    the training data (or per-row records, or a tokenizer cache of every document): a privacy
    leak when the model is shared and a memory leak in every copy. (Only torch-backed
    estimators: sklearn's k-NN and trees, and its vectorizers' vocabularies, store data by design.)
    """
    n = ctx.budget.n_samples
    small = len(pickle.dumps(ctx.fit(ctx.new(), ctx.data(n))))
    large = len(pickle.dumps(ctx.fit(ctx.new(), ctx.data(4 * n))))
    limit = BYTES_PER_ROW_LIMIT * 3 * n
    build = ("import pickle", "from sklearn.base import clone", "from conformance.data import dataset_for",
             f"small = len(pickle.dumps(clone(estimator).fit(*dataset_for(estimator, {n}).fit_args())))")
    if large - small >= limit:
        per_row = (large - small) / (3 * n)
        ctx.fail(f"the pickle grows with the training set: {small} bytes after fitting {n} rows, "
                 f"{large} bytes after {4 * n} rows ({per_row:.1f} bytes per extra row)",
                 expected=f"growth below {BYTES_PER_ROW_LIMIT} bytes per extra row (no copy of the data)",
                 repro=ctx.repro(*build,
                                 f"large = len(pickle.dumps(clone(estimator).fit(*dataset_for(estimator, {4 * n}).fit_args())))",
                                 f"assert large - small < {limit}, f'the pickle grew by {{large - small}} bytes for "
                                 f"{3 * n} more training rows'"))
    if ctx.traits.input_kind != "text":
        return f"{small} bytes after {n} rows, {large} after {4 * n}"
    # Documents 4 times as long, as many: a tokenizer cache keyed by text grows with their length.
    data = ctx.data(n)
    longer = len(pickle.dumps(ctx.fit_arrays(ctx.new(), lengthened(data.X, 4), data.y)))
    if longer - small >= limit:
        ctx.fail(f"the pickle grows with the length of the training documents: {small} bytes after fitting {n} "
                 f"documents, {longer} bytes after the same documents 4 times as long",
                 expected=f"growth below {limit} bytes (no copy of the documents or of their tokens)",
                 repro=ctx.repro(*build, "from conformance.data import lengthened",
                                 f"X, y = dataset_for(estimator, {n}).xy",
                                 "longer = len(pickle.dumps(clone(estimator).fit(lengthened(X, 4), y)))",
                                 f"assert longer - small < {limit}, f'the pickle grew by {{longer - small}} bytes for "
                                 "documents 4 times as long'"))
    return f"{small} bytes after {n} documents, {large} after {4 * n}, {longer} after {n} 4 times as long"


@register("persistence.cuda_pickle_loads_without_cuda", applies_to=("torch",), device=True)
def cuda_pickle_loads_without_cuda(ctx):
    """An estimator fitted on CUDA, pickled, loads and predicts in a process where CUDA is hidden.

    Models trained on a GPU are served on CPU machines. A pickle holding CUDA tensors fails
    to load there ("Attempting to deserialize object on a CUDA device") unless the estimator
    moves its state to the CPU when pickled, or maps it back when loaded.
    """
    device = cuda_under_test(ctx)  # the selected CUDA device (--conformance-devices), or skip
    device_param = ctx.traits.device_param
    data = ctx.data()
    fitted = ctx.fit(ctx.new(**{device_param: device}), data)
    expected = outputs(fitted, data.X)
    with tempfile.TemporaryDirectory() as folder:
        produced, note, problem = _load_elsewhere(Path(folder), pickle.dumps(fitted), data.X, list(expected),
                                                  env={"CUDA_VISIBLE_DEVICES": ""}, device_param=device_param)
    child = _LOAD_CHILD.replace("fitted_outputs(pickle.loads(payload), X)",
                                f"fitted_outputs(_on_cpu(pickle.loads(payload), {device_param!r}), X)")
    recipe = Recipe(("import os, pickle, subprocess, sys", "from conformance.testing import fitted_outputs",
                     f"estimator.set_params({device_param}={device!r}).fit(X, y)",
                     "expected = fitted_outputs(estimator, X)",
                     "# load and predict where CUDA is hidden, outputs sent back",
                     f"child = {_CPU_FALLBACK!r} + {child!r}",
                     "observed = pickle.loads(subprocess.run([sys.executable, '-c', child], "
                     "input=pickle.dumps((pickle.dumps(estimator), X)), capture_output=True, check=True, "
                     "env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''}).stdout)"), as_dict=True)
    if problem:
        ctx.fail("the CUDA-fitted pickle does not load and predict where CUDA is hidden", observed=problem,
                 expected="state moved to the CPU in __getstate__ (or mapped with map_location='cpu' when "
                          "loaded), and the device falling back to 'cpu' without CUDA",
                 repro=ctx.repro(*recipe.steps))
    fail_if_differ(ctx, produced, expected, "device", "outputs on the CPU (CUDA hidden) versus on CUDA", recipe)
    return note or None


# Defines _on_cpu for the reproduction's child: predict as loaded, or after set_params(device='cpu').
_CPU_FALLBACK = ("def _on_cpu(estimator, param):\n"
                 "    try:\n        fitted_outputs(estimator, X[:1])\n"
                 "    except Exception:\n        estimator.set_params(**{param: 'cpu'})\n"
                 "    return estimator\n")


@register("persistence.skops_roundtrip", applies_to=("any",))
def skops_roundtrip(ctx):
    """When ``skops`` can save the fitted estimator, loading it gives bitwise-identical outputs; the types a user must trust are reported.

    ``skops.io`` is the safe alternative to pickle for sharing models (pickle runs arbitrary
    code when loaded). It stores numpy arrays and known types only, so every other type in
    the estimator's state must be trusted by name by whoever loads it. Most torch estimators
    hold modules skops cannot store: that is reported as a warning, not a failure, since skops
    support is optional; a file skops does write must load back to the same model.
    """
    try:
        import skops.io as sio
    except ImportError:
        ctx.skip("skops is not installed (pip install skops)")
    fitted, data = fresh_fit(ctx)
    expected = outputs(fitted, data.X)
    recipe = Recipe(("import skops.io as sio", "estimator.fit(X, y)", "payload = sio.dumps(estimator)",
                     "loaded = sio.loads(payload, trusted=sio.get_untrusted_types(data=payload))"),
                    observed="loaded", expected="estimator")
    try:
        payload = sio.dumps(fitted)
    except Exception as exc:  # noqa: BLE001 - what skops cannot store is the finding
        ctx.warn(f"skops.io cannot save the fitted estimator ({type(exc).__name__}: {str(exc)[:200]}); "
                 "to support it, keep the state_dict as numpy arrays in __getstate__ and rebuild the "
                 "module in __setstate__")
        return None
    untrusted = sio.get_untrusted_types(data=payload)
    loaded = sio.loads(payload, trusted=untrusted)
    assert_same_outputs(ctx, outputs(loaded, data.X), expected, "outputs changed after a skops.io round-trip", recipe)
    return "types to trust: " + (", ".join(untrusted) if untrusted else "none")


@register("persistence.training_resumes_after_pickle", applies_to=("any",), requires=continues_training)
def training_resumes_after_pickle(ctx):
    """Where a fit continues the previous one (``warm_start=True``, or ``partial_fit``), a pickled and reloaded estimator continues it exactly as the original does.

    Long trainings are checkpointed and resumed: saved between stages, reloaded in another
    process, trained on. A ``__getstate__`` that keeps only what ``predict`` needs (dropping the
    optimizer's state, the epoch counter or the RNG) predicts the same after loading but
    resumes as a different training.
    """
    data, more = ctx.data(), ctx.data(seed=1)
    params = seed_params(ctx, 0)
    original = ctx.new(**params)
    fit_outputs(ctx, data, params, estimator=original)
    try:
        loaded = pickle.loads(pickle.dumps(original))
    except Exception as exc:  # noqa: BLE001 - persistence.pickle_roundtrip judges this on its own
        ctx.skip(f"the fitted estimator cannot be pickled ({type(exc).__name__}: {exc}); "
                 "persistence.pickle_roundtrip reports it")
    expected = fit_outputs(ctx, more, params, estimator=original)
    observed = fit_outputs(ctx, more, params, estimator=loaded)
    assert_same_outputs(ctx, observed, expected,
                        "after a pickle round-trip the estimator continued training differently from the original",
                        Recipe(("import pickle", "from sklearn.base import clone",
                                "from conformance.testing import fitted_outputs, seed_global_rngs",
                                f"original = clone(estimator).set_params({params_text(params)})",
                                "seed_global_rngs(0); original.fit(X, y)",
                                "loaded = pickle.loads(pickle.dumps(original))",
                                "seed_global_rngs(0); expected = fitted_outputs(original.fit(X_other, y_other), X_other)",
                                "seed_global_rngs(0); observed = fitted_outputs(loaded.fit(X_other, y_other), X_other)"),
                               as_dict=True))
