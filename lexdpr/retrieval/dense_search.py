"""Exact top-k by dot product over a corpus too large for a queries × corpus score matrix.

The corpus is read in blocks of rows (it may be a `np.memmap` of an `.npy` written by `lex-dpr encode`, in
float16 or float32); each block is scored in float32 against a block of queries, its best `k` per query are
kept, and the running best of all blocks so far is merged with them. Memory holds one
`query_block × corpus_block` score matrix and `query_block × 2k` candidates, whatever the corpus size.

The result is the same as sorting the full score matrix: best score first, equal scores in ascending row
order (so the answer does not depend on the block sizes).
"""

from __future__ import annotations

import numpy as np

QUERY_BLOCK = 1024
CORPUS_BLOCK = 32768


def top_k(
    queries: np.ndarray,
    passages: np.ndarray,
    k: int,
    *,
    query_block: int = QUERY_BLOCK,
    corpus_block: int = CORPUS_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """(row indices int64 [Q, min(k, N)], scores float32 [Q, min(k, N)]) of the best passages per query."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if query_block < 1 or corpus_block < 1:
        raise ValueError("block sizes must be >= 1")
    n_queries, n_passages = queries.shape[0], passages.shape[0]
    k = min(k, n_passages)
    indices = np.empty((n_queries, k), dtype=np.int64)
    scores = np.empty((n_queries, k), dtype=np.float32)
    for qs in range(0, n_queries, query_block):
        q = np.asarray(queries[qs : qs + query_block], dtype=np.float32)
        best_i = np.empty((q.shape[0], 0), dtype=np.int64)
        best_s = np.empty((q.shape[0], 0), dtype=np.float32)
        for cs in range(0, n_passages, corpus_block):
            block = np.asarray(passages[cs : cs + corpus_block], dtype=np.float32)
            block_scores = q @ block.T
            cand_i, cand_s = _block_top_k(block_scores, k)
            merged_i = np.concatenate((best_i, cand_i + cs), axis=1)
            merged_s = np.concatenate((best_s, cand_s), axis=1)
            best_i, best_s = _ordered(merged_i, merged_s, k)
        indices[qs : qs + q.shape[0]] = best_i
        scores[qs : qs + q.shape[0]] = best_s
    return indices, scores


def _ordered(idx: np.ndarray, val: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the first `k` of (idx, val) by descending value, then ascending index."""
    order = np.lexsort((idx, -val), axis=-1)[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(val, order, axis=1)


def _block_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's best `k` (ties at the cut: lowest columns), unordered."""
    n_cols = scores.shape[1]
    if k >= n_cols:
        cols = np.broadcast_to(np.arange(n_cols, dtype=np.int64), scores.shape)
        return np.ascontiguousarray(cols), scores
    cols = np.argpartition(-scores, k - 1, axis=1)[:, :k].astype(np.int64)
    vals = np.take_along_axis(scores, cols, axis=1)
    # argpartition picks arbitrary members of a tie at the cut; redo those rows so the lowest columns win
    cut = vals.min(axis=1)
    tied_rows = np.flatnonzero((scores >= cut[:, None]).sum(axis=1) > k)
    for r in tied_rows:
        row = scores[r]
        above = np.flatnonzero(row > cut[r])
        ties = np.flatnonzero(row == cut[r])[: k - above.size]
        cols[r] = np.concatenate((above, ties))
        vals[r] = row[cols[r]]
    return cols, vals
