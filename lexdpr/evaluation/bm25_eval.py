"""BM25 as a retriever under evaluation: the lexical baseline every trained model is compared with.

It ranks the whole corpus for every eval query, like the bi-encoder evaluation does, and records the same
metric names and fingerprint, so its numbers sit in the same tables as the trained runs'. With `workers` > 1
the queries are scored in forked processes sharing the index; the metrics do not depend on the worker count.
Hybrid retrieval (`lexdpr.evaluation.hybrid`) ranks with the same index and settings (`bm25_settings`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

from lexdpr.retrieval.bm25_index import DEFAULT_B, DEFAULT_K1, DEFAULT_METHOD, BM25Index, Tokenizer
from lexdpr.retrieval.korean_tokenizer import CONTENT_TAGS, KoreanTokenizer
from lexdpr.retrieval.metrics import (
    DEFAULT_K_VALUES,
    MRR_CUTOFF,
    compute_retrieval_metrics,
    eval_fingerprint,
)


def evaluate_bm25(
    pairs: Sequence[Mapping[str, Any]],
    corpus: Sequence[Mapping[str, Any]],
    k_values: Iterable[int] = DEFAULT_K_VALUES,
    tokenizer: Tokenizer | None = None,
    workers: int = 1,
) -> dict[str, float | str]:
    """Metrics of BM25 (default settings) over `corpus` for the queries of `pairs`, plus `eval/fingerprint`.

    `corpus` holds passage records (`id`, `text`), `pairs` pair records (`query_id`, `query_text`,
    `positive_passages`). Without a tokenizer, a `KoreanTokenizer` on all cores is made. Raises ValueError
    when a query id occurs twice with different texts or positives: which one was meant is unknowable.
    """
    k_values = tuple(k_values)
    queries = unique_queries(pairs)
    index = build_bm25_index([p["id"] for p in corpus], [p["text"] for p in corpus], tokenizer)
    depth = min(max((*k_values, MRR_CUTOFF)), len(index))
    query_ids = list(queries)
    hits = rank_bm25(index, [queries[qid][0] for qid in query_ids], depth, workers)
    rankings = {qid: [pid for pid, _ in ranked] for qid, ranked in zip(query_ids, hits, strict=True)}
    relevant = {qid: queries[qid][1] for qid in query_ids}
    result: dict[str, float | str] = dict(compute_retrieval_metrics(rankings, relevant, k_values))
    result["eval/fingerprint"] = eval_fingerprint(pairs, (p["id"] for p in corpus))
    return result


def build_bm25_index(
    ids: Sequence[str], texts: Sequence[str], tokenizer: Tokenizer | None = None
) -> BM25Index:
    """The evaluation's BM25 index (default settings); a `KoreanTokenizer` on all cores when none is given."""
    return BM25Index.build(ids, texts, tokenizer if tokenizer is not None else KoreanTokenizer())


def rank_bm25(
    index: BM25Index, texts: Sequence[str], depth: int, workers: int = 1
) -> list[list[tuple[str, float]]]:
    """Per query text, its best `min(depth, len(index))` (passage id, BM25 score), best first, ties by id.

    Passages that share no term with the query fill the list with score 0, as `BM25Index.search` does; the
    metrics count them (a retriever must return something), fusion drops them (they are no match at all).
    """
    return index.search_tokens(index.tokenize(list(texts)), min(depth, len(index)), workers)


def bm25_settings() -> dict[str, Any]:
    """What a system outside lexdpr needs to rebuild this BM25: tokenizer, analyser version, parameters."""
    try:
        kiwi_version = metadata.version("kiwipiepy")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency of the package
        kiwi_version = None
    return {
        "tokenizer": "lexdpr.retrieval.korean_tokenizer.KoreanTokenizer",
        "analyzer": "kiwipiepy",
        "analyzer_version": kiwi_version,
        "content_tags": sorted(CONTENT_TAGS),
        "lowercase": True,
        "method": DEFAULT_METHOD,
        "k1": DEFAULT_K1,
        "b": DEFAULT_B,
    }


def unique_queries(pairs: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, frozenset[str]]]:
    """query_id -> (text, positive ids); a repeated identical pair is harmless, a conflicting one is not."""
    queries: dict[str, tuple[str, frozenset[str]]] = {}
    for pair in pairs:
        qid = pair["query_id"]
        entry = (pair["query_text"], frozenset(pair["positive_passages"]))
        if queries.setdefault(qid, entry) != entry:
            raise ValueError(f"query {qid!r} occurs twice with different text or positives")
    return queries
