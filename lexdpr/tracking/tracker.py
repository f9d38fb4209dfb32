"""One object the trainer logs through: run folder events, the W&B mirror, and Katib's stdout lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lexdpr.tracking.run_folder import RunFolder
from lexdpr.tracking.stdout_metrics import MetricEcho
from lexdpr.tracking.wandb_mirror import WandbMirror


class RunTracker:
    def __init__(self, folder: RunFolder, mirror: WandbMirror | None, echo_stdout: bool = True):
        self.folder = folder
        self.mirror = mirror
        self.echo_stdout = echo_stdout
        self.echo = MetricEcho()
        self.closed = False

    @classmethod
    def open(
        cls,
        folder: RunFolder,
        config: Mapping[str, Any],
        sweep_id: str | None,
        resume: bool,
        echo_stdout: bool = True,
    ) -> RunTracker:
        mirror = WandbMirror.start(folder.files_dir, folder.run_id, config, sweep_id, resume)
        return cls(folder, mirror, echo_stdout)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        self.folder.log(step, metrics)
        if self.mirror is not None:
            self.mirror.log(step, metrics)
        if self.echo_stdout:
            self.echo.print(metrics)

    def echo_result(self, metrics: Mapping[str, Any]) -> None:
        """Print the run's result (its best checkpoint's metrics) as the last metric lines on stdout.

        Katib reduces each metric with the `latest` strategy, so these lines make the trial's value the
        metric at the best checkpoint, the model a sweep exports, as the local sweep does. `max` over every
        evaluation would also count step 0, the untrained base model, which every trial shares.
        """
        if self.echo_stdout:
            self.echo.print(metrics)

    def finish(self, state: str, **fields: Any) -> None:
        """Record the final state (finished | failed | crashed) and close W&B."""
        self.folder.update(state=state, **fields)
        self.closed = True
        if self.mirror is not None:
            self.mirror.finish(0 if state == "finished" else 1)
            self.mirror = None
