"""The training progress bar (stderr): step, loss, pairs/s, elapsed and remaining time; silent when quiet."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainingProgress:
    def __init__(self, total: int, done: int, quiet: bool):
        self.quiet = quiet
        self._pairs = 0
        self._start = time.perf_counter()
        self._progress: Progress | None = None
        if not quiet:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[speed]} pairs/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task("training", total=total, completed=done, loss="-", speed="-")

    def __enter__(self) -> TrainingProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step(self, step: int, loss: float, pairs: int) -> float:
        """Record a finished step; returns the pairs/s since the bar started."""
        self._pairs += pairs
        speed = self._pairs / max(time.perf_counter() - self._start, 1e-9)
        if self._progress is not None:
            self._progress.update(
                self._task, completed=step, loss=f"{loss:.4f}", speed=f"{speed:.1f}", description="training"
            )
        return speed

    def status(self, text: str) -> None:
        """Show what happens between steps (evaluating, saving)."""
        if self._progress is not None:
            self._progress.update(self._task, description=text)
            self._progress.refresh()

    def pause_clock(self, seconds: float) -> None:
        """Exclude time spent outside training steps (evaluation) from the speed."""
        self._start += seconds

    def print(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message, highlight=False)
