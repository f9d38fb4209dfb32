"""InfoNCE over a shared pool of passages, with temperature and false-negative masking.

For query i with embedding q_i, pool passages p_1 … p_N (unit vectors) and target column t_i:

    s_ij = q_i · p_j / τ        (s_ij = −∞ where mask[i, j]: another positive of query i)
    loss = mean_i [ −s_it_i + log Σ_j exp(s_ij) ]

This is cross-entropy over the pool; with τ = 0.05 it equals sentence-transformers'
MultipleNegativesRankingLoss at scale 20 with cosine similarity (our vectors are already unit length).

Args: q [B, d], p [N, d], targets [B] (long), mask [B, N] (bool) or None, temperature τ > 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce_loss(
    q: torch.Tensor, p: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None, temperature: float
) -> torch.Tensor:
    """Mean InfoNCE loss of a step; computed in fp32 whatever the autocast dtype."""
    scores = q.float() @ p.float().T / temperature
    if mask is not None:
        scores = scores.masked_fill(mask.to(scores.device), float("-inf"))
    return F.cross_entropy(scores, targets.to(scores.device))
