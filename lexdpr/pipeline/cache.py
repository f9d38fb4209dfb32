"""The local runner's stage cache: skip a stage whose command and inputs are unchanged, as KFP caching does.

A stage's *key* is a hash of its argv template, the values of the parameters it reads (with the content of
those that name files or folders: the raw data, the sweep file), the content hashes of its input artifacts
and where its outputs go. After a stage succeeds, `<storage>/.cache/<stage>.json` records the key, each
output's content hash (what downstream keys are built from) and its file list. A later run skips the stage
when the record says `done` with the same key and every recorded output file is still there.

Before a stage runs, its record says `running` with the new key. A run that stopped midway (a crash,
Ctrl-C) leaves that record; the next run with the same key keeps the outputs already written, so the
trainer resumes from its last checkpoint instead of starting over. With any other key the outputs are
cleared first, so a stage never mixes its files with an earlier run's.

Records are written atomically (a local temp file renamed into place; an S3 PUT), so an interrupted run
never leaves half a record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from lexdpr import storage
from lexdpr.pipeline import transfer

CACHE_FOLDER = ".cache"
RUNNING, DONE = "running", "done"


@dataclass(frozen=True)
class OutputRecord:
    uri: str
    hash: str
    files: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StageRecord:
    stage: str
    key: str
    state: str
    outputs: dict[str, OutputRecord] = field(default_factory=dict)
    started: str = ""
    seconds: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> StageRecord:
        data = json.loads(text)
        outputs = {k: OutputRecord(**v) for k, v in (data.pop("outputs", None) or {}).items()}
        return cls(outputs=outputs, **data)


def stage_key(
    argv_template: tuple[str, ...],
    params: Mapping[str, Any],
    param_contents: Mapping[str, str],
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
) -> str:
    """The cache key of one stage run (see the module docstring)."""
    payload = {
        "argv": list(argv_template),
        "params": {k: str(v) for k, v in sorted(params.items())},
        "param_contents": dict(sorted(param_contents.items())),
        "inputs": dict(sorted(inputs.items())),
        "outputs": dict(sorted(outputs.items())),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class StageCache:
    """The records under `<root>/.cache/`."""

    def __init__(self, root: str):
        self.root = root

    def path(self, stage: str) -> str:
        return storage.join(self.root, CACHE_FOLDER, f"{stage}.json")

    def load(self, stage: str) -> StageRecord | None:
        path = self.path(stage)
        if not storage.exists(path):
            return None
        try:
            return StageRecord.from_json(storage.read_text(path))
        except (ValueError, TypeError, KeyError):
            return None  # an unreadable record is no record: the stage runs again

    def save(self, record: StageRecord) -> None:
        storage.write_text(self.path(record.stage), record.to_json())

    def hit(self, stage: str, key: str) -> StageRecord | None:
        """The record, when the stage ran to the end with this key and its outputs are intact."""
        record = self.load(stage)
        if record is None or record.state != DONE or record.key != key:
            return None
        if all(transfer.intact(out.uri, out.files) for out in record.outputs.values()):
            return record
        return None

    def interrupted(self, stage: str, key: str) -> bool:
        """Whether a run with this key started and did not finish (its outputs are kept to resume)."""
        record = self.load(stage)
        return record is not None and record.state == RUNNING and record.key == key
