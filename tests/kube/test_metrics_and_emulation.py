"""Katib's StdOut collector against what the trainer prints; Katib's and the kubelet's rewrites of the command."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lexdpr.kube.metrics import KATIB_DEFAULT_FORMAT, METRICS_FORMAT
from lexdpr.tracking.stdout_metrics import MetricEcho, metric_lines
from tests.kube.emulate import katib_wrapped_args, kubelet_expand
from tests.kube.upstream.katib import (
    KATIB_VERSIONS,
    AmbiguousMetricError,
    Observation,
    objective_value,
    parse_metrics,
)

METRICS = ["eval/ndcg_at_10", "eval/recall_at_10", "valid/loss"]


def _parse(text: str, formats: list[str], version: str = "0.19") -> list[Observation]:
    return parse_metrics(text.split("\n"), METRICS, formats, version)


@pytest.mark.parametrize("version", KATIB_VERSIONS)
def test_the_trainers_lines_parse_with_our_format_and_keep_their_times(version: str) -> None:
    clock = iter([datetime(2026, 12, 2, 1, 30, tzinfo=UTC), datetime(2026, 12, 2, 1, 31, tzinfo=UTC)])
    echo = MetricEcho(clock=lambda: next(clock))
    lines = echo.lines(
        {"eval/ndcg_at_10": 0.5123, "eval/recall_at_10": 0.61, "valid/loss": 1.25e-3, "train/loss": 2.0}
    )
    logs = _parse("\n".join(lines), [METRICS_FORMAT], version)
    assert [(o.name, float(o.value), o.timestamp) for o in logs] == [
        ("eval/ndcg_at_10", 0.5123, "2026-12-02T01:30:00.000000Z"),
        ("eval/recall_at_10", 0.61, "2026-12-02T01:30:00.000000Z"),
        ("valid/loss", 0.00125, "2026-12-02T01:30:00.000000Z"),
    ]


def test_katibs_default_format_misses_names_with_a_slash() -> None:
    logs = _parse("eval/ndcg_at_10=0.5123\n", [KATIB_DEFAULT_FORMAT])
    assert [(o.name, o.value) for o in logs] == [("eval/ndcg_at_10", "unavailable")]


def test_a_progress_bar_before_the_metric_on_the_same_line_does_not_hide_it() -> None:
    text = "\rtraining ━━━━ 12/12 0:00:03\reval/ndcg_at_10=0.42\nnoise eval/ndcg_at_100=0.9\n"
    logs = _parse(text, [METRICS_FORMAT])
    assert [(o.name, o.value) for o in logs] == [("eval/ndcg_at_10", "0.42")]


def test_latest_is_the_last_printed_only_with_increasing_timestamps() -> None:
    """Without times every value sits at the zero time and Katib's `latest` depends on the database's order."""
    values = {"eval/ndcg_at_10": 0.1}, {"eval/ndcg_at_10": 0.5}, {"eval/ndcg_at_10": 0.3}
    bare = [line for v in values for line in metric_lines(v)]
    with pytest.raises(AmbiguousMetricError):
        objective_value(_parse("\n".join(bare), [METRICS_FORMAT]), "eval/ndcg_at_10", "latest")
    frozen = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)  # even when the clock does not move on
    echo = MetricEcho(clock=lambda: frozen)
    stamped = [line for v in values for line in echo.lines(v)]
    logs = _parse("\n".join(stamped), [METRICS_FORMAT])
    assert objective_value(logs, "eval/ndcg_at_10", "latest") == 0.3
    assert objective_value(logs, "eval/ndcg_at_10", "max") == 0.5


def test_katib_wraps_the_command_in_sh_with_a_redirect_and_a_marker() -> None:
    container = {"command": ["sh", "-c"], "args": ["{\n  lex-dpr train x=1\n}"]}
    assert katib_wrapped_args(container) == [
        "sh",
        "-c",
        "{\n  lex-dpr train x=1\n} 1>/var/log/katib/metrics.log 2>&1 && echo completed > /var/log/katib/$$$$.pid",
    ]


def test_a_command_without_sh_gets_wrapped_too() -> None:
    assert katib_wrapped_args({"command": ["lex-dpr"], "args": ["train"]})[:2] == ["sh", "-c"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("echo $$$$.pid", "echo $$.pid"),
        ("$(HOME)/x", "/tmp/x"),
        ("$(UNSET) stays", "$(UNSET) stays"),
        ("$((2*8)) and $pid and $!", "$((2*8)) and $pid and $!"),
        ("trailing $", "trailing $"),
    ],
)
def test_kubelet_expansion(text: str, expected: str) -> None:
    assert kubelet_expand(text, {"HOME": "/tmp"}) == expected
