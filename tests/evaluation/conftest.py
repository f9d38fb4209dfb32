"""Fixtures for the evaluation tests that need a model: the tiny Korean BERT and a small dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest_models import build_tiny_bert, make_dataset
from tests.support.tiny_checkpoint import save_tiny_checkpoint


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def checkpoint(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_checkpoint(tiny_model, tmp_path_factory.mktemp("saved") / "checkpoint-1")
