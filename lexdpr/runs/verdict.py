"""The user guide's success criteria for a training, as small pure rules with reasons.

Each rule looks at the `Evidence` of one run (state, metric history, checkpoints, an optional baseline)
and the `Thresholds`, and returns an `Outcome`: pass, fail, or skip (nothing to judge, e.g. no valid/loss
when no validation pairs were given). A run passes when no rule fails. The rules, in order:

| rule | fails when |
|---|---|
| finished | the state is not `finished` (running, failed, crashed, unknown) |
| evaluated | no eval/* metric (or no eval/fingerprint) was logged after step 0 |
| checkpoint | no checkpoint was recorded, or the recorded ones are gone |
| no_nan | any logged value is NaN/inf, or the trainer stopped on a non-finite loss |
| train_converges | the smoothed train loss did not fall by `min_train_drop`, or rose to `divergence_ratio` × its low |
| no_overfitting | valid loss never fell below step 0; or rose `overfit_rise` above its low while train loss fell; or the valid − train gap grew by `gap_growth` × the low |
| beats_step0 | the best `metric` after training is not above the base model's (step 0) by `min_improvement` |
| not_abnormally_low | the best `metric` is below `min_metric`, or below the baseline (BM25) + `bm25_margin` |

Loss levels are running medians over `loss_window` logged steps (fewer on short runs), so one odd batch
neither hides nor fakes a trend. Nothing here reads files: tests feed it tables of synthetic histories.
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lexdpr.errors import ConfigError
from lexdpr.runs.baseline import Baseline
from lexdpr.runs.history import History, Series
from lexdpr.runs.run import CheckpointRef, Run

PASS, FAIL, SKIP = "pass", "fail", "skip"
TRAIN_LOSS, VALID_LOSS = "train/loss", "valid/loss"
_NON_FINITE = re.compile(r"\b(nan|inf|-inf|infinity)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Thresholds:
    """Limits of the rules; every field can be set with `--threshold key=value`."""

    metric: str = field(
        default="eval/ndcg_at_10",
        metadata={
            "help": "The metric judged against step 0, the floor and the baseline (higher is better "
            "unless its name contains 'loss')."
        },
    )
    min_improvement: float = field(
        default=0.0, metadata={"help": "The best metric must exceed its step-0 value by more than this."}
    )
    min_metric: float = field(
        default=0.05, metadata={"help": "Below this the best metric is abnormally low (a broken model)."}
    )
    bm25_margin: float = field(
        default=0.0, metadata={"help": "With a baseline: the best metric must be at least baseline + this."}
    )
    loss_window: int = field(
        default=5, metadata={"help": "Logged steps per running median of a loss (fewer on short runs)."}
    )
    min_train_drop: float = field(
        default=0.05, metadata={"help": "The train loss must end this fraction below where it started."}
    )
    divergence_ratio: float = field(
        default=1.5,
        metadata={"help": "Train loss ending above this multiple of its lowest level = diverging."},
    )
    overfit_rise: float = field(
        default=0.10,
        metadata={
            "help": "Valid loss ending this fraction above its lowest value while train loss fell "
            "= overfitting."
        },
    )
    gap_growth: float = field(
        default=0.5,
        metadata={
            "help": "The valid − train loss gap growing by more than this × the lowest valid loss "
            "after that low = overfitting."
        },
    )

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def help(cls) -> dict[str, tuple[Any, str]]:
        """{key: (default, help)} for documentation and `--help`."""
        return {f.name: (f.default, f.metadata["help"]) for f in dataclasses.fields(cls)}

    def with_overrides(self, overrides: Iterable[str] | Mapping[str, Any]) -> Thresholds:
        """A copy with `key=value` strings (or a mapping) applied; unknown keys and bad values are errors."""
        items = overrides.items() if isinstance(overrides, Mapping) else (_split(o) for o in overrides)
        types = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for key, value in items:
            if key not in types:
                raise ConfigError(f"unknown threshold {key!r}; thresholds are: {', '.join(types)}")
            changes[key] = _convert(key, value, types[key])
        result = dataclasses.replace(self, **changes)
        if result.loss_window < 1:
            raise ConfigError("threshold loss_window must be >= 1")
        return result


@dataclass(frozen=True)
class Evidence:
    """What the rules see of one run."""

    state: str
    history: History
    checkpoints: Sequence[CheckpointRef] = ()
    reason: str | None = None
    progress: str = ""
    baseline: Baseline | None = None
    # The run's config as {dotted key: value} ({} when unknown): which evaluation inputs were given.
    config: Mapping[str, Any] = field(default_factory=dict)
    # `running` and its process is not known to be gone: it may still evaluate and checkpoint.
    still_running: bool = False

    @property
    def eval_inputs(self) -> list[str]:
        """The config keys that name evaluation pairs (`data.valid_pairs`, `data.eval_pairs`) and are set."""
        return [k for k in ("data.valid_pairs", "data.eval_pairs") if self.config.get(k)]

    def going(self) -> str:
        return f"the run is still going ({self.progress or 'running'})"

    def not_yet(self, done: str) -> str:
        """Why the run has not `done` something: it is still going, or it ended (how) first."""
        if self.still_running:
            return f"it has not {done} yet: {self.going()}"
        first = (self.reason or "").strip().splitlines()[:1]
        why = f": {first[0][:160]}" if first else ""
        return f"the run ended ({self.state}{why}) before it {done}"


@dataclass(frozen=True)
class Outcome:
    rule: str
    status: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    outcomes: tuple[Outcome, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAIL]

    def outcome(self, rule: str) -> Outcome:
        return next(o for o in self.outcomes if o.rule == rule)


Rule = Callable[[Evidence, Thresholds], Outcome]


def evidence_of(run: Run, baseline: Baseline | None = None) -> Evidence:
    """Gather what the rules need from a run folder (reads its events and checks its checkpoints)."""
    return Evidence(
        state=run.state,
        history=run.history,
        checkpoints=tuple(run.checkpoints()),
        reason=run.reason,
        progress=progress_text(run),
        baseline=baseline,
        config=run.flat_config,
        still_running=run.state == "running" and not run.process_gone(),
    )


def progress_text(run: Run) -> str:
    total = run.total_steps
    return f"step {run.step} of {total}" if total else f"step {run.step}"


def judge(evidence: Evidence, thresholds: Thresholds | None = None) -> Verdict:
    """Apply every rule, in the documented order."""
    thresholds = thresholds or Thresholds()
    return Verdict(tuple(rule(evidence, thresholds) for rule in RULES))


# --- the rules ------------------------------------------------------------------------------------------


def finished(ev: Evidence, th: Thresholds) -> Outcome:
    progress = f" ({ev.progress})" if ev.progress else ""
    if ev.state == "finished":
        return Outcome("finished", PASS, f"state finished{progress}")
    if ev.state == "running":
        return Outcome("finished", FAIL, f"still running{progress}: judge it once it has finished")
    if ev.state in ("failed", "crashed"):
        why = f": {ev.reason}" if ev.reason else ""
        resumable = ev.checkpoints and not (ev.reason and _NON_FINITE.search(ev.reason))
        hint = "; running the same command again with the same out_dir resumes from its last checkpoint"
        return Outcome("finished", FAIL, f"state {ev.state}{progress}{why}{hint if resumable else ''}")
    return Outcome("finished", FAIL, f"state {ev.state!r}: wandb-metadata.json is missing or unreadable")


def evaluated(ev: Evidence, th: Thresholds) -> Outcome:
    h = ev.history
    eval_names = h.names("eval/")
    if not eval_names:
        no_inputs = bool(ev.config) and not ev.eval_inputs  # it never will evaluate
        if not no_inputs and (ev.still_running or ev.eval_inputs or ev.state in ("failed", "crashed")):
            given = f" ({', '.join(ev.eval_inputs)} given)" if ev.eval_inputs else ""
            return Outcome(
                "evaluated", FAIL, f"no eval/* metric was logged{given}: {ev.not_yet('evaluated')}"
            )
        return Outcome(
            "evaluated", FAIL, "no eval/* metric was logged: give data.valid_pairs or data.eval_pairs"
        )
    series = h.get(th.metric)
    if series is None:
        return Outcome(
            "evaluated",
            FAIL,
            f"{th.metric} was not logged (logged: {', '.join(eval_names)}); include its cut-off in "
            "trainer.k_values or judge another metric with --threshold metric=…",
        )
    if h.fingerprint is None:
        return Outcome("evaluated", FAIL, "no eval/fingerprint was logged: the results cannot be compared")
    after = [s for s in series.steps if s > 0]
    if not after:
        if ev.still_running:
            return Outcome(
                "evaluated", FAIL, f"only the base model (step 0) was evaluated so far: {ev.going()}"
            )
        return Outcome(
            "evaluated",
            FAIL,
            "only the base model (step 0) was evaluated: the run stopped before its first evaluation",
        )
    base = "" if series.at(0) is not None else "; no step-0 evaluation of the base model"
    return Outcome(
        "evaluated",
        PASS,
        f"{len(series)} evaluations (steps {series.steps[0]}–{series.steps[-1]}) of {len(eval_names)} eval "
        f"metrics on test set {h.fingerprint}{base}",
    )


def checkpoint(ev: Evidence, th: Thresholds) -> Outcome:
    if not ev.checkpoints:
        if ev.still_running:
            return Outcome(
                "checkpoint", FAIL, f"no checkpoint yet (one is saved at every evaluation): {ev.going()}"
            )
        return Outcome(
            "checkpoint",
            FAIL,
            "no checkpoint was recorded (one is saved at every evaluation; the run stopped before the first)",
        )
    present = [c for c in ev.checkpoints if c.exists]
    if present:
        shown = "; ".join(f"{c.role}: {c.path}" for c in present)
        return Outcome("checkpoint", PASS, shown)
    unknown = [c for c in ev.checkpoints if c.exists is None]
    if unknown:
        shown = "; ".join(f"{c.role}: {c.path}" for c in unknown)
        return Outcome("checkpoint", PASS, f"{shown} (written on another machine: not verified from here)")
    shown = "; ".join(f"{c.role}: {c.path}" for c in ev.checkpoints)
    return Outcome("checkpoint", FAIL, f"the recorded checkpoints are gone ({shown})")


def no_nan(ev: Evidence, th: Thresholds) -> Outcome:
    bad = []
    for name in ev.history.names():
        first = ev.history.series[name].first_non_finite()
        if first is not None:
            bad.append(f"{name} is {first[1]} at step {first[0]}")
    if ev.reason and _NON_FINITE.search(ev.reason):
        bad.insert(0, f"the trainer stopped: {ev.reason}")
    if bad:
        return Outcome(
            "no_nan", FAIL, "; ".join(bad[:4]) + (f" (and {len(bad) - 4} more)" if len(bad) > 4 else "")
        )
    return Outcome("no_nan", PASS, f"no NaN or infinite value in {len(ev.history.series)} logged series")


def train_converges(ev: Evidence, th: Thresholds) -> Outcome:
    values = _finite_values(ev.history.get(TRAIN_LOSS))
    if len(values) < 4:
        return Outcome("train_converges", SKIP, f"too few train/loss points ({len(values)}) to judge a trend")
    window = _window(len(values), th)
    levels = running_medians(values, window)
    start, end, low = levels[0], levels[-1], min(levels)
    smoothing = f"(running median of {window} steps)"
    if end > start * (1 - th.min_train_drop):
        series = ev.history.get(TRAIN_LOSS)
        peak_step, peak = max(((s, v) for s, v in series.points() if math.isfinite(v)), key=lambda p: p[1])
        spike = (
            f" after jumping to {peak:.4g} at step {peak_step}"
            if peak > th.divergence_ratio * max(start, end)
            else ""
        )
        if end > start or spike:
            hint = "the learning rate is likely too high (lower trainer.lr or raise trainer.warmup_ratio)"
        else:
            hint = "the model is not learning (check trainer.lr and the data)"
        trend = "rose" if end > start else "did not fall"
        return Outcome(
            "train_converges",
            FAIL,
            f"train loss {trend}: {start:.4g} at the start, {end:.4g} at the end {smoothing}{spike}: {hint}",
        )
    if end > low * th.divergence_ratio and end - low > 0.1 * start:
        return Outcome(
            "train_converges",
            FAIL,
            f"train loss diverged: it fell to {low:.4g}, then rose to {end:.4g} {smoothing}; lower "
            "trainer.lr or tighten trainer.gradient_clip_norm",
        )
    return Outcome("train_converges", PASS, f"train loss fell from {start:.4g} to {end:.4g} {smoothing}")


def no_overfitting(ev: Evidence, th: Thresholds) -> Outcome:
    valid = ev.history.get(VALID_LOSS)
    points = [(s, v) for s, v in valid.points() if math.isfinite(v)] if valid else []
    if len(points) < 2:
        why = (
            "no valid/loss was logged (give data.valid_pairs)" if not points else "only one valid/loss value"
        )
        return Outcome("no_overfitting", SKIP, why)
    train = ev.history.get(TRAIN_LOSS)
    window = _window(len(_finite_values(train)), th)
    (s0, v0), (s_end, v_end) = points[0], points[-1]
    s_min, v_min = min(points, key=lambda p: (p[1], p[0]))
    t_start, t_end = _train_level(train, s0, window), _train_level(train, s_end, window)
    train_fell = t_start is not None and t_end is not None and t_end < t_start * (1 - th.min_train_drop)

    if s_min == s0:
        collapse = _metric_collapse(ev, th)
        if collapse:
            why = f" and {collapse}: the learning rate is likely too high (lower trainer.lr)"
        elif train_fell:
            why = (
                f" while train loss fell from {t_start:.4g} to {t_end:.4g}: the model fits the training pairs "
                "without generalising (check that train and valid pairs are alike; lower trainer.lr)"
            )
        else:
            why = " and train loss did not fall either: the learning rate is likely too high"
        return Outcome(
            "no_overfitting",
            FAIL,
            f"valid loss never improved on step {s0}: {v0:.4g} then, {v_end:.4g} at step {s_end}{why}",
        )
    t_at_min = _train_level(train, s_min, window)
    if v_end > v_min * (1 + th.overfit_rise):
        rise = (
            f"valid loss rose {100 * (v_end / v_min - 1):.0f}% from {v_min:.4g} (step {s_min}) to {v_end:.4g}"
        )
        train_rose = t_at_min is not None and t_end is not None and t_end > t_at_min * th.divergence_ratio
        if not train_rose and t_at_min is not None and t_end is not None:
            moved = "fell" if t_end < t_at_min else "stayed"
            return Outcome(
                "no_overfitting",
                FAIL,
                f"overfitting: {rise} while train loss {moved} from {t_at_min:.4g} to {t_end:.4g}; keep "
                f"the checkpoint near step {s_min}, train fewer epochs, add data (data.multiply) or "
                "raise trainer.weight_decay",
            )
        return Outcome(
            "no_overfitting",
            FAIL,
            f"unstable: {rise} and train loss rose too; lower trainer.lr",
        )
    if t_at_min is not None and t_end is not None:
        gap_low, gap_end = v_min - t_at_min, v_end - t_end
        if gap_end - gap_low > th.gap_growth * v_min:
            return Outcome(
                "no_overfitting",
                FAIL,
                f"overfitting: the valid − train loss gap widened from {gap_low:.4g} (step {s_min}) to "
                f"{gap_end:.4g} at step {s_end}; train loss keeps falling, valid loss does not",
            )
    return Outcome(
        "no_overfitting",
        PASS,
        f"valid loss fell from {v0:.4g} (step {s0}) to {v_end:.4g} (lowest {v_min:.4g} at step {s_min})",
    )


def beats_step0(ev: Evidence, th: Thresholds) -> Outcome:
    series = ev.history.get(th.metric)
    points = [(s, v) for s, v in series.points() if math.isfinite(v)] if series else []
    if not points:
        return Outcome("beats_step0", SKIP, f"no {th.metric} to judge")
    base_step, base = points[0]
    after = [p for p in points if p[0] > base_step]
    if not after:
        return Outcome("beats_step0", SKIP, f"no evaluation after step {base_step}")
    best_step, best = best_point(after, th.metric)
    final_step, final = after[-1]
    sign = 1 if higher_is_better(th.metric) else -1
    gain = sign * (best - base)
    summary = (
        f"best {th.metric} {best:.4f} at step {best_step} vs {base:.4f} at step {base_step} "
        f"({best - base:+.4f}); final {final:.4f} at step {final_step}"
    )
    if gain > th.min_improvement:
        return Outcome("beats_step0", PASS, summary)
    return Outcome(
        "beats_step0",
        FAIL,
        f"no improvement over the base model: {summary}; the fine-tuning did not "
        "help (lr too high destroys the model, too low changes nothing)",
    )


def not_abnormally_low(ev: Evidence, th: Thresholds) -> Outcome:
    series = ev.history.get(th.metric)
    points = [(s, v) for s, v in series.points() if math.isfinite(v)] if series else []
    if not points:
        return Outcome("not_abnormally_low", SKIP, f"no {th.metric} to judge")
    trained = [p for p in points if p[0] > points[0][0]]
    if not trained:
        return Outcome("not_abnormally_low", SKIP, f"no evaluation after step {points[0][0]}")
    step, value = best_point(trained, th.metric)
    higher = higher_is_better(th.metric)
    if higher and value < th.min_metric:
        return Outcome(
            "not_abnormally_low",
            FAIL,
            f"best {th.metric} {value:.4f} (step {step}) is below the floor min_metric={th.min_metric}: "
            "the model is broken (collapsed embeddings, wrong pooling, or data that does not match)",
        )
    checks = [f"best {th.metric} {value:.4f} (step {step})" + (f" ≥ floor {th.min_metric}" if higher else "")]
    b = ev.baseline
    if b is None:
        checks.append("no baseline given (--bm25 FILE compares with BM25 on the same test set)")
    elif th.metric not in b.metrics:
        checks.append(f"the {b.name} baseline has no {th.metric}")
    else:
        ref = b.metrics[th.metric]
        if (value < ref + th.bm25_margin) if higher else (value > ref - th.bm25_margin):
            return Outcome(
                "not_abnormally_low",
                FAIL,
                f"best {th.metric} {value:.4f} (step {step}) does not beat {b.name} ({ref:.4f}"
                f"{f' + margin {th.bm25_margin}' if th.bm25_margin else ''}) on the same test set",
            )
        checks.append(f"beats {b.name} ({ref:.4f})")
    return Outcome("not_abnormally_low", PASS, "; ".join(checks))


RULES: tuple[Rule, ...] = (
    finished,
    evaluated,
    checkpoint,
    no_nan,
    train_converges,
    no_overfitting,
    beats_step0,
    not_abnormally_low,
)


# --- helpers (also used by the tables and charts) -------------------------------------------------------


def higher_is_better(metric: str) -> bool:
    return "loss" not in metric


def best_point(points: Sequence[tuple[int, float]], metric: str) -> tuple[int, float]:
    """The best (step, value); on a tie the later step, as the trainer's checkpoint rotation does."""
    sign = 1 if higher_is_better(metric) else -1
    return max(points, key=lambda p: (sign * p[1], p[0]))


