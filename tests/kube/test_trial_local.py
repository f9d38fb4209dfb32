"""A Katib trial's command, run locally: the real trainer with the tiny model writes its run folder where the PVC
would be, and the collector regex taken from the rendered Experiment parses the objective from its real stdout.

Also, with a stand-in trainer: the preStop hook stops the trainer under Katib's `sh -c` (which passes no
signal on), so a preempted or suspended pod saves a checkpoint, and exit codes reach the Job (podFailurePolicy
uses them). The slow test stops a real trial through its preStop hook and restarts it, as Kubernetes restarts
a preempted pod.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from lexdpr.kube.experiment import ExperimentOptions, build_experiment
from lexdpr.sweep.sweep_file import parse_sweep
from lexdpr.training.checkpoint import best_checkpoint, list_checkpoints
from tests.conftest_models import build_tiny_bert, make_dataset
from tests.kube.katib_check import experiment_errors
from tests.kube.schemas import KubernetesSchemas
from tests.kube.trial_runner import PodPaths, completed_marker, fake_trainer, run_trial, trial_command
from tests.kube.upstream.katib import KATIB_VERSIONS, objective_value, parse_metrics

EXPERIMENT = "tiny-sweep"
TRIAL = "tiny-sweep-q8x2k4mz"
SWEEP = """\
method: bayes
metric: {name: eval/ndcg_at_10, goal: maximize}
parameters:
  trainer.lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  trainer.warmup_ratio: {distribution: uniform, min: 0.0, max: 0.2}
  data.batch_size: {values: [4, 8]}
fixed:
  model.max_len: 64
  model.query_max_len: 32
  trainer.epochs: EPOCHS
  trainer.eval_steps: 3
  trainer.valid_negatives: 8
  data.pairs: data/train.jsonl
  data.valid_pairs: data/valid.jsonl
  data.passages: data/corpus.jsonl
"""
#: Katib's parameter values for the trial: warmup_ratio is fixed point (1250e-4 = 0.125).
ASSIGNMENTS = {"trainer.lr": "0.003", "trainer.warmup_ratio": "1250", "data.batch_size": "4"}


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-inputs")
    return {"model": build_tiny_bert(root / "model"), **make_dataset(root / "data")}


def _pod(tmp_path: Path, inputs: dict[str, Path], epochs: int = 1) -> tuple[dict, PodPaths]:
    """A Pod's folders: the dataset on the 'PVC', the base config (pointing at the tiny model) as the ConfigMap."""
    paths = PodPaths(tmp_path).make()
    data = paths.workspace / "data"
    data.mkdir()
    for name in ("train", "valid", "corpus"):
        shutil.copy(inputs[name], data / f"{name}.jsonl")
    (paths.config_dir / "config.yaml").write_text(
        f"model:\n  bi_model: {inputs['model']}\n", encoding="utf-8"
    )
    spec = parse_sweep(yaml.safe_load(SWEEP.replace("EPOCHS", str(epochs))), "tiny sweep")
    experiment = build_experiment(spec, ExperimentOptions(name=EXPERIMENT, namespace="team-ml"))
    return experiment, paths


def _trial_folder(paths: PodPaths) -> Path:
    return paths.workspace / "sweeps" / EXPERIMENT / TRIAL


