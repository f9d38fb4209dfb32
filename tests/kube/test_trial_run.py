"""`lex-dpr sweep trial` itself: names, scale_with products, signals when it is the container's main process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lexdpr.errors import ConfigError
from lexdpr.kube.trial_run import TrialRun, resolve_product, stop_trial
from tests.kube.trial_runner import fake_trainer


def test_products_are_multiplied() -> None:
    assert resolve_product("model.peft.alpha=4x16") == "model.peft.alpha=64"
    for bad in ("model.peft.alpha=4*16", "alpha=0.5x16", "=4x16", "alpha=4x"):
        with pytest.raises(ConfigError, match="KEY=FACTORxBASE"):
            resolve_product(bad)


@pytest.mark.parametrize(("experiment", "trial"), [("", "t-1"), ("exp", ""), ("Exp", "t-1"), ("exp", "../t")])
def test_names_must_be_kubernetes_names(experiment: str, trial: str) -> None:
    with pytest.raises(ConfigError, match="sweep trial"):
        TrialRun(experiment, trial)


def test_train_command_gets_the_trials_folders() -> None:
    run = TrialRun("lexdpr-sweep", "lexdpr-sweep-abc", config="/etc/c.yaml", overrides=("trainer.lr=0.1",))
    argv = run.train_argv()
    assert argv[-6:] == [
        "--config",
        "/etc/c.yaml",
        "trainer.lr=0.1",
        "out_dir=sweeps/lexdpr-sweep/lexdpr-sweep-abc",
        "run_dir=sweeps/lexdpr-sweep/lexdpr-sweep-abc/wandb",
        "sweep_id=lexdpr-sweep",
    ]


def test_stop_without_a_running_trial_is_no_error(tmp_path: Path) -> None:
    assert stop_trial(tmp_path / "none.pid") == 0


def test_sigterm_to_the_trial_command_reaches_the_trainer(tmp_path: Path) -> None:
    """Without Katib's collector, `lex-dpr sweep trial` is the container's main process and gets the signal."""
    bin_dir = fake_trainer(tmp_path)
    log = tmp_path / "fake.log"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        "TMPDIR": str(tmp_path),
        "FAKE_MODE": "wait",
        "FAKE_OUT": str(log),
        "LEXDPR_EXPERIMENT": "exp",
        "LEXDPR_TRIAL": "exp-abc",
    }
    trial = subprocess.Popen(
        [str(bin_dir / "lex-dpr"), "sweep", "trial", "trainer.lr=0.1"], cwd=tmp_path, env=env
    )
    pid_file = tmp_path / "lexdpr-trial.pid"
    deadline = time.monotonic() + 30
    while not (log.exists() and "started" in log.read_text(encoding="utf-8")):
        assert time.monotonic() < deadline and trial.poll() is None
        time.sleep(0.05)
    assert int(pid_file.read_text(encoding="utf-8")) == trial.pid
    trial.send_signal(signal.SIGTERM)
    assert trial.wait(timeout=20) == 143
    assert log.read_text(encoding="utf-8").splitlines()[-1] == "TERM"
    assert "out_dir=sweeps/exp/exp-abc" in log.read_text(encoding="utf-8")
    assert not pid_file.exists()


def test_several_processes_run_under_torchrun_on_one_node() -> None:
    argv = TrialRun("exp", "exp-abc", processes=4).train_argv(env={})
    assert Path(argv[0]).name == "torchrun" or argv[1:3] == ["-m", "torch.distributed.run"]
    assert "--standalone" in argv and "--nproc_per_node=4" in argv
    module = argv.index("lexdpr.cli")
    assert argv[module - 1] == "-m" and argv[module + 1] == "train"


def test_a_pytorchjob_pod_leaves_the_topology_to_the_training_operator() -> None:
    """In a PyTorchJob the operator sets PET_NNODES, PET_NODE_RANK, … which torchrun reads itself."""
    argv = TrialRun("exp", "exp-abc", processes=4).train_argv(env={"PET_NNODES": "2", "PET_NODE_RANK": "1"})
    assert "--standalone" not in argv and not any(a.startswith("--nproc_per_node") for a in argv)
    assert argv[argv.index("lexdpr.cli") + 1] == "train"


def test_one_process_needs_no_launcher() -> None:
    argv = TrialRun("exp", "exp-abc").train_argv(env={})
    assert "--standalone" not in argv and "train" in argv
    with pytest.raises(ConfigError, match="processes"):
        TrialRun("exp", "exp-abc", processes=0)
