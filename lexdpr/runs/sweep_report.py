"""A sweep's trials from their run folders: ranking, best-so-far over trials, each parameter vs the objective.

Trials are the run folders whose metadata carries the sweep's `sweep_id` — whoever started them (the local
sweep engine or Katib trial pods) — and their parameters are read from each trial's `config.yaml`, so this
works from files alone, without the sweep database or the Katib API. The parameters shown are the dotted
keys whose values differ between trials (paths that differ per trial by construction are left out).

A trial's objective value is its best evaluation after step 0 (the checkpoint the trainer keeps); a trial
that never evaluated has none and is listed, not plotted. All trials must share one eval fingerprint.

Trials are numbered as `lex-dpr sweep status` numbers them: a local sweep's trial writes to
`<out-root>/<sweep_id>/trial-<n>/`, and that n is its number; runs not in such folders (Katib trials)
are numbered in start order from 0, as the sweep engine numbers trials.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from lexdpr.errors import ConfigError
from lexdpr.runs.charts import chart_style, color, log_scale
from lexdpr.runs.compare import best_step, require_same_fingerprint
from lexdpr.runs.fonts import HangulFont
from lexdpr.runs.run import Run

GOALS = ("maximize", "minimize")
# Keys that differ between trials without being hyper-parameters.
NOT_PARAMETERS = frozenset({"out_dir", "run_dir", "sweep_id"})
_TRIAL_FOLDER = re.compile(r"(?:^|[/\\])trial-(\d+)/?$")
# Integer parameters with at most this many distinct values are drawn as categories (batch sizes, ranks).
MAX_INT_CATEGORIES = 8


@dataclass(frozen=True)
class Trial:
    number: int
    run: Run
    value: float | None
    step: int | None
    params: dict[str, Any]


def check_goal(goal: str) -> str:
    if goal not in GOALS:
        raise ConfigError(f"goal must be one of {', '.join(GOALS)}, got {goal!r}")
    return goal


def sweep_trials(runs: Sequence[Run], objective: str) -> list[Trial]:
    """The trials with their objective value and parameters, numbered as the sweep numbers them (see the
    module docstring) and in that order."""
    evaluated = [r for r in runs if r.history.fingerprint is not None]
    if evaluated:
        require_same_fingerprint(evaluated)
    folder_numbers = [trial_folder_number(r) for r in runs]
    if None in folder_numbers or len(set(folder_numbers)) < len(runs):
        numbered = list(enumerate(runs))
    else:
        numbered = sorted(zip(folder_numbers, runs, strict=True), key=lambda p: p[0])  # type: ignore[arg-type]
    trials = []
    for number, run in numbered:
        step = best_step(run.history, objective)
        series = run.history.get(objective)
        value = series.at(step) if series is not None and step is not None and step > 0 else None
        trials.append(Trial(number, run, value, step if value is not None else None, run.flat_config))
    return trials


def trial_folder_number(run: Run) -> int | None:
    """n of the `trial-<n>` folder the run's out_dir is (a local sweep's trial), else None."""
    match = _TRIAL_FOLDER.search(str(run.flat_config.get("out_dir") or ""))
    return int(match.group(1)) if match else None


def varying_parameters(trials: Sequence[Trial]) -> list[str]:
    """Dotted keys whose value is not the same in every trial, in config order."""
    keys: dict[str, None] = {}
    for trial in trials:
        keys.update(dict.fromkeys(trial.params))
    return [
        k for k in keys if k not in NOT_PARAMETERS and len({_hashable(t.params.get(k)) for t in trials}) > 1
    ]


def best_so_far(values: Sequence[float | None], goal: str) -> list[float | None]:
    """The best value among trials 1..i for each i (None until a trial has a value)."""
    better = max if goal == "maximize" else min
    out: list[float | None] = []
    best: float | None = None
    for value in values:
        if value is not None and math.isfinite(value):
            best = value if best is None else better(best, value)
        out.append(best)
    return out


def best_trial(trials: Sequence[Trial], goal: str) -> Trial | None:
    scored = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    if not scored:
        return None
    sign = 1 if goal == "maximize" else -1
    return max(scored, key=lambda t: (sign * t.value, -t.number))  # type: ignore[operator]


def draw_best_so_far(ax: Axes, trials: Sequence[Trial], objective: str, goal: str) -> None:
    """Each trial's value as a dot and the best-so-far as a step line, by trial number."""
    ax.set_title(f"Best so far · 최고 기록 ({objective}, {goal})")
    numbers = [t.number for t in trials]
    values = [t.value if t.value is not None else math.nan for t in trials]
    ax.plot(numbers, values, linestyle="none", marker="o", color=color(0), label="trial")
    running = [v if v is not None else math.nan for v in best_so_far([t.value for t in trials], goal)]
    ax.step(numbers, running, where="post", color=color(1), linewidth=1.6, label="best so far")
    ax.set_xlabel("trial · 시행")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if numbers:  # whole trials only, even for one trial (else matplotlib ticks 0.96, 0.98, …)
        ax.set_xlim(min(numbers) - 0.5, max(numbers) + 0.5)
    ax.set_ylabel(objective)
    ax.legend(loc="best")