def running_medians(values: Sequence[float], window: int) -> list[float]:
    window = max(1, min(window, len(values)))
    return [statistics.median(values[i : i + window]) for i in range(len(values) - window + 1)]


def _metric_collapse(ev: Evidence, th: Thresholds) -> str | None:
    """How the judged metric collapsed after step 0 (its best later value under half the step-0 value).

    Why: a run whose embeddings collapse (every passage scores the same) sits on a flat train-loss plateau
    that may end a little below or above its start, so the train loss alone cannot tell a too-high learning
    rate from memorisation; the metric falling to a fraction of the base model's can.
    """
    if not higher_is_better(th.metric):
        return None
    series = ev.history.get(th.metric)
    points = [(s, v) for s, v in series.points() if math.isfinite(v)] if series else []
    after = [p for p in points[1:] if p[0] > points[0][0]]
    if not after or points[0][1] <= 0:
        return None
    best = max(v for _, v in after)
    if best >= 0.5 * points[0][1]:
        return None
    return f"{th.metric} collapsed from {points[0][1]:.4f} at step {points[0][0]} to at most {best:.4f}"


def _window(n: int, th: Thresholds) -> int:
    return max(1, min(th.loss_window, n // 4))


def _finite_values(series: Series | None) -> list[float]:
    return [v for v in series.values if math.isfinite(v)] if series else []


def _train_level(train: Series | None, step: int, window: int) -> float | None:
    """The running median of the train loss over the `window` finite values logged up to `step`
    (the first `window` values when nothing was logged before `step`, e.g. at step 0)."""
    if train is None:
        return None
    finite = [(s, v) for s, v in train.points() if math.isfinite(v)]
    if not finite:
        return None
    upto = [v for s, v in finite if s <= step]
    chunk = upto[-window:] if upto else [v for _, v in finite[:window]]
    return statistics.median(chunk)


def _split(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"threshold {text!r} is not of the form key=value (e.g. overfit_rise=0.2)")
    return key.strip(), value.strip()


def _convert(key: str, value: Any, kind: Any) -> Any:
    kind = {"str": str, "float": float, "int": int}[kind] if isinstance(kind, str) else kind
    if kind is str:
        return str(value)
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if not math.isfinite(number) or (kind is int and not number.is_integer()):
            raise ValueError
        return int(number) if kind is int else number
    except (TypeError, ValueError):
        raise ConfigError(f"threshold {key}: {value!r} is not a valid {kind.__name__}") from None
