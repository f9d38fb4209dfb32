"""Metric lines on stdout for Katib's StdOut metrics collector, each behind an RFC 3339 timestamp.

A line reads `2026-12-02T01:30:00.000001Z eval/ndcg_at_10=0.5123`. Katib's collector takes a line's first
word as its timestamp when it parses as RFC 3339 (`parseLogsInTextFormat` in
pkg/metricscollector/v1beta1/file-metricscollector, v0.17.0–v0.19.0); without one every value is stored at
the zero time. The trial controller's `latest` (`getMetrics` in pkg/controller.v1beta1/trial) is then the
last row of a query ordered by that time, and rows with equal times come in no guaranteed order. So each
metric's timestamps must strictly increase, at the microsecond precision Katib's database keeps
(`DATETIME(6)`): `MetricEcho` bumps a timestamp by 1 µs when the clock has not moved on.

The name part needs a `metricsFormat` that accepts `/`, e.g.
`([\\w|/-]+)\\s*=\\s*([+-]?\\d*(\\.\\d+)?([Ee][+-]?\\d+)?)` (Katib's default has no `/`). Only finite numbers
of the `eval/` and `valid/` groups are printed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from lexdpr.tracking.metric_values import is_number

ECHOED_GROUPS = ("eval/", "valid/")
_MICROSECOND = timedelta(microseconds=1)


def metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    """`name=value` for each echoed metric, without the timestamp."""
    lines = []
    for key, value in metrics.items():
        if key.startswith(ECHOED_GROUPS) and is_number(value) and math.isfinite(value):
            lines.append(f"{key}={value:.6g}")
    return lines


def rfc3339(moment: datetime) -> str:
    """UTC with microseconds and a `Z`: what Go's time.RFC3339Nano parser accepts."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class MetricEcho:
    """Prints metric lines with strictly increasing timestamps (one per run: it remembers the last one)."""

    clock: Callable[[], datetime] = _utc_now
    last: datetime | None = field(default=None)

    def stamp(self) -> str:
        now = self.clock().astimezone(UTC)
        if self.last is not None and now <= self.last:
            now = self.last + _MICROSECOND
        self.last = now
        return rfc3339(now)

    def lines(self, metrics: Mapping[str, Any]) -> list[str]:
        body = metric_lines(metrics)
        if not body:
            return []
        stamp = self.stamp()
        return [f"{stamp} {line}" for line in body]

    def print(self, metrics: Mapping[str, Any], stream: TextIO | None = None) -> None:
        stream = stream or sys.stdout
        for line in self.lines(metrics):
            print(line, file=stream)
        stream.flush()
