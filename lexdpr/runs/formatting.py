"""Numbers, settings, times and paths as people read them, shared by the terminal tables and HTML pages."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from typing import Any

from lexdpr.runs.run import Run, format_duration
from lexdpr.runs.verdict import best_point
from lexdpr.storage import is_s3


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def duration(run: Run) -> str:
    start, end = run.started, run.last_activity
    return f", ran {format_duration((end - start).total_seconds())}" if start and end else ""


def steps(run: Run) -> str:
    return f"{run.step}/{run.total_steps}" if run.total_steps else str(run.step)


def best_text(run: Run, metric: str) -> str:
    """`0.8486 @17`: the best value after step 0 (the kept checkpoint) and its step."""
    series = run.history.get(metric)
    points = [(s, v) for s, v in series.points() if math.isfinite(v)] if series else []
    if not points:
        return "—"
    trained = [p for p in points if p[0] > 0] or points
    step, value = best_point(trained, metric)
    return f"{value:.4f} @{step}"


def short(path: str) -> str:
    if is_s3(path):
        return path
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def setting(value: Any) -> str:
    """A config value as written in YAML or on a command line (`2e-05`, `[1, 3, 5, 10]`, `—` for null)."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None else str(value)


def fmt(value: Any) -> str:
    """A metric value with four decimals (`nan`/`inf` as such, `—` for none)."""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None else str(value)


def checkpoint_summary(run: Run) -> tuple[str, bool | None]:
    """The best checkpoint (else the last), relative to here when below here, and whether it is on disk
    (None: on another machine)."""
    refs = run.checkpoints()
    if not refs:
        return "—", True
    ref = next((r for r in refs if "best" in r.role), refs[0])
    return short(ref.path), ref.exists


def checkpoint_text(run: Run) -> str:
    path, present = checkpoint_summary(run)
    return path + {False: " (missing)", None: " (elsewhere)"}.get(present, "")
