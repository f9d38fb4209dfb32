"""JSON Lines records: one UTF-8 object per line, written atomically and deterministically.

Deterministic serialisation (no ASCII escaping, fixed separators, key order as built) makes a re-run over
the same input byte-identical, which KFP-style caching and our tests rely on.

Lines end at `\n` only (a trailing `\r` is tolerated): with `ensure_ascii=False` a string may hold
U+2028, U+2029 or U+0085 unescaped, which `str.splitlines()` would wrongly treat as line ends.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from lexdpr.errors import InputError
from lexdpr.storage.files import read_text, write_bytes

#: A JSON escape of a UTF-16 surrogate (`\ud800`): fine in a pair (an emoji), not alone.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def has_lone_surrogate(text: str, value: Any) -> bool:
    """Whether JSON `text`, decoded to `value`, holds an escaped surrogate without its pair: a string that is
    not Unicode text and cannot be written as UTF-8 (so it would fail a stage only when it writes)."""
    if not _SURROGATE_ESCAPE.search(text):
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def read_jsonl(uri: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSONL file; a bad line raises an error naming file and line."""
    text = read_text(uri)
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON ({exc.msg}, column {exc.colno})"
            raise InputError(str(uri), reason, record=f"line {lineno}") from None
        except RecursionError:
            raise InputError(str(uri), "JSON nested too deeply to read", record=f"line {lineno}") from None
        if not isinstance(obj, dict):
            reason = f"expected a JSON object, got {type(obj).__name__}"
            raise InputError(str(uri), reason, record=f"line {lineno}")
        if has_lone_surrogate(line, obj):
            reason = "a string holds an unpaired surrogate escape (\\ud800-\\udfff): not valid text"
            raise InputError(str(uri), reason, record=f"line {lineno}")
        yield obj


def write_jsonl(uri: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Write records atomically; returns how many were written."""
    lines = [dumps(r) for r in records]
    payload = ("\n".join(lines) + "\n") if lines else ""
    write_bytes(uri, payload.encode("utf-8"))
    return len(lines)
