"""Device checks: the ``device`` parameter is honoured, and CPU and CUDA agree.

Each check is two parts: a *produce* function that fits or predicts on a given device and
returns :class:`DeviceRun` records, and a *verdict* function comparing runs. The checks call
them with a CUDA device; the framework's tests call the same functions with two CPU runs, so
the verdict logic is exercised where CI has no GPU.

Convention (what an estimator must implement to be tested here):

- a constructor parameter naming the torch device, ``device`` by default (another name is
  declared with ``__conformance_tags__`` ``{"device_param": "name"}``), accepting ``"cpu"``,
  ``"cuda"`` and ``"cuda:N"``;
- ``fit`` builds the model on that device (its fitted ``nn.Module`` and tensor attributes live
  there afterwards) and every output method returns numpy arrays on the CPU;
- ``set_params(device=...)`` on a *fitted* estimator moves it: the next ``predict`` (or any
  output method) runs on the new device, moving the module there if it is not yet.

The CUDA checks skip, with the reason, when CUDA is not selected (``--conformance-devices``),
the estimator has no device parameter, or torch sees no CUDA device. Docs: docs/checks/devices.md.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np

from conformance.checks._support.cuda import cuda_under_test, require_device_param
from conformance.checks._support.outputs import raw_outputs, tolerance_of
from conformance.checks._support.seeding import seed_global_rngs, seed_params
from conformance.devices_info import cuda_unavailable_reason
from conformance.registry import register
from conformance.tolerance import assertion_line, compare_outputs, continuous_outputs
from conformance.torch_state import compute_dtype, torch_state
from conformance.torch_state import misplaced_tensors as placement_problems

PREDICT_CALLS = 20
WARMUP_CALLS = 3
_NONDETERMINISTIC = re.compile(r"(\S+) does not have a deterministic implementation")


@dataclass
class DeviceRun:
    """The outputs of one fitted estimator on one device, and where its tensors were."""

    label: str  # what was done: "fit on cuda", "moved to cuda", ...
    device: str
    outputs: dict  # {method: value as returned}
    placement: list = field(default_factory=list)  # placement problems, see placement_problems
    compute: object = None  # the least precise float dtype of the model's tensors (numpy dtype)

    def arrays(self) -> dict:
        return {name: _as_array(value) for name, value in self.outputs.items()}


def _as_array(value) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


# --- produce: fit or predict on a device --------------------------------------------------

def fit_on(ctx, data, device: str, random_state: int = 0):
    """A fresh clone fitted with ``device`` (and ``random_state`` when seeded), globals seeded."""
    params = {**seed_params(ctx, random_state), ctx.traits.device_param: device}
    seed_global_rngs(0, torch_too=True)
    estimator = ctx.new(**params)
    ctx.fit(estimator, data)
    return estimator


def move(estimator, device_param: str, device: str):
    """The convention for moving a fitted estimator: ``set_params`` then the next call moves it."""
    estimator.set_params(**{device_param: device})
    return estimator


def observe(label: str, estimator, X, device: str) -> DeviceRun:
    outputs = raw_outputs(estimator, X)  # first: the call is what moves a moved estimator
    return DeviceRun(label, device, outputs, placement_problems(estimator, device), compute_dtype(estimator))


def fit_run(ctx, data, device: str, random_state: int = 0) -> DeviceRun:
    """Fit on ``device`` and observe the outputs and placement there."""
    return observe(f"fit on {device}", fit_on(ctx, data, device, random_state), data.X, device)


def roundtrip_runs(ctx, data, device: str) -> list[DeviceRun]:
    """Fit on the CPU, predict; move to ``device``, predict; move back, predict."""
    param = ctx.traits.device_param
    estimator = fit_on(ctx, data, "cpu")
    runs = [observe("fit on cpu", estimator, data.X, "cpu")]
    runs.append(observe(f"moved to {device}", move(estimator, param, device), data.X, device))
    runs.append(observe("moved back to cpu", move(estimator, param, "cpu"), data.X, "cpu"))
    return runs


class NondeterministicOp(Exception):
    """``fit`` used an op without a deterministic implementation on the device."""

    def __init__(self, op: str, message: str):
        super().__init__(message)
        self.op = op


def deterministic_runs(ctx, data, device: str) -> list[DeviceRun]:
    """Two fits on ``device`` under ``torch.use_deterministic_algorithms(True)``."""
    import torch

    # cuBLAS reads this when it initialises: the check runs in a child that has not yet.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        return [fit_run(ctx, data, device), fit_run(ctx, data, device)]
    except RuntimeError as exc:
        op = nondeterministic_op(str(exc))
        if op is None:
            raise
        raise NondeterministicOp(op, str(exc).splitlines()[0]) from exc


def allocated_bytes(device: str) -> int:
    """Bytes of tensors alive on ``device``: CUDA's allocator count, or live CPU tensors."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        return int(torch.cuda.memory_allocated(device))
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inspecting every object trips deprecated module attributes
        tensors = [o for o in gc.get_objects() if isinstance(o, torch.Tensor) and o.device.type == "cpu"]
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return int(sum(storages.values()))


