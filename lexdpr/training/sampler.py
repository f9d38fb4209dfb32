"""Batches in which no two queries share a positive passage.

Why: with in-batch negatives, query A's positive is a negative for every other query of the batch. If query B
cites the same article, its own positive would be scored as a negative, which teaches the model to push
apart exactly what it should pull together. (Passages a query lists as positives are also masked in the
loss, but a shared *target* cannot be masked, so the sampler keeps such queries apart.)

Batches are a pure function of (seed, epoch): a resumed run recomputes an epoch's batches and continues at
the batch index stored in the checkpoint.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence


class NoSharedPositiveBatchSampler:
    """Shuffle queries each epoch, then fill batches greedily, deferring a query that would share a positive.

    Deferred queries start the next batch, so every query is used once per epoch; only the last batches of an
    epoch can be smaller than `batch_size` (when many queries cite the same passage).
    """

    def __init__(self, positives: Sequence[Iterable[str]], batch_size: int, seed: int):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.positives = [frozenset(p) for p in positives]
        self.batch_size = batch_size
        self.seed = seed

    def batches(self, epoch: int) -> list[list[int]]:
        order = list(range(len(self.positives)))
        random.Random(f"batches-{self.seed}-{epoch}").shuffle(order)
        out: list[list[int]] = []
        remaining = order
        while remaining:
            batch: list[int] = []
            used: set[str] = set()
            deferred: list[int] = []
            for n, i in enumerate(remaining):
                if self.positives[i].isdisjoint(used):
                    batch.append(i)
                    used.update(self.positives[i])
                    if len(batch) == self.batch_size:
                        deferred.extend(remaining[n + 1 :])
                        break
                else:
                    deferred.append(i)
            out.append(batch)
            remaining = deferred
        return out
