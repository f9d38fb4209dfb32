"""Administrative rules (`{"AdmRulService": …}` from lawService.do?target=admrul) → passages.

Admin rules have no 항/호 structure (docs/lawgo-quirks.md, items 10–11): `조문내용` is a list of article strings
with chapter headings as separate strings, or one string holding the whole rule. Both are cut on article
heads (`제3조(`, `제1-1조(`, `제3조의2(`), accepting a head only when its number moves forward, so an
in-text reference such as "제2조(정의)에 따른" does not start a new article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lexdpr.data_processing import passage_ids as ids
from lexdpr.data_processing.passage import Granularity, Passage, PassageOptions, estimate_tokens
from lexdpr.data_processing.raw_values import (
    as_text,
    clean_line,
    flatten_lines,
    strip_amendment_notes,
)
from lexdpr.errors import InputError

_HEAD = re.compile(r"(?:^|(?<=\s))제(?P<n>\d+)(?:-(?P<sub>\d+))?조(?:의(?P<branch>\d+))?(?=\s*\(|\s*삭제)")
_CHAPTER = re.compile(r"^제\s*\d+(?:-\d+)?\s*(?:편|장|절|관)\b")
_TRAILING_CHAPTER = re.compile(r"\s+(제\s*\d+(?:-\d+)?\s*(?:편|장|절|관)(?:\s+[^\s.<>]+){0,10})\s*$")
# "법 제2조(정의)에 따른", "영 제7조(…)", "「상법」 제522조(…)": a head right after a law's name is a reference.
_REFERENCE_BEFORE = re.compile(r"(?:법|영|령|규칙|규정|세칙|」|』|같은 법|동법)\s*$")
_DELETED = re.compile(r"^제[\d-]+조(?:의\d+)?\s*(?:\([^)]*\))?\s*삭제\b")
_PARAGRAPH_SPLIT = re.compile(r"(?:^|\s)(?=[①-⑳㉑-㉟㊱-㊿])")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class _Article:
    key: tuple[int, int, int]
    label: str
    text: str
    chapter: str


def parse_admin_rule(
    doc: dict[str, Any], source: str, options: PassageOptions
) -> tuple[list[Passage], list[str]]:
    """Passages of one admin rule, plus notes on articles dropped on purpose (deleted ones)."""
    service = doc.get("AdmRulService")
    if not isinstance(service, dict):
        raise InputError(source, "expected an object", field="AdmRulService")
    basic = service.get("행정규칙기본정보")
    if not isinstance(basic, dict):
        raise InputError(source, "missing or not an object", field="AdmRulService.행정규칙기본정보")
    rule_id = as_text(basic.get("행정규칙ID"))
    if not _DIGITS.match(rule_id):
        raise InputError(
            source, f"행정규칙ID must be digits, got {rule_id!r}", field="행정규칙기본정보.행정규칙ID"
        )
    name = clean_line(as_text(basic.get("행정규칙명")))
    if not name:
        raise InputError(source, "missing", field="행정규칙기본정보.행정규칙명")
    try:
        chunks = [clean_line(x) for x in flatten_lines(service.get("조문내용"))]
    except TypeError as exc:
        raise InputError(source, str(exc), field="AdmRulService.조문내용") from None
    chunks = [c for c in chunks if c]
    if not chunks:
        raise InputError(source, "the rule has no articles", field="AdmRulService.조문내용")

    passages: list[Passage] = []
    dropped: list[str] = []
    seen: set[str] = set()
    for article in _split_articles(chunks):
        article_id = ids.admin_article_id(rule_id, article.label)
        if _DELETED.match(article.text):
            dropped.append(f"{article.label} (deleted article)")
            continue
        if article_id in seen:
            raise InputError(source, f"article {article.label} appears twice", field="AdmRulService.조문내용")
        seen.add(article_id)
        for pid, text, paragraph in _paragraph_units(article_id, article.text, options):
            passages.append(
                Passage(
                    id=pid,
                    parent_id=rule_id,
                    type="admin",
                    text=f"{name} {text}",
                    law_name=name,
                    article=article.label,
                    article_id=article_id,
                    paragraph=paragraph,
                    title=_title(article.text),
                    chapter=article.chapter,
                    effective_date=as_text(basic.get("시행일자")),
                    source=source,
                )
            )
    return passages, dropped


def _split_articles(chunks: list[str]) -> list[_Article]:
    """Cut the rule's text into articles at forward-moving heads; chapter headings become context."""
    text = "\n".join(chunks)
    heads: list[tuple[re.Match[str], tuple[int, int, int]]] = []
    last_key = (0, 0, 0)
    for match in _HEAD.finditer(text):
        key = (int(match["n"]), int(match["sub"] or 0), int(match["branch"] or 0))
        dashed = match["sub"] is not None
        if heads and dashed != (heads[0][0]["sub"] is not None):
            continue  # a rule numbered 제1-1조 never switches to 제2조: that is a reference to a law's article
        if key > last_key and not _REFERENCE_BEFORE.search(text, 0, match.start()):
            heads.append((match, key))
            last_key = key
    articles: list[_Article] = []
    chapter = _chapter_before(text[: heads[0][0].start()] if heads else "", "")
    for i, (match, key) in enumerate(heads):
        end = heads[i + 1][0].start() if i + 1 < len(heads) else len(text)
        body = text[match.start() : end]
        body, next_chapter = _pop_trailing_chapter(body)
        label = ids.article_label(key[0], key[2] or None, key[1] or None)
        cleaned = "\n".join(strip_amendment_notes(line) for line in body.splitlines())
        articles.append(_Article(key, label, "\n".join(x for x in cleaned.splitlines() if x), chapter))
        if next_chapter:
            chapter = next_chapter
    return articles