def predict_memory_series(estimator, X, device: str, calls: int = PREDICT_CALLS,
                          warmup: int = WARMUP_CALLS) -> list[int]:
    """Allocated bytes on ``device`` after each of ``calls`` predict calls (after ``warmup`` ones)."""
    method = getattr(estimator, "predict", None) or getattr(estimator, "transform")
    for _ in range(warmup):
        method(X)
    series = []
    for _ in range(calls):
        method(X)
        series.append(allocated_bytes(device))
    return series


# --- verdicts: compare runs ---------------------------------------------------------------

def output_problems(run: DeviceRun) -> list[str]:
    """One line per output method that did not return a numpy array."""
    torch = sys.modules.get("torch")
    problems = []
    for name, value in run.outputs.items():
        if isinstance(value, np.ndarray):
            continue
        where = f" on {value.device}" if torch is not None and isinstance(value, torch.Tensor) else ""
        problems.append(f"{name} returned {type(value).__module__}.{type(value).__name__}{where}, "
                        "expected a numpy.ndarray on the CPU")
    return problems


def run_problems(run: DeviceRun) -> list[str]:
    """What is wrong with one run by itself: tensors elsewhere than its device, non-numpy outputs."""
    return [f"{run.label}: {p}" for p in run.placement + output_problems(run)]


def agreement_problems(observed: DeviceRun, expected: DeviceRun, tolerance_of, continuous: bool = False) -> list[str]:
    """Where ``observed``'s outputs differ from ``expected``'s beyond ``tolerance_of(dtype)``.

    ``continuous``: compare only the float outputs when there are any (labels may flip).
    """
    pick = continuous_outputs if continuous else dict
    problems = compare_outputs(pick(observed.arrays()), pick(expected.arrays()), tolerance_of)
    return [f"{observed.label} versus {expected.label}: {p}" for p in problems]


def roundtrip_problems(runs: list[DeviceRun], tolerance_of_kind) -> list[str]:
    """Verdict on :func:`roundtrip_runs`: moved agrees within ``device``, moved back is bitwise.

    ``tolerance_of_kind(kind)`` gives the ``dtype -> Tolerance`` function for a comparison kind.
    """
    base, moved, back = runs
    problems = [p for run in runs for p in run_problems(run)]
    problems += agreement_problems(moved, base, tolerance_of_kind("device"))
    problems += agreement_problems(back, base, tolerance_of_kind("bitwise"))
    return problems


def nondeterministic_op(message: str) -> str | None:
    """The op torch names in a ``use_deterministic_algorithms`` error, or ``None``."""
    found = _NONDETERMINISTIC.search(message)
    return found.group(1) if found else None


def memory_growth(series: list[int], slack_bytes: int = 0) -> str | None:
    """``None`` unless allocated memory grew over the series (more than ``slack_bytes``, in at least
    half of the calls); then a line saying by how much. One-off growth (a lazy cache) passes."""
    if len(series) < 3:
        raise ValueError(f"memory_growth needs at least 3 measurements, got {len(series)}")
    steps = np.diff(np.asarray(series, dtype=np.int64))
    grew = int((steps > 0).sum())
    total = int(series[-1] - series[0])
    if total > slack_bytes and grew * 2 >= len(steps):
        return (f"allocated memory grew by {total} bytes over {len(steps)} predict calls "
                f"({grew} of them grew it, about {total // len(steps)} bytes per call)")
    return None


