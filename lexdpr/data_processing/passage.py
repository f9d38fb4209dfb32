"""The passage record of DESIGN §3 and the options that shape how statutes are cut into passages."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


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
        return asdict(self)


def estimate_tokens(text: str) -> int:
    """Subword tokens of `text` for an XLM-R style tokenizer, estimated without loading one.

    Measured on 2,000 random passages of the law.go.kr laws and admin rules with the multilingual-e5-small
    (XLM-R) tokenizer: 0.74 tokens per non-space character on average, 0.82 at the 90th percentile.
    0.8 is used, so the estimate errs on the long side for most passages.
    """
    chars = sum(1 for c in text if not c.isspace())
    return int(chars * TOKENS_PER_CHAR) + 1


TOKENS_PER_CHAR = 0.8