def test_the_trial_command_trains_and_katibs_collector_reads_its_stdout(
    tmp_path: Path, tiny_inputs: dict[str, Path], schemas: KubernetesSchemas
) -> None:
    experiment, paths = _pod(tmp_path, tiny_inputs)
    assert experiment_errors(experiment, schemas) == []
    argv, env = trial_command(experiment, ASSIGNMENTS, TRIAL, paths)
    env["LEXDPR_RUNS_S3"] = str(tmp_path / "runs-copy")  # a storage path; s3:// in a cluster

    assert run_trial(argv, env, paths) == 0, (paths.katib / "metrics.log").read_text(encoding="utf-8")[-3000:]
    assert completed_marker(paths) == "completed"  # what Katib's collector waits for

    folder = _trial_folder(paths)
    (run,) = (folder / "wandb").glob("run-*")
    metadata = json.loads((run / "wandb-metadata.json").read_text(encoding="utf-8"))
    assert metadata["state"] == "finished"
    assert metadata["sweep_id"] == EXPERIMENT
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert config["trainer"]["warmup_ratio"] == 0.125  # the fixed-point value, decoded by the trainer
    assert config["trainer"]["lr"] == 0.003
    assert config["data"]["batch_size"] == 4
    assert list((folder / "bi_encoder").glob("checkpoint-*"))
    copied = tmp_path / "runs-copy" / EXPERIMENT / TRIAL / "wandb" / run.name / "wandb-metadata.json"
    assert json.loads(copied.read_text(encoding="utf-8"))["state"] == "finished"

    # Katib's collector, configured from the rendered Experiment, over the trial's real output.
    spec = experiment["spec"]
    filters = spec["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"]
    names = [spec["objective"]["objectiveMetricName"], *spec["objective"]["additionalMetricNames"]]
    output = (paths.katib / "metrics.log").read_text(encoding="utf-8").split("\n")
    events = [
        json.loads(line) for line in (run / "wandb-events.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    logged = [e["eval"]["ndcg_at_10"] for e in events if "eval" in e]
    logs = parse_metrics(output, names, filters, "0.19")
    parsed = [float(log.value) for log in logs if log.name == "eval/ndcg_at_10"]
    # every evaluation, then the best checkpoint's value once more (the trial's result)
    best = best_checkpoint(list_checkpoints(folder / "bi_encoder"))
    assert best is not None
    best_metrics = best.state["metrics"]
    assert parsed[:-1] == pytest.approx(logged) and len(parsed) == len(logged) + 1
    strategies = {s["name"]: s["value"] for s in spec["objective"]["metricStrategies"]}
    for version in KATIB_VERSIONS:  # each metric as Katib stores it = its value at the best checkpoint
        logs = parse_metrics(output, names, filters, version)
        for name in names:
            value = objective_value(logs, name, strategies[name])
            assert value == pytest.approx(best_metrics[name], rel=1e-5), (version, name)
    assert {log.name for log in logs} == {
        "eval/ndcg_at_10",
        "eval/recall_at_10",
        "eval/mrr_at_10",
        "valid/loss",
    }


@pytest.mark.parametrize(("mode", "code", "marker"), [("exit0", 0, "completed"), ("exit2", 2, None)])
def test_exit_codes_pass_through_the_wrapped_command(
    tmp_path: Path, mode: str, code: int, marker: str | None, tiny_inputs: dict[str, Path]
) -> None:
    experiment, paths = _pod(tmp_path, tiny_inputs)
    argv, env = trial_command(experiment, ASSIGNMENTS, TRIAL, paths, path_prefix=str(fake_trainer(tmp_path)))
    env.update(FAKE_MODE=mode, FAKE_OUT=str(tmp_path / "fake.log"))
    assert run_trial(argv, env, paths, timeout=60) == code
    assert completed_marker(paths) == marker
    assert "trainer.warmup_ratio=1250e-4" in (tmp_path / "fake.log").read_text(encoding="utf-8")


def test_run_folders_are_copied_to_s3_after_the_trial(
    tmp_path: Path, tiny_inputs: dict[str, Path], s3_bucket: str
) -> None:
    experiment, paths = _pod(tmp_path, tiny_inputs)
    argv, env = trial_command(experiment, ASSIGNMENTS, TRIAL, paths, path_prefix=str(fake_trainer(tmp_path)))
    env.update(FAKE_MODE="exit2", FAKE_OUT=str(tmp_path / "fake.log"), LEXDPR_RUNS_S3=f"{s3_bucket}/sweeps")
    env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})  # the Secret's envFrom
    assert (
        run_trial(argv, env, paths, timeout=60) == 2
    )  # a failed trial's run is copied too; the status stays
    from lexdpr.storage import read_text

    copied = f"{s3_bucket}/sweeps/{EXPERIMENT}/{TRIAL}/wandb/run-20250310_010000-abcd1234/wandb-metadata.json"
    assert json.loads(read_text(copied)) == {"state": "finished"}


