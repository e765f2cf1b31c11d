"""The persistence checks fail the defect they aim at and pass its correct twin."""

import subprocess
import sys
from pathlib import Path

from tests.estimators import persistence_defects as defects
from tests.estimators.base import TinyTorchClassifier, TinyTorchRegressor

ROOT = Path(__file__).resolve().parents[1]


def test_pickle_check_fails_estimator_that_rounds_weights_to_float16(run_check):
    result = run_check(defects.HalfPrecisionPickle(), "persistence.pickle_roundtrip")
    assert result.status == "failed"
    assert "not bitwise equal" in result.message


def test_joblib_check_fails_estimator_that_rounds_weights_to_float16(run_check):
    assert run_check(defects.HalfPrecisionPickle(), "persistence.joblib_roundtrip").status == "failed"


def test_deepcopy_check_fails_deepcopy_that_returns_an_unfitted_clone(run_check):
    result = run_check(defects.DeepcopyUnfitted(), "persistence.deepcopy_roundtrip")
    assert result.status == "failed"
    assert "NotFittedError" in result.message


def test_roundtrip_checks_pass_correct_twin(run_check):
    for check in ("persistence.pickle_roundtrip", "persistence.joblib_roundtrip", "persistence.deepcopy_roundtrip"):
        assert run_check(TinyTorchClassifier(), check).status == "passed", check


def test_unfitted_check_fails_getstate_that_assumes_a_fitted_network(run_check):
    result = run_check(defects.FittedOnlyGetstate(), "persistence.unfitted_roundtrip")
    assert result.status == "failed"
    assert "KeyError" in result.message


def test_unfitted_check_passes_correct_twin(run_check):
    assert run_check(defects.NumpyStateClassifier(), "persistence.unfitted_roundtrip").status == "passed"


def test_fresh_process_check_fails_estimator_keeping_its_network_in_a_module_registry(run_check):
    result = run_check(defects.RegistryClassifier(), "persistence.fresh_process_load")
    assert result.status == "failed"
    assert "KeyError" in result.message


def test_fresh_process_check_passes_correct_twin(run_check):
    assert run_check(TinyTorchRegressor(), "persistence.fresh_process_load").status == "passed"


def test_fresh_process_check_fails_class_defined_in_a_script():
    # A real script run as __main__: its class pickles as __main__.ScriptClassifier.
    completed = subprocess.run([sys.executable, "-c", defects.MAIN_SCRIPT], cwd=ROOT, capture_output=True,
                               text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    lines = dict(line.split(" ", 2)[1:] for line in completed.stdout.splitlines() if line.startswith("RESULT"))
    assert lines["persistence.pickle_roundtrip"].startswith("passed"), completed.stdout + completed.stderr
    assert lines["persistence.fresh_process_load"].startswith("failed"), completed.stdout + completed.stderr
    assert "defined in __main__" in lines["persistence.fresh_process_load"]


def test_size_check_fails_estimator_that_keeps_training_data(run_check):
    result = run_check(defects.KeepsTrainingData(), "persistence.pickle_size_independent_of_n_samples")
    assert result.status == "failed"
    assert "32.0 bytes per extra row" in result.message  # 4 float64 features per row


def test_size_check_passes_correct_twin(run_check):
    assert run_check(TinyTorchClassifier(), "persistence.pickle_size_independent_of_n_samples").status == "passed"


def test_cuda_check_skips_without_cuda_or_judges_the_pickle(run_check):
    # Whether CUDA exists is decided inside the check's process, never here.
    correct = run_check(defects.DeviceClassifier(), "persistence.cuda_pickle_loads_without_cuda")
    raw = run_check(defects.RawCudaPickle(), "persistence.cuda_pickle_loads_without_cuda")
    if correct.status == "skipped":
        assert "CUDA is not available" in correct.message
        assert raw.status == "skipped"
    else:
        assert correct.status == "passed", correct.message
        assert raw.status == "failed", raw.message
        assert "CUDA" in raw.message


def test_cuda_check_skips_estimator_without_device_parameter_or_cuda(run_check):
    result = run_check(TinyTorchClassifier(), "persistence.cuda_pickle_loads_without_cuda")
    assert result.status == "skipped"
    assert "CUDA is not available" in result.message or "no device parameter" in result.message


def test_skops_check_fails_state_that_loads_back_different_and_reports_types_for_twin(run_check):
    failed = run_check(defects.LossyStateClassifier(), "persistence.skops_roundtrip")
    assert failed.status == "failed"
    assert "outputs changed after a skops.io round-trip" in failed.message
    passed = run_check(defects.NumpyStateClassifier(), "persistence.skops_roundtrip")
    assert passed.status == "passed"
    assert passed.message == "types to trust: tests.estimators.persistence_defects.NumpyStateClassifier"


def test_skops_check_warns_without_failing_when_skops_cannot_store_a_tensor(run_check):
    result = run_check(defects.TensorAttributeClassifier(), "persistence.skops_roundtrip")
    assert result.status == "passed"
    assert result.warnings and result.warnings[0].startswith("skops.io cannot save the fitted estimator")


def test_skops_check_skips_when_skops_is_absent(run_check, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)  # import skops now raises ImportError
    monkeypatch.setitem(sys.modules, "skops.io", None)
    result = run_check(TinyTorchClassifier(), "persistence.skops_roundtrip")
    assert result.status == "skipped"
    assert "skops is not installed" in result.message
