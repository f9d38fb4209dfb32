"""Ranking passages, and measuring a ranking: Korean morpheme tokenization, a BM25 index (hard negatives,
baselines), exact dense top-k, fusion of two rankings, and the retrieval metrics every retriever is scored
with (`metrics`). Nothing here imports training or evaluation."""
