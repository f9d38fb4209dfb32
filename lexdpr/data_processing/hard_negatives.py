"""Hard negatives: passages BM25 ranks high for a query that are not its answer.

For each query the candidate corpus is ranked with BM25 over Kiwi morphemes; every passage related to a
positive of the same precedent (the positive, its parts and parent article, identical text under another
id — see `ArticleIndex.related_ids`) is removed; of what is left, the first `skip_top` are passed over and
the next `per_query` taken. Skipping the very top matters: precedents cite only some of the articles that
answer an issue, so the highest-ranked non-cited article is often a true but unlabelled positive.

A short query can match fewer passages than it needs; the rest is filled with other articles of the
positives' own laws (same vocabulary and subject, still not the answer), in a fixed pseudo-random order, so
every query gets exactly `per_query` negatives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.retrieval.bm25_index import BM25Index


@dataclass(frozen=True)
class HardNegativeOptions:
    per_query: int = 32
    skip_top: int = 3
    depth: int = 200


@dataclass(frozen=True)
class MiningRequest:
    """One query to mine for: its BM25 tokens and the positives of its whole precedent (to exclude)."""

    tokens: tuple[str, ...]
    excluded_positives: tuple[str, ...]


def mine(
    requests: Sequence[MiningRequest], index: BM25Index, articles: ArticleIndex, options: HardNegativeOptions
) -> list[list[str]]:
    """Hard negative ids per request, best BM25 rank first; deterministic (ties broken by id)."""
    if options.per_query <= 0 or not requests:
        return [[] for _ in requests]
    depth = min(len(index), options.depth + options.skip_top + options.per_query)
    rankings = index.search_tokens([list(r.tokens) for r in requests], depth)
    out: list[list[str]] = []
    for request, ranking in zip(requests, rankings, strict=True):
        related = articles.related_ids(request.excluded_positives)
        chosen = _eligible(ranking, related, options.skip_top, options.per_query)
        if len(chosen) < options.per_query:
            chosen += _same_law_fill(
                request, related | set(chosen), articles, options.per_query - len(chosen)
            )
        out.append(chosen)
    return out


def _eligible(ranking: list[tuple[str, float]], related: set[str], skip: int, take: int) -> list[str]:
    """Ranked ids with a positive score outside `related`: the `take` after the first `skip`.

    Stops at the last one needed: filtering the whole ranking (235 ids by default) per query was wasted work.
    """
    chosen: list[str] = []
    seen = 0
    for pid, score in ranking:
        if score <= 0:
            break  # rankings are best first: no positive score follows
        if pid in related:
            continue
        seen += 1
        if seen > skip:
            chosen.append(pid)
            if len(chosen) == take:
                break
    return chosen


def _same_law_fill(request: MiningRequest, taken: set[str], articles: ArticleIndex, count: int) -> list[str]:
    parents = dict.fromkeys(
        articles.by_id[p]["parent_id"] for p in request.excluded_positives if p in articles.by_id
    )
    pool = [pid for parent in parents for pid in articles.ids_of_parent(parent) if pid not in taken]
    seed = " ".join(request.tokens)
    pool.sort(key=lambda pid: hashlib.sha1(f"{seed}|{pid}".encode()).digest())
    return pool[:count]
