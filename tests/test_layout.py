"""The package's layout rules: check modules import shared helpers only, and nothing imports a check module."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
CHECKS = PACKAGE / "checks"
CHECK_MODULES = sorted(p for p in CHECKS.glob("*.py") if p.name != "__init__.py")


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved), at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    inside = PACKAGE.parent in path.parents
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]) if inside else ""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def check_module_imports(path: Path) -> set[str]:
    """The check modules (``conformance.checks.<name>``, not ``_support``) that ``path`` imports."""
    found = set()
    for name in imported_modules(path):
        parts = name.split(".")
        if parts[:2] == ["conformance", "checks"] and len(parts) > 2 and parts[2] != "_support":
            found.add(".".join(parts[:3]))
    return found


def test_there_are_check_modules_and_the_import_scan_sees_their_imports():
    assert len(CHECK_MODULES) >= 6
    assert "conformance.checks._support.outputs.outputs" in imported_modules(CHECKS / "params.py")


@pytest.mark.parametrize("path", CHECK_MODULES, ids=lambda p: p.name)
def test_a_check_module_imports_no_other_check_module(path):
    own = f"conformance.checks.{path.stem}"
    others = check_module_imports(path) - {own}
    assert not others, f"{path.name} imports {sorted(others)}: move what it needs into conformance/checks/_support/"


def test_no_module_outside_the_check_modules_imports_one():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == CHECKS:  # the check modules themselves (and the package that lists them)
            continue
        found = check_module_imports(path)
        if found:
            offenders[str(path.relative_to(PACKAGE))] = sorted(found)
    assert not offenders, f"modules outside conformance/checks/ import check modules: {offenders}"


def test_the_scan_catches_a_check_module_importing_another(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from conformance.checks.params import outputs\n"
                     "def f():\n    import conformance.checks.devices as d\n"
                     "from conformance.checks._support import seeding\n")
    assert check_module_imports(probe) == {"conformance.checks.params", "conformance.checks.devices"}
