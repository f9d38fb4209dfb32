"""Fixtures for the trainer tests: a tiny Korean BERT and a small dataset, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest_models import build_tiny_bert, make_dataset


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", os.environ.get("LEXDPR_TEST_WANDB_MODE", "disabled"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture
def train_overrides(tiny_model: Path, dataset: dict[str, Path], tmp_path: Path) -> list[str]:
    """A config that trains the tiny model for a few seconds, writing under tmp_path."""
    return [
        f"model.bi_model={tiny_model}",
        "model.max_len=64",
        "model.query_max_len=32",
        f"data.pairs={dataset['train']}",
        f"data.valid_pairs={dataset['valid']}",
        f"data.passages={dataset['corpus']}",
        "data.batch_size=4",
        "trainer.lr=1e-3",
        "trainer.epochs=2",
        "trainer.eval_steps=4",
        "trainer.valid_negatives=8",
        f"out_dir={tmp_path / 'out'}",
        f"run_dir={tmp_path / 'wandb'}",
    ]
