"""One run folder read back: metadata, resolved config, metric history and checkpoint paths.

The folder may be local, on a mounted PVC, or under an `s3://` prefix (Katib trial pods write there), so
everything goes through `lexdpr.storage`. Metadata is read at once (it is small and every listing needs
it); the config and the event history are read on first use, so `runs list` over an S3 prefix of many
trials does not download every events file twice.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from lexdpr.errors import StorageError
from lexdpr.runs.history import History, parse_events
from lexdpr.storage import exists, is_s3, join, read_text
from lexdpr.tracking.run_folder import CONFIG, EVENTS, METADATA

RUN_NAME = re.compile(r"^run-(\d{8}_\d{6})-(.+)$")
# How long a `running` run may stay silent before `runs list` calls it stale (eval of a big corpus and
# checkpoint saves log nothing for minutes; an OOM-killed pod never updates its state again).
STALE_AFTER_S = 3600.0


@dataclass(frozen=True)
class RunLocation:
    """Where a run folder is: a local path or an `s3://` URI, and its folder name `run-{stamp}-{id}`."""

    uri: str
    name: str

    def file(self, name: str) -> str:
        return join(self.uri, name)

    @property
    def stamp(self) -> str | None:
        m = RUN_NAME.match(self.name)
        return m.group(1) if m else None

    @property
    def folder_run_id(self) -> str:
        m = RUN_NAME.match(self.name)
        return m.group(2) if m else self.name


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint the run recorded; `exists` is None where it cannot be checked from this machine."""

    role: str
    path: str
    exists: bool | None
    recorded_path: str


class Run:
    """A run folder, read lazily; see the module docstring."""

    def __init__(self, location: RunLocation, metadata: dict[str, Any]):
        self.location = location
        self.metadata = metadata

    def __repr__(self) -> str:
        return f"Run({self.location.uri!r}, state={self.state!r})"

    # --- metadata ---------------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return str(self.metadata.get("run_id") or self.location.folder_run_id)

    @property
    def state(self) -> str:
        return str(self.metadata.get("state") or "unknown")

    @property
    def sweep_id(self) -> str | None:
        value = self.metadata.get("sweep_id")
        return str(value) if value else None

    @property
    def reason(self) -> str | None:
        value = self.metadata.get("reason")
        return str(value) if value else None

    @property
    def started(self) -> datetime | None:
        parsed = _parse_time(self.metadata.get("started"))
        if parsed is None and self.location.stamp:
            with contextlib.suppress(ValueError):
                parsed = datetime.strptime(self.location.stamp, "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
        return parsed

    @property
    def updated(self) -> datetime | None:
        return _parse_time(self.metadata.get("updated"))

    @property
    def step(self) -> int:
        """Optimizer steps done: the metadata's `step` (set at each checkpoint) or the last logged step."""
        logged = self.history.last_step or 0
        recorded = self.metadata.get("step")
        return max(int(recorded), logged) if isinstance(recorded, int | float) else logged

    @property
    def total_steps(self) -> int | None:
        value = self.metadata.get("total_steps")
        return int(value) if isinstance(value, int | float) else None

    # --- files read on first use ------------------------------------------------------------------

    @cached_property
    def history(self) -> History:
        try:
            return parse_events(read_text(self.location.file(EVENTS)))
        except StorageError:
            return History()

    @cached_property
    def config(self) -> dict[str, Any]:
        """The resolved config as nested data ({} when config.yaml is missing or unreadable)."""
        try:
            data = yaml.safe_load(read_text(self.location.file(CONFIG)))
        except (StorageError, yaml.YAMLError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def flat_config(self) -> dict[str, Any]:
        """The config as {dotted key: value} (`trainer.lr`), the vocabulary of overrides and sweeps."""
        return flatten(self.config)

    @property
    def last_activity(self) -> datetime | None:
        """The later of the metadata's `updated` and the last event's timestamp."""
        times = [t for t in (self.updated, _from_epoch(self.history.last_timestamp)) if t is not None]
        return max(times) if times else None

    def checkpoints(self) -> list[CheckpointRef]:
        """The best and last checkpoints the metadata names, checked for existence where possible."""
        recorded: dict[str, list[str]] = {}
        for role in ("best", "last"):
            path = self.metadata.get(f"{role}_checkpoint")
            if isinstance(path, str) and path:
                recorded.setdefault(path, []).append(role)
        return [self._locate(", ".join(roles), path) for path, roles in recorded.items()]

    def _locate(self, role: str, path: str) -> CheckpointRef:
        if Path(path).is_dir():
            return CheckpointRef(role, path, True, path)
        if not is_s3(self.location.uri):
            moved = _remap(path, Path(self.location.uri))
            if moved is not None:
                return CheckpointRef(role, str(moved), True, path)
            if self.metadata.get("host") in (None, socket.gethostname()):
                return CheckpointRef(role, path, False, path)
        return CheckpointRef(role, path, None, path)

    def process_gone(self) -> bool:
        """True when the metadata names a process on this host that no longer exists."""
        pid = self.metadata.get("pid")
        if self.metadata.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def load_run(location: RunLocation) -> Run:
    """Read a run folder's metadata (an unreadable or missing metadata file gives state `unknown`)."""
    try:
        metadata = json.loads(read_text(location.file(METADATA)))
    except (StorageError, ValueError):
        metadata = {}
    return Run(location, metadata if isinstance(metadata, dict) else {})


def is_run_folder(uri: str) -> bool:
    """A folder named `run-{stamp}-{id}` that holds a metadata file."""
    name = str(uri).rstrip("/").rsplit("/", 1)[-1]
    return bool(RUN_NAME.match(name)) and exists(join(str(uri), METADATA))


def describe_state(run: Run, now: datetime | None = None, stale_after_s: float = STALE_AFTER_S) -> str:
    """The state for people: `running` gets how long ago it last wrote, and a warning when that looks dead."""
    state = run.state
    if state != "running":
        return state
    if run.process_gone():
        return "running? (its process is gone: killed without a chance to record it)"
    activity = run.last_activity
    if activity is None:
        return "running"
    age = ((now or datetime.now(UTC)) - activity).total_seconds()
    if age > stale_after_s:
        return f"running? (no update for {format_duration(age)}: the pod or process may be gone)"
    return f"running (updated {format_duration(age)} ago)"


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping → {dotted key: value}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _from_epoch(value: float | None) -> datetime | None:
    if value is None or not math.isfinite(value):
        return None
    return datetime.fromtimestamp(value, UTC)


def _remap(recorded: str, run_folder: Path, levels: int = 4) -> Path | None:
    """Find a checkpoint recorded inside a pod (`/mnt/pvc/ckpt/t1/bi_encoder/checkpoint-40`) on a volume
    mounted here at another path: try the recorded path's tails under the run folder's nearest ancestors.
    """
    parts = Path(recorded).parts
    tails = [Path(*parts[i:]) for i in range(1, max(1, len(parts) - 2))]  # keep at least 3 parts
    for ancestor in list(run_folder.resolve().parents)[:levels]:
        for tail in tails:
            candidate = ancestor / tail
            if candidate.is_dir():
                return candidate
    return None
