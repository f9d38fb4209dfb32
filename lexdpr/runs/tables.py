"""The terminal tables of `lex-dpr runs …` (rich renderables). Anything read from a run folder is passed as
`Text`, never as markup, so a bracket in a path or an error message cannot break the output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lexdpr.runs.baseline import Baseline
from lexdpr.runs.compare import Comparison, best_step, values_at
from lexdpr.runs.formatting import best_text, checkpoint_summary, fmt, setting, steps, when
from lexdpr.runs.history import metric_order
from lexdpr.runs.run import Run, describe_state
from lexdpr.runs.verdict import FAIL, PASS, Verdict

if TYPE_CHECKING:  # sweep_report draws charts: importing it loads matplotlib
    from lexdpr.runs.sweep_report import Trial

_MARK = {PASS: "[green]✓[/green]", FAIL: "[red]✗[/red]", "skip": "[dim]–[/dim]"}


def runs_table(runs: Sequence[Run], title: str, objective: str) -> Table:
    """`runs list`: newest first."""
    table = Table(title=title)
    for column in ("run", "started (UTC)", "state", "steps", f"best {objective}", "checkpoint", "sweep"):
        numeric = column in ("steps", f"best {objective}")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for run in reversed(runs):
        table.add_row(
            Text(run.run_id),
            when(run.started),
            state_markup(run),
            steps(run),
            best_text(run, objective),
            checkpoint_cell(run),
            Text(run.sweep_id or ""),
        )
    return table


def state_markup(run: Run) -> Text:
    colour = {"finished": "green", "failed": "red", "crashed": "red"}.get(run.state, "yellow")
    return Text(describe_state(run), style=colour)


def checkpoint_cell(run: Run) -> Text:
    path, present = checkpoint_summary(run)
    cell = Text(path)
    if present is False:
        cell.append(" (missing)", style="red")
    elif present is None:
        cell.append(" (elsewhere)")
    return cell


def pairs_table(rows: Sequence[tuple[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, show_header=False, box=None, title_justify="left", padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value if isinstance(value, str | Text) else Text(fmt(value)))
    return table


def checkpoints_table(run: Run) -> Table:
    table = Table(title="checkpoints", title_justify="left")
    for column in ("which", "path", "on disk"):
        table.add_column(column)
    for ref in run.checkpoints():
        where = {True: "[green]yes[/green]", False: "[red]missing[/red]", None: "not checked (other host)"}
        path = ref.path if ref.path == ref.recorded_path else f"{ref.path} (recorded as {ref.recorded_path})"
        table.add_row(ref.role, Text(path), where[ref.exists])
    if not run.checkpoints():
        table.add_row("—", "none recorded", "")
    return table


def metrics_table(run: Run, objective: str, baseline: Baseline | None) -> Table:
    h = run.history
    names = sorted(h.names("eval/"), key=metric_order) + h.names("valid/")
    best = best_step(h, objective)
    final = max((s for n in names if (series := h.get(n)) for s in series.steps), default=None)
    columns = [("step 0 (base)", 0), (f"best {objective} @{best}", best), (f"final @{final}", final)]
    table = Table(title="metrics", title_justify="left")
    table.add_column("metric")
    for header, _ in columns:
        table.add_column(header, justify="right")
    if baseline is not None:
        table.add_column(baseline.name, justify="right")
    at = {header: values_at(h, step, names) if step is not None else {} for header, step in columns}
    for name in names:
        row = [name] + [fmt(at[header].get(name)) for header, _ in columns]
        if baseline is not None:
            row.append(fmt(baseline.metrics.get(name)))
        table.add_row(*row)
    return table


def print_verdict(console: Console, run: Run, verdict: Verdict) -> None:
    head = "[bold green]PASS[/bold green]" if verdict.passed else "[bold red]FAIL[/bold red]"
    console.print(head, Text(f"run {run.run_id} ({run.location.name})"))
    table = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for outcome in verdict.outcomes:
        table.add_row(_MARK[outcome.status], outcome.rule, Text(outcome.reason))
    console.print(table)


def comparison_table(comparison: Comparison) -> Table:
    table = Table(title=f"comparison on test set {comparison.fingerprint}")
    table.add_column("metric")
    for column in comparison.columns:
        header = (
            column.header
            if column.step is None or column.kind != "run"
            else f"{column.header}\n@{column.step}"
        )
        if column.kind == "run" and column.state and column.state != "finished":
            header += f"\n({column.state})"
        table.add_column(Text(header), justify="right", style="dim" if column.kind != "run" else None)
    for metric in comparison.metrics:
        best = comparison.best_header(metric)
        cells = []
        for column in comparison.columns:
            bold = column.kind == "run" and column.header == best
            cells.append(Text(fmt(column.values.get(metric)), style="bold" if bold else ""))
        table.add_row(metric, *cells)
    return table


def _short_setting(value: Any) -> str:
    """A parameter value in a table cell: floats to 3 significant digits (`1.13e-06`, not 16 digits)."""
    return f"{value:.3g}" if isinstance(value, float) else setting(value)


def trials_table(
    trials: Sequence[Trial], params: list[str], metric: str, sweep: str, best_trial: Trial | None
) -> Table:
    table = Table(title=f"sweep {sweep}: {len(trials)} trials")
    # `trainer.lr` → `lr` where the last part is unique (as `sweep status` shows them), so the table fits
    last = [p.rsplit(".", 1)[-1] for p in params]
    headers = [short if last.count(short) == 1 else p for p, short in zip(params, last, strict=True)]
    for column in ("#", "run", "state", metric, "step", *headers):
        table.add_column(
            column, justify="right" if column in ("#", metric, "step") else "left", overflow="fold"
        )
    for t in trials:
        value = "—" if t.value is None else f"{t.value:.4f}"
        if best_trial is not None and t is best_trial:
            value = f"[bold green]{value}[/bold green]"
        table.add_row(
            str(t.number),
            Text(t.run.run_id),
            Text(describe_state(t.run)),
            value,
            "—" if t.step is None else str(t.step),
            *(Text(_short_setting(t.params.get(p))) for p in params),
        )
    return table
