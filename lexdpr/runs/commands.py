"""`lex-dpr runs list|show|plot|check|compare` and `lex-dpr sweep report`, as plain functions.

The CLI module only parses flags and calls these; each returns the exit code. They print to `console`
(stdout by default) and raise `LexDprError`s for anything the user can fix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from lexdpr.errors import ConfigError
from lexdpr.runs import formatting, pages, tables
from lexdpr.runs.baseline import Baseline, load_baseline, require_same_test_set
from lexdpr.runs.compare import compare_runs
from lexdpr.runs.discovery import load_runs, root_label, select_runs
from lexdpr.runs.errors import RunNotFound
from lexdpr.runs.fonts import HangulFont
from lexdpr.runs.run import Run
from lexdpr.runs.verdict import Thresholds, evidence_of, judge, progress_text
from lexdpr.storage import write_bytes

DEFAULT_PLOT = "runs-report.html"
OBJECTIVE = "eval/ndcg_at_10"
_FORMATS = (".html", ".htm", ".png", ".svg")


def list_runs(root: str | None = None, sweep: str | None = None, *, console: Console | None = None) -> int:
    """A table of the runs under `root` (None: wandb/ and checkpoint/sweeps/), newest first (only `sweep`'s
    trials if given: a sweep id or the sweep file that holds it)."""
    console = console or _stdout()
    sweep = sweep_id_of(sweep) if sweep else None
    runs = load_runs(root, sweep)
    if not runs:
        console.print(Text(f"no runs{f' of sweep {sweep}' if sweep else ''} under {root_label(root)}"))
        return 0
    title = f"runs under {root_label(root)}" + (f" (sweep {sweep})" if sweep else "")
    console.print(tables.runs_table(runs, title, OBJECTIVE))
    return 0


def show(
    root: str | None,
    run: str = "latest",
    *,
    bm25: str | None = None,
    thresholds: Thresholds | Sequence[str] | None = None,
    console: Console | None = None,
) -> int:
    """Everything about one run: state, checkpoints, step-0 / best / final metrics, config, verdict."""
    console = console or _stdout()
    (chosen,) = select_runs(root, [run])
    baseline = _baseline(bm25, [chosen])
    th = _thresholds(thresholds)
    h = chosen.history
    console.print(Text(f"run {chosen.run_id}", style="bold"), Text(chosen.location.uri))
    facts = [
        ("state", tables.state_markup(chosen) + f" ({progress_text(chosen)})"),
        ("started", f"{formatting.when(chosen.started)} UTC" + formatting.duration(chosen)),
        ("sweep", Text(chosen.sweep_id or "—")),
        ("host", Text(str(chosen.metadata.get("host", "—")))),
        ("test set", f"eval/fingerprint {h.fingerprint}" if h.fingerprint else "— (never evaluated)"),
    ]
    if chosen.reason:
        facts.insert(1, ("reason", Text(chosen.reason)))
    if h.truncated:
        facts.append(("events", "the last line is still being written (ignored)"))
    if h.skipped_lines:
        facts.append(("events", f"unreadable lines skipped: {', '.join(map(str, h.skipped_lines[:10]))}"))
    console.print(tables.pairs_table(facts))
    console.print(tables.checkpoints_table(chosen))
    console.print(tables.metrics_table(chosen, th.metric, baseline))
    config = [(key, Text(formatting.setting(value))) for key, value in sorted(chosen.flat_config.items())]
    console.print(tables.pairs_table(config, title="config (config.yaml)"))
    tables.print_verdict(console, chosen, judge(evidence_of(chosen, baseline), th))
    return 0


def plot(
    root: str | None,
    runs: Sequence[str],
    out: str = DEFAULT_PLOT,
    *,
    bm25: str | None = None,
    font: str | None = None,
    thresholds: Thresholds | Sequence[str] | None = None,
    console: Console | None = None,
) -> int:
    """Charts of one or more runs, overlaid, to a self-contained HTML page (with each run's verdict), a PNG
    or an SVG."""
    from lexdpr.runs import charts

    console = console or _stdout()
    kind = _format(out)
    chosen = select_runs(root, runs)
    baseline = _baseline(bm25, chosen)
    hangul = _font(font, console)
    plotted = [charts.Plotted(_label(r), r.history) for r in chosen]
    fingerprints = {r.history.fingerprint for r in chosen if r.history.fingerprint}
    warning = (
        "these runs were evaluated on different test sets (eval/fingerprint differs): their eval "
        "curves are not comparable"
        if len(fingerprints) > 1
        else ""
    )
    if warning:
        console.print("[yellow]warning:[/yellow]", Text(warning))
    title = "Runs · 학습 기록: " + ", ".join(r.run_id for r in chosen)
    if kind == "html":
        figures = charts.charts(plotted, hangul, baseline)
        svgs = [(c.title, charts.to_svg(c.figure, hangul)) for c in figures]
        th = _thresholds(thresholds)
        verdicts = [judge(evidence_of(r, baseline), th) for r in chosen]
        data = pages.runs_page(OBJECTIVE, title, chosen, verdicts, svgs, baseline, warning, hangul).encode(
            "utf-8"
        )
    else:
        figure = charts.grid(plotted, hangul, baseline, title=title)
        data = (
            charts.to_png(figure, hangul) if kind == "png" else charts.to_svg(figure, hangul).encode("utf-8")
        )
    write_bytes(out, data)
    console.print(Text(f"wrote {out}"))
    return 0


def check(
    root: str | None,
    runs: Sequence[str],
    *,
    thresholds: Thresholds | Sequence[str] | None = None,
    bm25: str | None = None,
    console: Console | None = None,
) -> int:
    """The guide's success criteria for each run; 0 when every run passes, 1 otherwise."""
    console = console or _stdout()
    th = _thresholds(thresholds)
    chosen = select_runs(root, runs)
    baseline = _baseline(bm25, chosen)
    verdicts = [judge(evidence_of(r, baseline), th) for r in chosen]
    for run, verdict in zip(chosen, verdicts, strict=True):
        tables.print_verdict(console, run, verdict)
    failed = sum(not v.passed for v in verdicts)
    if len(chosen) > 1:
        console.print(f"{len(chosen) - failed} of {len(chosen)} runs passed")
    return 1 if failed else 0


def compare(
    root: str | None,
    runs: Sequence[str],
    *,
    metric: str = OBJECTIVE,
    bm25: str | None = None,
    console: Console | None = None,
) -> int:
    """Metric tables side by side; refuses runs evaluated on different test sets."""
    console = console or _stdout()
    chosen = select_runs(root, runs)
    comparison = compare_runs(chosen, metric, _baseline(bm25, chosen))
    console.print(tables.comparison_table(comparison))
    console.print(
        f"values at each run's best {metric} after step 0 (the kept checkpoint); test set "
        f"{comparison.fingerprint}; bold = best run"
    )
    return 0


def sweep_report(
    root: str | None,
    sweep: str,
    out: str | None = None,
    *,
    metric: str = OBJECTIVE,
    goal: str = "maximize",
    bm25: str | None = None,
    font: str | None = None,
    console: Console | None = None,
) -> int:
    """Trials of a sweep ranked, best-so-far and parameter charts (to `out`: .html, .png or .svg)."""
    from lexdpr.runs import sweep_report as S

    console = console or _stdout()
    S.check_goal(goal)
    kind = _format(out) if out else None
    sweep = sweep_id_of(sweep)
    runs = load_runs(root, sweep)
    if not runs:
        raise RunNotFound(
            f"no runs of sweep {sweep!r} under {root_label(root)} (trials are run folders whose "
            "wandb-metadata.json has that sweep_id)"
        )
    trials = S.sweep_trials(runs, metric)
    baseline = _baseline(bm25, [t.run for t in trials if t.run.history.fingerprint])
    params = S.varying_parameters(trials)
    best = S.best_trial(trials, goal)
    console.print(tables.trials_table(trials, params, metric, sweep, best))
    if best is not None:
        console.print(
            f"best: trial {best.number} ({best.run.run_id}) {metric}={best.value:.4f} at step {best.step}"
        )
    if out and kind:
        from lexdpr.runs import charts

        hangul = _font(font, console)
        title = f"Sweep · 하이퍼파라미터 탐색 {sweep}: {len(trials)} trials"
        if kind == "html":
            svgs = [("", charts.to_svg(f, hangul)) for f in S.sweep_figures(trials, metric, goal, hangul)]
            data = pages.sweep_page(title, trials, params, metric, best, svgs, baseline, hangul).encode(
                "utf-8"
            )
        else:
            figure = S.sweep_grid(trials, metric, goal, hangul, title=title)
            data = charts.to_png(figure, hangul) if kind == "png" else charts.to_svg(figure, hangul).encode()
        write_bytes(out, data)
        console.print(Text(f"wrote {out}"))
    return 0


# --- shared pieces ---------------------------------------------------------------------------------------


def sweep_id_of(sweep: str) -> str:
    """A sweep id as given, or the `sweep_id` of the sweep file `sweep` names (`configs/sweep.yaml`)."""
    if not Path(sweep).is_file():
        return sweep
    from lexdpr.sweep.sweep_file import load_sweep_file

    spec = load_sweep_file(Path(sweep))
    if not spec.sweep_id:
        raise ConfigError(
            f"{sweep} has no sweep_id yet: create the sweep first with `lex-dpr sweep --config {sweep}`"
        )
    return spec.sweep_id


def _stdout() -> Console:
    return Console(highlight=False)


def _thresholds(value: Thresholds | Sequence[str] | None) -> Thresholds:
    if isinstance(value, Thresholds):
        return value
    return Thresholds().with_overrides(list(value or []))


def _baseline(uri: str | None, runs: Sequence[Run]) -> Baseline | None:
    if not uri:
        return None
    baseline = load_baseline(uri)
    require_same_test_set(runs, baseline)
    return baseline


def _font(explicit: str | None, console: Console) -> HangulFont | None:
    from lexdpr.runs.fonts import FONT_ENV, find_hangul_font, install_hint

    font = find_hangul_font(explicit or os.environ.get(FONT_ENV) or None)
    if font is None:
        console.print(f"[yellow]warning:[/yellow] {install_hint()}")
    return font


def _format(out: str) -> str:
    suffix = Path(str(out).rsplit("/", 1)[-1]).suffix.lower()
    if suffix not in _FORMATS:
        raise ConfigError(f"--out {out}: write .html (a self-contained report), .png or .svg")
    return "html" if suffix in (".html", ".htm") else suffix[1:]


def _label(run: Run) -> str:
    return run.run_id if run.state == "finished" else f"{run.run_id} ({run.state})"
