"""Write into a user's sweep file without disturbing it: a new file, or `sweep_id` added to an existing one.

The user edits the sweep file by hand; `lex-dpr sweep --config FILE` then records the sweep it created in
that same file, so the next `lex-dpr sweep agent --config FILE` joins the right sweep. The file is read
with ruamel.yaml's round-trip loader, which knows where each key is; the edit is then made in the text
itself, so comments, order, quoting and even mixed indentation stay byte for byte as they were:

- an existing top-level `sweep_id:` gets its value replaced on its own line (its comment stays);
- otherwise `sweep_id: …` is appended as the last line (so it never comes between a comment and the key
  the comment is about);
- a file whose top level is a one-line flow mapping (`{method: …}`) is re-written by ruamel's round-trip
  dumper instead, which keeps comments and order.

The result is parsed again and compared with what was intended before it replaces the file
(atomically), so a surprise can never leave a user with a mangled sweep file.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from lexdpr.errors import ConfigError
from lexdpr.storage import write_text

SWEEP_ID_COMMENT = "written by lex-dpr sweep: the sweep this file created"
_VALUE = re.compile(r"""[ \t]*("[^"\n]*"|'[^'\n]*'|[^\s#]*)""")


def write_new_file(path: Path, text: str, *, force: bool = False) -> None:
    """Create `path` with `text`; an existing different file is replaced only with `force`."""
    if path.exists() and not force:
        if path.read_text(encoding="utf-8") == text:
            return
        raise ConfigError(
            f"{path} already exists; run `lex-dpr sweep --config {path}` to use it, or pass --force to overwrite it"
        )
    write_text(path, text)


def write_sweep_id(path: Path, sweep_id: str) -> None:
    """Set the top-level `sweep_id` of the YAML file at `path`, keeping everything else as it was."""
    from ruamel.yaml import YAML

    original = path.read_text(encoding="utf-8")
    data = YAML().load(original)  # round-trip: knows lines and styles
    if not hasattr(data, "lc") or not hasattr(data, "insert"):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    if data.fa.flow_style():
        text = _dump_round_trip(original, sweep_id)
    elif "sweep_id" in data:
        text = _replace_value(original, *data.lc.key("sweep_id"), sweep_id)
    else:
        separator = "" if not original or original.endswith("\n") else "\n"
        text = f"{original}{separator}sweep_id: {sweep_id}  # {SWEEP_ID_COMMENT}\n"
    _check_same_data(path, original, text, sweep_id)
    write_text(path, text)  # atomic, and the file keeps its permissions


def _replace_value(text: str, line: int, column: int, sweep_id: str) -> str:
    """Replace the scalar after `sweep_id:` on `line` (0-based), leaving the rest of the line alone."""
    lines = text.splitlines(keepends=True)
    current = lines[line]
    start = column + len("sweep_id:")
    match = _VALUE.match(current, start)
    assert match is not None  # the pattern also matches nothing
    lines[line] = f"{current[:start]} {sweep_id}{current[match.end() :]}"
    return "".join(lines)


def _dump_round_trip(original: str, sweep_id: str) -> str:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    data = yaml.load(original)
    data["sweep_id"] = sweep_id
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _check_same_data(path: Path, before: str, after: str, sweep_id: str) -> None:
    from ruamel.yaml import YAML

    safe = YAML(typ="safe", pure=True)
    expected: dict[str, Any] = dict(safe.load(before) or {})
    expected["sweep_id"] = sweep_id
    if safe.load(after) != expected:
        raise ConfigError(
            f"{path}: could not add `sweep_id: {sweep_id}` without changing the file's meaning; "
            "add that line to the file yourself"
        )
