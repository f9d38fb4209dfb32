"""`lex-dpr sweep trial`: the command of a Katib trial's container, and (`--stop`) its preStop hook.

A trial container runs `lex-dpr sweep trial --config /etc/lexdpr/config.yaml key=value …` and learns which
Experiment and Trial it belongs to from `LEXDPR_EXPERIMENT` and `LEXDPR_TRIAL` (the Trial's name, substituted
by Katib). It runs `lex-dpr train` with the trial's folder on the workspace PVC as out_dir, so a restarted pod
of the same Trial resumes from the newest checkpoint; then, with `LEXDPR_RUNS_S3` set, it copies the trial's
run folders to S3 (finished, failed or stopped alike); and it exits with the trainer's status, which the Job's
podFailurePolicy reads (1 and 2 mean the trial itself is wrong).

Why a preStop hook: Katib's StdOut collector rewrites the container command into
`sh -c "<command> 1>/var/log/katib/metrics.log 2>&1 && echo completed > …"`. That `sh` is the container's
PID 1, which the kubelet signals, and it passes no signal on, so a preempted or suspended trial would be
killed without its checkpoint. The pod's preStop hook (`lex-dpr sweep trial --stop`) runs before the kubelet
signals PID 1: it sends SIGTERM to this process (found through `PID_FILE` in the pod's own /tmp) and waits
until it has exited; this process passes the signal on to the trainer, which saves a checkpoint and stops.
Without the collector this process is PID 1 itself and gets the kubelet's SIGTERM directly; either way the
YAML holds no shell script.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from lexdpr.errors import ConfigError
from lexdpr.kube.trial_job import EXPERIMENT_ENV, RUNS_S3_ENV, TRIAL_ENV, trial_out_dir
from lexdpr.kube.upload import upload_tree
from lexdpr.storage import write_text

__all__ = ["EXPERIMENT_ENV", "RUNS_S3_ENV", "TRIAL_ENV", "TrialRun", "run_trial", "stop_trial"]
PID_FILE_NAME = "lexdpr-trial.pid"
#: A Kubernetes object name (RFC 1123 label): also safe as one folder name.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PRODUCT = re.compile(r"^(?P<key>[A-Za-z_][\w.]*)=(?P<factor>-?\d+)x(?P<base>-?\d+)$")


def default_pid_file() -> Path:
    """Where the running trial leaves its pid: the pod's private /tmp (TMPDIR), which the preStop hook shares."""
    return Path(os.environ.get("TMPDIR") or "/tmp") / PID_FILE_NAME


@dataclass(frozen=True)
class TrialRun:
    """One trial's command: who it is, what it trains, where its run folders go."""

    experiment: str
    trial: str
    config: str | None = None
    overrides: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    runs_s3: str | None = None
    pid_file: Path | None = None
    #: Training processes on this node, one per GPU; more than 1 runs the trainer under torchrun (DDP).
    processes: int = 1

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ConfigError(f"sweep trial: --processes must be at least 1, got {self.processes}")
        for what, env, value in (
            ("experiment", EXPERIMENT_ENV, self.experiment),
            ("trial", TRIAL_ENV, self.trial),
        ):
            if not value:
                raise ConfigError(f"sweep trial: no {what} name (set {env} or --{what})")
            if not _NAME.match(value) or len(value) > 63:
                raise ConfigError(
                    f"sweep trial: {what} name {value!r} is not a Kubernetes name (lower-case letters, digits, '-')"
                )

    @property
    def out_dir(self) -> str:
        return trial_out_dir(self.experiment, self.trial)

    def train_argv(self, env: Mapping[str, str] | None = None) -> list[str]:
        """`lex-dpr train` (the `lex-dpr` on PATH, as in the image), with the trial's folders and sweep id.

        Under torchrun when the trial has several processes on its node, or when it is one pod of a
        PyTorchJob: the Training Operator then sets `PET_NNODES`, `PET_NODE_RANK`, `PET_NPROC_PER_NODE`,
        `PET_MASTER_ADDR`/`PORT`, which torchrun reads as its own options; a single node is `--standalone`.
        """
        environ = os.environ if env is None else env
        multi_node = "PET_NNODES" in environ
        if self.processes > 1 or multi_node:
            launcher = shutil.which("torchrun")
            argv = [launcher] if launcher else [sys.executable, "-m", "torch.distributed.run"]
            if not multi_node:
                argv += ["--standalone", f"--nproc_per_node={self.processes}"]
            argv += ["-m", "lexdpr.cli"]
        else:
            program = shutil.which("lex-dpr")
            argv = [program] if program else [sys.executable, "-m", "lexdpr.cli"]
        argv += ["train", "--quiet"]
        if self.config:
            argv += ["--config", self.config]
        argv += list(self.overrides)
        argv += [resolve_product(p) for p in self.products]
        argv += [f"out_dir={self.out_dir}", f"run_dir={self.out_dir}/wandb", f"sweep_id={self.experiment}"]
        return argv


def resolve_product(text: str) -> str:
    """`key=4x16` → `key=64`: a `scale_with` parameter, multiplied here because Katib only substitutes."""
    match = _PRODUCT.match(text)
    if not match:
        raise ConfigError(
            f"sweep trial: --product {text!r} must read KEY=FACTORxBASE with integers, e.g. a=4x16"
        )
    return f"{match['key']}={int(match['factor']) * int(match['base'])}"


def run_trial(run: TrialRun, log: Callable[[str], None] | None = None) -> int:
    """Train, pass SIGTERM/SIGINT on, copy the run folders; the trainer's exit status (128+n for signal n)."""
    say = log or _stderr
    argv = run.train_argv()  # bad --product values fail here, before anything starts
    pid_file = run.pid_file or default_pid_file()
    write_text(pid_file, f"{os.getpid()}\n")
    child = subprocess.Popen(argv)
    previous = {s: signal.signal(s, _forwarder(child)) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        pid_file.unlink(missing_ok=True)
    if code < 0:
        code = 128 - code
    if run.runs_s3:
        _upload(run, say)
    return code


def _forwarder(child: subprocess.Popen[bytes]) -> Callable[[int, FrameType | None], None]:
    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    return forward


def _upload(run: TrialRun, say: Callable[[str], None]) -> None:
    """Copy `<out_dir>/wandb` to `<runs_s3>/<experiment>/<trial>/wandb`; a failure is reported, not raised."""
    folder = Path(run.out_dir) / "wandb"
    destination = f"{run.runs_s3.rstrip('/')}/{run.experiment}/{run.trial}/wandb"  # type: ignore[union-attr]
    if not folder.is_dir():
        say(f"sweep trial: {folder} does not exist; no run folder to copy to {destination}")
        return
    try:
        count = upload_tree(folder, destination)
    except Exception as exc:
        say(f"sweep trial: copying {folder} to {destination} failed: {exc}")
        return
    say(f"sweep trial: copied {count} files of {folder} to {destination}")


def stop_trial(pid_file: Path | None = None, timeout_s: float | None = None, poll_s: float = 0.2) -> int:
    """The preStop hook: SIGTERM the running trial and wait until it has exited (0), or the timeout (1)."""
    path = pid_file or default_pid_file()
    try:
        pid = int(path.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        _stderr(f"sweep trial --stop: no running trial ({path} is missing or unreadable)")
        return 0
    if not _alive(pid):
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while _alive(pid):
        if deadline is not None and time.monotonic() > deadline:
            _stderr(f"sweep trial --stop: trial process {pid} still running after {timeout_s:g} s")
            return 1
        time.sleep(poll_s)
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
