"""An agent killed mid-trial leaves the trial failed/interrupted, and a later agent resumes it from its
checkpoint, in the same folder and run; an agent stopped with SIGTERM hands its trial on at once."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from pathlib import Path

from rich.console import Console

from lexdpr.sweep import commands
from lexdpr.sweep.agent import AgentOptions
from lexdpr.sweep.engine import SweepEngine
from lexdpr.sweep.report import NO_HEARTBEAT_REASON, trial_rows
from lexdpr.sweep.storage import resolve_url
from tests.sweep.conftest import BASIC_SWEEP, FAST_HEARTBEAT, agent_command, agent_env

SLOW_SWEEP = BASIC_SWEEP.replace("trainer.epochs: 2", "trainer.epochs: 4")  # 12 steps


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def wait_for(condition, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def start_slow_agent(sweep_id: str, project: Path) -> tuple[subprocess.Popen, Path]:
    out_root = project / "checkpoint" / "sweeps"
    agent = subprocess.Popen(
        agent_command(sweep_id, resolve_url(None), out_root, 1),
        env=agent_env(FAKE_STEP_SECONDS="0.2"),
        stderr=subprocess.PIPE,
        text=True,
    )
    trial_dir = out_root / sweep_id / "trial-0"
    wait_for(
        lambda: (trial_dir / "bi_encoder" / "checkpoint-2").is_dir(), what="the trial's second checkpoint"
    )
    return agent, trial_dir


def test_killed_agent_trial_is_marked_interrupted_and_resumed_from_its_checkpoint(
    write_sweep, fake_runner, project
):
    sweep_id = commands.create(write_sweep(SLOW_SWEEP), run_agent=False, console=quiet())
    agent, trial_dir = start_slow_agent(sweep_id, project)
    agent.kill()  # SIGKILL: no chance to clean up
    agent.wait(timeout=10)
    # The trial process notices its agent is gone, saves a checkpoint and stops (it does not train on).
    wait_for(lambda: (trial_dir / "attempt-0.result.json").is_file(), what="the orphaned trial to stop")
    assert json.loads((trial_dir / "attempt-0.result.json").read_text())["state"] == "interrupted"
    checkpoint_steps = sorted(
        int(p.name.split("-")[1]) for p in (trial_dir / "bi_encoder").glob("checkpoint-*")
    )
    assert 2 <= checkpoint_steps[-1] < 12

    time.sleep(FAST_HEARTBEAT.grace_s + 1.5)  # the killed agent's heartbeat goes stale
    report = commands.agent(
        sweep_id, runner=fake_runner, heartbeat=FAST_HEARTBEAT, console=quiet(), options=AgentOptions(count=1)
    )
    assert report.trials == [(1, "complete")]

    engine = SweepEngine.open(sweep_id, resolve_url(None))
    first, second = trial_rows(engine.spec, engine.trials())
    assert (first.state, first.reason, first.resumed_by) == ("interrupted", NO_HEARTBEAT_REASON, 1)
    assert (second.state, second.resumes) == ("complete", 0)
    assert second.out_dir == str(trial_dir) and second.values == first.values
    assert engine.trials()[1].user_attrs["metrics"]["fake/resumed_from"] == checkpoint_steps[-1]
    assert len(list((trial_dir / "wandb").glob("run-*"))) == 1  # the same run folder, continued


def test_sigterm_hands_the_trial_on_at_once(write_sweep, fake_runner, project):
    sweep_id = commands.create(write_sweep(SLOW_SWEEP), run_agent=False, console=quiet())
    agent, trial_dir = start_slow_agent(sweep_id, project)
    agent.send_signal(signal.SIGTERM)
    _, err = agent.communicate(timeout=30)
    assert agent.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM; its trial 0 is queued and resumes with the next agent" in err

    engine = SweepEngine.open(sweep_id, resolve_url(None))
    (first, queued) = trial_rows(engine.spec, engine.trials())
    assert first.state == "interrupted"
    assert first.reason.startswith("interrupted: the agent was stopped (SIGTERM); SIGTERM received: saved")
    assert (queued.state, queued.resumes) == ("queued", 0)  # no need to wait for a heartbeat to go stale

    report = commands.agent(
        sweep_id, runner=fake_runner, heartbeat=FAST_HEARTBEAT, console=quiet(), options=AgentOptions(count=1)
    )
    assert report.trials == [(1, "complete")]
    resumed = SweepEngine.open(sweep_id, resolve_url(None)).trials()[1]
    assert resumed.user_attrs["out_dir"] == str(trial_dir)
    assert resumed.user_attrs["metrics"]["fake/resumed_from"] > 0
