"""Katib's StdOut collector against what the trainer prints; Katib's and the kubelet's rewrites of the command."""

from __future__ import annotations

import pytest

from lexdpr.kube.emulate import katib_wrapped_args, kubelet_expand
from lexdpr.kube.metrics import KATIB_DEFAULT_FORMAT, METRICS_FORMAT, collect_observation_log, reduce
from lexdpr.tracking.stdout_metrics import metric_lines

METRICS = ["eval/ndcg_at_10", "eval/recall_at_10", "valid/loss"]


def test_the_trainers_lines_parse_with_our_format() -> None:
    lines = metric_lines(
        {"eval/ndcg_at_10": 0.5123, "eval/recall_at_10": 0.61, "valid/loss": 1.25e-3, "train/loss": 2.0}
    )
    logs = collect_observation_log("\n".join(lines), METRICS, [METRICS_FORMAT])
    assert [(log.name, float(log.value)) for log in logs] == [
        ("eval/ndcg_at_10", 0.5123),
        ("eval/recall_at_10", 0.61),
        ("valid/loss", 0.00125),
    ]


def test_katibs_default_format_misses_names_with_a_slash() -> None:
    logs = collect_observation_log("eval/ndcg_at_10=0.5123\n", METRICS, [KATIB_DEFAULT_FORMAT])
    assert [(log.name, log.value) for log in logs] == [("eval/ndcg_at_10", "unavailable")]


def test_a_progress_bar_before_the_metric_on_the_same_line_does_not_hide_it() -> None:
    text = "\rtraining ━━━━ 12/12 0:00:03\reval/ndcg_at_10=0.42\nnoise eval/ndcg_at_100=0.9\n"
    logs = collect_observation_log(text, METRICS, [METRICS_FORMAT])
    assert [(log.name, log.value) for log in logs] == [("eval/ndcg_at_10", "0.42")]


@pytest.mark.parametrize(("strategy", "expected"), [("max", 0.5), ("min", 0.1), ("latest", 0.3)])
def test_reduce_like_katib(strategy: str, expected: float) -> None:
    logs = collect_observation_log(
        "eval/ndcg_at_10=0.1\neval/ndcg_at_10=0.5\neval/ndcg_at_10=0.3\n", METRICS, [METRICS_FORMAT]
    )
    assert reduce(logs, "eval/ndcg_at_10", strategy) == expected


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
