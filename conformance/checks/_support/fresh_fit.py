"""Fits that must not go through the shared, pickled copy: here, or in a fresh interpreter.

``fresh_fit`` fits in the check's own process; :func:`fits_in_fresh_process` sends the unfitted
estimator to a new interpreter (served by :mod:`conformance.fresh`), fits it there once per
thread setting, and brings the outputs back.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

from conformance.checks._support.outputs import outputs
from conformance.checks._support.seeding import seed_global_rngs
from conformance.fitting import fit_as
from conformance.fresh import run_python
from conformance.torch_state import compute_dtype


def fresh_fit(ctx):
    """``(estimator, dataset)`` fitted here, never through a pickle.

    Not :meth:`ctx.fitted`: its shared copy has been pickled once already, and a lossy
    ``__getstate__`` (weights rounded to float16) survives a second round-trip unchanged.
    """
    data = ctx.data()
    return ctx.fit(ctx.new(), data), data


def thread_counts() -> tuple:
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
from conformance.checks._support.fresh_fit import fresh_process_main
sys.stdout.buffer.write(fresh_process_main(sys.stdin.buffer.read()))
"""


def fits_in_fresh_process(ctx, data, params: dict, plan: list[tuple]) -> list[tuple]:
    """Fit clones of the estimator in one fresh interpreter, once per ``(torch, BLAS threads)`` of ``plan``.

    Returns ``[(outputs, compute dtype), ...]``; skips when the estimator cannot get there. One
    fresh process (not a fork) also keeps thread pools clean: OpenMP pools do not survive fork.
    """
    try:
        payload = pickle.dumps((ctx.new(**params), data, ctx.traits.torch, plan, ctx.traits.fit_with))
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
        ctx.fail(_fit_failure(ctx, data, params, value))
    return value


def _fit_failure(ctx, data, params: dict, there: str) -> str:
    """What to say when the fit raised in the fresh process: whether it also raises here."""
    try:
        ctx.new(**params).fit(*data.fit_args())
    except Exception as exc:  # noqa: BLE001 - the estimator's own failure, wherever it runs
        return f"fit raised in a fresh process, and here too ({type(exc).__name__}: {exc}): {there}"
    return f"fit raised in a fresh process although it works in this one: {there}"


def fresh_process_main(payload: bytes) -> bytes:
    """The fresh process's side of :func:`fits_in_fresh_process`: unpickle, fit per plan, return outputs."""
    from sklearn.base import clone

    try:
        estimator, data, torch_too, plan, fit_with = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - reported back as the reason to skip
        return pickle.dumps(("unpickle", f"{type(exc).__name__}: {exc}"))
    results = []
    try:
        for torch_threads, blas_threads in plan:
            _set_threads(torch_threads, blas_threads)
            fitted = clone(estimator)
            seed_global_rngs(0, torch_too)
            fit_as(fitted, data.X, data.y, fit_with)
            results.append((outputs(fitted, data.X), compute_dtype(fitted)))
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
