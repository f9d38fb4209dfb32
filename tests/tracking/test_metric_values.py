"""The one rule for what counts as a metric value: numbers and strings, never booleans."""

from __future__ import annotations

import math

from lexdpr.tracking.metric_values import is_number, scalar_metrics


def test_booleans_are_not_numbers_though_python_counts_them_as_ints() -> None:
    assert is_number(3) and is_number(0.5) and is_number(math.nan)
    assert not is_number(True) and not is_number(False) and not is_number("0.5") and not is_number(None)


def test_scalar_metrics_keep_numbers_and_strings_in_order_and_drop_the_rest() -> None:
    metrics = {
        "eval/ndcg_at_10": 0.5,
        "eval/fingerprint": "abc",
        "stopped": True,
        "train/steps": 3,
        "curve": [1, 2],
        "none": None,
    }
    assert scalar_metrics(metrics) == {"eval/ndcg_at_10": 0.5, "eval/fingerprint": "abc", "train/steps": 3}
    assert list(scalar_metrics(metrics)) == ["eval/ndcg_at_10", "eval/fingerprint", "train/steps"]
