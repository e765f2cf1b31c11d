"""Known failures as data: ``{check_id: reason}``, or ``{estimator_label: {check_id: reason}}``.

A baseline lets a project adopt the suite today and fail CI only on *new* failures. Entries
that match a failing check turn it into ``xfailed``; entries whose check now passes, or that
name no check at all, are reported so the baseline can be tightened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Baseline:
    general: dict[str, str] = field(default_factory=dict)
    per_estimator: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path) -> "Baseline":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"baseline {path}: file not found") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"baseline {path}: not valid JSON ({exc})") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data, where: str = "baseline") -> "Baseline":
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object of check id -> reason")
        baseline = cls()
        for key, value in data.items():
            if isinstance(value, str):
                baseline.general[key] = value
            elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                baseline.per_estimator[key] = dict(value)
            else:
                raise ValueError(f"{where}: entry {key!r} must be a reason string, or an object of "
                                 "check id -> reason for one estimator label")
        return baseline

    @property
    def empty(self) -> bool:
        return not self.general and not self.per_estimator

    def reason(self, label: str, check_id: str) -> str | None:
        """The recorded reason when ``check_id`` on ``label`` is a known failure."""
        if check_id in self.per_estimator.get(label, {}):
            return self.per_estimator[label][check_id]
        return self.general.get(check_id)

    def unused_entries(self, planned: set[tuple[str, str]]) -> list[str]:
        """Entries matching no planned (label, check id) pair: misspelt, or the check is gone."""
        check_ids = {check_id for _, check_id in planned}
        unused = [cid for cid in self.general if cid not in check_ids]
        unused += [f"{label}: {cid}" for label, entries in self.per_estimator.items()
                   for cid in entries if (label, cid) not in planned]
        return unused
