"""Katib's StdOut metrics collector, configured for what the trainer prints.

The trainer prints every evaluation as `<RFC 3339 time> eval/ndcg_at_10=0.5123`, one metric per line
(`lexdpr.tracking.stdout_metrics`). Katib's default StdOut regex, `([\\w|-]+)\\s*=\\s*…`, has no `/` in the
name class, so it would never see `eval/ndcg_at_10`: the Experiment sets `metricsFormat` to the same regex
with `/` added. The regex is not anchored to the line start on purpose: the leading time is Katib's
timestamp, and stderr shares the metrics file (`2>&1`), where a progress bar without a newline would
otherwise hide the metric that follows it. Go's RE2 `\\w` is ASCII-only, as is the class here.
"""

from __future__ import annotations

METRICS_FORMAT = r"([\w|/-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
#: Katib's default, kept to explain (and test) why it is not used.
KATIB_DEFAULT_FORMAT = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"


def metrics_collector_spec() -> dict:
    """The Experiment's `metricsCollectorSpec`."""
    return {"collector": {"kind": "StdOut"}, "source": {"filter": {"metricsFormat": [METRICS_FORMAT]}}}
