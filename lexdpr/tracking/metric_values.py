"""Which values of a metrics mapping are metrics: one rule for the trainer, the sweep and the trackers.

A metric is a number or a string (`eval/fingerprint`). A boolean is not a metric even though Python counts
it as an `int`: a flag charted as 0/1 or averaged into a table would look like a measurement, and a sweep
objective of `True` would rank as 1.0. So booleans are dropped wherever metrics are recorded or reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_number(value: Any) -> bool:
    """Whether `value` is an int or a float, booleans excluded (they may still be NaN or infinite)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers and strings of `metrics`, in order: what a run summary or a sweep trial records."""
    return {k: v for k, v in metrics.items() if is_number(v) or isinstance(v, str)}
