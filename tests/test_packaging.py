"""What the wheel and the sdist carry, built from a copy of this tree with the installed setuptools.

The builds run without build isolation, so nothing is downloaded; where the setuptools that is
installed cannot build this project (older than 77, for the SPDX license string) or pip is
missing, the tests skip and say so.
"""

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SDIST_FOLDERS = ("tests", "docs", "scripts", "benchmarks")
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", ".hypothesis",
                                    ".pytest_cache")


def buildable():
    try:
        import setuptools
    except ImportError:
        pytest.skip("setuptools is not installed: the wheel cannot be built without downloading it")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} is older than 77 (pyproject.toml's build "
                    "requirement): building offline needs it installed")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A copy of the tree, so that builds neither write into it nor reuse its stale build/.

    It holds bytecode, as a tree where the tests have run does, which neither build may ship.
    """
    buildable()
    copy = tmp_path_factory.mktemp("src") / "project"
    shutil.copytree(ROOT, copy, ignore=NOT_SOURCE)
    for folder in ("tests", "conformance"):
        (copy / folder / "__pycache__").mkdir(exist_ok=True)
        (copy / folder / "__pycache__" / "planted.cpython-311.pyc").write_bytes(b"bytecode")
    return copy


def build(command, cwd):
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory):
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip("pip is not installed in this interpreter")
    out = tmp_path_factory.mktemp("wheel")
    build([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
           "--no-index", "-w", str(out)], cwd=source)
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


@pytest.fixture(scope="module")
def sdist(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("sdist")
    done = build([sys.executable, "-c", "import sys; from setuptools import build_meta; "
                  "print(build_meta.build_sdist(sys.argv[1]))", str(out)], cwd=source)
    assert "warning" not in done.stdout.lower() + done.stderr.lower(), done.stdout + done.stderr
    (path,) = out.glob("*.tar.gz")
    with tarfile.open(path) as archive:
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


def metadata(wheel) -> list[str]:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return wheel.read(name).decode().split("\n\n", 1)[0].splitlines()


def test_wheel_ships_the_license_and_a_py_typed_marker_per_package(wheel):
    names = set(wheel.namelist())
    assert {"conformance/py.typed", "reference_estimators/py.typed"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)


def test_wheel_metadata_has_the_spdx_license_and_the_project_urls(wheel):
    lines = metadata(wheel)
    assert "License-Expression: BSD-3-Clause" in lines
    assert "License-File: LICENSE" in lines
    assert not [line for line in lines if line.startswith(("License:", "Classifier: License"))]
    urls = {k: v for k, v in (line.removeprefix("Project-URL: ").split(", ", 1)
                              for line in lines if line.startswith("Project-URL: "))}
    assert set(urls) >= {"Homepage", "Source", "Issues"}, urls


def test_wheel_ships_every_check_page_and_every_package_folder(wheel):
    names = set(wheel.namelist())
    pages = {f"conformance/checkdocs/{p.name}" for p in (ROOT / "docs" / "checks").glob("*.md")}
    assert pages and pages <= names, sorted(pages - names)
    folders = {str(p.parent.relative_to(ROOT)).replace("/", ".") for top in ("conformance", "reference_estimators")
               for p in (ROOT / top).rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert folders <= listed, f"package folders missing from [tool.setuptools] packages: {sorted(folders - listed)}"
    assert {f"{f.replace('.', '/')}/__init__.py" for f in folders} <= names


def test_wheel_holds_only_the_two_packages_and_no_bytecode(wheel):
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"conformance", "reference_estimators"}
    assert not [name for name in wheel.namelist() if name.endswith(".pyc")]


def tracked(folder: str) -> list[str]:
    done = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        pytest.skip("not a git checkout: no list of tracked files to compare the sdist with")
    return done.stdout.split()


@pytest.mark.parametrize("folder", SDIST_FOLDERS)
def test_sdist_carries_every_tracked_file_of(folder, sdist):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    missing = [name for name in tracked(folder) if name not in sdist]
    assert not missing, f"MANIFEST.in leaves these out of the sdist: {missing}"


def test_sdist_can_run_its_own_tests_and_holds_no_bytecode(sdist):
    assert {"tests/conftest.py", "tests/estimators/__init__.py", "pyproject.toml", "LICENSE",
            "action.yml", "conformance/py.typed", "README.md"} <= sdist
    assert not [name for name in sdist if "__pycache__" in name or name.endswith(".pyc")]


def test_install_urls_in_the_docs_are_the_project_source():
    source = PYPROJECT["project"]["urls"]["Source"]
    repo = source.removeprefix("https://github.com/")
    files = ["README.md", "docs/ci.md", "docs/examples/conformance.yml", "docs/examples/conformance-action.yml"]
    named = {(f, m) for f in files
             for m in re.findall(r"(?:github\.com/|uses:\s*)([\w-]+/[\w-]+)", (ROOT / f).read_text())
             if "conformance" in m}
    assert named, "the docs name no repository of the project"
    wrong = sorted((f, m) for f, m in named if m != repo)
    assert not wrong, f"these name another repository than pyproject's Source ({source}): {wrong}"