def _pre_stop(experiment: dict, env: dict[str, str], paths: PodPaths) -> int:
    """The container's preStop hook, run as the kubelet runs it: in the container, with its environment."""
    job = experiment["spec"]["trialTemplate"]["trialSpec"]
    hook = job["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    return subprocess.run(hook, cwd=paths.workspace, env=env, timeout=30).returncode


def test_the_prestop_hook_stops_the_trainer_under_katibs_shell(
    tmp_path: Path, tiny_inputs: dict[str, Path]
) -> None:
    """Kubernetes signals only the container's main process, Katib's `sh`, which passes nothing on: the
    preStop hook (run before that signal) must make the trainer save and stop."""
    experiment, paths = _pod(tmp_path, tiny_inputs)
    argv, env = trial_command(experiment, ASSIGNMENTS, TRIAL, paths, path_prefix=str(fake_trainer(tmp_path)))
    assert argv[:2] == ["sh", "-c"]  # Katib's collector wrapped the command
    log = tmp_path / "fake.log"
    env.update(FAKE_MODE="wait", FAKE_OUT=str(log))
    shell = subprocess.Popen(argv, cwd=paths.workspace, env=env)
    _wait_for(lambda: log.exists() and "started" in log.read_text(encoding="utf-8"))
    assert _pre_stop(experiment, env, paths) == 0  # returns once the trial has exited
    assert shell.poll() is not None or shell.wait(timeout=5) is not None
    assert shell.wait(timeout=20) == 143
    assert log.read_text(encoding="utf-8").splitlines()[-1] == "TERM"
    assert completed_marker(paths) is None  # an interrupted trial is not reported as completed
    metrics = (paths.katib / "metrics.log").read_text(encoding="utf-8")
    assert "eval/ndcg_at_10=0.3" in metrics  # the redirect covers what the trainer printed while stopping


@pytest.mark.slow
def test_a_preempted_trial_resumes_from_its_checkpoint(tmp_path: Path, tiny_inputs: dict[str, Path]) -> None:
    experiment, paths = _pod(tmp_path, tiny_inputs, epochs=6)
    argv, env = trial_command(experiment, ASSIGNMENTS, TRIAL, paths)
    checkpoints = _trial_folder(paths) / "bi_encoder"
    first = subprocess.Popen(argv, cwd=paths.workspace, env=env)
    _wait_for(lambda: any(checkpoints.glob("checkpoint-3")), timeout=240)
    assert _pre_stop(experiment, env, paths) == 0  # what a preemption or the window agent's suspension does
    assert first.wait(timeout=120) == 128 + signal.SIGTERM
    saved = sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    (run,) = (_trial_folder(paths) / "wandb").glob("run-*")
    assert json.loads((run / "wandb-metadata.json").read_text(encoding="utf-8"))["state"] == "failed"

    os.remove(paths.katib / "metrics.log")  # a new pod: Katib's metrics volume is an emptyDir
    assert run_trial(argv, env, paths) == 0
    assert completed_marker(paths) == "completed"
    assert json.loads((run / "wandb-metadata.json").read_text(encoding="utf-8"))["state"] == "finished"
    assert json.loads((run / "wandb-metadata.json").read_text(encoding="utf-8")).get(
        "resumed_from_step", 0
    ) >= int(saved[-1].name.split("-")[1])
    logs = parse_metrics(
        (paths.katib / "metrics.log").read_text(encoding="utf-8").split("\n"),
        ["eval/ndcg_at_10"],
        [experiment["spec"]["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"][0]],
        "0.19",
    )
    assert logs[0].value != "unavailable"


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(textwrap.shorten(f"timed out after {timeout} s", 80))
