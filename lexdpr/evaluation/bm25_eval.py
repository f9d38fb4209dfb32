"""BM25 as a retriever under evaluation: the lexical baseline every trained model is compared with.

It ranks the whole corpus for every eval query, like the bi-encoder evaluation does, and records the same
metric names and fingerprint, so its numbers sit in the same tables as the trained runs'. With `workers` > 1
the queries are scored in forked processes sharing the index; the metrics do not depend on the worker count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lexdpr.evaluation.metrics import (
    DEFAULT_K_VALUES,
    MRR_CUTOFF,
    compute_retrieval_metrics,
    eval_fingerprint,
)
from lexdpr.retrieval.bm25_index import BM25Index, Tokenizer
from lexdpr.retrieval.korean_tokenizer import KoreanTokenizer


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
    if tokenizer is None:
        tokenizer = KoreanTokenizer()
    queries = _unique_queries(pairs)
    index = BM25Index.build([p["id"] for p in corpus], [p["text"] for p in corpus], tokenizer)
    depth = min(max((*k_values, MRR_CUTOFF)), len(index))
    query_ids = list(queries)
    hits = index.search_tokens(index.tokenize([queries[qid][0] for qid in query_ids]), depth, workers)
    rankings = {qid: [pid for pid, _ in ranked] for qid, ranked in zip(query_ids, hits, strict=True)}
    relevant = {qid: queries[qid][1] for qid in query_ids}
    result: dict[str, float | str] = dict(compute_retrieval_metrics(rankings, relevant, k_values))
    result["eval/fingerprint"] = eval_fingerprint(pairs, (p["id"] for p in corpus))
    return result


def _unique_queries(pairs: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, frozenset[str]]]:
    """query_id -> (text, positive ids); a repeated identical pair is harmless, a conflicting one is not."""
    queries: dict[str, tuple[str, frozenset[str]]] = {}
    for pair in pairs:
        qid = pair["query_id"]
        entry = (pair["query_text"], frozenset(pair["positive_passages"]))
        if queries.setdefault(qid, entry) != entry:
            raise ValueError(f"query {qid!r} occurs twice with different text or positives")
    return queries
