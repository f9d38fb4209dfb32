"""Evaluation: retrieval metrics shared by every retriever (docs/design.md, 'Metrics'), and the BM25 baseline.

The metric functions are re-exported here because the trainer, the sweep tools and the BM25 baseline all use
them; `lexdpr.evaluation.bm25_eval` is not, so importing the metrics never loads Kiwi or bm25s.
"""

from lexdpr.evaluation.metrics import (
    DEFAULT_K_VALUES,
    MRR_CUTOFF,
    compute_retrieval_metrics,
    eval_fingerprint,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)

__all__ = [
    "DEFAULT_K_VALUES",
    "MRR_CUTOFF",
    "compute_retrieval_metrics",
    "eval_fingerprint",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
]
