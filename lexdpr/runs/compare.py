"""Runs side by side: every eval metric at each run's best evaluation, with the base model and a baseline.

Only runs evaluated on the same test set are comparable (same `eval/fingerprint`), so mixed
fingerprints are refused with the groups spelled out instead of producing a table that ranks numbers
from different tests. Each run's column holds the values at its best step by the objective (the
checkpoint the trainer keeps), the step-0 (untrained) values form a column per distinct base model, and
a baseline (BM25) a column of its own. A baseline file of `lex-dpr eval --hybrid` also brings the dense
model it evaluated and the BM25 hybrid as columns, so dense, BM25 and hybrid stand side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from lexdpr.runs.baseline import Baseline, require_same_test_set
from lexdpr.runs.errors import FingerprintMismatch
from lexdpr.runs.history import History, metric_order
from lexdpr.runs.run import Run
from lexdpr.runs.verdict import best_point, higher_is_better

VALID_LOSS = "valid/loss"


@dataclass(frozen=True)
class Column:
    header: str
    values: dict[str, float]
    step: int | None = None
    kind: str = "run"  # run | base | baseline
    state: str = ""


@dataclass(frozen=True)
class Comparison:
    fingerprint: str
    objective: str
    metrics: list[str]
    columns: list[Column] = field(default_factory=list)

    def best_header(self, metric: str) -> str | None:
        """The run column with the best value of `metric` (base and baseline columns excluded)."""
        sign = 1 if higher_is_better(metric) else -1
        scored = [
            (sign * c.values[metric], c.header)
            for c in self.columns
            if c.kind == "run" and metric in c.values and math.isfinite(c.values[metric])
        ]
        return max(scored)[1] if scored else None


def require_same_fingerprint(runs: Sequence[Run]) -> str:
    """The one fingerprint all runs were evaluated with; FingerprintMismatch otherwise."""
    unevaluated = [r.run_id for r in runs if r.history.fingerprint is None]
    if unevaluated:
        raise FingerprintMismatch(
            f"run(s) {', '.join(unevaluated)} logged no eval/fingerprint (never evaluated), so nothing says "
            "which test set their numbers come from; leave them out"
        )
    mixed = [r.run_id for r in runs if len(r.history.fingerprints) > 1]
    if mixed:
        raise FingerprintMismatch(
            f"run(s) {', '.join(mixed)} logged several eval fingerprints (the test set "
            "changed during the run); their numbers cannot be compared"
        )
    groups: dict[str, list[str]] = {}
    for run in runs:
        groups.setdefault(str(run.history.fingerprint), []).append(run.run_id)
    if len(groups) > 1:
        listing = "; ".join(f"test set {fp}: {', '.join(ids)}" for fp, ids in groups.items())
        raise FingerprintMismatch(
            f"these runs were evaluated on different test sets, so their metrics cannot be compared ({listing}). "
            "Only the same eval pairs and corpus decide whether a model improved: compare runs of one group, "
            "or evaluate their checkpoints on one test set with `lex-dpr eval --model …`"
        )
    return next(iter(groups))


def compare_runs(
    runs: Sequence[Run], objective: str = "eval/ndcg_at_10", baseline: Baseline | None = None
) -> Comparison:
    fingerprint = require_same_fingerprint(runs)
    if baseline is not None:
        require_same_test_set(runs, baseline)
    metrics = sorted({n for r in runs for n in r.history.names("eval/")}, key=metric_order)
    if any(r.history.get(VALID_LOSS) for r in runs):
        metrics.append(VALID_LOSS)
    columns: list[Column] = []
    bases: dict[tuple[tuple[str, float], ...], list[Run]] = {}
    for run in runs:
        base = values_at(run.history, 0, metrics)
        if base:
            bases.setdefault(tuple(sorted(base.items())), []).append(run)
    for key, group in bases.items():
        model = str((group[0].config.get("model") or {}).get("bi_model", "")).rstrip("/").rsplit("/", 1)[-1]
        which = [model] if model else []
        if len(bases) > 1:  # different base models (or eval settings): say whose step 0 each column is
            which.append(", ".join(r.run_id for r in group))
        columns.append(Column(f"step 0 ({': '.join(which)})" if which else "step 0", dict(key), 0, "base"))
    if baseline is not None:
        columns.append(
            Column(
                baseline.name, {m: v for m, v in baseline.metrics.items() if m in metrics}, None, "baseline"
            )
        )
        for header, values in baseline.others.items():
            columns.append(
                Column(header, {m: v for m, v in values.items() if m in metrics}, None, "baseline")
            )
    for run in runs:
        step = best_step(run.history, objective)
        values = values_at(run.history, step, metrics) if step is not None else {}
        columns.append(Column(run.run_id, values, step, "run", run.state))
    return Comparison(fingerprint, objective, metrics, columns)


def best_step(history: History, objective: str) -> int | None:
    """The step of the best evaluation after step 0 (step 0 when there is no other)."""
    series = history.get(objective)
    points = [(s, v) for s, v in series.points() if math.isfinite(v)] if series else []
    if not points:
        return None
    trained = [p for p in points if p[0] > 0] or points
    return best_point(trained, objective)[0]


def values_at(history: History, step: int, metrics: Sequence[str]) -> dict[str, float]:
    out = {}
    for name in metrics:
        series = history.get(name)
        value = series.at(step) if series else None
        if value is not None:
            out[name] = value
    return out
