"""Session fixtures: three real trainings of the tiny model (see `factory.py`), trained once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lexdpr.tracking.run_folder import RunFolder
from tests.runs.factory import RECIPES, run_id, train_recipes


@dataclass(frozen=True)
class RealRuns:
    """Where the real runs are: `root` holds `wandb/` (run folders) and each recipe's out_dir."""

    base: Path
    results: dict[str, Any]

    @property
    def root(self) -> str:
        return str(self.base / "wandb")

    def id(self, recipe: str) -> str:
        return run_id(recipe)

    def folder(self, recipe: str) -> Path:
        found = RunFolder.find(self.root, self.id(recipe))
        assert found is not None, recipe
        return found.path


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> RealRuns:
    import torch

    base = tmp_path_factory.mktemp("real-runs")
    threads = torch.get_num_threads()
    # One thread: the tiny model gains nothing from more, and on a busy 2-core machine competing intra-op
    # threads made these trainings 20x slower (160 s instead of 8 s).
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WANDB_MODE", "disabled")  # the offline W&B mirror is tested with the trainer
            results = train_recipes(base)
    finally:
        torch.set_num_threads(threads)
    failed = {name for name, r in results.items() if isinstance(r, Exception)}
    assert failed == {"nan_loss"}, f"only nan_loss is meant to stop early: {results}"
    assert set(results) == set(RECIPES)
    return RealRuns(base, results)
