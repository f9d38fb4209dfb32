"""End to end with the real trainer and the tiny model (slow): a 3-trial bayes sweep, two agents at once, one
killed mid-trial; every trial is accounted for, the killed one resumed from its checkpoint (by the surviving
agent, or by a later one), best reported.

Run with `pytest -m slow tests/sweep/test_end_to_end.py` (about a minute on a laptop CPU).
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console

from lexdpr.sweep import commands
from lexdpr.sweep.engine import SweepEngine
from lexdpr.sweep.report import trial_rows
from lexdpr.sweep.runner import TRIAL_MODULE
from lexdpr.sweep.storage import Heartbeat, resolve_url
from tests.conftest_models import build_tiny_bert, make_dataset
from tests.sweep.conftest import agent_command, agent_env

pytestmark = pytest.mark.slow
#: Short enough to notice the killed agent soon, long enough that a busy machine never fakes a death.
HEARTBEAT = Heartbeat(interval_s=1, grace_s=6)


def sweep_file(model: Path, data: dict[str, Path]) -> str:
    return f"""\
method: bayes
metric: {{name: eval/ndcg_at_10, goal: maximize}}
parameters:
  trainer.lr: {{distribution: log_uniform_values, min: 1.0e-4, max: 3.0e-3}}
  trainer.temperature: {{distribution: uniform, min: 0.03, max: 0.1}}
  model.peft.r: {{values: [4, 8]}}
fixed:
  model.bi_model: {model}
  model.max_len: 64
  model.query_max_len: 32
  data.pairs: {data["train"]}
  data.valid_pairs: {data["valid"]}
  data.passages: {data["corpus"]}
  data.batch_size: 4
  trainer.epochs: 3
  trainer.eval_steps: 2
  trainer.valid_negatives: 8
  trainer.precision: fp32
"""


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_three_trial_sweep_with_two_agents_one_killed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    model = build_tiny_bert(project / "tiny-bert")
    data = make_dataset(project / "data")
    path = project / "sweep.yaml"
    path.write_text(sweep_file(model, data), encoding="utf-8")
    sweep_id = commands.create(path, run_agent=False, console=Console(file=io.StringIO()))
    url, out_root = resolve_url(None), project / "checkpoint" / "sweeps"

    env = agent_env(HF_HUB_OFFLINE="1", WANDB_MODE="disabled")

    def start_agent(count: int) -> subprocess.Popen:
        command = agent_command(sweep_id, url, out_root, count, TRIAL_MODULE, HEARTBEAT)
        return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)

    doomed = start_agent(1)
    time.sleep(1.0)  # let it take trial 0
    survivor = start_agent(2)  # works alongside it
    killed_dir = out_root / sweep_id / "trial-0"
    wait_for(lambda: (killed_dir / "bi_encoder" / "checkpoint-2").is_dir(), 180, "trial 0's first checkpoint")
    doomed.kill()
    killed_at = time.monotonic()
    doomed.wait(timeout=30)
    _, err = survivor.communicate(timeout=900)
    assert survivor.returncode == 0, err
    # A later agent: resumes trial 0 if the survivor has not (its heartbeat must have gone stale first).
    time.sleep(max(0.0, HEARTBEAT.grace_s + 1 - (time.monotonic() - killed_at)))
    later = start_agent(1)
    _, err = later.communicate(timeout=900)
    assert later.returncode == 0, err

    engine = SweepEngine.open(sweep_id, url)
    rows = trial_rows(engine.spec, engine.trials())
    by_number = {r.number: r for r in rows}
    assert by_number[0].state == "interrupted" and by_number[0].resumed_by is not None
    resumed = by_number[by_number[0].resumed_by]
    assert resumed.state == "complete" and resumed.resumes == 0 and resumed.out_dir == str(killed_dir)
    completed = [r for r in rows if r.state == "complete"]
    assert len(completed) == 3  # three parameter sets, each trained to the end exactly once
    assert len({tuple(sorted(r.values.items())) for r in completed}) == 3
    assert {r.state for r in rows} == {"interrupted", "complete"}

    # The resumed trial continued its run (same folder) from the checkpoint the killed agent's trial saved.
    (run,) = (killed_dir / "wandb").glob("run-*")
    metadata = json.loads((run / "wandb-metadata.json").read_text())
    assert metadata["sweep_id"] == sweep_id and metadata["state"] == "finished"
    assert metadata["resumed_from_step"] >= 2
    for r in completed:  # every trial is a normal run folder with the sweep id
        (trial_run,) = (Path(r.out_dir) / "wandb").glob("run-*")
        assert json.loads((trial_run / "wandb-metadata.json").read_text())["sweep_id"] == sweep_id

    console = Console(file=io.StringIO(), width=200)
    best = commands.best(sweep_id, export=project / "best-model", console=console)
    assert best.best and best.objective == max(r.objective for r in completed)
    output = console.file.getvalue()
    assert f"checkpoint: {best.best_checkpoint}" in output and Path(best.best_checkpoint).is_dir()
    assert (project / "best-model" / "modules.json").is_file()
