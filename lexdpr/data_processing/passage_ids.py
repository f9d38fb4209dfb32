"""Passage ids (docs/design.md, 'Passage ids') and how to take them apart.

`LAW_{법령ID}_제{n}조[의{m}]` for an article, `_{항}` / `_{항}_{호}` appended for finer units,
`ADM_{행정규칙ID}_제{n}[-{k}]조[의{m}]…`, `PREC_{판례일련번호}[_{issue}]`. The article id is always derivable
from a finer id, which is what lets hard-negative mining exclude "a part or parent of a positive".
Ids are built only from validated digits, so file content can never smuggle a path into an id.
"""

from __future__ import annotations

import re

PREAMBLE_LABEL = "전문"
_ARTICLE_ID = re.compile(r"^(?P<article>(?:LAW|ADM)_\d+_(?:제\d+(?:-\d+)?조(?:의\d+)?|전문))(?:_\d+){0,2}$")
_ARTICLE_NUMBER = re.compile(r"^((?:LAW|ADM)_\d+_제\d+(?:-\d+)?조)")
_CIRCLED = {chr(0x2460 + i): i + 1 for i in range(20)}  # ①..⑳
_CIRCLED.update({chr(0x3251 + i): i + 21 for i in range(15)})  # ㉑..㉟
_CIRCLED.update({chr(0x32B1 + i): i + 36 for i in range(15)})  # ㊱..㊿


def article_label(number: int, branch: int | None = None, sub: int | None = None) -> str:
    """제{number}[-{sub}]조[의{branch}] — `sub` is the admin-rule style 제1-1조."""
    core = f"제{number}" + (f"-{sub}" if sub is not None else "") + "조"
    return core + (f"의{branch}" if branch else "")


def law_article_id(law_id: str, label: str) -> str:
    return f"LAW_{law_id}_{label}"


def admin_article_id(rule_id: str, label: str) -> str:
    return f"ADM_{rule_id}_{label}"


def paragraph_id(article_id: str, paragraph: int) -> str:
    return f"{article_id}_{paragraph}"


def precedent_passage_id(serial: str, issue: int | None = None) -> str:
    return f"PREC_{serial}" + (f"_{issue}" if issue is not None else "")


def article_id_of(passage_id: str) -> str:
    """The article-level id of any law/admin passage id; other ids are returned unchanged."""
    match = _ARTICLE_ID.match(passage_id)
    return match.group("article") if match else passage_id


def article_number_of(passage_id: str) -> str | None:
    """The article number without branch or paragraph: `LAW_1_제10조` for LAW_1_제10조, LAW_1_제10조의2 and
    LAW_1_제10조_3 (`ADM_7_제1-2조` likewise); None for precedent and preamble ids."""
    match = _ARTICLE_NUMBER.match(passage_id)
    return match.group(1) if match else None


def paragraph_number(marker: str) -> int | None:
    """①→1 … ㊿→50; also accepts plain digits ("2", "제2항"). None when it is no paragraph marker."""
    marker = marker.strip()
    if marker and marker[0] in _CIRCLED:
        return _CIRCLED[marker[0]]
    digits = re.sub(r"\D", "", marker)
    return int(digits) if digits else None


def is_circled_number(char: str) -> bool:
    return char in _CIRCLED
