from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lexdpr.training.bi_encoder import BiEncoder, EncoderSettings, LoraSettings
from lexdpr.training.grad_cache import Bucketing, contrastive_step
from lexdpr.training.loss import info_nce_loss
from lexdpr.training.negatives import StepBatch
from lexdpr.training.tokenized import TokenizedTexts


def test_info_nce_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    tau = 0.5
    loss = info_nce_loss(q, p, torch.tensor([0, 1]), None, tau)
    # query 0 scores: 2, 0, 1.2 → −log(e^2 / (e^2 + e^0 + e^1.2)); query 1 scores: 0, 2, 1.6
    l0 = -2 + math.log(math.exp(2) + 1 + math.exp(1.2))
    l1 = -2 + math.log(1 + math.exp(2) + math.exp(1.6))
    assert loss.item() == pytest.approx((l0 + l1) / 2, rel=1e-6)


def test_masked_columns_do_not_count():
    q = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mask = torch.tensor([[False, True, False]])
    loss = info_nce_loss(q, p, torch.tensor([0]), mask, 1.0)
    assert loss.item() == pytest.approx(-1 + math.log(math.e + 1), rel=1e-6)


def _step_inputs(encoder: BiEncoder):
    rng = np.random.default_rng(0)
    vocab = encoder.tokenizer.vocab_size

    def texts(n: int, lo: int, hi: int) -> TokenizedTexts:
        return TokenizedTexts.from_lists(
            [[2, *rng.integers(5, vocab, size=rng.integers(lo, hi)).tolist(), 3] for _ in range(n)]
        )

    queries, passages = texts(12, 3, 10), texts(30, 5, 30)
    batch = StepBatch(
        queries=np.arange(12),
        passages=np.arange(3, 27),
        targets=torch.arange(12),
        mask=torch.zeros(12, 24, dtype=torch.bool)
        .index_fill_(1, torch.tensor([20]), True)
        .logical_and(torch.arange(12).unsqueeze(1) == 0),
        hard_negatives=12,
    )
    return queries, passages, batch


@pytest.mark.parametrize("lora", [True, False])
def test_grad_cache_equals_one_big_batch(tiny_model, lora):
    """k micro-batches of b queries (GradCache) give the gradient of one batch of k·b queries."""
    settings = EncoderSettings("tiny", str(tiny_model), "mean", "", "", 64, 32)
    encoder = BiEncoder.build(settings, LoraSettings(dropout=0.0) if lora else None, seed=0)
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    encoder.eval()  # dropout off: the two ways must see the same network
    queries, passages, batch = _step_inputs(encoder)

    def grads(micro_batches: int, bucketing: Bucketing):
        encoder.zero_grad()
        loss = contrastive_step(encoder, queries, passages, batch, 0.05, micro_batches, bucketing)
        return loss, {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}

    loss_one, one = grads(1, Bucketing(64, 10**6))
    loss_k, cached = grads(4, Bucketing(3, 200))
    assert loss_k == pytest.approx(loss_one, rel=1e-5)
    assert one.keys() == cached.keys() and one
    for name in one:
        assert torch.allclose(one[name], cached[name], atol=1e-5, rtol=1e-4), name


def test_grad_cache_replays_dropout(tiny_model):
    """With dropout on, the re-encoding pass replays the first pass's masks, so the loss is unchanged."""
    settings = EncoderSettings("tiny", str(tiny_model), "mean", "", "", 64, 32)
    encoder = BiEncoder.build(settings, LoraSettings(dropout=0.3), seed=0).train()
    queries, passages, batch = _step_inputs(encoder)
    torch.manual_seed(1)
    loss = contrastive_step(encoder, queries, passages, batch, 0.05, 3, Bucketing(4, 200))
    grads = [p.grad for p in encoder.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert math.isfinite(loss)
