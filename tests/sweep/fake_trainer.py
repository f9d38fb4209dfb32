"""A stand-in for `lexdpr.training.trainer.train` that takes milliseconds, for the sweep's default tests
(`fake_trial` puts it in place of `lexdpr.sweep.run_trial.train` in the trial process).

It honours the trainer's contract as far as the sweep can observe it: the signature (with the
`on_evaluation` hook), a run folder with the sweep id in its metadata, checkpoints in
`{out_dir}/bi_encoder/checkpoint-{step}` with auto-resume from the newest, SIGTERM → save a checkpoint
and raise `TrainingInterrupted`, and a result object with the `TrainResult` attributes.

`model.bi_model` selects a behaviour, so a sweep file can mix good and bad trials:
`fake` trains; `explode` diverges (TrainingFailed, like a NaN loss); `oom` raises an OutOfMemoryError;
`crash` kills its own process (SIGKILL, as the OOM killer would); `nometric` logs no eval metrics.
`trainer.epochs` is the number of evaluations, each after `STEPS_PER_EVAL` steps; each step sleeps
`$FAKE_STEP_SECONDS` (default 0). The objective is a smooth function of lr and temperature.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lexdpr.sweep.pruning import TrialPruned
from lexdpr.tracking.run_folder import RunFolder, new_run_id
from lexdpr.training.signals import TrainingInterrupted

STEPS_PER_EVAL = 3
FINGERPRINT = "fake-fingerprint"


class TrainingFailed(Exception):
    pass


class OutOfMemoryError(RuntimeError):
    """Named like torch's, which is how run_trial recognises it."""


@dataclass(frozen=True)
class FakeResult:
    state: str
    run_id: str
    run_folder: Path
    out_dir: Path
    steps: int
    final_metrics: dict[str, Any]
    best_checkpoint: Path | None
    best_metrics: dict[str, Any]
    last_checkpoint: Path | None


def score(config: Any, progress: float = 1.0) -> float:
    """Peaks at lr = 1e-5, temperature = 0.05; grows with progress (0 … 1)."""
    x = math.log10(config.trainer.lr) + 5
    return progress * (0.9 - 0.1 * x * x - 2.0 * (config.trainer.temperature - 0.05) ** 2)


def train(config: Any, *, quiet: bool = False, run_id: str | None = None, on_evaluation=None) -> FakeResult:
    mode = config.model.bi_model
    step_seconds = float(os.environ.get("FAKE_STEP_SECONDS", "0"))
    root = Path(config.out_dir) / "bi_encoder"
    root.mkdir(parents=True, exist_ok=True)
    state_file = root / "fake_state.json"
    previous = json.loads(state_file.read_text()) if state_file.exists() else {}
    run_id = previous.get("run_id") or run_id or new_run_id()
    folder = RunFolder.find(config.run_dir, run_id) if previous else None
    if folder is None:
        folder = RunFolder.create(config.run_dir, run_id, "fake: true\n", {"sweep_id": config.sweep_id})
    state_file.write_text(json.dumps({"run_id": run_id}))
    (root / "training_config.json").write_text(json.dumps({"run_id": run_id, "run_folder": str(folder.path)}))
    start = max((int(p.name.split("-")[1]) for p in root.glob("checkpoint-*")), default=0)
    folder.update(state="running", resumed_from_step=start)

    stopped: list[int] = []
    previous_handler = signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    try:
        total = STEPS_PER_EVAL * config.trainer.epochs
        metrics: dict[str, Any] = previous.get("metrics", {})
        for step in range(start + 1, total + 1):
            time.sleep(step_seconds)
            if mode == "explode" and step == 2:
                folder.update(state="failed", reason="loss is nan at step 2")
                raise TrainingFailed("loss is nan at step 2: training diverged")
            if mode == "oom":
                raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            if mode == "crash":
                os.kill(os.getpid(), signal.SIGKILL)
            _save(root, step)
            if step % STEPS_PER_EVAL == 0:
                metrics = (
                    {}
                    if mode == "nometric"
                    else {
                        "eval/ndcg_at_10": score(config, step / total),
                        "eval/fingerprint": FINGERPRINT,
                        "fake/resumed_from": start,
                    }
                )
                folder.log(step, metrics)
                state_file.write_text(json.dumps({"run_id": run_id, "metrics": metrics}))
                if on_evaluation is not None:
                    try:
                        on_evaluation(step, metrics)
                    except TrialPruned as exc:  # the contract: record the run as stopped early, re-raise
                        folder.update(state="finished", pruned=True, reason=str(exc))
                        raise
            if stopped and step < total:
                folder.update(state="failed", reason="SIGTERM received; checkpoint saved")
                raise TrainingInterrupted(signal.SIGTERM, step, str(root / f"checkpoint-{step}"))
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    folder.update(state="finished")
    checkpoint = root / f"checkpoint-{total}"
    return FakeResult(
        "finished", run_id, folder.path, Path(config.out_dir), total, metrics, checkpoint, metrics, checkpoint
    )


def _save(root: Path, step: int) -> None:
    (root / f"checkpoint-{step}").mkdir(exist_ok=True)
