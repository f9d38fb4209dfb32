"""The pair record (docs/design.md, 'Pair records'): one line of `pairs_*.jsonl`, its writer and its reader.

The pairs stage writes these records and training and evaluation read them back, so the type, the field
names on disk and the checks live in this one module: a field renamed here is renamed for both sides.
On disk a pair is `{"query_id", "query_text", "positive_passages", "hard_negatives", "meta"}`, in that
order (the order makes a re-run byte-identical).

Reading checks each record field by field, so a bad file fails with its name, line and field rather than a
KeyError deep in the training loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lexdpr.errors import InputError
from lexdpr.storage import read_jsonl, write_jsonl


@dataclass(frozen=True)
class Pair:
    """One query with its positive passages and mined hard negatives (ids into the corpus)."""

    query_id: str
    query_text: str
    positives: tuple[str, ...]
    hard_negatives: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_record(self) -> dict[str, Any]:
        """The JSON object of one line of a pairs file."""
        return {
            "query_id": self.query_id,
            "query_text": self.query_text,
            "positive_passages": list(self.positives),
            "hard_negatives": list(self.hard_negatives),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any], path: str, line: int) -> Pair:
        """A checked pair; `path` and `line` name the record in the `InputError` of a bad field.

        Ids repeated within a list are kept once, in their first position. A numeric `query_id` is read as
        its string (hand-made files write them).
        """
        qid = rec.get("query_id")
        if not isinstance(qid, str | int) or qid == "":
            raise InputError(path, "missing query_id", record=f"line {line}", field="query_id")
        qid = str(qid)
        text = rec.get("query_text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(path, "missing or empty query text", record=qid, field="query_text")
        positives = _id_list(rec.get("positive_passages"), path, qid, "positive_passages")
        negatives = _id_list(rec.get("hard_negatives", []), path, qid, "hard_negatives")
        meta = rec.get("meta") or {}
        if not isinstance(meta, Mapping):
            raise InputError(path, "meta must be an object", record=qid, field="meta")
        return cls(qid, text, positives, negatives, meta)


def write_pairs(path: str | os.PathLike[str], pairs: Iterable[Pair]) -> int:
    """Write a pairs file atomically; returns how many pairs were written."""
    return write_jsonl(path, (p.to_record() for p in pairs))


def read_pairs(path: str | os.PathLike[str]) -> list[Pair]:
    """Read and check pairs as they are (evaluation scores them against the corpus unchanged)."""
    pairs = [Pair.from_record(rec, str(path), n) for n, rec in enumerate(read_jsonl(path), start=1)]
    if not pairs:
        raise InputError(str(path), "no pairs in the file")
    return pairs


def _id_list(value: Any, path: str, qid: str, name: str) -> tuple[str, ...]:
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(path, "expected a list of passage ids", record=qid, field=name)
    return tuple(dict.fromkeys(value))  # de-duplicated, order kept
