"""What a sweep has done, for people: one row per trial, the status table, and the best trial.

Rows are built from optuna's trials plus what the agents recorded (`reason`, `values`, checkpoints), so
they read in the sweep's terms: a failed trial whose agent vanished is *interrupted* (and says which
trial resumes it), a queued resumption says which trial it continues, and the best trial is marked.

Ranking refuses to mix evaluation data (docs/design.md, 'Metrics'): if completed trials carry different
`eval/fingerprint`s there is no best trial until the user decides which data counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from optuna.trial import FrozenTrial, TrialState
from rich.table import Table
from rich.text import Text

from lexdpr.errors import LexDprError
from lexdpr.sweep.engine import FAILED_TRIAL_ATTR, RETRY_HISTORY_ATTR, SKIPPED_PREFIX, is_interruption
from lexdpr.sweep.space import swept_values
from lexdpr.sweep.sweep_file import SweepSpec

NO_HEARTBEAT_REASON = "interrupted: its agent stopped sending heartbeats (killed, or its machine went away)"
_STATE_STYLE = {
    "complete": "green",
    "pruned": "yellow",
    "failed": "red",
    "interrupted": "magenta",
    "running": "cyan",
    "queued": "cyan",
    "skipped": "dim",
}


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str  # complete | pruned | failed | interrupted | skipped | running | queued
    objective: float | None
    values: dict[str, Any]
    duration_s: float | None
    reason: str | None
    resumes: int | None
    resumed_by: int | None
    host: str | None
    out_dir: str | None
    run_folder: str | None
    best_checkpoint: str | None
    fingerprint: str | None
    best: bool = False


def trial_rows(spec: SweepSpec, trials: list[FrozenTrial], now: datetime | None = None) -> list[TrialRow]:
    """One row per trial, oldest first, with the best completed trial marked."""
    now = now or datetime.now()
    # Each attempt → the attempt that resumed it (the last entry of a resumption's retry history).
    resumed_by = {
        t.system_attrs[RETRY_HISTORY_ATTR][-1]: t.number
        for t in trials
        if t.system_attrs.get(RETRY_HISTORY_ATTR)
    }
    rows = [_row(spec, t, now, resumed_by.get(t.number)) for t in sorted(trials, key=lambda t: t.number)]
    best = best_row(rows, spec)
    if best is None:
        return rows
    return [TrialRow(**{**r.__dict__, "best": r.number == best.number}) for r in rows]


def best_row(rows: list[TrialRow], spec: SweepSpec) -> TrialRow | None:
    """The completed trial with the best objective (earliest on a tie); refuses mixed fingerprints."""
    done = [
        r for r in rows if r.state == "complete" and r.objective is not None and math.isfinite(r.objective)
    ]
    fingerprints = {r.fingerprint for r in done if r.fingerprint}
    if len(fingerprints) > 1:
        listing = ", ".join(sorted(fingerprints))
        raise LexDprError(
            f"trials were evaluated on different data (eval/fingerprint {listing}); they cannot be "
            "ranked together"
        )
    if not done:
        return None
    sign = -1.0 if spec.metric.maximize else 1.0
    return min(done, key=lambda r: (sign * float(r.objective), r.number))  # type: ignore[arg-type]


def summary_line(sweep_id: str, spec: SweepSpec, rows: list[TrialRow]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    parts = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no trials yet"
    best = next((r for r in rows if r.best), None)
    best_text = f"; best: trial {best.number} with {spec.metric.name} = {best.objective:.6g}" if best else ""
    return (
        f"sweep {sweep_id} ({spec.method}, {spec.metric.goal} {spec.metric.name}): "
        f"{len(rows)} trials — {parts}{best_text}"
    )


def status_table(spec: SweepSpec, rows: list[TrialRow]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    table.add_column("trial", justify="right", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column(spec.metric.name, justify="right", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("parameters")
    table.add_column("note")
    short = short_names(list(spec.swept))
    for r in rows:
        number = Text(f"★ {r.number}" if r.best else str(r.number), style="bold" if r.best else "")
        objective = f"{r.objective:.4f}" if r.objective is not None else ""
        params = ", ".join(f"{short[k]}={format_value(v)}" for k, v in r.values.items())
        table.add_row(
            number,
            Text(r.state, style=_STATE_STYLE.get(r.state, "")),
            objective,
            format_duration(r.duration_s),
            params,
            _note(r),
        )
    return table


def short_names(keys: list[str]) -> dict[str, str]:
    """`trainer.lr` → `lr`, unless two keys end alike (then the full key)."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{s:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


# --- rows ---------------------------------------------------------------------------------------------


def _row(spec: SweepSpec, t: FrozenTrial, now: datetime, resumed_by: int | None) -> TrialRow:
    attrs = t.user_attrs
    reason = attrs.get("reason")
    state = _state(t)
    if state == "interrupted" and reason is None:
        reason = NO_HEARTBEAT_REASON
    values = attrs.get("values")
    if not isinstance(values, dict):
        try:
            values = swept_values(spec, t.params)
        except KeyError:  # a trial skipped before all its parameters were drawn
            values = dict(t.params)
    return TrialRow(
        number=t.number,
        state=state,
        objective=t.value if state == "complete" else None,
        values=values,
        duration_s=_duration(t, now),
        reason=reason,
        resumes=t.system_attrs.get(FAILED_TRIAL_ATTR),
        resumed_by=resumed_by,
        host=attrs.get("host"),
        out_dir=attrs.get("out_dir"),
        run_folder=attrs.get("run_folder"),
        best_checkpoint=attrs.get("best_checkpoint"),
        fingerprint=attrs.get("fingerprint"),
    )


def _state(t: FrozenTrial) -> str:
    if t.state == TrialState.COMPLETE:
        return "complete"
    if t.state == TrialState.PRUNED:
        return "pruned"
    if t.state == TrialState.RUNNING:
        return "running"
    if t.state == TrialState.WAITING:
        return "queued"
    if str(t.user_attrs.get("reason", "")).startswith(SKIPPED_PREFIX):
        return "skipped"
    return "interrupted" if is_interruption(t) else "failed"


def _duration(t: FrozenTrial, now: datetime) -> float | None:
    if t.datetime_start is None:
        return None
    end = t.datetime_complete or (now if t.state == TrialState.RUNNING else None)
    return (end - t.datetime_start).total_seconds() if end else None


def _note(r: TrialRow) -> str:
    parts = []
    if r.resumes is not None:
        parts.append(f"resumes trial {r.resumes}")
    if r.reason:
        parts.append(_clip(r.reason.splitlines()[0], 90))
    if r.resumed_by is not None:
        parts.append(f"resumed by trial {r.resumed_by}")
    if r.state == "running" and r.host:
        parts.append(f"on {r.host}")
    return "; ".join(parts)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
