"""The run's report: the JSON document of DESIGN.md, and its markdown and terminal summaries."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field

from conformance.result import BAD_STATUSES, Result

SUMMARY_STATUSES = ("passed", "failed", "xfailed", "skipped", "xpassed", "error")


def params_of(estimator) -> dict:
    """The estimator's parameters as reprs, for the report (``{}`` when ``get_params`` breaks)."""
    try:
        return {k: repr(v) for k, v in estimator.get_params(deep=False).items()}
    except Exception:  # noqa: BLE001 - a broken get_params is a check's verdict, not the report's
        return {}


@dataclass
class EstimatorReport:
    label: str
    target: str | None
    params: dict
    results: list[Result] = field(default_factory=list)

    @classmethod
    def of(cls, target) -> "EstimatorReport":
        """An empty row for a :class:`~conformance.targets.Target`."""
        return cls(target.label, target.spec, params_of(target.estimator))

    def to_dict(self) -> dict:
        return {"label": self.label, "target": self.target, "params": self.params,
                "results": [r.to_dict() for r in self.results]}


@dataclass
class Report:
    """Every result of a run, grouped by estimator."""

    estimators: list[EstimatorReport] = field(default_factory=list)
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    device_info: dict = field(default_factory=dict)

    @property
    def results(self) -> list[Result]:
        return [r for e in self.estimators for r in e.results]

    @property
    def ok(self) -> bool:
        """True when no check failed or broke (xfailed baseline entries do not count)."""
        return not any(r.status in BAD_STATUSES for r in self.results)

    def failures(self) -> list[tuple[str, Result]]:
        return [(e.label, r) for e in self.estimators for r in e.results if r.status in BAD_STATUSES]

    def warnings(self) -> list[tuple[str, Result, str]]:
        """``(label, result, warning)`` for every warning of a check that did not fail."""
        return [(e.label, r, w) for e in self.estimators for r in e.results for w in r.warnings]

    def counts_by_category(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for result in self.results:
            row = table.setdefault(result.category, dict.fromkeys(SUMMARY_STATUSES, 0))
            row[result.status] += 1
        return dict(sorted(table.items()))

    def to_dict(self) -> dict:
        return {**versions(), "devices": list(self.devices), "device_info": self.device_info,
                "estimators": [e.to_dict() for e in self.estimators]}

    def write_json(self, path) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=2, default=repr)
            handle.write("\n")

    def markdown(self) -> str:
        """Per category passed/failed/xfailed/skipped, then each failure's one-line message."""
        lines = ["## Conformance", "", "| category | passed | failed | xfailed | skipped | xpassed | error |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for category, row in self.counts_by_category().items():
            lines.append(f"| {category} | " + " | ".join(str(row[s]) for s in SUMMARY_STATUSES) + " |")
        failures = self.failures()
        if failures:
            lines += ["", "### Failures", ""]
            lines += [f"- `{label}` `{r.check}`: {_md_escape(r.summary)}" for label, r in failures]
        warnings = self.warnings()
        if warnings:
            lines += ["", "### Warnings", ""]
            lines += [f"- `{label}` `{r.check}`: {_md_escape(w)}" for label, r, w in warnings]
        return "\n".join(lines) + "\n"

    def text_table(self) -> list[str]:
        rows = self.counts_by_category()
        width = max([len("category")] + [len(c) for c in rows])
        header = f"{'category':<{width}}  " + "  ".join(f"{s:>7}" for s in SUMMARY_STATUSES)
        lines = [header]
        for category, row in rows.items():
            lines.append(f"{category:<{width}}  " + "  ".join(f"{row[s]:>7}" for s in SUMMARY_STATUSES))
        for label, result in self.failures():
            lines.append(f"FAILED {label} {result.check}: {result.summary}")
        for label, result, warning in self.warnings():
            lines.append(f"WARNING {label} {result.check}: {warning}")
        return lines


def versions() -> dict:
    import numpy
    import sklearn

    from conformance import __version__

    from importlib import metadata

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return {"conformance_version": __version__, "sklearn_version": sklearn.__version__,
            "torch_version": torch_version, "numpy_version": numpy.__version__,
            "python_version": platform.python_version()}


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")
