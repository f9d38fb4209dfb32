"""A BM25 index over passage ids, for hard-negative mining and the lexical baseline.

bm25s computes the BM25 weight of every (term, passage) pair once, at build time, into a sparse matrix with
one posting slice per term. We rank with those weights ourselves instead of `bm25s.BM25.retrieve` because
results must be deterministic with ties broken by passage id (bm25s' top-k leaves tie order to
`argpartition`) and thousands of queries must score in about a second with numpy alone (numba and scipy are
not runtime dependencies): one `np.bincount` over a query's posting slices is several times faster than
bm25s' `np.add.at` loop.

Scores equal bm25s' `get_scores`: a query term counts once per occurrence in the query, terms the corpus
never saw are ignored; sums are in float64 over bm25s' float32 weights.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Protocol

import bm25s
import numpy as np

from lexdpr.retrieval.forked import fork_map, shared

# Lucene's BM25 (as in Elasticsearch, OpenSearch, Pyserini): idf = ln(1 + (N - df + 0.5) / (df + 0.5)) is
# never negative, so a term found in most articles (법, 하) cannot push a passage down. k1=1.2, b=0.75 are
# the textbook values. On the real laws, with precedent issues (판시사항 [n]) as queries and the articles
# their 참조조문 cite as positives (4.4k queries, a proxy for the pairs), nDCG@10 was 0.342; k1 1.5 or 2.0,
# b 0.9 and the robertson/atire/bm25l/bm25+ variants all landed within 0.005 of it, and only a lower b
# (0.4-0.5) or k1 (0.6) did worse (0.311-0.331): nothing worth tuning to a proxy.
DEFAULT_K1 = 1.2
DEFAULT_B = 0.75
DEFAULT_METHOD = "lucene"
# bm25s' BM25L and BM25+ add a per-query constant at query time that `_scores` does not reproduce.
METHODS = ("lucene", "robertson", "atire")


class Tokenizer(Protocol):
    """What the index needs from a tokenizer: the same one must serve passages and queries."""

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]: ...


class BM25Index:
    """Passage ids ranked by BM25 against queries; build with `BM25Index.build`."""

    def __init__(self, ids: list[str], model: bm25s.BM25, tokenizer: Tokenizer) -> None:
        """Wrap an indexed bm25s model whose document i is `ids[i]`; `ids` must be sorted and unique."""
        self._ids = ids
        self._tokenizer = tokenizer
        self._vocab: dict[str, int] = model.vocab_dict
        self._data = np.asarray(model.scores["data"])
        self._indices = np.asarray(model.scores["indices"], dtype=np.intp)
        self._indptr = [int(i) for i in model.scores["indptr"]]

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        tokenizer: Tokenizer,
        *,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        method: str = DEFAULT_METHOD,
    ) -> BM25Index:
        """Tokenize `texts` and index them under `ids` (unique; their order does not matter).

        Passages are stored in sorted-id order, so that a stable sort by score breaks ties by id.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
        if not ids:
            raise ValueError("cannot build a BM25 index over an empty corpus")
        order = sorted(range(len(ids)), key=ids.__getitem__)
        sorted_ids = [ids[i] for i in order]
        duplicates = sorted({a for a, b_ in pairwise(sorted_ids) if a == b_})
        if duplicates:
            raise ValueError(f"duplicate passage ids, e.g. {duplicates[:5]}")
        tokens = tokenizer.tokenize([texts[i] for i in order])
        if not any(tokens):
            raise ValueError("no passage has a single token; nothing to index")
        model = bm25s.BM25(k1=k1, b=b, method=method)
        # bm25s divides 0 by 0 for a passage without tokens (it gets no postings, which is right): silence it
        with np.errstate(invalid="ignore", divide="ignore"):
            model.index(tokens, show_progress=False)
        return cls(sorted_ids, model, tokenizer)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        """The indexed passage ids, sorted."""
        return list(self._ids)

    def search(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        """Return, per query, the `min(k, len(self))` best (passage id, score) pairs, best first.

        Equal scores are ordered by passage id (ascending, Python string order). Passages sharing no term with
        the query score 0.0 and still fill the list, in id order, so every query gets the same number of
        results; callers mining hard negatives may drop zero scores.
        """
        return self.search_tokens(self._tokenizer.tokenize(queries), k)

    def search_tokens(
        self, token_lists: Sequence[list[str]], k: int, workers: int = 1
    ) -> list[list[tuple[str, float]]]:
        """`search` for queries already tokenized with this index's tokenizer (e.g. in a parent process).

        With `workers` > 1 the queries are scored in that many forked processes sharing this index (the
        results are the same, in the same order).
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if workers > 1 and len(token_lists) >= 2 * _MIN_PARALLEL_QUERIES:
            size = max(_MIN_PARALLEL_QUERIES, -(-len(token_lists) // (workers * 4)))
            chunks = [(list(token_lists[i : i + size]), k) for i in range(0, len(token_lists), size)]
            parts = fork_map(_search_chunk, chunks, self, workers)
            return [ranking for part in parts for ranking in part]
        return [self._top_k(self._scores(tokens), k) for tokens in token_lists]

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize queries the way `search` does."""
        return self._tokenizer.tokenize(texts)

    def _scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for one tokenized query.

        Each distinct query term's posting slice is weighted by how often the term occurs in the query, and
        one `np.bincount` sums all slices per passage.
        """
        vocab = self._vocab
        counts = Counter(t for t in tokens if t in vocab)
        if not counts:
            return np.zeros(len(self._ids))
        indptr, indices, data = self._indptr, self._indices, self._data
        slices = [(indptr[vocab[t]], indptr[vocab[t] + 1], n) for t, n in counts.items()]
        passages = np.concatenate([indices[lo:hi] for lo, hi, _ in slices])
        weights = np.concatenate([data[lo:hi] * n if n > 1 else data[lo:hi] for lo, hi, n in slices])
        return np.bincount(passages, weights=weights, minlength=len(self._ids))

    def _top_k(self, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Best `k` passages of one score row; ties (including all zero scores) in id order."""
        n_docs = scores.shape[0]
        if k < n_docs:
            # Partitioning all n scores per query dominated mining. The k-th best of an evenly spaced sample
            # is a lower bound of the k-th best of all, so only scores at or above it (a few k of them) need
            # partitioning; the cut, and which ties make it, come out the same. A bound of 0 would let zero
            # scores in, whose order rule is below: then all scores are partitioned as before.
            stride = int((n_docs / k) ** 0.5)
            sample = scores[::stride] if stride > 1 else scores[:0]
            if sample.size > k:
                bound = np.partition(sample, sample.size - k)[sample.size - k]
                if bound > 0:
                    hit = np.flatnonzero(scores >= bound)  # at least the k sampled ones
                    values = scores[hit]
                    kth = np.partition(values, hit.size - k)[hit.size - k]
                    above = hit[values > kth]
                    ties = hit[values == kth][: k - above.size]
                    candidates = np.concatenate((above, ties))
                    best = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
                    return self._ranked(best, scores)
            kth = np.partition(scores, n_docs - k)[n_docs - k]
            above = np.flatnonzero(scores > kth)
            # flatnonzero is ascending, i.e. in id order: the first ties are the ones that make the cut
            ties = np.flatnonzero(scores == kth)[: k - above.size]
            candidates = np.concatenate((above, ties))
        else:
            candidates = np.arange(n_docs)
        # lexsort: last key is primary -> descending score, then ascending index == ascending id
        best = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
        return self._ranked(best, scores)

    def _ranked(self, best: np.ndarray, scores: np.ndarray) -> list[tuple[str, float]]:
        """(id, score) for the passage positions `best`.

        `tolist` converts all positions and scores in C (to the same Python ints and floats `float()` gives);
        indexing numpy one element at a time cost more than the partition itself at 200+ results per query.
        """
        ids = self._ids
        return [(ids[i], s) for i, s in zip(best.tolist(), scores[best].tolist(), strict=True)]


_MIN_PARALLEL_QUERIES = 64  # fewer queries per process than this cost more to fork than they save


def _search_chunk(chunk: tuple[list[list[str]], int]) -> list[list[tuple[str, float]]]:
    token_lists, k = chunk
    return shared().search_tokens(token_lists, k)
