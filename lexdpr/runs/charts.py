"""Line charts of runs: train and valid loss together, every eval/* metric, learning rate and grad norm.

The charts the user guide asks people to look at. Several runs are overlaid, one colour per run. Train
loss is drawn raw (faint) and as a running mean once it is long enough to be noisy; valid loss is dashed
with markers at each evaluation; step 0 is the base model. A baseline (BM25 on the same test set) is a
horizontal grey line; a NaN/inf value is a red dotted line at its step.

Figures are plain `matplotlib.figure.Figure`s (no pyplot: nothing global, no GUI backend, safe in a
server), drawn inside a temporary style that puts a Hangul font first, so titles like `손실` render.
SVG output turns text into paths, so an HTML report shows Korean without any font on the reader's side.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lexdpr.runs.baseline import Baseline
from lexdpr.runs.fonts import HangulFont, register
from lexdpr.runs.history import History, Series, metric_order

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
SMOOTH_FROM = 30  # train-loss points from which a running mean is drawn over the raw line
STEP_LABEL = "step · 스텝"
_KOREAN = {"ndcg": "검색 순위 품질", "recall": "재현율", "mrr": "평균 역순위"}
_METRIC = re.compile(r"^eval/(ndcg|recall|mrr)_at_(\d+)$")


@dataclass(frozen=True)
class Plotted:
    """One run to draw: its legend label and its history."""

    label: str
    history: History


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    figure: Figure


Panel = tuple[str, str, Callable[[Axes], None]]


def panels(runs: Sequence[Plotted], baseline: Baseline | None = None) -> list[Panel]:
    """(key, title, draw) for every chart the runs have data for: loss, each eval metric, lr, grad norm."""
    out: list[Panel] = []
    if any(r.history.get("train/loss") or r.history.get("valid/loss") for r in runs):
        out.append(("loss", "Loss · 손실 (train 학습 / valid 검증)", lambda ax: _draw_loss(ax, runs)))
    metrics = sorted({n for r in runs for n in r.history.names("eval/")}, key=metric_order)
    for name in metrics:
        out.append((name, metric_title(name), lambda ax, n=name: _draw_metric(ax, runs, n, baseline)))
    if any(r.history.get("train/lr") for r in runs):
        out.append(("lr", "Learning rate · 학습률", lambda ax: _draw_simple(ax, runs, "train/lr")))
    if any(r.history.get("train/grad_norm") for r in runs):
        out.append(
            ("grad_norm", "Gradient norm · 기울기 크기", lambda ax: _draw_simple(ax, runs, "train/grad_norm"))
        )
    return out


def charts(runs: Sequence[Plotted], font: HangulFont | None, baseline: Baseline | None = None) -> list[Chart]:
    """One figure per panel (for the HTML report)."""
    out = []
    with chart_style(font):
        for key, title, draw in panels(runs, baseline):
            figure = Figure(figsize=(7.0, 3.8), layout="constrained")
            ax = figure.add_subplot()
            ax.set_title(title)
            draw(ax)
            out.append(Chart(key, title, figure))
    return out


def grid(
    runs: Sequence[Plotted], font: HangulFont | None, baseline: Baseline | None = None, title: str = ""
) -> Figure:
    """Every panel in one figure, three to a row (for a single PNG)."""
    with chart_style(font):
        found = panels(runs, baseline)
        columns = min(3, max(1, len(found)))
        rows = max(1, math.ceil(len(found) / columns))
        figure = Figure(figsize=(6.0 * columns, 3.6 * rows), layout="constrained")
        if title:
            figure.suptitle(title)
        for i, (key, panel_title, draw) in enumerate(found, start=1):
            ax = figure.add_subplot(rows, columns, i)
            ax.set_title(panel_title)
            ax.set_gid(key)
            draw(ax)
    return figure


@contextlib.contextmanager
def chart_style(font: HangulFont | None) -> Iterator[None]:
    """Temporary matplotlib settings: the Hangul font first (DejaVu Sans for anything it lacks)."""
    families = ([register(font)] if font else []) + ["DejaVu Sans"]
    settings = {
        "font.family": families,
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.fontsize": "small",
    }
    with rc_context(settings):
        yield


def to_png(figure: Figure, font: HangulFont | None, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    with chart_style(font):
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def to_svg(figure: Figure, font: HangulFont | None) -> str:
    """The figure as an `<svg>` element, ready to inline in HTML (no XML prolog, no creator metadata)."""
    buffer = io.StringIO()
    with chart_style(font):
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.DOTALL)


def metric_title(name: str) -> str:
    m = _METRIC.match(name)
    if not m:
        return name
    return f"{name} · {_KOREAN[m.group(1)]} @{m.group(2)}"


def color(index: int) -> str:
    return COLORS[index % len(COLORS)]


# --- drawing --------------------------------------------------------------------------------------------


def _draw_loss(ax: Axes, runs: Sequence[Plotted]) -> None:
    for i, run in enumerate(runs):
        train, valid = run.history.get("train/loss"), run.history.get("valid/loss")
        if train:
            smooth = len(train) >= SMOOTH_FROM
            ax.plot(
                train.steps,
                train.values,
                color=color(i),
                linewidth=0.8,
                alpha=0.3 if smooth else 0.9,
                label=f"_{run.label} train/loss (raw)" if smooth else f"{run.label} train/loss",
            )
            if smooth:
                ax.plot(
                    train.steps,
                    running_mean(train.values, max(5, len(train) // 25)),
                    color=color(i),
                    linewidth=1.6,
                    label=f"{run.label} train/loss",
                )
        if valid:
            ax.plot(
                valid.steps,
                valid.values,
                color=color(i),
                linestyle="--",
                marker="o",
                markersize=3.5,
                linewidth=1.4,
                label=f"{run.label} valid/loss",
            )
        _mark_non_finite(ax, run, [s for s in (train, valid) if s])
    _finish(ax, "loss")


def _draw_metric(ax: Axes, runs: Sequence[Plotted], name: str, baseline: Baseline | None) -> None:
    for i, run in enumerate(runs):
        series = run.history.get(name)
        if series:
            ax.plot(
                series.steps,
                series.values,
                color=color(i),
                marker="o",
                markersize=3.5,
                linewidth=1.4,
                label=run.label,
            )
            _mark_non_finite(ax, run, [series])
    if baseline is not None and name in baseline.metrics:
        ax.axhline(
            baseline.metrics[name],
            color="#555555",
            linestyle=":",
            linewidth=1.2,
            label=f"{baseline.name} {baseline.metrics[name]:.3f}",
        )
    _finish(ax, name.removeprefix("eval/"))


def _draw_simple(ax: Axes, runs: Sequence[Plotted], name: str) -> None:
    for i, run in enumerate(runs):
        series = run.history.get(name)
        if series:
            ax.plot(series.steps, series.values, color=color(i), linewidth=1.2, label=run.label)
            _mark_non_finite(ax, run, [series])
    _log_scale_if_wide(ax, runs, name)
    _finish(ax, name.removeprefix("train/"))


def _mark_non_finite(ax: Axes, run: Plotted, series: Sequence[Series]) -> None:
    for s in series:
        bad = s.first_non_finite()
        if bad is not None:
            ax.axvline(
                bad[0],
                color="#d62728",
                linestyle=":",
                linewidth=1.5,
                label=f"{run.label} {s.name} = {bad[1]} at step {bad[0]}",
            )


def _finish(ax: Axes, ylabel: str) -> None:
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel(ylabel)
    if any(not str(line.get_label()).startswith("_") for line in ax.get_lines()):
        ax.legend(loc="best")


def _log_scale_if_wide(ax: Axes, runs: Sequence[Plotted], name: str) -> None:
    """Log y where linear would flatten curves: always for learning rates (a run with a 64× smaller lr lies
    flat on 0 next to another on a linear axis, and a sweep's lrs are drawn log-uniform), and for grad norms
    spanning 100x. Zeros (the first warm-up step) are left out of a log axis."""
    values = [v for r in runs if (s := r.history.get(name)) for v in s.values if math.isfinite(v) and v > 0]
    wide = len(values) > 1 and max(values) / min(values) >= 100
    if (name == "train/lr" and values) or wide:
        log_scale(ax, "y")


def log_scale(ax: Axes, axis: str) -> None:
    """A log axis with plain tick labels (`0.001`, `1e-05`): the default `10^{-3}` labels are mathtext, whose
    minus sign (U+2212) is missing from Hangul fonts and would render as a box."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log", nonpositive="mask")
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))

    def minor(value: float, _: object) -> str:
        """Minor ticks get labels where major ones are too few: every one within a decade, 2× and 5× within
        two decades (else an axis may show one label at most)."""
        low, high = sorted(target.get_view_interval())
        if low <= 0 or high / low >= 100:
            return ""
        mantissa = round(value / 10 ** math.floor(math.log10(value) + 1e-9), 6)
        return f"{value:g}" if high / low < 10 or mantissa in (2.0, 5.0) else ""

    target.set_minor_formatter(FuncFormatter(minor))


def running_mean(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over up to `window` finite values (NaN where none), so the curve keeps every step."""
    out = []
    for i in range(len(values)):
        chunk = [v for v in values[max(0, i - window + 1) : i + 1] if math.isfinite(v)]
        out.append(sum(chunk) / len(chunk) if chunk else math.nan)
    return out