def draw_parameter(ax: Axes, trials: Sequence[Trial], parameter: str, objective: str, goal: str) -> None:
    """The objective against one parameter: a scatter (log x for wide positive ranges) or categories."""
    scored = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    best = best_trial(scored, goal)
    # "vs", not an arrow: Hangul fonts such as NanumGothic have no "→" and a PNG would show a gap
    ax.set_title(f"{objective} vs {parameter}")
    raw = [t.params.get(parameter) for t in scored]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
    integers = numeric and all(isinstance(v, int) for v in raw)
    if numeric and raw and not (integers and len({*raw}) <= MAX_INT_CATEGORIES):
        # a continuous value (lr, temperature): a numeric axis with readable ticks, log when wide
        xs = [float(v) for v in raw]  # type: ignore[arg-type]
        if min(xs) > 0 and max(xs) / min(xs) >= 20:
            log_scale(ax, "x")
        else:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
        if len(set(xs)) == 1:  # one value: ticks at it, not at fractions around it
            ax.set_xticks([xs[0]])
    else:
        categories = sorted({_label(v) for v in raw}, key=_category_key)
        xs = [float(categories.index(_label(v))) for v in raw]
        ax.set_xticks(range(len(categories)), categories)
        ax.set_xlim(-0.5, len(categories) - 0.5)
    ax.scatter(xs, [t.value for t in scored], color=color(0), label="trial", zorder=2)
    if best is not None:
        i = scored.index(best)
        ax.scatter(
            [xs[i]],
            [best.value],
            color=color(1),
            marker="*",
            s=160,
            zorder=3,
            label=f"best (trial {best.number})",
        )
    ax.set_xlabel(parameter)
    ax.set_ylabel(objective)
    if scored:
        ax.legend(loc="best")


def sweep_figures(
    trials: Sequence[Trial], objective: str, goal: str, font: HangulFont | None
) -> list[Figure]:
    """Best-so-far, then one chart per varying parameter (for the HTML report)."""
    figures = []
    with chart_style(font):
        for draw in _drawers(trials, objective, goal):
            figure = Figure(figsize=(6.4, 3.8), layout="constrained")
            draw(figure.add_subplot())
            figures.append(figure)
    return figures


def sweep_grid(
    trials: Sequence[Trial], objective: str, goal: str, font: HangulFont | None, title: str = ""
) -> Figure:
    """The same charts in one figure, three to a row (for a single PNG)."""
    with chart_style(font):
        drawers = _drawers(trials, objective, goal)
        columns = min(3, len(drawers))
        rows = math.ceil(len(drawers) / columns)
        figure = Figure(figsize=(6.0 * columns, 3.8 * rows), layout="constrained")
        if title:
            figure.suptitle(title)
        for i, draw in enumerate(drawers, start=1):
            draw(figure.add_subplot(rows, columns, i))
    return figure


def _drawers(trials: Sequence[Trial], objective: str, goal: str) -> list[Callable[[Axes], None]]:
    drawers: list[Callable[[Axes], None]] = [lambda ax: draw_best_so_far(ax, trials, objective, goal)]
    for parameter in varying_parameters(trials):
        drawers.append(lambda ax, p=parameter: draw_parameter(ax, trials, p, objective, goal))
    return drawers


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _label(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(_label, value))
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _category_key(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
