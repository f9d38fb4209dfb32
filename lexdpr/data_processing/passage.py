"""The passage record (docs/design.md, 'Passage records') and the options that shape how statutes are cut into passages."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from lexdpr import storage
from lexdpr.errors import InputError

#: Fields every passage record must hold as non-empty strings for the pairs stage (docs/design.md, 'Passage records').
STATUTE_FIELDS = ("id", "parent_id", "type", "text", "law_name", "article")


class Granularity(StrEnum):
    """How finely a statute is cut: one passage per article (조) or per paragraph (항)."""

    ARTICLE = "article"
    PARAGRAPH = "paragraph"


@dataclass(frozen=True)
class PassageOptions:
    """How statutes become passages.

    With `granularity=article` an article whose text exceeds `max_tokens` (estimated, see
    `estimate_tokens`) and has two or more 항 is emitted as one passage per 항 instead, so no passage is
    silently truncated by the encoder later.
    """

    granularity: Granularity = Granularity.ARTICLE
    max_tokens: int = 512


@dataclass(frozen=True)
class Passage:
    id: str
    parent_id: str
    type: str  # law | admin | prec
    text: str
    law_name: str
    article: str
    article_id: str
    paragraph: int | None = None
    title: str = ""
    chapter: str = ""
    law_short_name: str = ""
    effective_date: str = ""
    source: str = ""

    def to_record(self) -> dict[str, Any]:
        # what `asdict` gives (every field is a str, int or None), without its deep copy: 4x faster
        return {name: getattr(self, name) for name in _PASSAGE_FIELDS}


def estimate_tokens(text: str) -> int:
    """Subword tokens of `text` for an XLM-R style tokenizer, estimated without loading one.

    Measured on 2,000 random passages of the law.go.kr laws and admin rules with the multilingual-e5-small
    (XLM-R) tokenizer: 0.74 tokens per non-space character on average, 0.82 at the 90th percentile.
    0.8 is used, so the estimate errs on the long side for most passages.
    """
    chars = len("".join(text.split()))  # split() cuts at exactly the characters isspace() accepts
    return int(chars * TOKENS_PER_CHAR) + 1


TOKENS_PER_CHAR = 0.8
_PASSAGE_FIELDS = tuple(f.name for f in fields(Passage))


def check_passage(record: dict[str, Any], path: str, lineno: int, required: tuple[str, ...]) -> None:
    """An `InputError` naming file, line and field unless `record` holds the `required` fields as
    non-empty strings (and, when present, `paragraph` as an integer or null, the others as strings)."""
    for name in required:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(path, "missing or not a non-empty string", record=f"line {lineno}", field=name)
    paragraph = record.get("paragraph")
    if paragraph is not None and (isinstance(paragraph, bool) or not isinstance(paragraph, int)):
        raise InputError(path, "must be an integer or null", record=f"line {lineno}", field="paragraph")
    for name in ("law_short_name", "law_name", "article", "title", "chapter"):
        if name in record and not isinstance(record[name], str):
            raise InputError(path, "must be a string", record=f"line {lineno}", field=name)


def read_passages(path: str, required: tuple[str, ...] = STATUTE_FIELDS) -> list[dict[str, Any]]:
    """The records of a passage JSONL file, each checked with `check_passage`."""
    records = []
    for lineno, record in enumerate(storage.read_jsonl(path), start=1):
        check_passage(record, path, lineno, required)
        records.append(record)
    return records
