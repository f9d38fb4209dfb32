"""A Katib Experiment and its Trials as what `lex-dpr sweep status|best` shows: rows in config terms.

Katib stores parameter values as the strings it substituted; the Experiment's `lexdpr.io/parameters`
annotation says how to read them back (fixed-point scale, `scale_with`), so the table shows
`trainer.warmup_ratio 0.125`, not `1250`. A trial's state is its newest true condition; its metrics are reduced
the way the Experiment's `metricStrategies` say (Katib's own `status.observation` already holds min/max/latest).
Every trial's folder on the workspace PVC is shown, so its run folder and checkpoints can be found
(`lex-dpr runs …`, or `kubectl cp`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lexdpr.errors import ConfigError
from lexdpr.kube.experiment import PARAMETERS_ANNOTATION, SWEEP_ANNOTATION
from lexdpr.kube.search_space import config_value
from lexdpr.kube.trial_job import trial_out_dir

TRIAL_STATES = ("Created", "Running", "Succeeded", "Killed", "Failed", "MetricsUnavailable", "EarlyStopped")
ACTIVE_STATES = ("Created", "Running")
SUSPENDED_ANNOTATION = "lexdpr.io/suspended-at"


@dataclass(frozen=True)
class TrialRow:
    name: str
    state: str
    parameters: dict[str, Any]
    metrics: dict[str, float | None]
    started: datetime | None
    finished: datetime | None
    out_dir: str
    message: str = ""
    was_suspended: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds()
        return None


@dataclass(frozen=True)
class ExperimentSummary:
    name: str
    namespace: str
    state: str  # Created | Running | Restarting | Succeeded | Failed
    reason: str
    objective: str
    goal: str
    max_trials: int | None
    parallel_trials: int | None
    max_failed_trials: int | None
    counts: dict[str, int]
    trials: list[TrialRow] = field(default_factory=list)
    best: TrialRow | None = None

    @property
    def created(self) -> int:
        return self.counts.get("trials", 0)


def summarize(
    experiment: Mapping[str, Any], trials: list[Mapping[str, Any]], decode: bool = True
) -> ExperimentSummary:
    """Experiment + Trials (as the API returns them) → a summary; trials ordered by creation.

    `decode=False` leaves parameter values as Katib's strings (the window agent needs states and times only).
    """
    meta, spec, status = (
        experiment.get("metadata") or {},
        experiment.get("spec") or {},
        experiment.get("status") or {},
    )
    decoder = ParameterDecoder.from_experiment(experiment)
    objective = spec.get("objective") or {}
    strategies = {s["name"]: s["value"] for s in objective.get("metricStrategies") or []}
    goal = objective.get("type", "maximize")
    metric_names = [objective.get("objectiveMetricName"), *(objective.get("additionalMetricNames") or [])]
    rows = [
        _trial_row(str(meta.get("name")), t, decoder if decode else None, metric_names, strategies, goal)
        for t in sorted(trials, key=lambda t: (t.get("metadata") or {}).get("creationTimestamp") or "")
    ]
    state, reason = experiment_state(status)
    counts = {
        k: int(status.get(k, 0) or 0)
        for k in (
            "trials",
            "trialsPending",
            "trialsRunning",
            "trialsSucceeded",
            "trialsFailed",
            "trialsKilled",
            "trialsEarlyStopped",
            "trialMetricsUnavailable",
        )
    }
    best_name = (status.get("currentOptimalTrial") or {}).get("bestTrialName")
    best = next((r for r in rows if r.name == best_name), None) if best_name else None
    return ExperimentSummary(
        name=str(meta.get("name")),
        namespace=str(meta.get("namespace", "")),
        state=state,
        reason=reason,
        objective=str(objective.get("objectiveMetricName")),
        goal=goal,
        max_trials=spec.get("maxTrialCount"),
        parallel_trials=spec.get("parallelTrialCount"),
        max_failed_trials=spec.get("maxFailedTrialCount"),
        counts=counts,
        trials=rows,
        best=best or _best_by_objective(rows, str(objective.get("objectiveMetricName")), goal),
    )


def experiment_state(status: Mapping[str, Any]) -> tuple[str, str]:
    """The newest true condition of an Experiment (Katib appends conditions), with its reason."""
    conditions = [c for c in status.get("conditions") or [] if c.get("status") == "True"]
    if not conditions:
        return "Created", ""
    last = conditions[-1]
    return str(last.get("type")), str(last.get("reason", ""))


def trial_state(trial: Mapping[str, Any]) -> tuple[str, str]:
    conditions = [c for c in (trial.get("status") or {}).get("conditions") or [] if c.get("status") == "True"]
    if not conditions:
        return "Created", ""
    last = conditions[-1]
    return str(last.get("type")), str(last.get("message", ""))


class ParameterDecoder:
    """Katib's parameter strings → config values, from the `lexdpr.io/parameters` annotation."""

    def __init__(self, table: Mapping[str, Mapping[str, Any]], fixed: Mapping[str, Any]):
        self.table = table
        self.fixed = fixed
        self._converted: dict[tuple[str, str], Any] = {}  # the trainer's config code is slow to build

    @classmethod
    def from_experiment(cls, experiment: Mapping[str, Any]) -> ParameterDecoder:
        annotations = (experiment.get("metadata") or {}).get("annotations") or {}
        try:
            table = json.loads(annotations.get(PARAMETERS_ANNOTATION, "{}"))
            fixed = json.loads(annotations.get(SWEEP_ANNOTATION, "{}")).get("fixed", {})
        except ValueError:
            table, fixed = {}, {}
        return cls(table, fixed)

    def decode(self, assignments: list[Mapping[str, Any]]) -> dict[str, Any]:
        """{config key: value}; parameters of a foreign Experiment (no annotation) stay as Katib's strings."""
        raw = {a.get("name"): str(a.get("value")) for a in assignments}
        out: dict[str, Any] = {}
        scaled: list[tuple[str, str, str]] = []
        for name, value in raw.items():
            entry = self.table.get(name)
            if entry is None:
                out[str(name)] = value
                continue
            key = entry["key"]
            if entry.get("scale_with"):
                scaled.append((key, entry["scale_with"], value))
                continue
            text = f"{value}e-{entry['scale']}" if entry.get("scale") else value
            out[key] = self._convert(key, text)
        for key, base, factor in scaled:
            base_value = out.get(base, self.fixed.get(base))
            try:
                out[key] = self._convert(key, str(int(factor) * int(base_value)))
            except (TypeError, ValueError):
                out[key] = f"{factor} × {base}"
        return out

    def _convert(self, key: str, text: str) -> Any:
        if (key, text) not in self._converted:
            try:
                self._converted[key, text] = config_value(key, text)
            except ConfigError:
                self._converted[key, text] = text
        return self._converted[key, text]


