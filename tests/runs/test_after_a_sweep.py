"""What a user meets after the guide's sweep workflow: runs found under checkpoint/sweeps/ without --root,
`sweep report` taking the sweep file, trial numbers as `sweep status` gives them, verdict reasons that fit
a failed or still-running run, and charts that can be read (log lr, plain parameter ticks, no missing glyph)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from rich.console import Console
from typer.testing import CliRunner

from lexdpr.cli import app
from lexdpr.runs import charts, commands
from lexdpr.runs.discovery import load_runs, select_runs
from lexdpr.runs.fonts import find_hangul_font, missing_glyphs
from lexdpr.runs.sweep_report import sweep_figures, sweep_trials
from lexdpr.runs.verdict import evidence_of, judge
from lexdpr.sweep.storage import DEFAULT_OUT_ROOT
from tests.runs.synthetic import history, line, write_run

SWEEP_ROOT = str(DEFAULT_OUT_ROOT)  # where `lex-dpr sweep agent` puts trials by default
SWEEP_ID = "k3x9q2ab"
SWEEP_FILE = f"""\
method: random
metric: {{name: eval/ndcg_at_10, goal: maximize}}
parameters:
  trainer.lr: {{distribution: log_uniform_values, min: 1.0e-7, max: 1.0e-3}}
fixed:
  trainer.epochs: 1
