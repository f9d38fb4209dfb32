"""The HTML reports of `runs plot` and `sweep report`: tables, inline charts and verdicts on one page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lexdpr.runs import html_report as H
from lexdpr.runs.baseline import Baseline
from lexdpr.runs.compare import values_at
from lexdpr.runs.fonts import HangulFont
from lexdpr.runs.formatting import best_text, checkpoint_text, fmt, setting, steps, when
from lexdpr.runs.history import metric_order
from lexdpr.runs.run import Run, describe_state
from lexdpr.runs.verdict import Verdict

if TYPE_CHECKING:  # sweep_report draws charts: importing it loads matplotlib
    from lexdpr.runs.sweep_report import Trial


def runs_page(
    objective: str,
    title: str,
    runs: Sequence[Run],
    verdicts: Sequence[Verdict],
    svgs: list[tuple[str, str]],
    baseline: Baseline | None,
    warning: str,
    font: HangulFont | None,
) -> str:
    summary = H.table(
        ["run", "started (UTC)", "state", "steps", f"best {objective}", "test set", "checkpoint", "verdict"],
        [
            [
                r.run_id,
                when(r.started),
                describe_state(r),
                steps(r),
                H.Cell(best_text(r, objective), "num"),
                r.history.fingerprint or "—",
                checkpoint_text(r),
                H.Cell("PASS", "pass") if v.passed else H.Cell("FAIL", "fail"),
            ]
            for r, v in zip(runs, verdicts, strict=True)
        ],
    )
    notes = [H.paragraph(warning, "fail")] if warning else []
    if baseline is not None:
        notes.append(
            H.paragraph(
                f"{baseline.name} baseline from {baseline.source} (same test set) is the "
                "dotted grey line on the eval charts.",
                "note",
            )
        )
    sections = [H.section("Runs · 실행 목록", summary, *notes), H.section("Charts · 차트", H.charts(svgs))]
    for run, verdict in zip(runs, verdicts, strict=True):
        rows = [[o.rule, H.Cell(o.status.upper(), o.status), o.reason] for o in verdict.outcomes]
        sections.append(
            H.section(
                f"Verdict · 판정: {run.run_id} — {'PASS' if verdict.passed else 'FAIL'}",
                H.table(["rule", "result", "reason"], rows),
            )
        )
    return H.page(title, sections, font)


def sweep_page(
    title: str,
    trials: Sequence[Trial],
    params: list[str],
    metric: str,
    best_trial: Trial | None,
    svgs: list[tuple[str, str]],
    baseline: Baseline | None,
    font: HangulFont | None,
) -> str:
    rows = []
    for t in trials:
        mark = "pass" if best_trial is not None and t is best_trial else ""
        rows.append(
            [
                str(t.number),
                t.run.run_id,
                describe_state(t.run),
                H.Cell("—" if t.value is None else f"{t.value:.4f}", f"num {mark}".strip()),
                "—" if t.step is None else str(t.step),
                *(setting(t.params.get(p)) for p in params),
            ]
        )
    ranking = H.table(["#", "run", "state", metric, "step", *params], rows)
    intro = (
        f"best: trial {best_trial.number} ({best_trial.run.run_id}), {metric} = {best_trial.value:.4f} "
        f"at step {best_trial.step}"
        if best_trial is not None
        else "no trial has been evaluated yet"
    )
    names = sorted({n for t in trials for n in t.run.history.names("eval/")}, key=metric_order)
    metric_rows = []
    for t in trials:
        values = values_at(t.run.history, t.step, names) if t.step is not None else {}
        metric_rows.append([t.run.run_id, *(H.Cell(fmt(values.get(n)), "num") for n in names)])
    if baseline is not None:
        metric_rows.append([baseline.name, *(H.Cell(fmt(baseline.metrics.get(n)), "num") for n in names)])
    fingerprints = {t.run.history.fingerprint for t in trials if t.run.history.fingerprint}
    sections = [
        H.section("Trials · 시행", H.paragraph(intro), ranking),
        H.section("Charts · 차트", H.charts(svgs)),
        H.section(
            "Metrics at each trial's best step · 지표",
            H.table(["run", *names], metric_rows),
            H.paragraph(f"test set {', '.join(fingerprints) or '—'}", "note"),
        ),
    ]
    return H.page(title, sections, font)
