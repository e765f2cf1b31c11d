"""The project's own configuration: the ``[tool.conformance]`` table of its ``pyproject.toml``.

Found once per run, where pytest found its configuration (the plugin) or in the nearest
directory upwards from the working directory (the Python API), and read by everything that
takes settings from it: the targets (``estimators``) and the tolerances (``tolerances``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ProjectConfig:
    """The ``[tool.conformance]`` table and the file it came from (``path`` None: no such table)."""

    path: Path | None = None
    table: dict = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path} [tool.conformance]" if self.path else "no [tool.conformance] table"

    def estimators(self) -> list[str]:
        """``estimators = [...]``: target strings (a single string is one target)."""
        value = self.table.get("estimators", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{self.path}: [tool.conformance] estimators must be a list of 'module:attr' strings")
        return value

    def tolerances(self) -> dict:
        """``[tool.conformance.tolerances]``, validated (see :mod:`conformance.tolerance`)."""
        from conformance.tolerance import parse_project_tolerances

        return parse_project_tolerances(self.table.get("tolerances", {}), str(self.path))


def read_project_config(candidates) -> ProjectConfig:
    """The first ``pyproject.toml`` among ``candidates`` (files or directories) with a
    ``[tool.conformance]`` table; an empty :class:`ProjectConfig` when none has one."""
    seen = set()
    for candidate in candidates:
        if candidate is None:
            continue
        path = Path(candidate)
        path = path / "pyproject.toml" if path.is_dir() else path
        if path.name != "pyproject.toml" or not path.is_file() or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        table = _conformance_table(path)
        if table is not None:
            return ProjectConfig(path, table)
    return ProjectConfig()


def upwards(start: Path) -> list[Path]:
    """``start`` and each of its parents, nearest first."""
    start = Path(start).resolve()
    return [start, *start.parents]


def _conformance_table(path: Path) -> dict | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    table = data.get("tool", {}).get("conformance")
    if table is not None and not isinstance(table, dict):
        raise ValueError(f"{path}: [tool.conformance] must be a table")
    return table


def load_pyproject_overrides(path) -> dict:
    """The tolerance overrides of the ``pyproject.toml`` at ``path`` (``{}`` when it has none)."""
    return read_project_config([path]).tolerances() if Path(path).is_file() else {}
