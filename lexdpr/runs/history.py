"""`wandb-events.jsonl` → one series of (step, value) per metric.

Each line is one log call, nested by group: `{"_step": 120, "_timestamp": …, "train": {"loss": 0.4, …}}`
(docs/design.md, 'The run folder'). Parsing is forgiving on purpose, because the file is read while it
is being written — by a local run, by a Katib trial pod on a shared volume, or as an S3 copy taken mid-run:

- a last line without its newline that is not valid JSON is a write in progress: ignored, `truncated` set;
- any other line that is not a JSON object is skipped and its line number kept, so a report can say so;
- flat keys (`{"train/loss": …}`) are read like nested ones; keys starting with `_` are bookkeeping;
- numbers become floats; `NaN`/`Infinity` (the trainer writes them as JSON allows with `allow_nan`) and
  `null` (what a strict JSON writer makes of NaN) become `nan`/`inf`, so the verdict can flag them;
- strings (e.g. `eval/fingerprint`) are kept apart as the last value seen;
- a step logged twice for the same metric (a resumed run whose replayed lines were not dropped) keeps the
  later value: that is the one the resumed model produced.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

FINGERPRINT = "eval/fingerprint"
_METRIC = re.compile(r"^eval/(ndcg|recall|mrr)_at_(\d+)$")
_KINDS = ("ndcg", "recall", "mrr")


@dataclass(frozen=True)
class Series:
    """One metric over steps, sorted by step; values may be `nan`/`inf` where the run logged them."""

    name: str
    steps: tuple[int, ...]
    values: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def points(self) -> Iterator[tuple[int, float]]:
        return zip(self.steps, self.values, strict=True)

    def at(self, step: int) -> float | None:
        """The value logged at `step`, if any."""
        i = bisect_right(self.steps, step) - 1
        return self.values[i] if i >= 0 and self.steps[i] == step else None

    def first_non_finite(self) -> tuple[int, float] | None:
        return next(((s, v) for s, v in self.points() if not math.isfinite(v)), None)


@dataclass(frozen=True)
class History:
    """Everything a run logged, by metric name (`train/loss`, `eval/ndcg_at_10`, …)."""

    series: Mapping[str, Series] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    fingerprints: tuple[str, ...] = ()
    last_step: int | None = None
    last_timestamp: float | None = None
    truncated: bool = False
    skipped_lines: tuple[int, ...] = ()

    def get(self, name: str) -> Series | None:
        return self.series.get(name)

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.series if n.startswith(prefix))

    @property
    def fingerprint(self) -> str | None:
        """The eval set's fingerprint (the last one logged; a run has one unless it was tampered with)."""
        return self.texts.get(FINGERPRINT)


def metric_order(name: str) -> tuple[int, int, str]:
    """Sort key that lists eval metrics as people read them: ndcg@1,3,5,10, recall@…, mrr@10, others."""
    m = _METRIC.match(name)
    return (_KINDS.index(m.group(1)), int(m.group(2)), name) if m else (len(_KINDS), 0, name)


def parse_events(text: str) -> History:
    """Parse the content of a `wandb-events.jsonl` (see the module docstring for what is tolerated)."""
    points: dict[str, dict[int, float]] = {}
    texts: dict[str, str] = {}
    fingerprints: list[str] = []
    skipped: list[int] = []
    truncated = False
    last_step: int | None = None
    last_timestamp: float | None = None
    lines = text.split("\n")
    ends_with_newline = text.endswith("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _load(line)
        if record is None:
            if number == len(lines) and not ends_with_newline:
                truncated = True
            else:
                skipped.append(number)
            continue
        step = _step(record, last_step)
        last_step = step if last_step is None else max(last_step, step)
        timestamp = record.get("_timestamp")
        if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
            last_timestamp = (
                float(timestamp) if last_timestamp is None else max(last_timestamp, float(timestamp))
            )
        for name, value in _flatten(record):
            if isinstance(value, str):
                texts[name] = value
                if name == FINGERPRINT and value not in fingerprints:
                    fingerprints.append(value)
            elif value is None:
                points.setdefault(name, {})[step] = math.nan
            elif isinstance(value, int | float) and not isinstance(value, bool):
                points.setdefault(name, {})[step] = float(value)
    series = {
        name: Series(name, tuple(sorted(by_step)), tuple(by_step[s] for s in sorted(by_step)))
        for name, by_step in points.items()
    }
    return History(series, texts, tuple(fingerprints), last_step, last_timestamp, truncated, tuple(skipped))


def _load(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _step(record: Mapping[str, Any], previous: int | None) -> int:
    """`_step` of the line; a line without one belongs to the step before it (0 at the start)."""
    step = record.get("_step")
    if isinstance(step, int | float) and not isinstance(step, bool) and math.isfinite(step):
        return int(step)
    return previous if previous is not None else 0


def _flatten(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in record.items():
        if not prefix and str(key).startswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + "/")
        else:
            yield name, value
