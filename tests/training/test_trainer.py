"""End-to-end training on the tiny model: run folder, checkpoints, NaN handling, resume after a kill, SIGTERM."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lexdpr.errors import ConfigError
from lexdpr.tracking.stdout_metrics import metric_lines
from lexdpr.training import trainer as trainer_module
from lexdpr.training.checkpoint import list_checkpoints
from lexdpr.training.config import config_to_dict, load_config
from lexdpr.training.evaluate import evaluate_model
from lexdpr.training.trainer import TrainingFailed, train

# Replays the training in a child process with each step slowed down, so the test can stop it mid-run.
CHILD = """
import json, sys, time
import lexdpr.training.trainer as T
step = T.contrastive_step
def slow(*a, **k):
    time.sleep(float(sys.argv[2]))
    return step(*a, **k)
T.contrastive_step = slow
from lexdpr.errors import LexDprError
from lexdpr.training.config import load_config
try:
    T.train(load_config(None, json.loads(sys.argv[1])), quiet=True)
except LexDprError as exc:  # what the CLI does with every user-facing error
    sys.exit(exc.exit_code)
"""


def _events(run_folder: Path) -> list[dict]:
    return [json.loads(line) for line in (run_folder / "wandb-events.jsonl").read_text().splitlines()]


def test_training_run_writes_the_run_folder_and_checkpoints(train_overrides, tmp_path, capsys, dataset):
    config = load_config(None, [*train_overrides, "trainer.keep_last=1"])
    result = train(config, quiet=True)

    assert (
        result.state == "finished" and result.steps == 14
    )  # 24 queries in batches of 4, 2 epochs (+ deferrals)
    folder = result.run_folder
    assert folder.parent == tmp_path / "wandb" and folder.name.endswith(f"-{result.run_id}")
    assert (tmp_path / "wandb" / "latest-run").resolve() == folder.resolve()
    meta = json.loads((folder / "wandb-metadata.json").read_text())
    assert meta["state"] == "finished" and meta["run_id"] == result.run_id and meta["sweep_id"] is None
    assert meta["started"] and meta["total_steps"] == 14
    assert load_config(str(folder / "config.yaml"), []) == config

    events = _events(folder)
    evals = [e for e in events if "eval" in e]  # jq 'select(.eval)'
    assert [e["_step"] for e in evals] == [0, 4, 8, 12, 14]
    assert set(evals[0]["eval"]) >= {"ndcg_at_10", "recall_at_1", "mrr_at_10", "fingerprint"}
    assert "loss" in evals[0]["valid"]
    train_lines = [e for e in events if "train" in e]
    assert [e["_step"] for e in train_lines] == list(range(1, 15))
    assert set(train_lines[0]["train"]) == {"loss", "lr", "grad_norm", "epoch"}
    assert train_lines[-1]["train"]["epoch"] == pytest.approx(2.0)

    root = tmp_path / "out" / "bi_encoder"
    kept = [c.step for c in list_checkpoints(root)]
    best = max(list_checkpoints(root), key=lambda c: (c.metric, c.step))

    # five evaluations, then the best checkpoint's metrics once more: the result Katib reads (`latest`)
    out = [line.split(" ", 1)[-1] for line in capsys.readouterr().out.splitlines()]
    assert sum(
        line.startswith("eval/ndcg_at_10=") for line in out
    ) == 6 and "eval/fingerprint" not in "".join(out)
    result_lines = out[-len(metric_lines(result.best_metrics)) :]
    assert result_lines == metric_lines(result.best_metrics) and "valid/loss" in result.best_metrics
    assert f"eval/ndcg_at_10={best.metric:.6g}" in result_lines
    assert kept == sorted({best.step, 14})  # the best and the last one
    assert result.best_checkpoint == best.path
    assert {
        "adapter_model.safetensors",
        "bi_encoder.json",
        "tokenizer.json",
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pt",
        "trainer_state.json",
    } <= {p.name for p in (root / "checkpoint-14").iterdir()}
    saved = json.loads((root / "training_config.json").read_text())
    assert saved["config"] == config_to_dict(config) and saved["run_id"] == result.run_id
    assert not list(root.glob(".tmp-*"))

    # `lex-dpr eval` on the last checkpoint reproduces the trainer's last evaluation (same code).
    metrics = evaluate_model(root / "checkpoint-14", dataset["valid"], dataset["corpus"], quiet=True)
    logged = evals[-1]["eval"]
    for key in ("ndcg_at_10", "recall_at_5", "mrr_at_10"):
        assert metrics[f"eval/{key}"] == pytest.approx(logged[key], abs=1e-6)
    assert metrics["eval/fingerprint"] == logged["fingerprint"]


def test_gradcache_full_finetuning_and_augmentation_run(train_overrides):
    config = load_config(
        None,
        [
            *train_overrides,
            "trainer.gradient_accumulation_steps=2",
            "data.batch_size=2",
            "model.peft.enabled=false",
            "data.multiply=2",
            "trainer.epochs=1",
            "trainer.eval_steps=null",
            "data.valid_pairs=null",
        ],
    )
    result = train(config, quiet=True)
    # multiply=2 turns 24 queries into 72; the logical batch is 2 × 2 queries.
    assert result.steps >= 18 and result.state == "finished"
    assert result.final_metrics == {}  # no eval pairs: checkpoints without metrics
    assert (result.last_checkpoint / "model.safetensors").exists()


def test_recipe_keys_reach_the_model_guard_and_adapter(train_overrides):
    """model.dropout, model.peft.layers and data.false_negative_guard train end to end and shape the adapter."""
    from safetensors import safe_open

    config = load_config(
        None,
        [
            *train_overrides,
            "model.dropout=0",
            "model.peft.dropout=0",
            "model.peft.layers=1",
            "data.false_negative_guard=true",
            "trainer.epochs=1",
            "trainer.eval_steps=null",
        ],
    )
    result = train(config, quiet=True)
    assert result.state == "finished" and math.isfinite(result.final_metrics["eval/ndcg_at_10"])
    with safe_open(str(result.last_checkpoint / "adapter_model.safetensors"), "pt") as weights:
        blocks = {key.split(".layer.")[1].split(".")[0] for key in weights.keys()}  # noqa: SIM118 (safe_open is not iterable)
    assert blocks == {"1"}  # the tiny BERT's last block only


def test_nan_loss_stops_the_run_as_failed(train_overrides, monkeypatch):
    monkeypatch.setattr(trainer_module, "contrastive_step", lambda *a, **k: float("nan"))
    config = load_config(None, train_overrides)
    with pytest.raises(TrainingFailed, match="loss is nan at step 1"):
        train(config, quiet=True)
    folder = Path(config.run_dir) / "latest-run"
    meta = json.loads((folder / "wandb-metadata.json").read_text())
    assert meta["state"] == "failed" and "loss is nan" in meta["reason"]


def test_resuming_with_another_config_is_refused(train_overrides):
    train(load_config(None, [*train_overrides, "trainer.max_steps=2"]), quiet=True)
    with pytest.raises(ConfigError, match=r"trainer\.lr"):
        train(load_config(None, [*train_overrides, "trainer.max_steps=2", "trainer.lr=5e-4"]), quiet=True)


def _start_child(overrides: list[str], delay: float) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(overrides), str(delay)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_kill_and_restart_finishes_like_an_uninterrupted_run(train_overrides, tmp_path):
    uninterrupted = train(
        load_config(
            None, [*train_overrides, f"out_dir={tmp_path / 'ref'}", f"run_dir={tmp_path / 'ref-runs'}"]
        ),
        quiet=True,
    )

    child = _start_child(train_overrides, delay=0.25)
    _wait_for(tmp_path / "out" / "bi_encoder" / "checkpoint-4", child)
    time.sleep(0.3)
    child.kill()  # SIGKILL: no chance to clean up, like an OOM kill or a lost node
    child.wait()
    killed_meta = json.loads((tmp_path / "wandb" / "latest-run" / "wandb-metadata.json").read_text())
    assert killed_meta["state"] == "running"  # a crashed process leaves state ≠ finished

    resumed = train(load_config(None, train_overrides), quiet=True)
    assert resumed.run_id == killed_meta["run_id"] and resumed.steps == uninterrupted.steps
    for key, value in uninterrupted.final_metrics.items():
        if isinstance(value, float):
            assert resumed.final_metrics[key] == pytest.approx(value, abs=1e-5), key
        else:
            assert resumed.final_metrics[key] == value
    events = _events(resumed.run_folder)
    steps = [e["_step"] for e in events if "train" in e]
    assert steps == list(range(1, resumed.steps + 1))  # events past the checkpoint were not duplicated
    meta = json.loads((resumed.run_folder / "wandb-metadata.json").read_text())
    assert meta["state"] == "finished" and meta["resumed_from_step"] == 4


def test_sigterm_saves_a_checkpoint_and_marks_the_run_failed(train_overrides, tmp_path):
    child = _start_child(train_overrides, delay=0.25)
    _wait_for(tmp_path / "out" / "bi_encoder" / "checkpoint-4", child)
    time.sleep(0.3)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 128 + signal.SIGTERM
    meta = json.loads((tmp_path / "wandb" / "latest-run" / "wandb-metadata.json").read_text())
    assert meta["state"] == "failed" and meta["exit_signal"] == "SIGTERM"
    stopped_at = meta["step"]
    assert 4 < stopped_at < 14
    assert (tmp_path / "out" / "bi_encoder" / f"checkpoint-{stopped_at}").is_dir()
    config = yaml.safe_load((tmp_path / "wandb" / "latest-run" / "config.yaml").read_text())
    assert config["trainer"]["eval_steps"] == 4
    resumed = train(load_config(None, train_overrides), quiet=True)
    assert resumed.state == "finished" and math.isfinite(resumed.final_metrics["valid/loss"])


class _Pruned(Exception):
    pass


def test_on_evaluation_sees_every_evaluation_and_may_stop_the_run(train_overrides):
    seen: list[int] = []
    config = load_config(None, [*train_overrides, "trainer.max_steps=6", "trainer.eval_steps=2"])
    result = train(config, quiet=True, on_evaluation=lambda step, m: seen.append(step))
    assert seen == [0, 2, 4, 6] and result.state == "finished"

    def prune(step: int, metrics) -> None:
        assert "eval/ndcg_at_10" in metrics
        if step == 2:
            raise _Pruned("below the median")

    config = load_config(
        None,
        [
            *train_overrides,
            "trainer.max_steps=6",
            "trainer.eval_steps=2",
            f"out_dir={Path(config.out_dir).parent / 'pruned'}",
        ],
    )
    with pytest.raises(_Pruned):
        train(config, quiet=True, on_evaluation=prune)
    meta = json.loads((Path(config.run_dir) / "latest-run" / "wandb-metadata.json").read_text())
    assert meta["state"] == "finished" and meta["stopped_early"] is True and "_Pruned" in meta["reason"]
    assert (Path(config.out_dir) / "bi_encoder" / "checkpoint-2").is_dir()
