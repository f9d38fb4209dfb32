"""A genuine offline W&B run inside the run folder's `files/`, so `wandb sync` can upload it later.

W&B is optional: with `WANDB_MODE=disabled`, without the package, or when anything in it fails, training
goes on and the run folder (which never depends on W&B) is complete. The offline run lives at
`files/wandb/offline-run-*/`; upload it with `wandb sync wandb/latest-run/files/wandb/offline-run-*`.
A resumed run continues the same W&B run id (offline resume writes a second offline-run folder).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lexdpr.tracking.metric_values import is_number


def wandb_enabled() -> bool:
    return os.environ.get("WANDB_MODE", "").strip().lower() not in {"disabled", "off", "false", "0"}


class WandbMirror:
    """Forward log calls to an offline W&B run; every method swallows W&B errors after one warning."""

    def __init__(self, run: Any):
        self._run = run

    @classmethod
    def start(
        cls, files_dir: Path, run_id: str, config: Mapping[str, Any], sweep_id: str | None, resume: bool
    ) -> WandbMirror | None:
        if not wandb_enabled():
            return None
        try:
            import wandb

            settings = wandb.Settings(
                console="off",
                silent=True,
                x_disable_stats=True,
                x_disable_meta=True,
                x_disable_machine_info=True,
                disable_git=True,
                save_code=False,
            )
            files_dir.mkdir(parents=True, exist_ok=True)
            run = wandb.init(
                mode="offline",
                dir=str(files_dir),
                id=run_id,
                project=os.environ.get("WANDB_PROJECT", "lexdpr"),
                group=sweep_id,
                config=dict(config),
                resume="allow" if resume else None,
                settings=settings,
                reinit="create_new",
            )
            return cls(run)
        except Exception as exc:  # W&B must never stop training
            _warn("could not start the offline W&B run", exc)
            return None

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        if self._run is None:
            return
        try:
            numbers = {k: v for k, v in metrics.items() if is_number(v) and math.isfinite(v)}
            if numbers:
                self._run.log(numbers, step=step)
            for k, v in metrics.items():
                if isinstance(v, str):
                    self._run.summary[k] = v
        except Exception as exc:
            _warn("W&B logging failed; continuing without it", exc)
            self._run = None

    def finish(self, exit_code: int) -> None:
        if self._run is None:
            return
        try:
            self._run.finish(exit_code=exit_code)
        except Exception as exc:
            _warn("could not close the W&B run", exc)
        self._run = None


def _warn(what: str, exc: Exception) -> None:
    print(f"warning: {what} ({type(exc).__name__}: {exc})", file=sys.stderr)
