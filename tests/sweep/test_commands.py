"""The command functions end to end with the fake trainer: preset, create (sweep_id written back), agent,
status, best — and their user errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.sweep import commands
from lexdpr.sweep.agent import AgentOptions
from lexdpr.sweep.engine import SweepEngine, SweepNotFound
from lexdpr.sweep.preset import PRESET_YAML
from lexdpr.sweep.storage import StorageUnavailable, resolve_url
from lexdpr.sweep.sweep_file import load_sweep_file
from tests.sweep.conftest import BASIC_SWEEP, FAST_HEARTBEAT


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def text_of(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_preset_no_run_only_writes_the_file(project: Path) -> None:
    assert commands.preset(run=False, console=quiet()) is None
    path = project / "configs" / "sweep.yaml"
    assert path.read_text() == PRESET_YAML
    assert not (project / ".lexdpr").exists()
    path.write_text("# edited\n")
    with pytest.raises(ConfigError, match=r"already exists.*--force"):
        commands.preset(run=False, console=quiet())
    commands.preset(run=False, force=True, console=quiet())
    assert path.read_text() == PRESET_YAML


def test_preset_creates_the_sweep_without_an_agent(project: Path) -> None:
    out = project / "my.yaml"
    sweep_id = commands.preset(out, run_agent=False, console=quiet())
    assert sweep_id and load_sweep_file(out).sweep_id == sweep_id
    engine = SweepEngine.open(sweep_id, resolve_url(None))
    assert engine.spec.definition() == load_sweep_file(out).definition()
    assert engine.trials() == []


def test_create_run_status_best(write_sweep, fake_runner, project: Path) -> None:
    path = write_sweep("# my sweep\n" + BASIC_SWEEP)
    console = quiet()
    sweep_id = commands.create(path, run_agent=False, console=console)
    assert path.read_text().startswith("# my sweep\n" + BASIC_SWEEP)
    assert f"created sweep {sweep_id}" in text_of(console)

    report = commands.agent(
        config_path=path,
        runner=fake_runner,
        heartbeat=FAST_HEARTBEAT,
        console=quiet(),
        options=AgentOptions(count=3),
    )
    assert [state for _, state in report.trials] == ["complete"] * 3
    assert report.stopped_because == "ran 3 trials (--count)"

    console = quiet()
    rows = commands.status(sweep_id, console=console)
    output = text_of(console)
    assert len(rows) == 3 and sum(r.best for r in rows) == 1
    assert "★" in output and "complete" in output and "temperature=" in output
    assert (
        f"sweep {sweep_id} (random, maximize eval/ndcg_at_10): 3 trials — 3 complete; best: trial" in output
    )

    console = quiet()
    best = commands.best(str(path), console=console)  # a sweep file works as well as an id
    assert best.best and best.objective == max(r.objective for r in rows)
    output = text_of(console)
    assert (
        f"checkpoint: {project}/checkpoint/sweeps/{sweep_id}/trial-{best.number}/bi_encoder/checkpoint-6"
        in output
    )
    assert "lex-dpr train model.bi_model=fake trainer.epochs=2 trainer.lr=" in output


def test_each_trial_is_a_run_folder_with_the_sweep_id(write_sweep, fake_runner, project: Path) -> None:
    import json

    sweep_id = commands.create(write_sweep(BASIC_SWEEP), run_agent=False, console=quiet())
    commands.agent(
        sweep_id, runner=fake_runner, heartbeat=FAST_HEARTBEAT, console=quiet(), options=AgentOptions(count=1)
    )
    trial_dir = project / "checkpoint" / "sweeps" / sweep_id / "trial-0"
    (run,) = (trial_dir / "wandb").glob("run-*")
    assert json.loads((run / "wandb-metadata.json").read_text())["sweep_id"] == sweep_id
    assert (trial_dir / "attempt-0.log").exists() and (trial_dir / "attempt-0.result.json").exists()


def test_create_refuses_a_file_that_already_created_a_sweep(write_sweep) -> None:
    path = write_sweep(BASIC_SWEEP)
    sweep_id = commands.create(path, run_agent=False, console=quiet())
    with pytest.raises(ConfigError, match=f"already created sweep {sweep_id}.*sweep agent --config"):
        commands.create(path, run_agent=False, console=quiet())


def test_an_agent_refuses_a_file_edited_after_creation(write_sweep, fake_runner) -> None:
    path = write_sweep(BASIC_SWEEP)
    commands.create(path, run_agent=False, console=quiet())
    path.write_text(path.read_text().replace("max: 0.3", "max: 0.4"))
    with pytest.raises(ConfigError, match=r"differs from sweep .* \(parameters.trainer.temperature\)"):
        commands.agent(config_path=path, runner=fake_runner, console=quiet(), options=AgentOptions(count=1))


def test_user_errors_are_clear(write_sweep, project: Path) -> None:
    with pytest.raises(SweepNotFound, match=r"no sweep 'nosuchid' in sqlite:///.*sweeps.db"):
        commands.status("nosuchid", console=quiet())
    path = write_sweep(BASIC_SWEEP)
    with pytest.raises(ConfigError, match="has no sweep_id yet: create the sweep first"):
        commands.agent(config_path=path, console=quiet())
    with pytest.raises(ConfigError, match="time window '9'"):
        commands.create(
            path, run_agent=False, console=quiet(), options=AgentOptions.from_flags(time_window="9")
        )
    assert "sweep_id" not in path.read_text()  # nothing was created
    with pytest.raises(
        StorageUnavailable,
        match=r"cannot open the sweep storage postgresql\+psycopg://u:\*\*\*@127.0.0.1:9/x",
    ):
        commands.status("abc", storage="postgresql://u:secret@127.0.0.1:9/x", console=quiet())
    sweep_id = commands.create(path, run_agent=False, console=quiet())
    with pytest.raises(LexDprError, match="has no completed trial yet"):
        commands.best(sweep_id, console=quiet())


def test_time_window_exit_outside(write_sweep, fake_runner) -> None:
    from datetime import datetime

    sweep_id = commands.create(write_sweep(BASIC_SWEEP), run_agent=False, console=quiet())
    console = quiet()
    report = commands.agent(
        sweep_id,
        runner=fake_runner,
        clock=lambda: datetime(2025, 1, 1, 12, 0),
        console=console,
        options=AgentOptions.from_flags(time_window="1-8", exit_outside_window=True),
    )
    assert report.trials == [] and report.stopped_because == "outside the window 1-8"
