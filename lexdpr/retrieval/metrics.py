"""Retrieval metrics with binary relevance, and the fingerprint that says which runs are comparable.

These are the `eval/*` numbers of docs/design.md, 'Metrics', for every retriever (BM25 baseline, the trained
bi-encoder, sweep trials), so they take plain rankings of passage ids and depend on nothing else. They sit here,
below both training (which scores its checkpoints with them) and `lexdpr.evaluation` (which evaluates trained
models and so imports training), so neither package has to import the other to use them.

Conventions, chosen to agree with ranx (the tests check it) and with the usual IR definitions:
- relevance is binary: a passage is relevant iff its id is in the query's positive set;
- nDCG@k = DCG@k / IDCG@k with gain 1 at rank r discounted by log2(r + 1), IDCG placing min(|relevant|, k)
  relevant passages first;
- recall@k = |relevant in top k| / |relevant| (not capped at k, so a query with more positives than k cannot
  reach 1: the metric tells how much of the positive set was found);
- MRR@k = 1 / rank of the first relevant passage in the top k, 0 if none.
A ranking must not repeat a passage id: a repeat would be counted twice and could push a metric above 1.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

MRR_CUTOFF = 10
DEFAULT_K_VALUES: tuple[int, ...] = (1, 3, 5, 10)
_FINGERPRINT_SCHEME = "lexdpr-eval-fingerprint-v1"


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-relevance nDCG of the first `k` ranked ids; 0.0 when nothing is relevant."""
    top = _top(ranked, k)
    ideal_hits = min(len(relevant), k)
    if ideal_hits == 0:
        return 0.0
    dcg = math.fsum(1.0 / math.log2(rank + 2) for rank, pid in enumerate(top) if pid in relevant)
    idcg = math.fsum(1.0 / math.log2(rank + 2) for rank in range(ideal_hits))
    return dcg / idcg


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Fraction of the relevant ids found in the first `k`; 0.0 when nothing is relevant."""
    top = _top(ranked, k)
    if not relevant:
        return 0.0
    return sum(1 for pid in top if pid in relevant) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Reciprocal rank of the first relevant id within the first `k`, else 0.0."""
    for rank, pid in enumerate(_top(ranked, k), start=1):
        if pid in relevant:
            return 1.0 / rank
    return 0.0


def compute_retrieval_metrics(
    rankings: Mapping[str, Sequence[str]],
    relevant: Mapping[str, Collection[str]],
    k_values: Iterable[int] = DEFAULT_K_VALUES,
) -> dict[str, float]:
    """Mean `eval/ndcg_at_{k}`, `eval/recall_at_{k}` for each k and `eval/mrr_at_10` over the queries.

    The queries are those of `relevant` with at least one relevant passage. A query without positives is
    excluded rather than scored 0: no retriever could do better on it, so it would only dilute the mean.
    A query with positives but no ranking counts as an empty ranking, 0 on every metric, so a retriever
    cannot gain by skipping queries. Rankings of queries outside `relevant` are ignored. Raises ValueError
    when no query has a positive: there is nothing to average.
    """
    ks = _check_k_values(k_values)
    query_ids = sorted(qid for qid, rel in relevant.items() if rel)
    if not query_ids:
        raise ValueError("no query has a relevant passage; retrieval metrics are undefined")
    metrics = {f"eval/ndcg_at_{k}": (ndcg_at_k, k) for k in ks}
    metrics |= {f"eval/recall_at_{k}": (recall_at_k, k) for k in ks}
    metrics[f"eval/mrr_at_{MRR_CUTOFF}"] = (mrr_at_k, MRR_CUTOFF)
    per_metric: dict[str, list[float]] = {name: [] for name in metrics}
    for qid in query_ids:
        ranked = rankings.get(qid, ())
        rel = set(relevant[qid])
        for name, (metric, k) in metrics.items():
            per_metric[name].append(metric(ranked, rel, k))
    # fsum: the mean does not depend on the order of the queries
    return {name: math.fsum(values) / len(values) for name, values in per_metric.items()}


def eval_fingerprint(pairs: Iterable[Mapping[str, Any]], corpus_ids: Iterable[str]) -> str:
    """A 16-hex-digit sha256 of what an evaluation ranks against what (docs/design.md, 'Metrics').

    Hashed: each pair's `query_id` with its sorted, de-duplicated `positive_passages` (the pairs sorted),
    and the sorted corpus ids, all as strings. Nothing depends on file order, so the same pairs and corpus
    in another order keep the fingerprint, while adding, dropping or renaming any query, positive or passage
    changes it. Query texts and hard negatives are not part of it. A scheme name is hashed along, so a
    change to this function changes every fingerprint instead of silently matching old ones.
    """
    queries = sorted(
        [str(pair["query_id"]), sorted({str(pid) for pid in pair["positive_passages"]})] for pair in pairs
    )
    payload = {"scheme": _FINGERPRINT_SCHEME, "queries": queries, "corpus": sorted(map(str, corpus_ids))}
    encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:16]


def _top(ranked: Sequence[str], k: int) -> Sequence[str]:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    top = ranked[:k]
    if len(set(top)) != len(top):
        raise ValueError(f"ranking repeats a passage id within its first {k}: {list(top)}")
    return top


def _check_k_values(k_values: Iterable[int]) -> list[int]:
    """Sorted distinct cut-offs; numpy integers are accepted (operator.index), bools and floats are not."""
    given = list(k_values)
    error = ValueError(f"k_values must be positive integers, got {given}")
    if not given or any(isinstance(k, bool) for k in given):
        raise error
    try:
        ks = sorted({operator.index(k) for k in given})
    except TypeError:
        raise error from None
    if ks[0] < 1:
        raise error
    return ks


__all__: list[str] = [
    "DEFAULT_K_VALUES",
    "MRR_CUTOFF",
    "compute_retrieval_metrics",
    "eval_fingerprint",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
]
