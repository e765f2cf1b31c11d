"""The run's report: the JSON document of DESIGN.md, and its markdown and terminal summaries.

The document says how the run ended in ``state``: ``finished``; ``running`` (what a report
rewritten during the run says, so a run killed outright leaves one that says so);
``cancelled`` (by the signal in ``cancelled_by``: the checks that did not finish are rows of
status ``skipped`` with ``"cancelled": true``); or ``usage_error`` (a target could not be
used: ``target_errors`` says why, and the estimators listed are those that resolved; no check
ran).
"""

from __future__ import annotations

import functools
import json
import os
import platform
from dataclasses import dataclass, field

from conformance.causes import SharedCause, shared_causes
from conformance.result import BAD_STATUSES, Result

SUMMARY_STATUSES = ("passed", "failed", "xfailed", "skipped", "xpassed", "error")
STATES = ("finished", "running", "cancelled", "usage_error")
RESULT_DEPTH = 4  # a result's nesting in the document: root, estimators, estimator, results


def params_of(estimator) -> dict:
    """The estimator's parameters as reprs, for the report (``{}`` when ``get_params`` breaks)."""
    try:
        return {k: repr(v) for k, v in estimator.get_params(deep=False).items()}
    except Exception:  # noqa: BLE001 - a broken get_params is a check's verdict, not the report's
        return {}


@dataclass
class EstimatorReport:
    """One estimator's results, with the kind and input kind it was checked as."""

    label: str
    target: str | None
    params: dict
    results: list[Result] = field(default_factory=list)
    kind: str | None = None
    kind_reason: str | None = None
    input_kind: str | None = None
    disagreements: list = field(default_factory=list)  # kind signals that disagree (see conformance.kinds)
    # The configuration checked (conformance.variants.Variant.to_dict()); None: the defaults.
    variant: dict | None = None
    # On the defaults' row: the configurations checked besides, those over budget, and the
    # parameters not varied with why (conformance.variants.Configurations.to_dict()).
    configurations: dict | None = None

    @classmethod
    def of(cls, target) -> "EstimatorReport":
        """An empty row for a :class:`~conformance.targets.Target`."""
        traits = target.traits
        verdict = traits.kind
        return cls(target.label, target.spec, params_of(target.estimator), kind=traits.kind_name,
                   kind_reason=verdict.reason if verdict else None, input_kind=traits.input_kind,
                   disagreements=list(verdict.disagreements) if verdict else [],
                   variant=target.configuration.to_dict() if target.configuration is not None else None,
                   configurations=target.configurations.to_dict() if target.configurations is not None else None)

    def to_dict(self) -> dict:
        return {"label": self.label, "target": self.target, "params": self.params, "kind": self.kind,
                "kind_reason": self.kind_reason, "input_kind": self.input_kind,
                "disagreements": list(self.disagreements), "variant": self.variant,
                "configurations": self.configurations, "results": [r.to_dict() for r in self.results]}


