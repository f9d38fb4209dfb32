"""Bad training values end in one clear error, never a traceback or a "finished" run with NaN metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lexdpr.errors import ConfigError, StorageError
from lexdpr.training import trainer as trainer_module
from lexdpr.training.config import load_config
from lexdpr.training.trainer import TrainingFailed, train


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.lr=inf", "trainer.lr must be a finite number, got inf"),
        ("trainer.lr=.inf", "trainer.lr must be a finite number, got inf"),
        ("trainer.lr=-inf", "trainer.lr must be a finite number"),
        ("trainer.lr=nan", "trainer.lr must be a finite number, got nan"),
        ("trainer.lr=1e300", "trainer.lr must be <= 1e+10, got 1e+300"),
        ("trainer.temperature=1e308", "trainer.temperature must be <= 100"),
        ("trainer.weight_decay=inf", "trainer.weight_decay must be a finite number"),
        ("trainer.gradient_clip_norm=nan", "trainer.gradient_clip_norm must be a finite number"),
        ("trainer.warmup_ratio=nan", "trainer.warmup_ratio must be a finite number"),
        ("model.peft.dropout=nan", "model.peft.dropout must be a finite number"),
        ("data.hard_negative_ratio=inf", "data.hard_negative_ratio must be a finite number"),
        ("data.batch_size=1e30", "data.batch_size must be >= 1 and <= 65536"),
        ("trainer.epochs=1e12", "trainer.epochs must be >= 1 and <= 100000"),
        ("model.peft.alpha=0", "model.peft.alpha must be >= 1"),
        ("trainer.seed=-1", "trainer.seed must be >= 0"),
        ("trainer.k_values=[1,10000000]", "trainer.k_values must be positive integers"),
        ("trainer.k_values=[1,", "trainer.k_values: '[1,' is not a valid"),
        ("trainer.lr=" + "[" * 3000, "trainer.lr: '[[["),
    ],
)
def test_numeric_values_must_be_finite_and_in_range(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert message in str(info.value)
    assert len(str(info.value)) < 400


def test_cli_rejects_inf_lr_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lexdpr.cli", "train", "trainer.lr=inf", f"out_dir={tmp_path / 'out'}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "trainer.lr must be a finite number" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "wandb").exists()


def test_duplicate_keys_in_a_config_file_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  lr: 1.0e-5\n  epochs: 2\n  lr: 3.0e-5\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"c\.yaml: not valid YAML \(duplicate key 'lr' on line 4 \(first on line 2\)\)"
    ):
        load_config(str(path))
    path.write_text("trainer.lr: 1.0e-5\ntrainer.lr: 3.0e-5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"duplicate key 'trainer\.lr'"):
        load_config(str(path))


@pytest.mark.parametrize("shape", ["list", "mapping"])
def test_a_deeply_nested_config_file_is_an_error(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "deep.yaml"
    text = "trainer: " + ("[" * 5000 + "]" * 5000 if shape == "list" else "{a: " * 5000 + "1" + "}" * 5000)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deep\.yaml: not valid YAML \(nested too deeply"):
        load_config(str(path))


def test_a_run_whose_weights_become_nan_fails_instead_of_finishing(train_overrides, monkeypatch) -> None:
    """An infinite lr (here let through on purpose) makes the last step's update NaN: its own loss was
    finite, so only the evaluation after it sees the damage. The run must end `failed`, not `finished`."""
    config = load_config(None, [*train_overrides, "trainer.max_steps=1"])
    config.trainer.lr = float("inf")
    monkeypatch.setattr(trainer_module, "validate", lambda _config: None)
    with pytest.raises(TrainingFailed, match="valid/loss is nan at step 1: training diverged"):
        train(config, quiet=True)
    meta = json.loads((Path(config.run_dir) / "latest-run" / "wandb-metadata.json").read_text())
    assert meta["state"] == "failed" and "valid/loss is nan" in meta["reason"]


@pytest.mark.parametrize("where", ["under a file", "under /proc"])
def test_an_unwritable_out_dir_is_a_clear_error_before_any_work(train_overrides, tmp_path, where) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out_dir = blocker / "out" if where == "under a file" else Path("/proc/lexdpr-test/out")
    config = load_config(None, [*train_overrides, f"out_dir={out_dir}"])
    with pytest.raises(StorageError) as info:
        train(config, quiet=True)
    assert f"out_dir={out_dir}: cannot write here" in str(info.value)
    assert not (tmp_path / "wandb").exists()  # refused before the run folder was made