sweep_id: {SWEEP_ID}
"""
# (trial folder number, lr, final ndcg@10), as a local agent leaves them: trial-<n> is optuna's number
TRIALS = [(0, 1.133451506811523e-06, 0.41), (1, 7.25e-05, 0.55), (2, 3.3e-06, 0.47)]


def trial_config(number: int, lr: float, project: Path) -> dict:
    out_dir = project / SWEEP_ROOT / SWEEP_ID / f"trial-{number}"
    return {
        "data": {"valid_pairs": "data/processed/pairs_train_valid.jsonl", "eval_pairs": None},
        "trainer": {"lr": lr, "epochs": 1},
        "out_dir": str(out_dir),
        "run_dir": str(out_dir / "wandb"),
        "sweep_id": SWEEP_ID,
    }


@pytest.fixture
def after_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder after `lex-dpr sweep preset`: configs/sweep.yaml and trials under
    checkpoint/sweeps/<id>/trial-<n>/wandb/, and no wandb/ folder (nothing was trained by hand)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "sweep.yaml").write_text(SWEEP_FILE, encoding="utf-8")
    for i, (number, lr, final) in enumerate(TRIALS):
        config = trial_config(number, lr, tmp_path)
        curves = {
            "train/loss": line(2.0, 1.0, range(1, 41)),
            "train/lr": [(s, lr) for s in range(1, 41)],
            "eval/ndcg_at_10": [(0, 0.3), (20, final - 0.01), (40, final)],
            "valid/loss": line(2.5, 1.5, [0, 20, 40]),
        }
        write_run(
            Path(config["run_dir"]),
            f"run{number}abc",
            curves,
            config=config,
            metadata={"sweep_id": SWEEP_ID, "started": f"2026-01-01T0{i}:00:00+00:00"},
            checkpoint=Path(config["out_dir"]) / "bi_encoder" / "checkpoint-40",
        )
    return tmp_path


def quiet() -> Console:
    return Console(width=200, record=True, color_system=None)


def test_runs_list_and_check_latest_find_sweep_trials_without_root(after_sweep: Path) -> None:
    assert not (after_sweep / "wandb").exists()
    runner = CliRunner()
    listed = runner.invoke(app, ["runs", "list"])
    assert listed.exit_code == 0, listed.output
    assert all(f"run{n}abc" in listed.output for n, _, _ in TRIALS)
    assert "no such folder" not in listed.output

    only_sweep = runner.invoke(app, ["runs", "list", "--sweep", "configs/sweep.yaml"])
    assert only_sweep.exit_code == 0 and "run2abc" in only_sweep.output, only_sweep.output

    checked = runner.invoke(app, ["runs", "check", "latest"])
    assert "no such folder" not in checked.output
    assert "run2abc" in checked.output  # the trial started last


def test_the_default_roots_are_the_trainers_and_the_agents() -> None:
    from lexdpr.runs.discovery import DEFAULT_ROOTS

    assert DEFAULT_ROOTS == ("wandb", SWEEP_ROOT)


def test_default_roots_missing_is_one_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["runs", "list"])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "wandb/" in message and "checkpoint/sweeps/" in message


def test_sweep_report_takes_the_sweep_file_and_numbers_trials_like_sweep_status(after_sweep: Path) -> None:
    out = quiet()
    assert commands.sweep_report(SWEEP_ROOT, "configs/sweep.yaml", console=out) == 0
    text = out.export_text()
    assert f"sweep {SWEEP_ID}: 3 trials" in text
    # trial-1 holds the best value; `sweep status` and the agent call it trial 1 (optuna numbers from 0)
    assert "best: trial 1 (run1abc)" in text
    trials = sweep_trials(load_runs(SWEEP_ROOT, SWEEP_ID), "eval/ndcg_at_10")
    assert [t.number for t in trials] == [0, 1, 2]
    assert [t.run.run_id for t in trials] == ["run0abc", "run1abc", "run2abc"]


def test_sweep_report_of_a_file_without_sweep_id_says_to_create_it(after_sweep: Path) -> None:
    (after_sweep / "configs" / "new.yaml").write_text(SWEEP_FILE.replace(f"sweep_id: {SWEEP_ID}\n", ""))
    with pytest.raises(Exception, match="has no sweep_id yet"):
        commands.sweep_report(SWEEP_ROOT, "configs/new.yaml", console=quiet())


# --- runs check reasons --------------------------------------------------------------------------------


def test_a_failed_run_with_valid_pairs_is_not_told_to_give_them(tmp_path: Path) -> None:
    folder = write_run(
        tmp_path,
        "failed01",
        {},
        state="failed",
        config={"data": {"valid_pairs": "data/processed/pairs_train_valid.jsonl", "eval_pairs": None}},
        metadata={"reason": "InputError: data/processed/merged_corpus.jsonl: no such file"},
    )
    (run,) = select_runs(str(tmp_path), [folder.path.name])
    evaluated = judge(evidence_of(run)).outcome("evaluated")
    assert evaluated.status == "fail"
    assert "give data.valid_pairs" not in evaluated.reason
    assert "data.valid_pairs given" in evaluated.reason
    assert "ended (failed: InputError" in evaluated.reason


def test_a_run_without_eval_pairs_is_still_told_to_give_them(tmp_path: Path) -> None:
    folder = write_run(
        tmp_path, "noeval01", {"train/loss": line(2, 1, range(1, 9))}, config={"data": {"valid_pairs": None}}
    )
    (run,) = select_runs(str(tmp_path), [folder.path.name])
    assert "give data.valid_pairs" in judge(evidence_of(run)).outcome("evaluated").reason


def test_a_run_still_going_is_not_said_to_have_stopped(tmp_path: Path) -> None:
    folder = write_run(
        tmp_path,
        "going001",
        {"train/loss": line(2, 1.8, range(1, 6)), "eval/ndcg_at_10": [(0, 0.3)]},
        state="running",
        config={"data": {"valid_pairs": "v.jsonl"}},
        metadata={"host": socket.gethostname(), "pid": os.getpid(), "total_steps": 100},
    )
    (run,) = select_runs(str(tmp_path), [folder.path.name])
    verdict = judge(evidence_of(run))
    evaluated, saved = verdict.outcome("evaluated"), verdict.outcome("checkpoint")
    assert "stopped before" not in evaluated.reason and "still going" in evaluated.reason
    assert "stopped before" not in saved.reason and "still going" in saved.reason
    assert "step 5 of 100" in evaluated.reason


# --- charts --------------------------------------------------------------------------------------------


def test_learning_rate_is_on_a_log_axis_so_a_64x_smaller_lr_is_not_flat_on_zero() -> None:
    runs = [
        charts.Plotted("big", history({"train/lr": line(0.0, 6.4e-4, range(1, 21))})),
        charts.Plotted("small", history({"train/lr": line(0.0, 1e-5, range(1, 21))})),
    ]
    figure = charts.grid(runs, None)
    (lr_axes,) = [ax for ax in figure.axes if ax.get_gid() == "lr"]
    assert lr_axes.get_yscale() == "log"


def _tick_texts(figure: Figure) -> list[str]:
    figure.canvas.draw()  # tick labels are made at draw time
    return [t.get_text() for ax in figure.axes for t in ax.get_xticklabels() if t.get_text()]


def test_sweep_parameter_axes_show_readable_numbers(after_sweep: Path) -> None:
    trials = sweep_trials(load_runs(SWEEP_ROOT, SWEEP_ID), "eval/ndcg_at_10")
    _best_so_far, lr_chart = sweep_figures(trials, "eval/ndcg_at_10", "maximize", None)
    ticks = _tick_texts(lr_chart)
    assert "1.133451506811523e-06" not in ticks and not any(len(t) > 8 for t in ticks), ticks
    assert lr_chart.axes[0].get_xscale() == "log"  # 1.1e-6 … 7.3e-5: 64× apart


def test_one_trial_gets_whole_trial_numbers_as_ticks(after_sweep: Path) -> None:
    trials = sweep_trials(load_runs(SWEEP_ROOT, SWEEP_ID), "eval/ndcg_at_10")[:1]
    (best_so_far,) = sweep_figures(trials, "eval/ndcg_at_10", "maximize", None)
    ax = best_so_far.axes[0]
    best_so_far.canvas.draw()
    visible = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert visible and all(float(t).is_integer() for t in visible), visible


def test_sweep_chart_text_has_no_glyph_the_font_lacks(after_sweep: Path) -> None:
    font = find_hangul_font()
    assert font is not None
    trials = sweep_trials(load_runs(SWEEP_ROOT, SWEEP_ID), "eval/ndcg_at_10")
    texts = "".join(
        t.get_text()
        for figure in sweep_figures(trials, "eval/ndcg_at_10", "maximize", font)
        for t in figure.findobj(match=lambda a: hasattr(a, "get_text"))
    )
    assert "→" not in texts  # missing from some Hangul fonts: a gap in the PNG
    assert missing_glyphs(font.path, texts) == []