def _trial_row(
    experiment: str,
    trial: Mapping[str, Any],
    decoder: ParameterDecoder | None,
    metric_names: list[Any],
    strategies: Mapping[str, str],
    goal: str,
) -> TrialRow:
    meta, spec, status = trial.get("metadata") or {}, trial.get("spec") or {}, trial.get("status") or {}
    name = str(meta.get("name"))
    state, message = trial_state(trial)
    assignments = spec.get("parameterAssignments") or []
    observed = {m.get("name"): m for m in (status.get("observation") or {}).get("metrics") or []}
    metrics: dict[str, float | None] = {}
    for metric in filter(None, metric_names):
        entry = observed.get(metric) or {}
        default = "max" if goal == "maximize" else "min"
        field_name = strategies.get(metric, default)
        metrics[metric] = _number(entry.get(field_name))
    return TrialRow(
        name=name,
        state=state,
        parameters=decoder.decode(assignments)
        if decoder
        else {a.get("name"): a.get("value") for a in assignments},
        metrics=metrics,
        started=_time(status.get("startTime")),
        finished=_time(status.get("completionTime")),
        out_dir=trial_out_dir(experiment, name),
        message=message,
        was_suspended=SUSPENDED_ANNOTATION in (meta.get("annotations") or {}),
    )


def _best_by_objective(rows: list[TrialRow], objective: str, goal: str) -> TrialRow | None:
    done = [r for r in rows if r.state == "Succeeded" and r.metrics.get(objective) is not None]
    if not done:
        return None
    pick = max if goal == "maximize" else min
    return pick(done, key=lambda r: r.metrics[objective])  # type: ignore[arg-type,return-value]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