def _fail(ctx, headline: str, problems: list[str], expected: str, lines: list[str]):
    ctx.fail(f"{headline}: " + "; ".join(problems), expected=expected,
             repro=ctx.repro(*lines))


@register("devices.device_param_honoured", applies_to=("torch",))
def device_param_honoured(ctx):
    """After ``fit`` with the device parameter set, the module's tensors live on that device and outputs are numpy arrays on the CPU.

    A device parameter that is silently ignored trains on the CPU for hours while the user
    believes a GPU is used; outputs left as (CUDA) tensors break every sklearn tool downstream.
    Runs on the CPU always and on CUDA when available and selected.
    """
    param = require_device_param(ctx)
    selected = ctx.settings.devices or ("cpu", "cuda")
    devices = [d for d in selected if d == "cpu"]
    note = ""
    for device in (d for d in selected if d.split(":", 1)[0] == "cuda"):
        reason = cuda_unavailable_reason(device)
        if reason and not devices:
            ctx.skip(reason)
        if reason:
            note = f"checked on {', '.join(devices)}; {device} skipped: {reason}"
        else:
            devices.append(device)
    data = ctx.data()
    for device in devices:
        estimator = fit_on(ctx, data, device)
        if not torch_state(estimator):
            ctx.skip("no fitted attribute holds a torch module or tensor: where the model lives is not visible")
        problems = run_problems(observe(f"fit on {device}", estimator, data.X, device))
        if problems:
            _fail(ctx, f"{param}={device!r} was not honoured", problems,
                  f"every fitted tensor on {device}; outputs numpy arrays", [
                      "import numpy as np",
                      "from conformance.testing import assert_tensors_on, seed_global_rngs",
                      f"seed_global_rngs(0); estimator.set_params({param}={device!r}).fit(X, y)",
                      f"assert_tensors_on(estimator, {device!r})",
                      *(f"assert isinstance(estimator.{m}(X), np.ndarray), type(estimator.{m}(X))"
                        for m in raw_outputs(estimator, data.X[:1]))])
    return note or None


@register("devices.cuda_roundtrip_predicts_same", applies_to=("torch",), device=True)
def cuda_roundtrip_predicts_same(ctx):
    """A CPU-fitted estimator moved to CUDA predicts the same within the ``device`` tolerance, and moved back predicts bitwise the same.

    Users train on one machine and serve on another; moving a model must move all of it (the
    module, buffers, cached tensors) and change nothing but float rounding.
    """
    device = cuda_under_test(ctx)
    runs = roundtrip_runs(ctx, ctx.data(), device)
    problems = roundtrip_problems(runs, lambda kind: tolerance_of(ctx, kind, runs[0].compute))
    if problems:
        param = ctx.traits.device_param
        _fail(ctx, f"moving the fitted estimator to {device} and back changed it", problems,
              f"{tolerance_of(ctx, 'device', runs[0].compute)(np.float64).describe()} on {device}; bitwise back on cpu", [
                  "import numpy as np", "from conformance.testing import seed_global_rngs",
                  f"seed_global_rngs(0); estimator.set_params({param}='cpu').fit(X, y)",
                  "base = np.asarray(estimator.predict(X))",
                  f"on_cuda = np.asarray(estimator.set_params({param}={device!r}).predict(X))",
                  f"back = np.asarray(estimator.set_params({param}='cpu').predict(X))",
                  "np.testing.assert_array_equal(back, base)",
                  assertion_line("on_cuda", "base", runs[0].arrays().get("predict", np.zeros(1)),
                                 tolerance_of(ctx, "device", runs[0].compute)(np.float64))])


