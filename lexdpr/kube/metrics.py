"""Katib's StdOut metrics collector, configured for what the trainer prints, and a port of its parser.

The trainer prints every evaluation as `eval/ndcg_at_10=0.5123`, one metric per line
(`lexdpr.tracking.stdout_metrics`). Katib's default StdOut regex, `([\\w|-]+)\\s*=\\s*…`, has no `/` in the
name class, so it would never see `eval/ndcg_at_10`: the Experiment sets `metricsFormat` to the same regex
with `/` added. The regex is not anchored to the line start on purpose: stderr shares the metrics file
(`2>&1`), and a progress bar without a newline would otherwise hide the metric that follows it.

`collect_observation_log` is a line-for-line port of Katib's `parseLogsInTextFormat`
(pkg/metricscollector/v1beta1/file-metricscollector), so a test can run the regex taken from a rendered
Experiment over a real trial's stdout and get what Katib would store. Go's RE2 `\\w` is ASCII-only, hence
`re.ASCII`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METRICS_FORMAT = r"([\w|/-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
#: Katib's default, kept to explain (and test) why it is not used.
KATIB_DEFAULT_FORMAT = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
UNAVAILABLE = "unavailable"


def metrics_collector_spec() -> dict:
    """The Experiment's `metricsCollectorSpec`."""
    return {"collector": {"kind": "StdOut"}, "source": {"filter": {"metricsFormat": [METRICS_FORMAT]}}}


@dataclass(frozen=True)
class MetricLog:
    name: str
    value: str


def collect_observation_log(text: str, metrics: list[str], filters: list[str]) -> list[MetricLog]:
    """What Katib's collector reports for a trial's output; `metrics[0]` is the objective.

    As in Katib: lines without any metric name are skipped; every regex match whose first group is exactly a
    metric name is recorded; if the objective never appears, one `unavailable` value is reported instead.
    """
    patterns = [re.compile(f, re.ASCII) for f in (filters or [KATIB_DEFAULT_FORMAT])]
    logs: list[MetricLog] = []
    for line in text.split("\n"):
        if not any(m in line for m in metrics):
            continue
        for pattern in patterns:
            for match in pattern.finditer(line):
                if match.lastindex is None or match.lastindex < 2:
                    continue
                name, value = match.group(1).strip(), (match.group(2) or "").strip()
                if name in metrics:
                    logs.append(MetricLog(name, value))
    if not any(log.name == metrics[0] for log in logs):
        return [MetricLog(metrics[0], UNAVAILABLE)]
    return logs


def reduce(logs: list[MetricLog], name: str, strategy: str) -> float | None:
    """A metric's value by Katib's strategy (`min`, `max`, `latest`); None when it was never a number."""
    values = []
    for log in logs:
        if log.name != name:
            continue
        try:
            values.append(float(log.value))
        except ValueError:
            continue
    if not values:
        return None
    return {"min": min, "max": max}.get(strategy, lambda v: v[-1])(values)
