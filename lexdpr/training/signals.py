"""SIGTERM / SIGINT: finish the current step, save a checkpoint, record why, and exit.

Kubernetes (and Katib) stop a pod with SIGTERM and a grace period; a user stops a run with Ctrl-C (SIGINT).
The handler only sets a flag; the training loop checks it after every optimizer step, so the checkpoint
is consistent. A second signal of the same kind raises at once (the user insists).

Run state recorded for each (docs/design.md, 'The run folder'): SIGTERM → `failed` (stopped from outside,
e.g. preempted or cancelled; resumable), SIGINT → `crashed` (interrupted by the user). Either way a
checkpoint was saved and re-running with the same out_dir resumes.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from lexdpr.errors import LexDprError

STATE_FOR_SIGNAL = {signal.SIGTERM: "failed", signal.SIGINT: "crashed"}


class TrainingInterrupted(LexDprError):
    """Raised after the checkpoint is saved; exit code 128 + signal number, as a shell reports it."""

    def __init__(self, signum: int, step: int, checkpoint: str):
        self.signum = signum
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: saved {checkpoint} at step {step}; run again to resume")


class StopFlag:
    """Installs handlers for SIGTERM/SIGINT while in a `with` block (main thread only)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in STATE_FOR_SIGNAL:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum == signum:
            raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)
        self.signum = signum

    @property
    def stop_requested(self) -> bool:
        return self.signum is not None

    @property
    def state(self) -> str:
        return STATE_FOR_SIGNAL.get(self.signum, "failed")  # type: ignore[arg-type]
