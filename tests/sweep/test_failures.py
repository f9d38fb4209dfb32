"""Trials that fail (exception, NaN, OOM, a dead process, no metric) are recorded with their reason and the
sweep goes on; parameters that keep failing are not run again; an agent whose every trial fails stops."""

from __future__ import annotations

import io
import math
from typing import Any

import optuna
import pytest
from rich.console import Console

from lexdpr.errors import LexDprError
from lexdpr.sweep import commands, run_trial
from lexdpr.sweep.agent import AgentOptions
from lexdpr.sweep.engine import SKIPPED_PREFIX, SweepEngine
from lexdpr.sweep.pruning import TrialPruned
from lexdpr.sweep.report import trial_rows
from lexdpr.sweep.runner import TrialRequest
from lexdpr.sweep.storage import resolve_url
from lexdpr.training.config import TrainConfig, config_to_dict
from tests.sweep.conftest import FAST_HEARTBEAT

MODES_SWEEP = """\
method: random
metric: {name: eval/ndcg_at_10, goal: maximize}
parameters:
  model.bi_model: {values: [fake, explode, oom, crash, nometric]}
fixed: {trainer.epochs: 1}
"""


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def test_failed_trials_are_recorded_with_their_reason_and_the_sweep_continues(
    write_sweep, fake_runner
) -> None:
    sweep_id = commands.create(write_sweep(MODES_SWEEP), run_agent=False, console=quiet())
    study = SweepEngine.open(sweep_id, resolve_url(None)).study
    for mode in ("explode", "oom", "crash", "nometric", "fake"):
        study.enqueue_trial({"model.bi_model": mode})
    report = commands.agent(
        sweep_id, runner=fake_runner, heartbeat=FAST_HEARTBEAT, console=quiet(), options=AgentOptions(count=5)
    )
    assert [state for _, state in report.trials] == ["failed"] * 4 + ["complete"]

    engine = SweepEngine.open(sweep_id, resolve_url(None))
    rows = {r.values["model.bi_model"]: r for r in trial_rows(engine.spec, engine.trials())}
    assert rows["explode"].reason == "TrainingFailed: loss is nan at step 2: training diverged"
    assert rows["oom"].reason.startswith("out of memory (OutOfMemoryError: CUDA out of memory.")
    assert rows["crash"].reason.startswith("the trial process died: killed by SIGKILL (out of memory?")
    assert rows["nometric"].reason.startswith("the trial logged no eval/ndcg_at_10")
    assert rows["fake"].state == "complete" and rows["fake"].best


class _Scripted(optuna.samplers.RandomSampler):
    """Suggests the given values of one parameter in order, then random ones."""

    def __init__(self, name: str, values: list[Any]):
        super().__init__(seed=0)
        self.name, self.values = name, list(values)

    def sample_independent(self, study, trial, param_name, param_distribution):
        if param_name == self.name and self.values:
            return self.values.pop(0)
        return super().sample_independent(study, trial, param_name, param_distribution)


def test_parameters_that_failed_twice_are_not_run_again(write_sweep, fake_runner, project) -> None:
    sweep_id = commands.create(
        write_sweep(MODES_SWEEP.replace("fake, explode, oom, crash, nometric", "explode, fake")),
        run_agent=False,
        console=quiet(),
    )
    study = SweepEngine.open(sweep_id, resolve_url(None)).study
    study.enqueue_trial({"model.bi_model": "explode"})
    study.enqueue_trial({"model.bi_model": "explode"})
    commands.agent(
        sweep_id, runner=fake_runner, heartbeat=FAST_HEARTBEAT, console=quiet(), options=AgentOptions(count=2)
    )

    engine = SweepEngine.open(sweep_id, resolve_url(None))
    engine.study.sampler = _Scripted("model.bi_model", ["explode", "explode", "explode", "fake"])
    ticket = engine.ask(project / "out")
    assert ticket is not None and ticket.params == {"model.bi_model": "fake"}
    skipped = [t for t in engine.trials() if str(t.user_attrs.get("reason", "")).startswith(SKIPPED_PREFIX)]
    assert len(skipped) == 3
    assert (
        skipped[0].user_attrs["reason"]
        == "skipped: the same parameters already failed 2 times (last: trial 1)"
    )
    assert {r.state for r in trial_rows(engine.spec, engine.trials())} == {"failed", "skipped", "running"}


def test_an_agent_whose_first_trials_all_fail_stops_and_says_why(write_sweep, fake_runner) -> None:
    text = MODES_SWEEP.replace(
        "model.bi_model: {values: [fake, explode, oom, crash, nometric]}",
        "trainer.lr: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-4}",
    )
    sweep_id = commands.create(
        write_sweep(text.replace("fixed: {", "fixed: {model.bi_model: oom, ")),
        run_agent=False,
        console=quiet(),
    )
    with pytest.raises(
        LexDprError, match="the first 5 trials of this agent all failed; the last one: out of memory"
    ):
        commands.agent(sweep_id, runner=fake_runner, heartbeat=FAST_HEARTBEAT, console=quiet())


# --- the trial process's outcome mapping, in-process ------------------------------------------------


def request(early_terminate: dict | None = None) -> TrialRequest:
    return TrialRequest(
        "s", 1, 0, "/tmp/x", config_to_dict(TrainConfig()), "eval/ndcg_at_10", early_terminate
    )


class _Result:
    def __init__(self, metrics: dict[str, Any]):
        self.best_metrics = self.final_metrics = metrics
        self.run_id, self.run_folder, self.best_checkpoint, self.last_checkpoint, self.steps = (
            "r",
            "f",
            "c",
            "c",
            3,
        )


@pytest.mark.parametrize(
    ("name", "train", "state", "reason"),
    [
        ("complete", lambda c, **k: _Result({"eval/ndcg_at_10": 0.5}), "complete", None),
        (
            "nan metric",
            lambda c, **k: _Result({"eval/ndcg_at_10": math.nan}),
            "failed",
            "eval/ndcg_at_10 is nan",
        ),
        (
            "pruned",
            lambda c, **k: (_ for _ in ()).throw(TrialPruned(30, 1, 0.1)),
            "pruned",
            "stopped early at evaluation 1 (step 30): the sweep metric was 0.1",
        ),
        (
            "ctrl-c",
            lambda c, **k: (_ for _ in ()).throw(KeyboardInterrupt()),
            "interrupted",
            "stopped by a signal",
        ),
        (
            "value error",
            lambda c, **k: (_ for _ in ()).throw(ValueError("bad\nsecond line")),
            "failed",
            "ValueError: bad",
        ),
        (
            "memory",
            lambda c, **k: (_ for _ in ()).throw(MemoryError()),
            "failed",
            "out of memory (MemoryError: )",
        ),
    ],
)
def test_outcomes(name, train, state, reason, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_trial, "train", train)
    outcome = run_trial.run(request())
    assert outcome.state == state
    assert (outcome.reason or None) == reason or (reason and outcome.reason.startswith(reason))
    if state == "complete":
        assert outcome.objective == 0.5 and outcome.best_checkpoint == "c"
