"""Early termination: the on_evaluation reporter (with a fake trial), the pruners a file asks for, and a
sweep whose bad trial is stopped from inside its trial process."""

from __future__ import annotations

import io

import optuna
import pytest
from rich.console import Console

from lexdpr.sweep import commands
from lexdpr.sweep.agent import AgentOptions
from lexdpr.sweep.engine import SweepEngine
from lexdpr.sweep.pruning import REPORTED_STEPS_ATTR, EvaluationReporter, TrialPruned, build_pruner
from lexdpr.sweep.report import trial_rows
from lexdpr.sweep.storage import resolve_url
from lexdpr.sweep.sweep_file import EarlyTerminate
from tests.sweep.conftest import FAST_HEARTBEAT


class FakeTrial:
    def __init__(self, prune_at: int | None = None):
        self.reports: list[tuple[float, int]] = []
        self.attrs: dict = {}
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.prune_at is not None and self.reports[-1][1] >= self.prune_at

    def set_user_attr(self, key, value) -> None:
        self.attrs[key] = value


def test_evaluations_are_reported_by_index_skipping_the_base_model() -> None:
    trial = FakeTrial()
    reporter = EvaluationReporter(trial, "eval/ndcg_at_10")
    reporter(0, {"eval/ndcg_at_10": 0.1})  # the untrained model: not about the hyperparameters
    reporter(120, {"eval/ndcg_at_10": 0.3, "eval/fingerprint": "x"})
    reporter(240, {"valid/loss": 1.0})  # no sweep metric in this evaluation
    reporter(360, {"eval/ndcg_at_10": 0.4})
    assert trial.reports == [(0.3, 1), (0.4, 2)]
    assert trial.attrs[REPORTED_STEPS_ATTR] == [120, 360]


def test_a_resumed_trial_continues_the_numbering() -> None:
    trial = FakeTrial()
    reporter = EvaluationReporter(trial, "eval/ndcg_at_10", previous_steps=[100, 200])
    reporter(200, {"eval/ndcg_at_10": 0.5})  # replayed after the resume: keeps its number
    reporter(300, {"eval/ndcg_at_10": 0.6})
    assert trial.reports == [(0.5, 2), (0.6, 3)]


def test_the_reporter_stops_the_trial_when_the_pruner_says_so() -> None:
    reporter = EvaluationReporter(FakeTrial(prune_at=2), "eval/ndcg_at_10")
    reporter(10, {"eval/ndcg_at_10": 0.2})
    with pytest.raises(TrialPruned, match="stopped early at evaluation 2 \\(step 20\\)") as excinfo:
        reporter(20, {"eval/ndcg_at_10": 0.1})
    assert (excinfo.value.step, excinfo.value.iteration) == (20, 2)


def test_pruners_from_the_file() -> None:
    assert isinstance(build_pruner(None), optuna.pruners.NopPruner)
    hyperband = build_pruner(EarlyTerminate("hyperband", min_iter=2, max_iter=27, eta=3))
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert (hyperband._min_resource, hyperband._max_resource, hyperband._reduction_factor) == (2, 27, 3)
    median = build_pruner(EarlyTerminate("median", min_iter=2, n_startup_trials=4))
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert (median._n_warmup_steps, median._n_startup_trials) == (2, 4)


PRUNING_SWEEP = """\
method: random
metric: {name: eval/ndcg_at_10, goal: maximize}
parameters:
  trainer.lr: {values: [1.0e-5, 1.0e-7]}
fixed: {model.bi_model: fake, trainer.epochs: 3, trainer.temperature: 0.05}
early_terminate: {type: median, min_iter: 1, n_startup_trials: 1}
"""


def test_a_bad_trial_is_stopped_early_from_its_trial_process(write_sweep, fake_runner) -> None:
    sweep_id = commands.create(
        write_sweep(PRUNING_SWEEP), run_agent=False, console=Console(file=io.StringIO())
    )
    study = SweepEngine.open(sweep_id, resolve_url(None)).study
    study.enqueue_trial({"trainer.lr": 1e-5})  # good: completes, and sets the median
    study.enqueue_trial({"trainer.lr": 1e-7})  # bad: below the median at its first evaluation
    report = commands.agent(
        sweep_id,
        runner=fake_runner,
        heartbeat=FAST_HEARTBEAT,
        console=Console(file=io.StringIO()),
        options=AgentOptions(count=2),
    )
    assert [state for _, state in report.trials] == ["complete", "pruned"]

    engine = SweepEngine.open(sweep_id, resolve_url(None))
    good, bad = engine.trials()
    assert sorted(good.intermediate_values) == [1, 2, 3]
    assert bad.intermediate_values == {1: pytest.approx(0.5 / 3)}
    rows = trial_rows(engine.spec, engine.trials())
    assert rows[1].state == "pruned"
    assert rows[1].reason.startswith("stopped early at evaluation 1 (step 3)")


def test_a_hyperband_bayes_sweep_runs(write_sweep, fake_runner) -> None:
    text = (
        PRUNING_SWEEP.replace("method: random", "method: bayes")
        .replace("{values: [1.0e-5, 1.0e-7]}", "{distribution: log_uniform_values, min: 1.0e-8, max: 1.0e-3}")
        .replace(
            "{type: median, min_iter: 1, n_startup_trials: 1}", "{type: hyperband, min_iter: 1, max_iter: 3}"
        )
    )
    sweep_id = commands.create(write_sweep(text), run_agent=False, console=Console(file=io.StringIO()))
    report = commands.agent(
        sweep_id,
        runner=fake_runner,
        heartbeat=FAST_HEARTBEAT,
        console=Console(file=io.StringIO()),
        options=AgentOptions(count=3),
    )
    assert len(report.trials) == 3 and {state for _, state in report.trials} <= {"complete", "pruned"}
