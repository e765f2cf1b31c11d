"""A new user's first hour, end to end: the built wheel in a fresh venv, their naive estimator in a
flat project, configuration one directory up, and what the suite then shows them.

One run of the suite, on a classifier written the way tutorials write it (``ClassifierMixin``
after ``BaseEstimator``, float64 input fed to a float32 module), must: say first that the kind
signals disagree, group the failures that share one cause, keep sklearn's messages whole, and
print reproductions that fail when pasted into a fresh interpreter. ``explain`` works from the
installed wheel, and a bad report path is a one-line usage error before anything runs.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", ".hypothesis",
                                    ".pytest_cache", "__pycache__")
SELECTION = "check_mixin_order or check_classifiers_train or check_fit2d_1sample or params or pickle_roundtrip"

USER_MODEL = '''
import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin


class MyClassifier(BaseEstimator, ClassifierMixin):
    """The tutorial's classifier: mixins in the wrong order, float64 input fed to a float32 module."""

    def __init__(self, epochs=10, lr=0.05):
        self.epochs = epochs
        self.lr = lr

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.model_ = torch.nn.Linear(np.shape(X)[1], len(self.classes_))
        inputs = torch.as_tensor(X)
        target = torch.as_tensor(np.searchsorted(self.classes_, y))
        optimizer = torch.optim.SGD(self.model_.parameters(), lr=self.lr)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(self.model_(inputs), target).backward()
            optimizer.step()
        return self

    def predict(self, X):
        with torch.no_grad():
            return self.classes_[self.model_(torch.as_tensor(X)).argmax(1).numpy()]
'''

PYPROJECT = '''
[tool.pytest.ini_options]
pythonpath = ["."]

[tool.conformance]
estimators = ["my_model:MyClassifier"]
'''

# Runs inside the fresh venv: every failure's snippet through the fresh-process server.
REPLAY = '''
import json, os, sys
from conformance.fresh import ensure_server, run_python
report = json.load(open(sys.argv[1]))
ensure_server()
codes = {}
for estimator in report["estimators"]:
    for result in estimator["results"]:
        if result["status"] != "failed" or "reproduce with:" not in result["message"]:
            continue
        lines = result["message"].splitlines()
        start = lines.index("  reproduce with:") + 1
        body = []
        for line in lines[start:]:
            if not line.startswith("    "):
                break
            body.append(line[4:])
        done = run_python("\\n".join(body), env=dict(os.environ), timeout=240, text=True)
        codes[result["check"]] = [done.returncode, done.stderr[-600:]]
print(json.dumps(codes))
'''


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """A fresh venv with the wheel installed (dependencies from this environment), and the user's project."""
    try:
        import setuptools
    except ImportError:
        pytest.skip("setuptools is not installed: the wheel cannot be built offline")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} cannot build this project offline (77 or newer needed)")
    base = tmp_path_factory.mktemp("new-user")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(base / "dist")], cwd=source)
    (wheel,) = (base / "dist").glob("*.whl")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base).strip()
    # torch, sklearn and pytest come from this environment's site-packages (added as a plain
    # path, so none of its .pth files, the editable install of this repository included, apply).
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        cwd=base)
    project = base / "project"
    (project / "sub").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "my_model.py").write_text(USER_MODEL)
    return python, project


def run(command, cwd, **kwargs) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "CONFORMANCE_", "PYTEST_"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def first_run(user):
    python, project = user
    done = subprocess.run([str(python), "-m", "conformance", "--conformance-profile", "quick", "-p", "no:cacheprovider",
                           "--conformance-jobs", "2", "--conformance-report", "../report.json", "-k", SELECTION],
                          cwd=project / "sub", capture_output=True, text=True, timeout=900, env=clean_env())
    report = json.loads((project / "report.json").read_text())
    return done, report


def test_the_wheel_runs_from_site_packages_not_from_this_checkout(user):
    python, project = user
    where = run([str(python), "-c", "import conformance, sys; print(conformance.__file__)"], cwd=project,
                env=clean_env())
    assert "site-packages" in where and str(ROOT) not in where


def test_the_kind_notice_comes_first_and_the_config_one_directory_up_is_read(first_run):
    done, report = first_run
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    header = [line for line in done.stdout.splitlines() if line.startswith("conformance:")]
    assert header[0].startswith("conformance: ! MyClassifier: ClassifierMixin is in MyClassifier's MRO but after "
                                "BaseEstimator"), header
    assert "fix the order: class MyClassifier(ClassifierMixin, BaseEstimator)" in header[0]
    assert "NO TARGET WAS NAMED" not in done.stdout
    assert "PytestAssertRewriteWarning" not in done.stdout + done.stderr
    (estimator,) = report["estimators"]
    assert (estimator["label"], estimator["kind"]) == ("MyClassifier", "classifier")
    assert estimator["disagreements"] and estimator["input_kind"] == "tabular"


def test_failures_that_share_a_cause_are_shown_once_first(first_run):
    done, report = first_run
    (group, *_) = report["shared_causes"]
    assert group["estimator"] == "MyClassifier" and group["count"] >= 3
    assert "mat1 and mat2 must have the same dtype" in group["cause"] and "my_model.py" in group["cause"]
    summary = done.stdout[done.stdout.index("= conformance ="):]
    assert summary.index("failures of MyClassifier share one cause") < summary.index("category")


def test_sklearns_messages_are_kept_whole(first_run):
    _, report = first_run
    results = {r["check"]: r for r in report["estimators"][0]["results"]}
    mixin = results["sklearn.check_mixin_order"]
    assert mixin["status"] == "failed"
    assert "ClassifierMixin comes before/left side of BaseEstimator" in mixin["message"]


def test_every_reproduction_fails_when_pasted_into_a_fresh_interpreter(user, first_run, tmp_path):
    python, project = user
    replay = tmp_path / "replay.py"
    replay.write_text(REPLAY)
    out = run([str(python), str(replay), str(project / "report.json")], cwd=project,
              env=clean_env(PYTHONPATH=str(project)))
    codes = json.loads(out.strip().splitlines()[-1])
    failed = [r["check"] for r in first_run[1]["estimators"][0]["results"] if r["status"] == "failed"]
    assert len(codes) == len(failed) >= 5, (sorted(codes), failed)
    passing = {check: tail for check, (code, tail) in codes.items() if code == 0}
    assert not passing, f"these reproductions did not fail: {sorted(passing)}"


def test_explain_works_from_the_installed_wheel(user):
    python, project = user
    text = run([str(python), "-m", "conformance", "explain", "sklearn.check_mixin_order"], cwd=project,
               env=clean_env())
    assert text.startswith("sklearn.check_mixin_order") and "**How to fix.**" in text
    where = run([str(python), "-c", "from conformance.explain import docs_dir; print(docs_dir())"], cwd=project,
                env=clean_env())
    assert "site-packages" in where and where.strip().endswith("checkdocs")


def test_a_bad_report_path_is_a_one_line_usage_error_before_the_run(user):
    python, project = user
    done = subprocess.run([str(python), "-m", "conformance", "--conformance-report", "no/such/folder/r.json"],
                          cwd=project / "sub", capture_output=True, text=True, timeout=300, env=clean_env())
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "does not exist" in errors[0], done.stderr
    assert "collected" not in done.stdout
