"""Crashed, NaN and diverging runs (fixture folders written with the trainer's RunFolder) through the commands."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rich.console import Console

from lexdpr.runs import commands
from lexdpr.runs.discovery import select_runs
from lexdpr.runs.verdict import FAIL, evidence_of, judge
from tests.runs.synthetic import healthy_curves, line, v_shape, write_run

STEPS = list(range(1, 101))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ckpt = tmp_path / "ckpt"
    # Ctrl-C twice: no checkpoint yet
    write_run(
        tmp_path / "wandb",
        "crashed1",
        {"train/loss": line(2.0, 1.8, STEPS[:30]), "eval/ndcg_at_10": [(0, 0.3)]},
        state="crashed",
        metadata={"reason": "interrupted (SIGINT twice)", "exit_signal": "SIGINT"},
    )
    # what the trainer records when the loss becomes NaN: it stops before logging the NaN
    nan_curves = healthy_curves(100, 20)
    nan_curves = {k: [(s, v) for s, v in pts if s <= 56] for k, pts in nan_curves.items()}
    write_run(
        tmp_path / "wandb",
        "nanloss1",
        nan_curves,
        state="failed",
        checkpoint=ckpt / "nan" / "checkpoint-40",
        metadata={
            "reason": "loss is nan at step 57: training diverged (lower trainer.lr, raise "
            "trainer.temperature, or use trainer.precision=fp32)"
        },
    )
    # a NaN that did get logged (valid loss of a half-broken model)
    valid_nan = healthy_curves(100, 20)
    valid_nan["valid/loss"] = [(0, 2.5), (20, 2.0), (40, math.nan), (60, 1.8), (80, 1.7), (100, 1.6)]
    write_run(tmp_path / "wandb", "validnan", valid_nan, checkpoint=ckpt / "vn" / "checkpoint-100")
    # loss falls, then the run blows up
    diverging = healthy_curves(100, 20)
    diverging["train/loss"] = v_shape(2.0, 0.5, 4.0, STEPS, 40)
    diverging["valid/loss"] = v_shape(2.5, 1.2, 3.5, list(range(0, 101, 20)), 2)
    diverging["eval/ndcg_at_10"] = v_shape(0.3, 0.5, 0.1, list(range(0, 101, 20)), 2)
    write_run(tmp_path / "wandb", "diverge1", diverging, checkpoint=ckpt / "dv" / "checkpoint-40")
    return tmp_path / "wandb"


@pytest.mark.parametrize(
    ("run", "failing", "words"),
    [
        (
            "crashed1",
            {"finished", "evaluated", "checkpoint"},
            ["state crashed", "interrupted (SIGINT twice)"],
        ),
        ("nanloss1", {"finished", "no_nan"}, ["loss is nan at step 57"]),
        ("validnan", {"no_nan"}, ["valid/loss is nan at step 40"]),
        ("diverge1", {"train_converges", "no_overfitting"}, ["train loss rose", "unstable"]),
    ],
)
def test_broken_runs_fail_for_the_right_reasons(
    root: Path, run: str, failing: set[str], words: list[str]
) -> None:
    (chosen,) = select_runs(root, [run])
    verdict = judge(evidence_of(chosen))
    assert {o.rule for o in verdict.outcomes if o.status == FAIL} >= failing
    reasons = " ".join(o.reason for o in verdict.failures)
    for word in words:
        assert word in reasons


def test_check_prints_each_verdict_and_fails(root: Path) -> None:
    out = Console(width=220, record=True, color_system=None)
    assert commands.check(str(root), ["crashed1", "nanloss1", "validnan", "diverge1"], console=out) == 1
    text = out.export_text()
    assert text.count("FAIL run") == 4 and "0 of 4 runs passed" in text
    assert "✗   no_nan               the trainer stopped: loss is nan at step 57" in text


def test_list_and_plot_show_broken_runs_too(root: Path, tmp_path: Path) -> None:
    out = Console(width=220, record=True, color_system=None)
    commands.list_runs(str(root), console=out)
    text = out.export_text()
    assert "crashed" in text and "failed" in text
    assert (
        commands.plot(str(root), ["validnan", "diverge1", "nanloss1"], str(tmp_path / "b.html"), console=out)
        == 0
    )
    page = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 4  # loss, ndcg@10, recall@10, lr (no grad norm was logged)
    assert page.count("— FAIL</h2>") == 3
