"""One training run on disk: `wandb/run-{YYYYMMDD_HHMMSS}-{run_id}/` (docs/design.md, 'The run folder').

- `wandb-metadata.json`: state (running | finished | failed | crashed), run_id, sweep_id, started, updated,
  and why a run stopped; rewritten atomically on every change, so `jq .state` never reads half a file.
- `config.yaml`: the full resolved config.
- `wandb-events.jsonl`: one nested line per log call — `{"_step": 120, "train": {"loss": …}}` — so
  `jq 'select(.eval)'` finds the evaluations.
- `files/`: left to the offline W&B run (see `wandb_mirror`).
- `{root}/latest-run` → the newest run folder (a relative symlink, replaced atomically).

The folder layout mimics W&B's own so people and tools used to it feel at home; everything here works with
W&B switched off.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import string
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lexdpr.storage.files import write_text

METADATA = "wandb-metadata.json"
EVENTS = "wandb-events.jsonl"
CONFIG = "config.yaml"
LATEST = "latest-run"
STATES = ("running", "finished", "failed", "crashed")
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    """8 characters of [a-z0-9], like W&B run ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def nest(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """`{"train/loss": 1.0}` → `{"train": {"loss": 1.0}}` (keys without a slash stay at the top)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        group, sep, name = key.partition("/")
        if sep:
            out.setdefault(group, {})[name] = value
        else:
            out[key] = value
    return out


class RunFolder:
    """Create or reopen a run folder and write its files."""

    def __init__(self, path: Path):
        self.path = path

    @property
    def run_id(self) -> str:
        return self.path.name.rsplit("-", 1)[-1]

    @property
    def files_dir(self) -> Path:
        return self.path / "files"

    @classmethod
    def create(
        cls, root: str | os.PathLike[str], run_id: str, config_yaml: str, metadata: Mapping[str, Any]
    ) -> RunFolder:
        stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
        folder = cls(Path(root) / f"run-{stamp}-{run_id}")
        folder.files_dir.mkdir(parents=True, exist_ok=True)
        write_text(folder.path / CONFIG, config_yaml)
        (folder.path / EVENTS).touch()
        now = utc_now()
        folder._write_metadata(
            {"state": "running", "run_id": run_id, "started": now, "updated": now, **metadata}
        )
        folder.point_latest()
        return folder

    @classmethod
    def find(cls, root: str | os.PathLike[str], run_id: str) -> RunFolder | None:
        """The folder of `run_id` under `root`, if there is one (the newest if several)."""
        root = Path(root)
        if not root.is_dir():
            return None
        matches = sorted(p for p in root.glob(f"run-*-{run_id}") if p.is_dir())
        return cls(matches[-1]) if matches else None

    # --- metadata -------------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / METADATA).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def update(self, **fields: Any) -> dict[str, Any]:
        """Merge fields into the metadata (None removes a key) and rewrite it atomically."""
        if "state" in fields and fields["state"] not in STATES:
            raise ValueError(f"unknown run state {fields['state']!r}")
        data = self.metadata()
        for key, value in fields.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        data["updated"] = utc_now()
        self._write_metadata(data)
        return data

    def _write_metadata(self, data: Mapping[str, Any]) -> None:
        write_text(self.path / METADATA, json.dumps(data, ensure_ascii=False, indent=2) + "\n")

    # --- events ---------------------------------------------------------------------------------------

    def log(self, step: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Append one nested event line; returns it."""
        record = {"_step": step, "_timestamp": round(time.time(), 3), **nest(metrics)}
        line = json.dumps(record, ensure_ascii=False, allow_nan=True) + "\n"
        with open(self.path / EVENTS, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
        return record

    def events(self) -> list[dict[str, Any]]:
        path = self.path / EVENTS
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def truncate_events(self, after_step: int) -> int:
        """Drop events past `after_step` (a resumed run replays them); returns how many were dropped."""
        path = self.path / EVENTS
        if not path.exists():
            return 0
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [ln for ln in lines if ln.strip() and _step_of(ln) <= after_step]
        dropped = len([ln for ln in lines if ln.strip()]) - len(kept)
        if dropped:
            write_text(path, "".join(kept))
        return dropped

    # --- latest-run -----------------------------------------------------------------------------------

    def point_latest(self) -> None:
        link = self.path.parent / LATEST
        tmp = self.path.parent / f".{LATEST}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            tmp.symlink_to(self.path.name, target_is_directory=True)
            os.replace(tmp, link)
        except OSError:  # file systems without symlinks: a plain file naming the run
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if not link.is_dir():
                write_text(link, self.path.name + "\n")


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("_step", 0))
    except (ValueError, AttributeError):
        return 0