@register("devices.cuda_fit_matches_cpu_fit", applies_to=("torch",), device=True)
def cuda_fit_matches_cpu_fit(ctx):
    """A fit on CUDA with the same seed agrees with the CPU fit within the ``device_fit`` tolerance (TF32 disabled).

    A model's quality must not depend on where it was trained: same seed, same initial weights,
    same batches; only float rounding may differ. Initialise weights and shuffle with CPU
    generators so the random streams do not depend on the device.
    """
    import torch

    device = cuda_under_test(ctx)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    data = ctx.data()
    cpu, cuda = fit_run(ctx, data, "cpu"), fit_run(ctx, data, device)
    within = tolerance_of(ctx, "device_fit", cpu.compute)
    problems = run_problems(cuda) + agreement_problems(cuda, cpu, within, continuous=True)
    if problems:
        param = ctx.traits.device_param
        _fail(ctx, f"the fit on {device} (TF32 off) disagrees with the fit on cpu", problems,
              within(np.float64).describe(), [
                  "import numpy as np, torch", "from conformance.testing import seed_global_rngs",
                  "torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False",
                  f"seed_global_rngs(0); cpu = np.asarray(estimator.set_params({param}='cpu').fit(X, y).predict(X))",
                  f"seed_global_rngs(0); cuda = np.asarray(estimator.set_params({param}={device!r}).fit(X, y).predict(X))",
                  assertion_line("cuda", "cpu", cpu.arrays().get("predict", np.zeros(1)), within(np.float64))])
    return f"TF32 disabled; compared {', '.join(continuous_outputs(cpu.arrays()))}"


@register("devices.cuda_deterministic_fits_bitwise", applies_to=("torch",), device=True)
def cuda_deterministic_fits_bitwise(ctx):
    """With ``torch.use_deterministic_algorithms(True)``, two CUDA fits with the same seed are bitwise equal.

    Reproducible GPU training is possible in torch, but only if every op the estimator uses has
    a deterministic kernel; the check names the first op that has none, so users know what
    blocks reproducibility.
    """
    device = cuda_under_test(ctx)
    param = ctx.traits.device_param
    lines = ["import os, numpy as np, torch", "os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'",
             "from conformance.testing import seed_global_rngs", "torch.use_deterministic_algorithms(True)",
             f"seed_global_rngs(0); a = np.asarray(estimator.set_params({param}={device!r}).fit(X, y).predict(X))",
             f"seed_global_rngs(0); b = np.asarray(estimator.set_params({param}={device!r}).fit(X, y).predict(X))",
             "np.testing.assert_array_equal(a, b)"]
    try:
        first, second = deterministic_runs(ctx, ctx.data(), device)
    except NondeterministicOp as exc:
        _fail(ctx, f"fit on {device} uses an op without a deterministic implementation", [
            f"{exc.op} ({exc})"], "every op deterministic under torch.use_deterministic_algorithms(True)", lines)
    problems = agreement_problems(second, first, tolerance_of(ctx, "bitwise"))
    if problems:
        _fail(ctx, f"two deterministic-mode fits on {device} differ", problems, "bitwise-identical outputs", lines)


@register("devices.cuda_predict_memory_stable", applies_to=("torch",), device=True)
def cuda_predict_memory_stable(ctx):
    """Repeated ``predict`` calls on CUDA do not grow the CUDA memory allocated.

    A served model answers millions of requests; a few hundred bytes kept per call (outputs
    cached on the device, a growing autograd graph) exhausts the GPU in production.
    """
    device = cuda_under_test(ctx)
    data = ctx.data()
    estimator = fit_on(ctx, data, device)
    series = predict_memory_series(estimator, data.X, device)
    problem = memory_growth(series)
    if problem:
        param = ctx.traits.device_param
        _fail(ctx, f"predict on {device} leaks memory", [problem],
              f"constant torch.cuda.memory_allocated() over {PREDICT_CALLS} calls", [
                  "import torch",
                  f"estimator.set_params({param}={device!r}).fit(X, y)",
                  f"for _ in range({WARMUP_CALLS}):", "    estimator.predict(X)",
                  f"start = torch.cuda.memory_allocated({device!r})",
                  f"for _ in range({PREDICT_CALLS}):", "    estimator.predict(X)",
                  f"assert torch.cuda.memory_allocated({device!r}) <= start, "
                  "f'grew by {torch.cuda.memory_allocated() - start} bytes'"])
