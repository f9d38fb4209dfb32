"""From one precedent to its queries: one per issue of 판시사항, each with the articles cited for it.

A query is issue [k] of 판시사항 (판결요지 when 판시사항 is empty); its positives are the passages of the
articles that group [k] of 참조조문 cites (every group when 참조조문 is not numbered). Citations that cannot
be resolved are counted by reason so the summary shows where resolution is lost. An issue whose citations
all fail gets a fallback passage made of its own 판결요지, as the user guide describes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.data_processing.citations import Citation, parse_references, split_issues
from lexdpr.data_processing.law_names import LawNameIndex
from lexdpr.data_processing.passage import Passage
from lexdpr.data_processing.passage_ids import precedent_passage_id
from lexdpr.data_processing.precedents import Precedent
from lexdpr.data_processing.raw_values import clean_line


@dataclass(frozen=True)
class CitationTarget:
    """Where citations may resolve: a name index and the passages of one source type (law or admin)."""

    names: LawNameIndex
    articles: ArticleIndex


@dataclass
class QueryDraft:
    query_id: str
    text: str
    issue: int | None
    positives: list[str]
    positive_type: str  # law | admin | prec
    meta: dict[str, Any]


@dataclass
class PrecedentQueries:
    """Everything one precedent contributes: queries, fallback passages, and counters for the summary."""

    serial: str
    source: str = ""
    queries: list[QueryDraft] = field(default_factory=list)
    fallbacks: list[Passage] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


def build_queries(
    precedent: Precedent,
    targets: list[CitationTarget],
    max_positives: int,
) -> PrecedentQueries:
    out = PrecedentQueries(serial=precedent.serial, source=precedent.source)
    primary = targets[0].names
    holdings = split_issues(primary.restore_spaces(precedent.holdings)) if precedent.holdings else []
    summaries = dict(split_issues(primary.restore_spaces(precedent.summary))) if precedent.summary else {}
    issues = holdings or list(summaries.items())
    if not issues:
        out.counts["precedents without 판시사항 or 판결요지"] += 1
        return out
    parsed = parse_references(precedent.references)
    out.counts["citations parsed"] += len(parsed.citations)
    for piece in parsed.unparsed:
        out.counts[f"citation pieces not parsed ({piece.reason})"] += 1
    by_issue: dict[int | None, list[Citation]] = {}
    for group in parsed.groups:
        by_issue.setdefault(group.issue, []).extend(group.citations)
    for issue, text in issues:
        text = clean_line(text)
        if not text:
            continue
        citations = _citations_for(issue, by_issue)
        positives, positive_type = _resolve_all(citations, targets, out.counts)
        summary = clean_line(
            summaries.get(issue, "") or (summaries.get(None, "") if len(issues) == 1 else "")
        )
        query_id = f"Q_{precedent.serial}" + (f"_{issue}" if issue is not None else "")
        if not positives:
            if not summary:
                out.counts["queries dropped (no resolvable citation, no 판결요지 for a fallback)"] += 1
                continue
            fallback = _fallback_passage(precedent, issue, summary)
            out.fallbacks.append(fallback)
            positives, positive_type = [fallback.id], "prec"
        first = _lookup(positives[0], targets)
        meta = {
            "type": positive_type,
            "law_name": first.get("law_name", "") if first else precedent.header,
            "article": first.get("article", "") if first else "",
            "precedent_id": precedent.serial,
            "issue": issue,
            "case_number": precedent.case_number,
            "court": precedent.court,
            "decided": precedent.decided,
            "summary": summary,
            "cited": [c.raw for c in citations],
        }
        out.queries.append(QueryDraft(query_id, text, issue, positives[:max_positives], positive_type, meta))
        out.counts[f"queries with {positive_type} positives"] += 1
    return out


def _citations_for(issue: int | None, by_issue: dict[int | None, list[Citation]]) -> list[Citation]:
    """The citations of one issue: its own group; all groups when either side is not numbered."""
    if issue is not None and issue in by_issue:
        return by_issue[issue]
    if None in by_issue and len(by_issue) == 1:
        return by_issue[None]
    if issue is None:
        return [c for group in by_issue.values() for c in group]
    return []


def _resolve_all(
    citations: list[Citation], targets: list[CitationTarget], counts: Counter[str]
) -> tuple[list[str], str]:
    positives: list[str] = []
    kinds: list[str] = []
    for citation in citations:
        ids, kind = _resolve(citation, targets, counts)
        for pid in ids:
            if pid not in positives:
                positives.append(pid)
                kinds.append(kind)
    return positives, (kinds[0] if kinds else "")


def _resolve(
    citation: Citation, targets: list[CitationTarget], counts: Counter[str]
) -> tuple[list[str], str]:
    """Passage ids for one citation, counting the outcome; [] with a reason when it cannot resolve."""
    for position, target in enumerate(targets):
        source_id = target.names.resolve(citation.law_name)
        if source_id is None:
            continue
        kind = "law" if position == 0 else "admin"
        if citation.is_addendum:
            counts["citations not resolved: 부칙 (addendum) article"] += 1
            return [], kind
        if citation.article is None and not citation.is_preamble:
            counts["citations not resolved: law cited without an article"] += 1
            return [], kind
        counts["citations of an article whose law is in the corpus"] += 1
        ids = _article_passages(citation, source_id, target.articles)
        if not ids and citation.is_old_version:
            for current in citation.current:
                ids = _article_passages(current, source_id, target.articles)
                if ids:
                    counts["old-version citations resolved through their 현행 note"] += 1
                    break
        if ids:
            counts["citations resolved to passages"] += 1
            return ids, kind
        counts["citations not resolved: article not in the corpus (old numbering or deleted)"] += 1
        return [], kind
    counts["citations not resolved: law not in the corpus"] += 1
    return [], ""


def _article_passages(citation: Citation, source_id: str, articles: ArticleIndex) -> list[str]:
    return articles.passages_for(
        source_id,
        citation.article,
        citation.article_branch,
        citation.paragraph,
        preamble=citation.is_preamble,
    )


def _lookup(passage_id: str, targets: list[CitationTarget]) -> dict[str, Any] | None:
    for target in targets:
        if passage_id in target.articles.by_id:
            return target.articles.by_id[passage_id]
    return None


def _fallback_passage(precedent: Precedent, issue: int | None, summary: str) -> Passage:
    pid = precedent_passage_id(precedent.serial, issue)
    return Passage(
        id=pid,
        parent_id=precedent.serial,
        type="prec",
        text=f"{precedent.header} {summary}",
        law_name=precedent.header,
        article=f"[{issue}]" if issue is not None else "",
        article_id=pid,
        paragraph=None,
        title=precedent.case_name,
        effective_date=precedent.decided,
        source=precedent.source,
    )
