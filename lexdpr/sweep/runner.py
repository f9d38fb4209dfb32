"""Running one trial: what the agent asks for (`TrialRequest`), what comes back (`TrialOutcome`), and the
default runner, which trains in a child process.

Why a child process: a trial may die in ways no `try` survives — the out-of-memory killer, a CUDA abort, a
segfault in a tokenizer — and the agent must outlive it to record why and go on with the next trial.
The child (`python -m lexdpr.sweep.run_trial REQUEST`) writes its outcome as JSON; if it dies without one,
its exit status and the end of its log are the reason. The child runs in its own session, so a Ctrl-C
in the agent's terminal reaches the agent only; the agent then stops the child with SIGTERM (the trainer
saves a checkpoint) and records the trial as interrupted. If the agent itself is killed, the child gets
SIGTERM too (see `run_trial`), so no orphan trains on unobserved.

Files of one attempt sit in the trial's folder: `attempt-<n>.request.json`, `attempt-<n>.result.json`
and `attempt-<n>.log` (the trainer's output), n being the optuna trial number of that attempt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

#: The child reads the storage URL from here, never from a file (it may hold a password).
STORAGE_URL_ENV = "LEXDPR_SWEEP_STORAGE_URL"
#: The agent's pid: the child stops itself when its parent is no longer this process.
PARENT_PID_ENV = "LEXDPR_SWEEP_AGENT_PID"
#: What the child runs with `python -m`; its `main` takes REQUEST RESULT.
TRIAL_MODULE = "lexdpr.sweep.run_trial"
OUTCOME_STATES = ("complete", "pruned", "failed", "interrupted")
_LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class TrialRequest:
    """Everything a trial process needs, as plain data (it travels as JSON)."""

    sweep_id: str
    trial_id: int
    trial_number: int
    out_dir: str
    config: dict[str, Any]
    metric: str
    early_terminate: dict[str, Any] | None = None  # the sweep file's, to build the same pruner in the child

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TrialRequest:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended. `objective` is set for `complete`; `reason` for everything else."""

    state: str
    objective: float | None = None
    reason: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    run_folder: str | None = None
    best_checkpoint: str | None = None
    last_checkpoint: str | None = None
    steps: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, allow_nan=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TrialOutcome:
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class RunningTrial(Protocol):
    """A trial in progress, as the agent handles it while it heartbeats."""

    def wait(self, timeout_s: float) -> TrialOutcome | None:
        """The outcome once the trial has ended, or None if it is still running after `timeout_s`."""
        ...

    def stop(self) -> None:
        """Ask the trial to stop soon (save a checkpoint and exit)."""
        ...


class TrialRunner(Protocol):
    def start(self, request: TrialRequest, storage_url: str) -> RunningTrial: ...


class SubprocessTrialRunner:
    """Runs each trial as `python -m lexdpr.sweep.run_trial` (see the module docstring).

    `trial_module` is the module the child runs: `lexdpr.sweep.run_trial`, or a module that calls its `main`
    after replacing `run_trial.train` (the sweep tests' fake trainer, which takes milliseconds).
    `env` adds to the child's environment (e.g. PYTHONPATH, CUDA_VISIBLE_DEVICES).
    """

    def __init__(
        self,
        trial_module: str = TRIAL_MODULE,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
    ):
        self.trial_module = trial_module
        self.python = python
        self.env = dict(env or {})

    def start(self, request: TrialRequest, storage_url: str) -> SubprocessTrial:
        folder = Path(request.out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"attempt-{request.trial_number}"
        request_path, result_path, log_path = (
            stem.with_suffix(".request.json"),
            stem.with_suffix(".result.json"),
            stem.with_suffix(".log"),
        )
        result_path.unlink(missing_ok=True)
        request_path.write_text(request.to_json(), encoding="utf-8")
        env = {
            **os.environ,
            **self.env,
            STORAGE_URL_ENV: storage_url,
            PARENT_PID_ENV: str(os.getpid()),
            "PYTHONUNBUFFERED": "1",
        }
        log = open(log_path, "ab")  # noqa: SIM115 - the child writes to it for as long as it runs
        try:
            process = subprocess.Popen(
                [self.python, "-m", self.trial_module, str(request_path), str(result_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        finally:
            log.close()
        return SubprocessTrial(process, result_path, log_path)


class SubprocessTrial:
    """A trial child process."""

    def __init__(self, process: subprocess.Popen[bytes], result_path: Path, log_path: Path):
        self.process = process
        self.result_path = result_path
        self.log_path = log_path
        self.stop_requested = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout_s: float) -> TrialOutcome | None:
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
        return self._outcome(code)

    def stop(self) -> None:
        """SIGTERM: the trainer finishes its step, saves a checkpoint and exits; a second stop insists."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.stop_requested = True

    def _outcome(self, code: int) -> TrialOutcome:
        if self.result_path.is_file():
            try:
                return TrialOutcome.from_json(self.result_path.read_text(encoding="utf-8"))
            except (ValueError, TypeError):
                pass  # a half-written result: fall through to the exit status
        if self.stop_requested or code in (-signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM):
            return TrialOutcome("interrupted", reason=f"the trial process was stopped ({_exit_text(code)})")
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if code == -signal.SIGKILL else ""
        return TrialOutcome(
            "failed",
            reason=f"the trial process died: {_exit_text(code)}{hint}; last lines of {self.log_path}:\n"
            + self.log_tail(),
        )

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-_LOG_TAIL_LINES:]) or "(empty log)"


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
