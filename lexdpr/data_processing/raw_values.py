"""Normalising the irregular values of law.go.kr JSON (docs/lawgo-quirks.md, items 1, 2, 6, 7).

The API turns XML into JSON mechanically: one element becomes a dict, several become a list, and an element
with several CDATA sections becomes a list of lists of lines. Every parser goes through these helpers so that
the shape differences are handled in one place.
"""

from __future__ import annotations

import re
from typing import Any

_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Amendment history written inline: <개정 2014.5.20>, <신설 2020. 6. 9.>, <개정 2014.5.20, 2020.6.9>, …
_AMENDMENT_TAG = re.compile(r"\s*<(?:개정|신설|전문개정|제목개정|타법개정|본조신설|삭제|이동)[^<>]*>")
# Bracketed notes: [본조신설 2012.6.1], [전문개정 2011.3.7], [종전 제10조는 제12조로 이동 <…>], [시행일: …] …
_BRACKET_NOTE = re.compile(
    r"\s*\[(?:본조신설|전문개정|제목개정|본조제목개정|종전|시행일|제\d+조에서 이동|법률 제)[^\[\]]*\]"
)
_CIRCLED_NO_SPACE = re.compile(r"^([①-⑳㉑-㉟㊱-㊿])(?=\S)")
_MIDDLE_DOTS = str.maketrans({"·": "ㆍ", "・": "ㆍ", "‧": "ㆍ", "∙": "ㆍ"})


def as_list(value: Any) -> list[Any]:
    """One element (dict/str) → [element]; a list stays; None/"" → []."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def flatten_lines(value: Any) -> list[str]:
    """A str, or arbitrarily nested lists of str, as a flat list of lines (empty lines dropped)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(flatten_lines(item))
        return out
    if isinstance(value, dict) and "content" in value:
        return flatten_lines(value["content"])
    raise TypeError(f"expected text or a list of text, got {type(value).__name__}")


def clean_line(line: str) -> str:
    """Collapse runs of spaces, unify middle dots, `①권리` → `① 권리`, strip; otherwise the law's own text."""
    line = _SPACES.sub(" ", _BR.sub(" ", line)).translate(_MIDDLE_DOTS).strip()
    return _CIRCLED_NO_SPACE.sub(r"\1 ", line)


def strip_amendment_notes(text: str) -> str:
    """Remove inline amendment tags and bracketed history notes: they are noise for retrieval."""
    return clean_line(_BRACKET_NOTE.sub("", _AMENDMENT_TAG.sub("", text)))


def as_text(value: Any) -> str:
    """A scalar field as a stripped string (numbers and {"content": …} dicts included)."""
    if value is None:
        return ""
    if isinstance(value, dict) and "content" in value:
        return as_text(value["content"])
    if isinstance(value, str | int):
        return str(value).strip()
    raise TypeError(f"expected a string, got {type(value).__name__}")
