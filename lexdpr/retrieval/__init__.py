"""Lexical retrieval: Korean morpheme tokenization and a BM25 index (hard negatives, baselines)."""