@dataclass
class Report:
    """Every result of a run, grouped by estimator."""

    estimators: list[EstimatorReport] = field(default_factory=list)
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    device_info: dict = field(default_factory=dict)
    state: str = "finished"  # one of STATES
    cancelled_by: str | None = None  # the signal's name, when state is "cancelled"
    target_errors: list = field(default_factory=list)  # {"target", "error", "stack"}, when state is "usage_error"
    _encoded: dict = field(default_factory=dict, repr=False, compare=False)  # id(result) -> (result, its JSON)

    @property
    def results(self) -> list[Result]:
        return [r for e in self.estimators for r in e.results]

    @property
    def ok(self) -> bool:
        """True when no check failed or broke (xfailed baseline entries do not count)."""
        return not any(r.status in BAD_STATUSES for r in self.results)

    def assert_ok(self) -> "Report":
        """Raise ``AssertionError`` with every failure's message unless :attr:`ok`; returns the report."""
        __tracebackhide__ = True
        if not self.ok:
            raise AssertionError("\n\n".join(f"{label}: {r.check} [{r.status}]\n{r.message}" for label, r in self.failures()))
        return self

    def failures(self) -> list[tuple[str, Result]]:
        return [(e.label, r) for e in self.estimators for r in e.results if r.status in BAD_STATUSES]

    def shared_causes(self) -> list[SharedCause]:
        """Groups of failures of one estimator that share one cause, largest first."""
        return shared_causes(self.failures())

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
        return {**self._header(), "estimators": [e.to_dict() for e in self.estimators]}

    def _header(self) -> dict:
        header = {**versions(), "state": self.state}
        if self.cancelled_by:
            header["cancelled_by"] = self.cancelled_by
        if self.target_errors:
            header["target_errors"] = list(self.target_errors)
        return {**header, "devices": list(self.devices), "device_info": self.device_info,
                "shared_causes": [g.to_dict() for g in self.shared_causes()]}

    def json_text(self) -> str:
        """The document as ``json.dumps(self.to_dict(), indent=2)`` writes it.

        Each result is encoded once and kept, so that rewriting the report after every result
        (:mod:`conformance.live_report`) costs little more than writing the file.
        """
        rows = []
        for estimator in self.estimators:
            fields = estimator.to_dict()
            fields.pop("results")
            encoded = [self._encode(result) for result in estimator.results]
            rows.append(_json_object([_json_field(k, v, 3) for k, v in fields.items()]
                                     + [_indent(3) + '"results": ' + _json_list(encoded, RESULT_DEPTH)], 2))
        header = [_json_field(k, v, 1) for k, v in self._header().items()]
        return _json_object(header + [_indent(1) + '"estimators": ' + _json_list(rows, 2)], 0)

    def _encode(self, result: Result) -> str:
        kept = self._encoded.get(id(result))
        if kept is None or kept[0] is not result:
            kept = self._encoded[id(result)] = (result, _dumps(result.to_dict(), RESULT_DEPTH))
        return kept[1]

    def write_json(self, path) -> None:
        """Write the document to ``path`` atomically: readers see the old file or the new, never a part."""
        path = os.fspath(path)
        temporary = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(self.json_text())
            handle.write("\n")
        os.replace(temporary, path)

    def notices(self) -> list[str]:
        """How the run ended, when it did not simply finish: what the tables below are missing."""
        if self.state == "cancelled":
            cancelled = sum(1 for r in self.results if r.cancelled)
            return [f"The run was cancelled by {self.cancelled_by}: {len(self.results) - cancelled} check(s) "
                    f"finished; the {cancelled} that did not are counted as skipped (cancelled)"]
        if self.state == "usage_error":
            return ["No check ran: " + "; ".join(e["error"] for e in self.target_errors)]
        if self.state == "running":
            return ["The run had not finished when this report was written"]
        return []

    def markdown(self) -> str:
        """Shared causes first, then per category counts, each failure's one-line message, warnings."""
        lines = ["## Conformance", ""]
        lines += [f"> **{_md_escape(line)}**" for line in self.notices() + self.kind_notices()]
        groups = self.shared_causes()
        if groups:
            lines += ["### Fix these first: failures that share one cause", ""]
            lines += [f"- {_md_escape(g.headline())}  \n  checks: {', '.join(f'`{c}`' for c in g.checks)}" for g in groups]
            lines.append("")
        lines += ["| category | passed | failed | xfailed | skipped | xpassed | error |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for category, row in self.counts_by_category().items():
            lines.append(f"| {category} | " + " | ".join(str(row[s]) for s in SUMMARY_STATUSES) + " |")
        failures = self._ungrouped_failures(groups)
        if failures:
            lines += ["", "### Failures", ""]
            lines += [f"- `{label}` `{r.check}`: {_md_escape(r.summary)}" for label, r in failures]
        warnings = self.warnings()
        if warnings:
            lines += ["", "### Warnings", ""]
            lines += [f"- `{label}` `{r.check}`: {_md_escape(w)}" for label, r, w in warnings]
        return "\n".join(lines) + "\n"

    def kind_notices(self) -> list[str]:
        """One line per estimator whose kind signals disagree: the kind checked, and why."""
        return [f"{e.label} is checked as a {e.kind}, but: {d}" for e in self.estimators for d in e.disagreements]

    def _ungrouped_failures(self, groups) -> list[tuple[str, Result]]:
        grouped = {(g.label, check) for g in groups for check in g.checks}
        return [(label, r) for label, r in self.failures() if (label, r.check) not in grouped]

    def text_table(self) -> list[str]:
        """Shared causes first, then the per-category table, failures and warnings, as terminal lines."""
        lines = list(self.notices())
        groups = self.shared_causes()
        for group in groups:
            lines.append(group.headline())
            lines.append("    checks: " + ", ".join(group.checks))
        rows = self.counts_by_category()
        width = max([len("category")] + [len(c) for c in rows])
        lines.append(f"{'category':<{width}}  " + "  ".join(f"{s:>7}" for s in SUMMARY_STATUSES))
        for category, row in rows.items():
            lines.append(f"{category:<{width}}  " + "  ".join(f"{row[s]:>7}" for s in SUMMARY_STATUSES))
        for label, result in self._ungrouped_failures(groups):
            lines.append(f"FAILED {label} {result.check}: {result.summary}")
        for label, result, warning in self.warnings():
            lines.append(f"WARNING {label} {result.check}: {warning}")
        return lines


def versions() -> dict:
    """The versions of the suite, its libraries and Python (read once: the report is rewritten often)."""
    return dict(_versions())


@functools.lru_cache(maxsize=None)
def _versions() -> tuple:
    import numpy
    import sklearn

    from conformance import __version__

    from importlib import metadata

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return (("conformance_version", __version__), ("sklearn_version", sklearn.__version__),
            ("torch_version", torch_version), ("numpy_version", numpy.__version__),
            ("python_version", platform.python_version()))


def _indent(depth: int) -> str:
    return "  " * depth


def _dumps(value, depth: int) -> str:
    """``value`` as ``json.dumps(..., indent=2)`` writes it ``depth`` levels down (its first line not indented)."""
    return json.dumps(value, indent=2, default=repr).replace("\n", "\n" + _indent(depth))


def _json_field(key: str, value, depth: int) -> str:
    return _indent(depth) + json.dumps(key) + ": " + _dumps(value, depth)


def _json_object(fields: list[str], depth: int) -> str:
    return "{\n" + ",\n".join(fields) + "\n" + _indent(depth) + "}" if fields else "{}"


def _json_list(items: list[str], depth: int) -> str:
    """A list of values already encoded at ``depth`` (their first line not indented)."""
    if not items:
        return "[]"
    return "[\n" + ",\n".join(_indent(depth) + item for item in items) + "\n" + _indent(depth - 1) + "]"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")
