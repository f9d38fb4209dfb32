"""Hand-made histories and run folders for the cases real tiny trainings cannot show on demand:
crashed, NaN, diverging, still running, Katib trials. Folders are written with the trainer's own
`RunFolder`, so they have exactly the layout the trainer and Katib trial pods produce."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from lexdpr.runs.history import History, parse_events
from lexdpr.tracking.run_folder import RunFolder, nest

Points = Sequence[tuple[int, float | None]]


def events_text(curves: Mapping[str, Points], strings: Mapping[int, Mapping[str, str]] | None = None) -> str:
    """JSON lines as the trainer writes them: one line per (step, group), nested by group."""
    by_step: dict[int, dict[str, Any]] = {}
    for name, points in curves.items():
        for step, value in points:
            by_step.setdefault(step, {})[name] = value
    for step, values in (strings or {}).items():
        by_step.setdefault(step, {}).update(values)
    lines = []
    for step in sorted(by_step):
        groups: dict[str, dict[str, Any]] = {}
        for name, value in by_step[step].items():
            groups.setdefault(name.split("/")[0], {})[name] = value
        for group in sorted(groups, key=lambda g: g != "train"):
            lines.append(
                json.dumps({"_step": step, "_timestamp": 1_700_000_000 + step, **nest(groups[group])})
            )
    return "".join(line + "\n" for line in lines)


def history(curves: Mapping[str, Points], fingerprint: str | None = "fp-test") -> History:
    """A parsed history; the fingerprint is logged at every step that has an eval/* value."""
    return parse_events(events_text(curves, _fingerprints(curves, fingerprint)))


def line(start: float, end: float, steps: Sequence[int]) -> list[tuple[int, float]]:
    """Values moving linearly from `start` to `end` over `steps`."""
    n = max(1, len(steps) - 1)
    return [(s, start + (end - start) * i / n) for i, s in enumerate(steps)]


def v_shape(
    start: float, low: float, end: float, steps: Sequence[int], low_at: int
) -> list[tuple[int, float]]:
    """Down from `start` to `low` at index `low_at`, then to `end`."""
    return line(start, low, steps[: low_at + 1]) + line(low, end, steps[low_at:])[1:]


def write_run(
    root: Path,
    run_id: str,
    curves: Mapping[str, Points],
    *,
    state: str = "finished",
    fingerprint: str | None = "fp-test",
    config: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    checkpoint: Path | None = None,
) -> RunFolder:
    """A run folder under `root` written through the trainer's RunFolder (metadata, config, events)."""
    config_yaml = yaml.safe_dump(dict(config or {"trainer": {"lr": 2e-5}}), sort_keys=False)
    folder = RunFolder.create(root, run_id, config_yaml, {"sweep_id": None, "program": "lex-dpr train"})
    steps = {s for points in curves.values() for s, _ in points}
    text = events_text(curves, _fingerprints(curves, fingerprint))
    (folder.path / "wandb-events.jsonl").write_text(text, encoding="utf-8")
    fields: dict[str, Any] = {
        "state": state,
        "step": max(steps, default=0),
        "total_steps": max(steps, default=0),
    }
    if checkpoint is not None:
        checkpoint.mkdir(parents=True, exist_ok=True)
        fields.update(best_checkpoint=str(checkpoint), last_checkpoint=str(checkpoint))
    fields.update(metadata or {})
    folder.update(**fields)
    return folder


def _fingerprints(curves: Mapping[str, Points], fingerprint: str | None) -> dict[int, dict[str, str]] | None:
    if fingerprint is None:
        return None
    steps = {s for n, pts in curves.items() if n.startswith("eval/") for s, _ in pts}
    return {s: {"eval/fingerprint": fingerprint} for s in steps}


def healthy_curves(steps: int = 100, every: int = 20) -> dict[str, Points]:
    """A run that learns: train and valid loss fall, the metric rises."""
    train_steps = list(range(1, steps + 1))
    evals = list(range(0, steps + 1, every))
    return {
        "train/loss": line(2.0, 0.4, train_steps),
        "train/lr": [(s, 2e-5) for s in train_steps],
        "valid/loss": line(2.5, 1.0, evals),
        "eval/ndcg_at_10": line(0.30, 0.55, evals),
        "eval/recall_at_10": line(0.40, 0.70, evals),
    }
