"""The CLI functions against a simulated cluster: render, create (and --dry-run), status, best, the agent entry."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from lexdpr.errors import ConfigError
from lexdpr.kube.commands import (
    create_experiment,
    default_name,
    experiment_name,
    katib_best,
    katib_status,
    render_experiment,
    window_agent,
)
from lexdpr.kube.experiment import experiment_yaml
from lexdpr.kube.manifests import preset_experiment
from lexdpr.sweep.preset import PRESET_YAML, preset_spec
from lexdpr.sweep.sweep_file import load_sweep_file
from tests.kube.conftest import SEOUL
from tests.kube.katib_check import experiment_errors
from tests.kube.katib_sim import FakeClock, FakeKatib


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(PRESET_YAML, encoding="utf-8")
    return path


def console() -> Console:
    return Console(file=io.StringIO(), width=250, color_system=None)


def test_render_is_the_checked_in_manifest_with_a_namespace(sweep_file: Path) -> None:
    text = render_experiment(sweep_file, namespace="team-ml", image="registry.example/lexdpr:1.2", pvc="ws")
    rendered = yaml.safe_load(text)
    expected = preset_experiment()
    assert rendered["metadata"]["namespace"] == "team-ml"
    pod = rendered["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example/lexdpr:1.2"
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "ws"
    assert rendered["spec"]["parameters"] == expected["spec"]["parameters"]


def test_dry_run_prints_yaml_and_creates_nothing(sweep_file: Path, cluster: FakeKatib) -> None:
    out = console()
    name = create_experiment(sweep_file, dry_run=True, api=cluster, console=out)
    assert name == "lexdpr-sweep"
    assert yaml.safe_load(out.file.getvalue())["kind"] == "Experiment"
    assert cluster.requests == []
    assert load_sweep_file(sweep_file).sweep_id is None


def test_create_sends_a_valid_experiment_and_records_the_sweep_id(
    sweep_file: Path, cluster: FakeKatib, clock: FakeClock
) -> None:
    out = console()
    name = create_experiment(sweep_file, api=cluster, console=out, max_trials=12, parallel=3)
    (request,) = cluster.requests
    assert request.verb == "create" and request.body["metadata"]["namespace"] == "team-ml"
    assert request.body["spec"]["maxTrialCount"] == 12 and request.body["spec"]["parallelTrialCount"] == 3
    assert experiment_errors(request.body) == []
    assert load_sweep_file(sweep_file).sweep_id == name == "lexdpr-sweep"
    with pytest.raises(ConfigError, match="already exists"):
        create_experiment(sweep_file, api=cluster, console=out)


def test_status_and_best_show_config_values(sweep_file: Path, cluster: FakeKatib, clock: FakeClock) -> None:
    create_experiment(sweep_file, api=cluster, console=console(), max_trials=4, parallel=2)
    cluster.advance(5 * 3600)  # both pairs of 2 h trials are done
    out = console()
    summary = katib_status("lexdpr-sweep", api=cluster, console=out)
    assert summary.state == "Succeeded" and summary.reason == "ExperimentMaxTrialsReached"
    assert [row.state for row in summary.trials] == ["Succeeded"] * 4
    row = summary.trials[0]
    assert row.parameters["trainer.warmup_ratio"] == 0.0  # fixed point 0 → 0.0
    assert row.parameters["trainer.temperature"] == 0.01  # fixed point 100 × 1e-4
    assert row.parameters["data.batch_size"] == 32 and row.parameters["model.bi_model"] == "ko-simcse"
    assert row.duration_s == 2 * 3600
    text = out.file.getvalue()
    assert "Succeeded (ExperimentMaxTrialsReached)" in text and "warmup_ratio=0.0" in text
    out = console()
    best = katib_best("lexdpr-sweep", api=cluster, console=out)
    assert best.metrics["eval/ndcg_at_10"] == 0.4  # the objective's strategy is latest: the best checkpoint's
    assert f"sweeps/lexdpr-sweep/{best.name}/" in out.file.getvalue()
    assert "trainer.lr=5e-07" in out.file.getvalue()


def test_status_of_a_missing_experiment_says_where_it_looked(cluster: FakeKatib) -> None:
    with pytest.raises(ConfigError, match="no Experiment nope in namespace team-ml"):
        katib_status("nope", api=cluster, console=console())


def test_window_agent_entry_point(tmp_path: Path, cluster: FakeKatib, clock: FakeClock) -> None:
    manifest = tmp_path / "experiment.yaml"
    manifest.write_text(experiment_yaml(preset_experiment()), encoding="utf-8")
    lines: list[str] = []
    code = window_agent(
        "lexdpr-sweep",
        "team-ml",
        "1-8",
        2,
        experiment_file=manifest,
        api=cluster,
        clock=clock,
        sleep=clock.sleep,
        say=lines.append,
    )
    assert code == 0
    assert len(cluster.trials) == 2
    assert lines[-1] == "granted 2 new trial(s), resumed 0, suspended 0"
    with pytest.raises(ConfigError, match="describes Experiment lexdpr-sweep, not other"):
        window_agent(
            "other", None, "1-8", 2, experiment_file=manifest, api=cluster, clock=clock, sleep=clock.sleep
        )
    with pytest.raises(ConfigError, match="time window"):
        window_agent("lexdpr-sweep", None, "1to8", 2, api=cluster)
    with pytest.raises(ConfigError, match="time zone"):
        window_agent("lexdpr-sweep", None, "1-8", 2, api=cluster, time_zone="Mars/Olympus")


def test_default_names() -> None:
    assert default_name(preset_spec()) == "lexdpr-sweep"
    named = preset_spec().__class__(**{**preset_spec().__dict__, "name": "Night Sweep #2"})
    assert default_name(named) == "night-sweep-2"


def test_clock_in_the_windows_time_zone(cluster: FakeKatib) -> None:
    clock = FakeClock(datetime(2025, 3, 10, 12, 0, tzinfo=SEOUL))
    assert clock().utcoffset().total_seconds() == 9 * 3600


def test_experiment_name_from_a_name_or_a_sweep_file(sweep_file: Path) -> None:
    assert experiment_name("night-sweep") == "night-sweep"
    assert experiment_name(sweep_file) == "lexdpr-sweep"
    sweep_file.write_text(PRESET_YAML + "sweep_id: katib-one\n", encoding="utf-8")
    assert experiment_name(str(sweep_file)) == "katib-one"


def test_agent_without_a_window_grants_count_trials_and_exits(
    tmp_path: Path, cluster: FakeKatib, clock: FakeClock
) -> None:
    manifest = tmp_path / "experiment.yaml"
    manifest.write_text(experiment_yaml(preset_experiment()), encoding="utf-8")
    window_agent(
        "lexdpr-sweep",
        None,
        None,
        3,
        experiment_file=manifest,
        api=cluster,
        clock=clock,
        sleep=clock.sleep,
        say=lambda line: None,
    )
    assert len(cluster.trials) == 3
    with pytest.raises(ConfigError, match="--count is required"):
        window_agent("lexdpr-sweep", None, "1-8", None, api=cluster)
