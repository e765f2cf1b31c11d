"""The device checks: skip reasons without CUDA, and their produce/verdict code run on two CPU runs.

This machine (and CI) has no GPU, so every CUDA check must skip with a clear reason. Their
verdict logic is still tested: each check is "produce runs on device A and B" plus a verdict,
and here the produce functions run on the CPU (or with an estimator that ignores the device)
and the very same verdict functions judge the runs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conformance import devices_info
from conformance.checks import devices
from conformance.context import CheckContext
from conformance.targets import Target
from conformance.registry import get_check, registered_checks
from conformance.processes import ChildFailure, run_in_child
from conformance.runner import run_check
from conformance.settings import Settings
from conformance.tolerance import tolerance_for
from tests.conftest import verdict
from tests.estimators import device_estimators as estimators
from tests.estimators.base import TinyTorchClassifier

ROOT = Path(__file__).resolve().parent.parent
CUDA_CHECKS = ["devices.cuda_deterministic_fits_bitwise", "devices.cuda_fit_matches_cpu_fit",
               "devices.cuda_predict_memory_stable", "devices.cuda_roundtrip_predicts_same"]
HAS_CUDA = devices_info.probe()["cuda_available"]  # asked in a subprocess: CUDA stays uninitialised here
no_gpu = pytest.mark.skipif(HAS_CUDA, reason="these assert the no-GPU behaviour")


def context(estimator, **settings) -> CheckContext:
    return CheckContext(Target(type(estimator).__name__, estimator),
                        Settings(**{"profile": "quick", "isolation": "none", **settings}), "devices.test")


def in_child(func):
    """Run ``func`` in a forked child (it may enable deterministic mode or walk the heap)."""
    value = run_in_child(func, timeout_s=120)
    assert not isinstance(value, ChildFailure), value
    return value


def tolerances(kind):
    return lambda dtype: tolerance_for(kind, dtype)


def test_device_checks_are_registered_and_cuda_ones_marked_as_needing_a_device():
    ids = sorted(c.id for c in registered_checks() if c.category == "devices")
    assert ids == sorted(CUDA_CHECKS + ["devices.device_param_honoured"])
    assert all(get_check(i).device for i in CUDA_CHECKS)


# --- skip reasons -------------------------------------------------------------------------

@no_gpu
@pytest.mark.parametrize("check_id", CUDA_CHECKS)
def test_cuda_checks_skip_with_the_reason_when_cuda_is_absent(check_id):
    result = verdict(estimators.DeviceTorchRegressor(), check_id, profile="quick")
    assert result.status == "skipped" and result.message.startswith("CUDA is not available: torch ")


@pytest.mark.parametrize("check_id", CUDA_CHECKS)
def test_cuda_checks_skip_when_devices_option_selects_only_cpu(check_id):
    result = run_check(Target("DeviceTorchRegressor", estimators.DeviceTorchRegressor()), get_check(check_id),
                       Settings(profile="quick", devices=("cpu",)))
    assert (result.status, result.message) == ("skipped", "cuda is not selected (--conformance-devices cpu)")


@no_gpu
def test_device_param_check_skips_when_only_an_unavailable_cuda_is_selected():
    result = run_check(Target("DeviceTorchRegressor", estimators.DeviceTorchRegressor()),
                       get_check("devices.device_param_honoured"), Settings(profile="quick", devices=("cuda",)))
    assert result.status == "skipped" and result.message.startswith("CUDA is not available")


@pytest.mark.parametrize("check_id", CUDA_CHECKS + ["devices.device_param_honoured"])
def test_device_checks_skip_estimator_without_a_device_parameter(check_id):
    result = verdict(TinyTorchClassifier(), check_id, profile="quick", isolation="none")
    assert result.status == "skipped" and "has no device parameter" in result.message


class AcceleratorRegressor(estimators.DeviceTorchRegressor):
    """Correct, with its device parameter named ``accelerator`` and declared by tag."""

    def __init__(self, max_epochs=30, accelerator="cpu"):
        super().__init__(max_epochs=max_epochs)
        self.accelerator = accelerator

    def _device(self):
        import torch

        return torch.device(self.accelerator)

    def __conformance_tags__(self):
        return {"device_param": "accelerator"}


def test_device_param_declared_by_tag_is_the_one_the_checks_set():
    ctx = context(AcceleratorRegressor())
    assert ctx.traits.device_param == "accelerator"
    assert "device" not in AcceleratorRegressor().get_params()  # so a check setting `device` would raise
    result = verdict(AcceleratorRegressor(), "devices.device_param_honoured", profile="quick", isolation="none")
    assert result.status == "passed", result.message


# --- device parameter honoured --------------------------------------------------------------

@pytest.mark.parametrize("correct", [estimators.DeviceTorchClassifier, estimators.DeviceTorchRegressor],
                         ids=lambda c: c.__name__)
def test_device_param_check_passes_correct_estimator_on_cpu(correct):
    result = verdict(correct(), "devices.device_param_honoured", profile="quick")
    assert result.status == "passed", result.message
    if not HAS_CUDA:
        assert result.message.startswith("checked on cpu; cuda skipped: CUDA is not available")


def test_device_param_check_fails_estimator_returning_torch_tensors():
    result = verdict(estimators.TensorReturningRegressor(), "devices.device_param_honoured", profile="quick")
    assert result.status == "failed"
    assert "predict returned torch.Tensor on cpu, expected a numpy.ndarray on the CPU" in result.message


def test_device_param_verdict_fails_estimator_that_keeps_its_module_on_cpu():
    ctx = context(estimators.DeviceIgnoredRegressor())
    run = devices.fit_run(ctx, ctx.data(), "cuda")  # it ignores the device, so this runs here
    assert devices.run_problems(run) == ["fit on cuda: module_: 4 of 4 tensors on cpu, expected cuda"]


def test_device_param_verdict_passes_correct_estimator_and_checks_the_index():
    ctx = context(estimators.DeviceTorchRegressor())
    estimator = devices.fit_on(ctx, ctx.data(), "cpu")
    assert devices.placement_problems(estimator, "cpu") == []
    assert devices.placement_problems(estimator, "cuda:1") == ["module_: 4 of 4 tensors on cpu, expected cuda:1"]


# --- CPU-fitted, moved to the device and back --------------------------------------------------

def test_roundtrip_verdict_passes_correct_estimator_moved_between_two_cpu_runs():
    ctx = context(estimators.DeviceTorchClassifier())
    runs = devices.roundtrip_runs(ctx, ctx.data(), "cpu")
    assert [r.label for r in runs] == ["fit on cpu", "moved to cpu", "moved back to cpu"]
    assert devices.roundtrip_problems(runs, tolerances) == []


def test_roundtrip_verdict_fails_estimator_that_does_not_move_when_device_changes():
    ctx = context(estimators.DeviceIgnoredRegressor())
    problems = devices.roundtrip_problems(devices.roundtrip_runs(ctx, ctx.data(), "cuda"), tolerances)
    assert problems == ["moved to cuda: module_: 4 of 4 tensors on cpu, expected cuda"]


def test_roundtrip_verdict_fails_when_moved_outputs_disagree():
    ctx = context(estimators.DeviceTorchRegressor())
    data = ctx.data()
    base, _, back = devices.roundtrip_runs(ctx, data, "cpu")
    other_model = devices.fit_run(ctx, data, "cpu", random_state=1)  # stands in for a wrong move
    problems = devices.roundtrip_problems([base, other_model, back], tolerances)
    assert len(problems) == 1 and problems[0].startswith("fit on cpu versus fit on cpu: predict: ")
    assert "differ beyond device tolerance" in problems[0]
    problems = devices.roundtrip_problems([base, back, other_model], tolerances)  # wrong after moving back
    assert len(problems) == 1 and "not bitwise equal" in problems[0]


def test_roundtrip_verdict_fails_estimator_returning_tensors_after_the_move():
    ctx = context(estimators.TensorReturningRegressor())
    problems = devices.roundtrip_problems(devices.roundtrip_runs(ctx, ctx.data(), "cpu"), tolerances)
    assert len(problems) == 3 and all("returned torch.Tensor" in p for p in problems)


# --- fit on the device versus fit on the CPU ----------------------------------------------

def test_device_fit_verdict_accepts_two_equal_seeded_fits_and_rejects_other_seeds():
    ctx = context(estimators.DeviceTorchClassifier())
    data = ctx.data()
    first, again = devices.fit_run(ctx, data, "cpu"), devices.fit_run(ctx, data, "cpu")
    other = devices.fit_run(ctx, data, "cpu", random_state=1)
    within = devices.tolerance_of(ctx, "device_fit", first.compute)
    assert devices.agreement_problems(again, first, within) == []
    problems = devices.agreement_problems(other, first, within, continuous=True)
    assert len(problems) == 1 and problems[0].startswith("fit on cpu versus fit on cpu: predict_proba: ")
    assert "differ beyond device_fit tolerance" in problems[0]
    assert first.compute == np.float32


# --- deterministic algorithms -------------------------------------------------------------

def test_deterministic_verdict_passes_correct_estimator_fitted_twice():
    def produce():
        ctx = context(estimators.DeviceTorchRegressor())
        first, second = devices.deterministic_runs(ctx, ctx.data(), "cpu")
        return devices.agreement_problems(second, first, tolerances("bitwise"))

    assert in_child(produce) == []


def test_deterministic_verdict_names_the_op_without_a_deterministic_implementation():
    def produce():
        ctx = context(estimators.NondeterministicOpRegressor())
        try:
            devices.deterministic_runs(ctx, ctx.data(), "cpu")
        except devices.NondeterministicOp as exc:
            return exc.op
        return None

    assert in_child(produce) == "max_unpooling2d_forward_out"


def test_nondeterministic_op_is_read_from_torchs_cuda_message():
    message = ("index_add_cuda_ does not have a deterministic implementation, but you set "
               "'torch.use_deterministic_algorithms(True)'. You can turn off determinism just for this operation")
    assert devices.nondeterministic_op(message) == "index_add_cuda_"
    assert devices.nondeterministic_op("CUDA out of memory") is None


# --- memory on repeated predict -------------------------------------------------------------

def cpu_memory_series(estimator_class) -> list[int]:
    """Fit on the CPU and measure live CPU tensor bytes over repeated predicts, in a child."""
    def produce():
        ctx = context(estimator_class())
        data = ctx.data()
        return devices.predict_memory_series(devices.fit_on(ctx, data, "cpu"), data.X, "cpu", calls=5, warmup=1)

    return in_child(produce)


def test_memory_verdict_fails_estimator_keeping_every_prediction_on_the_device():
    ctx = context(estimators.LeakyPredictRegressor())
    kept = 4 * len(ctx.data().X) * 4  # each of the 4 measured calls keeps its float32 prediction rows
    problem = devices.memory_growth(cpu_memory_series(estimators.LeakyPredictRegressor))
    assert problem is not None and f"grew by {kept} bytes over 4 predict calls" in problem


def test_memory_verdict_passes_correct_estimator():
    series = cpu_memory_series(estimators.DeviceTorchRegressor)
    assert devices.memory_growth(series) is None and len(set(series)) == 1


@pytest.mark.parametrize("series, grows", [([100] * 10, False), ([100] * 5 + [612] * 5, False),
                                           ([100, 612, 100, 612, 100], False), (list(range(0, 5120, 512)), True),
                                           ([100, 90, 80, 70], False)])
def test_memory_growth_flags_steady_growth_but_not_one_off_or_fluctuating_allocation(series, grows):
    assert (devices.memory_growth(series) is not None) == grows


def test_memory_growth_needs_a_series():
    with pytest.raises(ValueError, match="at least 3 measurements"):
        devices.memory_growth([1, 2])


# --- device discovery ---------------------------------------------------------------------

def test_describe_devices_runs_without_importing_torch_in_the_calling_process():
    code = ("import json, sys; from conformance.devices_info import describe_devices; "
            "d = describe_devices(('cpu', 'cuda')); d['torch_imported'] = 'torch' in sys.modules; print(json.dumps(d))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    described = json.loads(done.stdout.strip().splitlines()[-1])
    assert described["torch_imported"] is False
    assert described["devices"] == ["cpu", "cuda"] and described["torch_version"].startswith("2.")
    assert set(described) >= {"available", "gpus", "torch_cuda_version", "driver_version", "cudnn_version"}
    if not HAS_CUDA:
        assert described["available"] == ["cpu"] and described["gpus"] == []


def test_cpu_only_build_is_read_from_torch_version_file_and_agrees_with_torch():
    import torch

    known = devices_info.cpu_only_build()
    if torch.version.cuda or getattr(torch.version, "hip", None):
        assert known is None  # a CUDA or ROCm build must be asked, never guessed
    else:
        assert known == {"torch_version": torch.__version__, "torch_cuda_version": None,
                         "cudnn_version": None, "cuda_available": False, "gpus": []}


@no_gpu
def test_available_devices_and_description_line_without_a_gpu():
    assert devices_info.available_devices() == ["cpu"]
    line = devices_info.describe_line(devices_info.describe_devices())
    assert line.startswith("cpu (no CUDA device: torch ") and "CPU-only build" in line


def test_selected_devices_default_to_available_and_reject_unknown_names():
    assert devices_info.selected_devices((), ["cpu", "cuda:0"]) == ["cpu", "cuda:0"]
    assert devices_info.selected_devices(("cuda", "cpu", "cuda"), ["cpu"]) == ["cuda", "cpu"]
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        devices_info.selected_devices(("tpu",), ["cpu"])


# --- the GPU proof script -----------------------------------------------------------------

def test_gpu_check_script_runs_here_and_reports_every_cuda_path_skipped():
    done = subprocess.run([str(ROOT / "scripts" / "gpu-check"), "--python", sys.executable,
                           "--estimator", "tests.estimators.device_estimators:DeviceTorchRegressor",
                           "--", "--conformance-profile=quick"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("devices: cpu")
    rows = [line.split() for line in lines if line.startswith("devices.")]
    assert sorted(row[0] for row in rows) == sorted(CUDA_CHECKS + ["devices.device_param_honoured"])
    if not HAS_CUDA:
        assert all(row[2] == "skipped" for row in rows if row[0] in CUDA_CHECKS)
        assert "NO CUDA PATH RAN" in done.stdout and "CUDA is not available" in done.stdout
