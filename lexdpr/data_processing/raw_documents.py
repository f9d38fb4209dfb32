"""Reading one raw law.go.kr JSON document, and telling which kind it is.

Both data stages read the same files (stage 1 keeps the laws and admin rules, stage 2 the precedents), so
how a file is read — and every way it can be unreadable, turned into an `InputError` naming the file — lives
here once rather than in either stage's command-line module.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from lexdpr import storage
from lexdpr.errors import InputError, StorageError
from lexdpr.storage.jsonl import has_lone_surrogate


class SourceKind(StrEnum):
    LAW = "law"
    ADMIN = "admin"
    PRECEDENT = "precedent"


def detect_kind(doc: Any) -> SourceKind | None:
    """Which law.go.kr document this is, from its top-level keys (docs/design.md, 'Raw input kinds')."""
    if not isinstance(doc, dict):
        return None
    if "법령" in doc:
        return SourceKind.LAW
    if "AdmRulService" in doc:
        return SourceKind.ADMIN
    if "PrecService" in doc or "판례일련번호" in doc or "판례정보일련번호" in doc:
        return SourceKind.PRECEDENT
    return None


def load_json_document(uri: str, display: str) -> Any:
    """Read and parse one JSON file; every way it can be unreadable becomes an `InputError` naming the file."""
    try:
        raw = storage.read_bytes(uri)
    except StorageError as exc:
        raw = exc
    return parse_json_document(raw, display)


def parse_json_document(raw: bytes | StorageError, display: str) -> Any:
    """Parse a JSON file's bytes (or report the error that reading it raised) as an `InputError`."""
    if isinstance(raw, StorageError):
        raise InputError(display, str(raw).split(": ", 1)[-1])
    if not raw.strip():
        raise InputError(display, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(display, f"not UTF-8 (invalid byte at offset {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            display, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise InputError(display, "JSON nested too deeply to read") from None
    if has_lone_surrogate(text, doc):
        raise InputError(
            display, "a string holds an unpaired surrogate escape (\\ud800-\\udfff): not valid text"
        )
    return doc


def relative_name(uri: str, root: str) -> str:
    """The file's path below the source folder: stable output whatever folder the data sits in."""
    root = root.rstrip("/")
    return uri[len(root) + 1 :] if uri.startswith(root + "/") else uri
