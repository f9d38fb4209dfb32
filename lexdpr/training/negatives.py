"""The passage pool of one optimizer step: positives, hard negatives, targets and false-negative mask.

`data.hard_negative_ratio` (r) is the share of mined hard negatives among the negatives each query is scored
against. With B queries in the step (batch_size × gradient_accumulation_steps), every query sees the B − 1
other queries' positives as in-batch negatives plus the H hard negatives in the pool, where

    H = round(r / (1 − r) × (B − 1)),   so that   H / (H + B − 1) ≈ r.

The H slots are spread over the queries (each contributes ⌊H/B⌋ or ⌈H/B⌉ of its own mined negatives, the
extra ones going to randomly chosen queries); a query with too few mined negatives leaves its slots to others.
Every passage in the pool is a candidate for every query, as in DPR. A passage the query lists as positive
(other than its target) is masked out of its scores; duplicates are encoded once. With a false-negative
guard (`false_negatives.FalseNegativeGuard`), passages it blocks for a query are not drawn as that query's
hard negatives and are masked out of its scores like its other positives.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lexdpr.data_processing.pair import Pair
from lexdpr.training.false_negatives import FalseNegativeGuard


@dataclass(frozen=True)
class StepBatch:
    """What one optimizer step encodes and scores."""

    queries: np.ndarray  # positions into the training queries
    passages: np.ndarray  # positions into the training passages (unique)
    targets: torch.Tensor  # [B] long: pool column of each query's positive
    mask: torch.Tensor | None  # [B, N] bool: True = not a negative for this query (another positive)
    hard_negatives: int  # how many pool passages are mined hard negatives


def hard_negative_budget(n_queries: int, ratio: float) -> int:
    """H for a step of `n_queries` queries (see the module docstring)."""
    if n_queries <= 1 or ratio <= 0:
        return 0
    return round(ratio / (1.0 - ratio) * (n_queries - 1))


class _Pool:
    """Unique passage ids in column order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.column: dict[str, int] = {}

    def add(self, pid: str) -> tuple[int, bool]:
        """(column of pid, whether it was new)."""
        if pid in self.column:
            return self.column[pid], False
        self.column[pid] = len(self.ids)
        self.ids.append(pid)
        return self.column[pid], True


def build_step_batch(
    pairs: Sequence[Pair],
    query_positions: Sequence[int],
    passage_position: Mapping[str, int],
    ratio: float,
    rng: random.Random,
    guard: FalseNegativeGuard | None = None,
) -> StepBatch:
    """Choose each query's target positive and the hard negatives of the step (deterministic given `rng`)."""
    chosen = [pairs[i] for i in query_positions]
    pool = _Pool()
    targets = [pool.add(rng.choice(p.positives))[0] for p in chosen]

    budget = hard_negative_budget(len(chosen), ratio)
    candidates = []
    for i, p in zip(query_positions, chosen, strict=True):
        negs = list(p.hard_negatives)
        rng.shuffle(negs)
        candidates.append([n for n in negs if not guard.blocks(i, n)] if guard is not None else negs)
    quota = [budget // len(chosen)] * len(chosen)
    for i in rng.sample(range(len(chosen)), budget % len(chosen)):
        quota[i] += 1
    added = _fill(candidates, quota, pool, budget)
    while added < budget:  # queries with spare mined negatives take the slots others could not fill
        extra = _fill(candidates, [1] * len(chosen), pool, budget - added)
        if extra == 0:
            break
        added += extra

    mask = torch.zeros(len(chosen), len(pool.ids), dtype=torch.bool)
    for row, p in enumerate(chosen):
        for pid in p.positives:
            col = pool.column.get(pid)
            if col is not None and col != targets[row]:
                mask[row, col] = True
        if guard is not None:
            for col, pid in enumerate(pool.ids):
                if col != targets[row] and guard.blocks(query_positions[row], pid):
                    mask[row, col] = True
    return StepBatch(
        queries=np.asarray(query_positions, dtype=np.int64),
        passages=np.asarray([passage_position[pid] for pid in pool.ids], dtype=np.int64),
        targets=torch.tensor(targets, dtype=torch.long),
        mask=mask if bool(mask.any()) else None,
        hard_negatives=added,
    )


def _fill(candidates: list[list[str]], quota: list[int], pool: _Pool, limit: int) -> int:
    """Move up to quota[i] passages new to the pool from each query's candidates; at most `limit` in all."""
    added = 0
    for i, want in enumerate(quota):
        while want > 0 and candidates[i] and added < limit:
            if pool.add(candidates[i].pop())[1]:
                want -= 1
                added += 1
    return added
