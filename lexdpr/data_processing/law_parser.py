"""Laws (`{"법령": …}` from lawService.do?target=law) → article or paragraph passages.

Follows docs/lawgo-quirks.md, items 1–8: text fields may be nested line lists, 항 may be a list, a `{호: …}` dict or a
single `{항번호, 항내용}` dict, 전문 rows are headings (kept as chapter context) except the constitution's
preamble, deleted articles are dropped, amendment tags are stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lexdpr.data_processing import passage_ids as ids
from lexdpr.data_processing.passage import Granularity, Passage, PassageOptions, estimate_tokens
from lexdpr.data_processing.raw_values import (
    as_list,
    as_text,
    clean_line,
    flatten_lines,
    strip_amendment_notes,
)
from lexdpr.errors import InputError

_HEADING = re.compile(r"^제\s*\d+\s*(?:편|장|절|관)")
_DELETED_ARTICLE = re.compile(r"^제\d+조(?:의\d+)?\s*(?:\([^)]*\))?\s*삭제\b")
_DELETED_UNIT = re.compile(r"^(?:[①-⑳㉑-㉟㊱-㊿]|\d+(?:의\d+)?\.|[가-힣]\.)?\s*삭제\s*(?:<[^>]*>)?\s*$")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class LawInfo:
    law_id: str
    name: str
    short_name: str
    effective_date: str


@dataclass
class _Paragraph:
    number: int
    text: str


def parse_law(doc: dict[str, Any], source: str, options: PassageOptions) -> tuple[list[Passage], list[str]]:
    """Passages of one law file, plus notes on rows that were dropped on purpose (deleted articles)."""
    law = doc.get("법령")
    if not isinstance(law, dict):
        raise InputError(source, "expected an object", field="법령")
    info = _law_info(law, source)
    rows = law.get("조문", {})
    if not isinstance(rows, dict):
        raise InputError(source, f"expected an object, got {type(rows).__name__}", field="법령.조문")
    units = as_list(rows.get("조문단위"))
    if not units:
        raise InputError(source, "the law has no articles", field="법령.조문.조문단위")

    passages: list[Passage] = []
    dropped: list[str] = []
    chapter: list[str] = []
    preamble: list[str] = []
    seen_article = False
    for index, unit in enumerate(units):
        where = f"조문단위[{index}]"
        if not isinstance(unit, dict):
            raise InputError(source, f"expected an object, got {type(unit).__name__}", record=where)
        try:
            lines = [clean_line(x) for x in flatten_lines(unit.get("조문내용"))]
        except TypeError as exc:
            raise InputError(source, str(exc), record=where, field="조문내용") from None
        if as_text(unit.get("조문여부")) == "전문":
            headings = [x for x in lines if x]
            if (
                not seen_article
                and as_text(unit.get("조문번호")) in {"0", ""}
                and not _is_heading_block(headings)
            ):
                preamble.extend(headings)  # 대한민국헌법's 前文: real text, not a heading
            elif headings and headings != [ids.PREAMBLE_LABEL]:
                chapter = _update_chapter(chapter, headings)
            continue
        seen_article = True
        passage_list = _article_passages(unit, info, source, where, " > ".join(chapter), options)
        if passage_list is None:
            dropped.append(f"{where} (deleted article)")
            continue
        passages.extend(passage_list)
    if preamble:
        article_id = ids.law_article_id(info.law_id, ids.PREAMBLE_LABEL)
        passages.insert(
            0, _passage(info, source, article_id, article_id, ids.PREAMBLE_LABEL, "\n".join(preamble))
        )
    return passages, dropped


def _law_info(law: dict[str, Any], source: str) -> LawInfo:
    basic = law.get("기본정보")
    if not isinstance(basic, dict):
        raise InputError(source, "missing or not an object", field="법령.기본정보")
    law_id = as_text(basic.get("법령ID"))
    if not _DIGITS.match(law_id):
        raise InputError(source, f"법령ID must be digits, got {law_id!r}", field="법령.기본정보.법령ID")
    name = clean_line(as_text(basic.get("법령명_한글")))
    if not name:
        raise InputError(source, "missing", field="법령.기본정보.법령명_한글")
    return LawInfo(
        law_id=law_id,
        name=name,
        short_name=clean_line(as_text(basic.get("법령명약칭"))),
        effective_date=as_text(basic.get("시행일자")),
    )


def _is_heading_block(lines: list[str]) -> bool:
    return all(_HEADING.match(x) or x == ids.PREAMBLE_LABEL for x in lines)


def _update_chapter(current: list[str], headings: list[str]) -> list[str]:
    """Keep the heading path (편 > 장 > 절 > 관): a new heading replaces those of its level and below."""
    order = "편장절관"
    path = list(current)
    for heading in headings:
        level_match = re.match(r"^제\s*\d+\s*(편|장|절|관)", heading)
        text = strip_amendment_notes(heading)
        if not level_match:
            continue
        level = order.index(level_match.group(1))
        path = [h for h in path if order.index(re.match(r"^제\s*\d+\s*(편|장|절|관)", h).group(1)) < level]
        path.append(text)
    return path


def _article_label(unit: dict[str, Any], source: str, where: str) -> str:
    number = as_text(unit.get("조문번호"))
    branch = as_text(unit.get("조문가지번호"))
    if not _DIGITS.match(number):
        raise InputError(source, f"조문번호 must be digits, got {number!r}", record=where, field="조문번호")
    if branch and not _DIGITS.match(branch):
        raise InputError(
            source, f"조문가지번호 must be digits, got {branch!r}", record=where, field="조문가지번호"
        )
    return ids.article_label(int(number), int(branch) if branch and int(branch) > 0 else None)


def _article_passages(
    unit: dict[str, Any], info: LawInfo, source: str, where: str, chapter: str, options: PassageOptions
) -> list[Passage] | None:
    label = _article_label(unit, source, where)
    article_id = ids.law_article_id(info.law_id, label)
    head = "\n".join(strip_amendment_notes(x) for x in flatten_lines(unit.get("조문내용")))
    head = "\n".join(x for x in head.splitlines() if x)
    if _DELETED_ARTICLE.match(head):
        return None
    try:
        paragraphs = _paragraphs(unit.get("항"))
    except (TypeError, ValueError) as exc:
        raise InputError(source, str(exc), record=f"{where} ({label})", field="항") from None
    title = clean_line(as_text(unit.get("조문제목")))

    def make(pid: str, text: str, paragraph: int | None = None) -> Passage:
        return _passage(info, source, pid, article_id, label, text, paragraph, title, chapter)

    whole = "\n".join([head, *(p.text for p in paragraphs)]).strip()
    numbered = [p for p in paragraphs if p.number > 0]
    split = len(numbered) >= 2 and (
        options.granularity is Granularity.PARAGRAPH or estimate_tokens(whole) > options.max_tokens
    )
    if not split:
        return [make(article_id, whole)]
    passages = []
    unnumbered = "\n".join(p.text for p in paragraphs if p.number == 0)
    for p in numbered:
        body = "\n".join(x for x in (head, p.text) if x)
        passages.append(make(ids.paragraph_id(article_id, p.number), body, p.number))
    if unnumbered:
        last = passages[-1]
        passages[-1] = make(
            last.id, f"{last.text.removeprefix(info.name + ' ')}\n{unnumbered}", last.paragraph
        )
    return passages


def _paragraphs(value: Any) -> list[_Paragraph]:
    """항 in every shape; a `{호: …}` dict (호 without numbered 항) becomes paragraph number 0."""
    out: list[_Paragraph] = []
    for ordinal, item in enumerate(as_list(value), start=1):
        if not isinstance(item, dict):
            raise TypeError(f"expected an object per 항, got {type(item).__name__}")
        lines = [strip_amendment_notes(x) for x in flatten_lines(item.get("항내용"))]
        lines = [x for x in lines if x and not _DELETED_UNIT.match(x)]
        lines.extend(_items(item.get("호")))
        if not lines:
            continue
        marker = as_text(item.get("항번호"))
        number = ids.paragraph_number(marker) if marker else (0 if "항내용" not in item else ordinal)
        out.append(_Paragraph(number if number is not None else ordinal, "\n".join(lines)))
    return out


def _items(value: Any) -> list[str]:
    """호 lines with their 목, deleted ones dropped."""
    lines: list[str] = []
    for item in as_list(value):
        if not isinstance(item, dict):
            raise TypeError(f"expected an object per 호, got {type(item).__name__}")
        text = "\n".join(strip_amendment_notes(x) for x in flatten_lines(item.get("호내용")))
        if text and not _DELETED_UNIT.match(text):
            lines.append(text)
        for sub in as_list(item.get("목")):
            if not isinstance(sub, dict):
                raise TypeError(f"expected an object per 목, got {type(sub).__name__}")
            sub_text = "\n".join(strip_amendment_notes(x) for x in flatten_lines(sub.get("목내용")))
            if sub_text and not _DELETED_UNIT.match(sub_text):
                lines.append(sub_text)
    return lines


def _passage(
    info: LawInfo,
    source: str,
    pid: str,
    article_id: str,
    label: str,
    text: str,
    paragraph: int | None = None,
    title: str = "",
    chapter: str = "",
) -> Passage:
    return Passage(
        id=pid,
        parent_id=info.law_id,
        type="law",
        text=f"{info.name} {text}",
        law_name=info.name,
        article=label,
        article_id=article_id,
        paragraph=paragraph,
        title=title,
        chapter=chapter,
        law_short_name=info.short_name,
        effective_date=info.effective_date,
        source=source,
    )
