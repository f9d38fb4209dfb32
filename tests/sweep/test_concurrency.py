"""Several agents on one sweep at once — processes sharing the SQLite file, or (as on several machines) a
real PostgreSQL server — never run the same trial twice and never lose a finished one."""

from __future__ import annotations

import io
import subprocess
from collections import Counter
from pathlib import Path

from rich.console import Console

from lexdpr.sweep import commands
from lexdpr.sweep.engine import SweepEngine
from lexdpr.sweep.report import trial_rows
from lexdpr.sweep.storage import Heartbeat
from tests.sweep.conftest import BASIC_SWEEP, FAKE_TRIAL, agent_command, agent_env

#: Both agents stay alive here: a long grace keeps a loaded test machine from declaring one of them gone.
PATIENT = Heartbeat(interval_s=1, grace_s=60)

GRID_SWEEP = """\
method: grid
metric: {name: eval/ndcg_at_10, goal: maximize}
parameters:
  trainer.lr: {values: [1.0e-6, 1.0e-5, 1.0e-4]}
  trainer.temperature: {values: [0.05, 0.1]}
fixed: {model.bi_model: fake, trainer.epochs: 1}
"""


def run_agents_together(sweep_id: str, storage: str, out_root: Path, counts: list[int]) -> None:
    env = agent_env(FAKE_STEP_SECONDS="0.02")
    agents = [
        subprocess.Popen(
            agent_command(sweep_id, storage, out_root, n, FAKE_TRIAL, PATIENT),
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in counts
    ]
    for agent in agents:
        _, err = agent.communicate(timeout=120)
        assert agent.returncode == 0, err


def test_two_agents_never_run_the_same_trial(write_sweep, storage_url: str, project: Path) -> None:
    sweep_id = commands.create(
        write_sweep(BASIC_SWEEP), storage=storage_url, run_agent=False, console=Console(file=io.StringIO())
    )
    out_root = project / "trials"
    run_agents_together(sweep_id, storage_url, out_root, [4, 4])

    engine = SweepEngine.open(sweep_id, storage_url)
    trials = engine.trials()
    assert len(trials) == 8
    assert all(t.state.name == "COMPLETE" for t in trials)  # none lost
    assert len(Counter(t.user_attrs["agent_pid"] for t in trials)) == 2  # both agents worked
    assert len({t.user_attrs["out_dir"] for t in trials}) == 8
    for t in trials:  # each trial ran exactly once, in its own folder
        folder = Path(t.user_attrs["out_dir"])
        assert [p.name for p in folder.glob("attempt-*.request.json")] == [f"attempt-{t.number}.request.json"]
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 8


def test_two_agents_share_a_grid_without_repeating_a_point(
    write_sweep, storage_url: str, project: Path
) -> None:
    sweep_id = commands.create(
        write_sweep(GRID_SWEEP), storage=storage_url, run_agent=False, console=Console(file=io.StringIO())
    )
    run_agents_together(sweep_id, storage_url, project / "trials", [10, 10])

    engine = SweepEngine.open(sweep_id, storage_url)
    rows = trial_rows(engine.spec, engine.trials())
    assert [r.state for r in rows] == ["complete"] * 6
    points = Counter((r.values["trainer.lr"], r.values["trainer.temperature"]) for r in rows)
    assert len(points) == 6 and set(points.values()) == {1}
