"""Early termination: the trainer's `on_evaluation` hook reports each evaluation to the sweep, which may stop it.

Contract with the trainer (`lexdpr.training.trainer.train(config, *, quiet, run_id, on_evaluation)`):
`on_evaluation(step, metrics)` is called after every evaluation; it may raise `TrialPruned`, and the
trainer then ends the run as stopped early and re-raises it. This module imports nothing heavy, so the
trial process (`run_trial`) can import `TrialPruned` at no cost.

What is reported is the sweep metric at each evaluation after training started (the untrained model's
evaluation at step 0 says nothing about the hyperparameters). The optuna step is the evaluation's
*index* (1, 2, …), like W&B's `iter`, not the optimizer step: trials of one sweep differ in batch size
and gradient accumulation, so equal optimizer steps are not equal progress, equal evaluations are
(with `trainer.eval_steps` unset an evaluation is an epoch). A resumed trial continues the numbering.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol


class TrialPruned(Exception):
    """Raised from `on_evaluation` to stop an unpromising trial; the trainer records the run as pruned."""

    def __init__(self, step: int, iteration: int, value: float):
        self.step = step
        self.iteration = iteration
        self.value = value
        super().__init__(
            f"stopped early at evaluation {iteration} (step {step}): the sweep metric was {value:.6g}"
        )


class ReportingTrial(Protocol):
    """The part of `optuna.trial.Trial` the reporter needs (tests pass a fake)."""

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...

    def set_user_attr(self, key: str, value: Any) -> None: ...


REPORTED_STEPS_ATTR = "reported_steps"


class EvaluationReporter:
    """An `on_evaluation` callback: report the sweep metric as evaluation n, ask the pruner, maybe stop.

    `previous_steps` are the optimizer steps of evaluations an earlier attempt of the same trial reported
    (a resume): they fix the numbering, and an evaluation replayed after a resume keeps its number.
    """

    def __init__(self, trial: ReportingTrial, metric: str, previous_steps: list[int] | None = None):
        self.trial = trial
        self.metric = metric
        self.steps: list[int] = sorted(previous_steps or [])

    def __call__(self, step: int, metrics: Mapping[str, Any]) -> None:
        value = metrics.get(self.metric)
        if step <= 0 or isinstance(value, bool) or not isinstance(value, int | float):
            return
        if step not in self.steps:
            self.steps = sorted([*self.steps, step])
            self.trial.set_user_attr(REPORTED_STEPS_ATTR, self.steps)
        iteration = self.steps.index(step) + 1
        value = float(value)
        self.trial.report(value if math.isfinite(value) else math.nan, iteration)
        if self.trial.should_prune():
            raise TrialPruned(step, iteration, value)


def build_pruner(early_terminate: Any) -> Any:
    """The optuna pruner for a sweep file's `early_terminate` (NopPruner when it has none)."""
    import optuna

    if early_terminate is None:
        return optuna.pruners.NopPruner()
    if early_terminate.type == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=early_terminate.min_iter,
            max_resource=early_terminate.max_iter or "auto",
            reduction_factor=early_terminate.eta,
        )
    return optuna.pruners.MedianPruner(
        n_startup_trials=early_terminate.n_startup_trials,
        n_warmup_steps=early_terminate.min_iter,
    )
