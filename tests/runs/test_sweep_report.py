"""`lex-dpr sweep report`: trials found by sweep_id, ranked, best-so-far and parameter charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from lexdpr.errors import ConfigError
from lexdpr.runs import commands
from lexdpr.runs.discovery import load_runs
from lexdpr.runs.errors import FingerprintMismatch, RunNotFound
from lexdpr.runs.sweep_report import (
    best_so_far,
    best_trial,
    sweep_figures,
    sweep_grid,
    sweep_trials,
    varying_parameters,
)
from tests.runs.synthetic import line, write_run

# (trial, lr, batch size, base model, final ndcg@10); trial 4 crashed before its first evaluation
TRIALS = [
    ("t1", 1e-6, 32, "ko-simcse", 0.35),
    ("t2", 3e-5, 64, "bge-m3-ko", 0.52),
    ("t3", 1e-4, 32, "ko-simcse", 0.44),
    ("t4", 5e-5, 128, "bge-m3-ko", None),
    ("t5", 2e-5, 64, "bge-m3-ko", 0.49),
]


def config(lr: float, batch: int, model: str, trial: str) -> dict:
    return {
        "model": {"bi_model": model, "peft": {"r": 8}},
        "data": {"batch_size": batch},
        "trainer": {"lr": lr, "epochs": 1},
        "out_dir": f"/pvc/ckpt/{trial}",
        "run_dir": f"/pvc/{trial}/wandb",
        "sweep_id": "sweep42",
    }


@pytest.fixture
def sweep_root(tmp_path: Path) -> Path:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    evals = [0, 50, 100]
    for i, (trial, lr, batch, model, final) in enumerate(TRIALS):
        curves: dict = {"train/loss": line(2.0, 1.0, range(1, 101))}
        state = "finished"
        if final is None:
            curves = {"train/loss": line(2.0, 1.8, range(1, 20)), "eval/ndcg_at_10": [(0, 0.3)]}
            state = "crashed"
        else:
            curves["eval/ndcg_at_10"] = [(0, 0.30), (50, final + 0.01), (100, final)]
            curves["eval/recall_at_10"] = line(0.4, final + 0.2, evals)
            curves["valid/loss"] = line(2.5, 1.5, evals)
        write_run(
            tmp_path / trial / "wandb",
            f"sweep42-{trial}",
            curves,
            state=state,
            config=config(lr, batch, model, trial),
            metadata={"sweep_id": "sweep42", "started": (start + timedelta(minutes=i)).isoformat()},
        )
    write_run(tmp_path / "other" / "wandb", "notrial1", {"eval/ndcg_at_10": [(0, 0.3), (9, 0.9)]})
    return tmp_path


def test_trials_are_the_sweeps_runs_in_start_order_with_their_best_value(sweep_root: Path) -> None:
    trials = sweep_trials(load_runs(sweep_root, "sweep42"), "eval/ndcg_at_10")
    assert [t.run.run_id for t in trials] == [f"sweep42-t{i}" for i in range(1, 6)]
    values = [t.value for t in trials]
    assert values[3] is None  # crashed before its first evaluation after step 0
    assert [values[i] for i in (0, 1, 2, 4)] == pytest.approx([0.36, 0.53, 0.45, 0.50])
    assert [t.step for t in trials] == [50, 50, 50, None, 50]
    assert varying_parameters(trials) == ["model.bi_model", "data.batch_size", "trainer.lr"]
    best = best_trial(trials, "maximize")  # not in trial-<n> folders: numbered in start order from 0
    assert best is not None and best.number == 1
    assert best_trial(trials, "minimize").number == 0


@pytest.mark.parametrize(
    ("values", "goal", "expected"),
    [
        ([None, 0.3, 0.2, 0.5, None, 0.4], "maximize", [None, 0.3, 0.3, 0.5, 0.5, 0.5]),
        ([2.0, 1.0, 3.0], "minimize", [2.0, 1.0, 1.0]),
        ([], "maximize", []),
    ],
)
def test_best_so_far(values, goal, expected) -> None:
    assert best_so_far(values, goal) == expected


def test_charts_have_best_so_far_and_one_panel_per_parameter(sweep_root: Path) -> None:
    trials = sweep_trials(load_runs(sweep_root, "sweep42"), "eval/ndcg_at_10")
    figures = sweep_figures(trials, "eval/ndcg_at_10", "maximize", None)
    titles = [f.axes[0].get_title() for f in figures]
    assert titles == [
        "Best so far · 최고 기록 (eval/ndcg_at_10, maximize)",
        "eval/ndcg_at_10 vs model.bi_model",
        "eval/ndcg_at_10 vs data.batch_size",
        "eval/ndcg_at_10 vs trainer.lr",
    ]
    best_line = next(line for line in figures[0].axes[0].get_lines() if line.get_label() == "best so far")
    assert list(best_line.get_ydata())[:3] == pytest.approx([0.36, 0.53, 0.53])
    lr_axes = figures[3].axes[0]
    assert lr_axes.get_xscale() == "log"  # 1e-6 … 1e-4
    model_ticks = [t.get_text() for t in figures[1].axes[0].get_xticklabels()]
    assert model_ticks == ["bge-m3-ko", "ko-simcse"]
    grid = sweep_grid(trials, "eval/ndcg_at_10", "maximize", None)
    assert len(grid.axes) == 4


def test_sweep_report_command_prints_the_ranking_and_writes_html_and_png(
    sweep_root: Path, tmp_path: Path
) -> None:
    out = Console(width=200, record=True, color_system=None)
    html_path, png_path = tmp_path / "sweep.html", tmp_path / "sweep.png"
    assert commands.sweep_report(str(sweep_root), "sweep42", str(html_path), console=out) == 0
    assert commands.sweep_report(str(sweep_root), "sweep42", str(png_path), console=out) == 0
    text = out.export_text()
    assert "sweep sweep42: 5 trials" in text
    assert "best: trial 1 (sweep42-t2) eval/ndcg_at_10=0.5300 at step 50" in text
    assert re.search(r"sweep42-t4\s+│\s+crashed", text)
    page = html_path.read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and "notrial1" not in page
    assert png_path.read_bytes()[:4] == b"\x89PNG"


def test_sweep_report_refuses_unknown_sweeps_goals_and_formats(sweep_root: Path) -> None:
    with pytest.raises(RunNotFound, match="no runs of sweep 'nope'"):
        commands.sweep_report(str(sweep_root), "nope", console=Console(record=True))
    with pytest.raises(ConfigError, match="goal must be one of maximize, minimize"):
        commands.sweep_report(str(sweep_root), "sweep42", goal="up", console=Console(record=True))
    with pytest.raises(ConfigError, match=r"write \.html"):
        commands.sweep_report(str(sweep_root), "sweep42", "report.pdf", console=Console(record=True))


def test_trials_on_different_test_sets_are_refused(sweep_root: Path) -> None:
    write_run(
        sweep_root / "t6" / "wandb",
        "sweep42-t6",
        {"eval/ndcg_at_10": [(0, 0.3), (10, 0.9)]},
        fingerprint="another-test-set",
        metadata={"sweep_id": "sweep42"},
    )
    with pytest.raises(FingerprintMismatch, match="test set another-test-set: sweep42-t6"):
        commands.sweep_report(str(sweep_root), "sweep42", console=Console(record=True))
