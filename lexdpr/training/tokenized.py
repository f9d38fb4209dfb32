"""Texts tokenized once, stored compactly, and padded per length bucket.

Why: a corpus of 100k passages as Python lists of token ids costs about a gigabyte, and re-tokenizing every
epoch wastes CPU. Token ids live here in one flat int32 array with offsets; a batch is cut from it and padded
only to the longest text of its bucket. Sorting texts by length before cutting buckets is what keeps padding
(and so wasted attention FLOPs) small on CPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

# Texts per tokenizer call; big enough for the Rust tokenizer to parallelise, small enough to bound memory.
_TOKENIZE_CHUNK = 2048


@dataclass(frozen=True)
class TokenizedTexts:
    """Token ids of many texts: text `i` is `ids[offsets[i]:offsets[i + 1]]`."""

    ids: np.ndarray  # int32, all texts concatenated
    offsets: np.ndarray  # int64, len(texts) + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def get(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[int]]) -> TokenizedTexts:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter((t for r in rows for t in r), dtype=np.int32, count=int(offsets[-1]))
        return cls(ids=flat, offsets=offsets)

    @classmethod
    def concat(cls, parts: Sequence[TokenizedTexts]) -> TokenizedTexts:
        if not parts:
            return cls(ids=np.zeros(0, dtype=np.int32), offsets=np.zeros(1, dtype=np.int64))
        ids = np.concatenate([p.ids for p in parts])
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for p in parts:
            offsets.append(p.offsets[1:] + base)
            base += int(p.offsets[-1])
        return cls(ids=ids, offsets=np.concatenate(offsets))


def tokenize(tokenizer, texts: Sequence[str], max_length: int, workers: int = 0) -> TokenizedTexts:
    """Tokenize with special tokens and truncation to `max_length`; `workers` threads run chunks in parallel."""
    chunks = [texts[i : i + _TOKENIZE_CHUNK] for i in range(0, len(texts), _TOKENIZE_CHUNK)]

    def run(chunk: Sequence[str]) -> TokenizedTexts:
        encoded = tokenizer(list(chunk), truncation=True, max_length=max_length, add_special_tokens=True)
        return TokenizedTexts.from_lists(encoded["input_ids"])

    if workers > 0 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(run, chunks))
    else:
        parts = [run(c) for c in chunks]
    return TokenizedTexts.concat(parts)


def pad(rows: Sequence[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad rows to the longest one: (input_ids, attention_mask) as int64 tensors."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def length_buckets(lengths: Sequence[int] | np.ndarray, max_texts: int, max_tokens: int) -> list[np.ndarray]:
    """Split positions into buckets of similar length, longest first.

    A bucket holds at most `max_texts` texts and at most `max_tokens` padded tokens (count × longest), so a
    bucket of long passages is small and a bucket of short queries is large. Returns index arrays into
    `lengths`.
    """
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    buckets: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = max(1, min(max_texts, max_tokens // longest))
        buckets.append(order[start : start + size])
        start += size
    return buckets


def iter_padded(
    texts: TokenizedTexts, positions: Sequence[int] | np.ndarray, pad_id: int, max_texts: int, max_tokens: int
) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """Yield (positions of this bucket, input_ids, attention_mask) over `positions`, bucketed by length."""
    positions = np.asarray(positions)
    lengths = texts.lengths[positions] if len(positions) else np.zeros(0, dtype=np.int64)
    for bucket in length_buckets(lengths, max_texts, max_tokens):
        chosen = positions[bucket]
        ids, mask = pad([texts.get(int(i)) for i in chosen], pad_id)
        yield bucket, ids, mask
