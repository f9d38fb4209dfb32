"""Metric lines on stdout (`eval/ndcg_at_10=0.5123`, one per line) for Katib's StdOut metrics collector.

Katib parses a trial's stdout; its default regex has no `/`, so the Experiment must set `metricsFormat`, e.g.
`([\\w|/-]+)\\s*=\\s*([+-]?\\d*(\\.\\d+)?([Ee][+-]?\\d+)?)`. Only numbers are printed (the fingerprint is not).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any, TextIO

ECHOED_GROUPS = ("eval/", "valid/")


def metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in metrics.items():
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if key.startswith(ECHOED_GROUPS) and is_number and math.isfinite(value):
            lines.append(f"{key}={value:.6g}")
    return lines


def print_metrics(metrics: Mapping[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    for line in metric_lines(metrics):
        print(line, file=stream)
    stream.flush()