def _chapter_before(prefix: str, current: str) -> str:
    lines = [x for x in prefix.splitlines() if _CHAPTER.match(x.strip())]
    return strip_amendment_notes(lines[-1]) if lines else current


def _pop_trailing_chapter(body: str) -> tuple[str, str]:
    """A chapter heading glued to the end of the previous article (one-string rules, list items)."""
    lines = body.rstrip().splitlines()
    if len(lines) > 1 and _CHAPTER.match(lines[-1].strip()):
        return "\n".join(lines[:-1]), strip_amendment_notes(lines[-1])
    match = _TRAILING_CHAPTER.search(body)
    if match:
        return body[: match.start()], strip_amendment_notes(match.group(1))
    return body, ""


def _title(text: str) -> str:
    match = re.match(r"^제[\d-]+조(?:의\d+)?\s*\(([^)]*)\)", text)
    return match.group(1).strip() if match else ""


def _paragraph_units(
    article_id: str, text: str, options: PassageOptions
) -> list[tuple[str, str, int | None]]:
    """The article as one unit, or one unit per ① ② … when the options ask for it (see PassageOptions).

    Only markers that continue the sequence (① then ② …) start a paragraph: a quoted form or a sub-list
    inside a paragraph may restart at ①, and must stay inside the paragraph that quotes it.
    """
    flat = " ".join(text.splitlines())
    pieces = [p.strip() for p in _PARAGRAPH_SPLIT.split(flat) if p.strip()]
    head, paragraphs = pieces[0], []
    if ids.is_circled_number(head[0]):
        head, pieces = "", pieces
    else:
        pieces = pieces[1:]
    for piece in pieces:
        number = ids.paragraph_number(piece[0])
        if number == len(paragraphs) + 1:
            paragraphs.append([number, piece])
        elif paragraphs:
            paragraphs[-1][1] += " " + piece
        else:
            head = f"{head} {piece}".strip()
    split = len(paragraphs) >= 2 and (
        options.granularity is Granularity.PARAGRAPH or estimate_tokens(text) > options.max_tokens
    )
    if not split:
        return [(article_id, text, None)]
    return [
        (ids.paragraph_id(article_id, number), f"{head}\n{body}".strip(), number)
        for number, body in paragraphs
    ]
