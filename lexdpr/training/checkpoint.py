"""Checkpoints under `{out_dir}/bi_encoder/checkpoint-{step}/`: enough to resume exactly where a run stopped.

A checkpoint folder holds the bi-encoder (adapter or full weights + tokenizer + `bi_encoder.json`),
`optimizer.pt`, `scheduler.pt`, `rng_state.pt` and `trainer_state.json` (step, data position, metrics, run
id). It is written into a hidden temporary folder and renamed into place, so a folder named `checkpoint-N`
is always complete; a killed save leaves only a hidden `.checkpoint-N.….tmp` folder that the next save removes.

Rotation keeps the best checkpoint by `eval/ndcg_at_10` and the newest `keep_last`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lexdpr.errors import InputError
from lexdpr.storage.files import atomic_local_folder

BEST_METRIC = "eval/ndcg_at_10"
STATE_FILE = "trainer_state.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    path: Path
    state: dict[str, Any]

    @property
    def metric(self) -> float | None:
        value = self.state.get("metrics", {}).get(BEST_METRIC)
        return float(value) if isinstance(value, int | float) else None


def checkpoint_root(out_dir: str | os.PathLike[str]) -> Path:
    return Path(out_dir) / "bi_encoder"


def list_checkpoints(root: Path) -> list[CheckpointInfo]:
    """Complete checkpoints, oldest first."""
    if not root.is_dir():
        return []
    out = []
    for child in root.iterdir():
        m = _NAME.match(child.name)
        if m and (child / STATE_FILE).is_file():
            state = json.loads((child / STATE_FILE).read_text(encoding="utf-8"))
            out.append(CheckpointInfo(int(m.group(1)), child, state))
    return sorted(out, key=lambda c: c.step)


def best_checkpoint(checkpoints: list[CheckpointInfo]) -> CheckpointInfo | None:
    """Highest `eval/ndcg_at_10`; on a tie the later step."""
    scored = [c for c in checkpoints if c.metric is not None]
    return max(scored, key=lambda c: (c.metric, c.step)) if scored else None


def save_checkpoint(
    root: Path,
    step: int,
    save_model,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    state: dict[str, Any],
) -> Path:
    """Write checkpoint-{step} atomically; `save_model(folder)` writes the bi-encoder files."""
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".checkpoint-*.tmp"):  # left by a save that was killed
        shutil.rmtree(stale, ignore_errors=True)
    final = root / f"checkpoint-{step}"
    # replace: the same step may be saved again (e.g. a signal right after an evaluation)
    with atomic_local_folder(final, replace=True) as tmp:
        save_model(tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
        torch.save(capture_rng(), tmp / "rng_state.pt")
        (tmp / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")
    return final


def load_training_state(path: Path, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any) -> dict:
    """Restore optimizer, scheduler, scaler and RNG from a checkpoint; returns its trainer state."""
    try:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        if scaler is not None and (path / "scaler.pt").exists():
            scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
        restore_rng(torch.load(path / "rng_state.pt", weights_only=True))
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(str(path), f"cannot resume from this checkpoint ({exc})") from None
    return json.loads((path / STATE_FILE).read_text(encoding="utf-8"))


def rotate(root: Path, keep_last: int) -> list[Path]:
    """Delete checkpoints that are neither the best nor among the newest `keep_last`; returns those deleted."""
    checkpoints = list_checkpoints(root)
    keep = {c.step for c in checkpoints[-keep_last:]}
    best = best_checkpoint(checkpoints)
    if best is not None:
        keep.add(best.step)
    deleted = []
    for c in checkpoints:
        if c.step not in keep:
            shutil.rmtree(c.path, ignore_errors=True)
            deleted.append(c.path)
    return deleted


def capture_rng() -> dict[str, Any]:
    """Every RNG a training step may draw from (dropout: torch; nothing else should, but be safe)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(_to_tuple(state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list | tuple) else value
