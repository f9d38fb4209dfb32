"""One optimizer step's forward/backward, with GradCache-style gradient accumulation.

With `gradient_accumulation_steps` k > 1 the step's queries are split into k micro-batches (passages too):

1. embed every micro-batch without an autograd graph, remembering the RNG state before each;
2. compute the InfoNCE loss over the whole pool of embeddings and backpropagate it to the embeddings only;
3. re-embed each micro-batch with a graph, replaying its RNG state so dropout masks match step 1, and
   backpropagate the cached embedding gradients through it.

Only one micro-batch's activations live at a time, yet the loss — and so the gradient — is that of one big
batch of k × batch_size queries: the negatives pool really grows with k. The cost is one extra forward pass.
Reference: Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup" (2021).
With k = 1 the step is a plain forward/backward.

Over several processes (`world`, see `distributed`) every process runs this with the same `batch`, embeds its
share of the queries and passages (then cut into its k micro-batches), and the shares are summed into the
full embedding matrices before the loss: every process's passages are negatives for every query, and the
parameter gradients, summed over processes, are those of the one-process step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lexdpr.training import distributed
from lexdpr.training.bi_encoder import BiEncoder
from lexdpr.training.loss import info_nce_loss
from lexdpr.training.negatives import StepBatch
from lexdpr.training.tokenized import TokenizedTexts


@dataclass(frozen=True)
class Bucketing:
    """Length-bucket limits for one forward call (see `tokenized.length_buckets`)."""

    max_texts: int
    max_tokens: int


class _RandState:
    """The CPU (and CUDA) RNG state at a point, to replay dropout exactly."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None

    @contextlib.contextmanager
    def replay(self):
        devices = list(range(torch.cuda.device_count())) if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state_all(self.cuda)
            yield


def contrastive_step(
    model: BiEncoder,
    queries: TokenizedTexts,
    passages: TokenizedTexts,
    batch: StepBatch,
    temperature: float,
    micro_batches: int,
    bucketing: Bucketing,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    scale: Callable[[torch.Tensor], torch.Tensor] = lambda loss: loss,
    world: distributed.World = distributed.SINGLE,
) -> float:
    """Accumulate the gradient of the step's mean InfoNCE loss into the parameters; returns the loss.

    `scale` is applied to the loss before backward (an fp16 GradScaler's `scale`). With several processes
    (`world`) the gradients are summed over them before this returns.
    """
    if world.size > 1:
        loss = _distributed_step(
            model, queries, passages, batch, temperature, micro_batches, bucketing, autocast, scale, world
        )
        distributed.all_reduce_grads([p for p in model.parameters() if p.requires_grad], world)
        return loss
    if micro_batches <= 1:
        with autocast():
            q = model.embed_tokenized(queries, batch.queries, bucketing.max_texts, bucketing.max_tokens)
            p = model.embed_tokenized(passages, batch.passages, bucketing.max_texts, bucketing.max_tokens)
        loss = info_nce_loss(q, p, batch.targets, batch.mask, temperature)
        scale(loss).backward()
        return float(loss.detach())

    q_chunks = _split(np.arange(len(batch.queries)), micro_batches)
    # Passages: micro-batches of similar length, so each pads little.
    p_order = np.argsort(-passages.lengths[batch.passages], kind="stable")
    p_chunks = _split(p_order, micro_batches)

    def embed_all(texts: TokenizedTexts, positions: np.ndarray, chunks: list[np.ndarray]):
        reps, states = [], []
        for chunk in chunks:
            states.append(_RandState())
            with torch.no_grad(), autocast():
                reps.append(
                    model.embed_tokenized(texts, positions[chunk], bucketing.max_texts, bucketing.max_tokens)
                )
        return reps, states

    q_reps, q_states = embed_all(queries, batch.queries, q_chunks)
    p_reps, p_states = embed_all(passages, batch.passages, p_chunks)

    q_all = _assemble(q_reps, q_chunks, len(batch.queries)).requires_grad_()
    p_all = _assemble(p_reps, p_chunks, len(batch.passages)).requires_grad_()
    loss = info_nce_loss(q_all, p_all, batch.targets, batch.mask, temperature)
    scale(loss).backward()

    for texts, positions, chunks, states, grads in (
        (queries, batch.queries, q_chunks, q_states, q_all.grad),
        (passages, batch.passages, p_chunks, p_states, p_all.grad),
    ):
        for chunk, state in zip(chunks, states, strict=True):
            with state.replay(), autocast():
                reps = model.embed_tokenized(
                    texts, positions[chunk], bucketing.max_texts, bucketing.max_tokens
                )
            index = torch.from_numpy(chunk).to(grads.device)
            torch.autograd.backward(reps.float(), grad_tensors=grads.index_select(0, index))
    return float(loss.detach())


def _distributed_step(
    model: BiEncoder,
    queries: TokenizedTexts,
    passages: TokenizedTexts,
    batch: StepBatch,
    temperature: float,
    micro_batches: int,
    bucketing: Bucketing,
    autocast: Callable[[], contextlib.AbstractContextManager],
    scale: Callable[[torch.Tensor], torch.Tensor],
    world: distributed.World,
) -> float:
    """This process's part of the step (see the module docstring); the gradients are not summed yet."""
    n_q, n_p = len(batch.queries), len(batch.passages)
    q_mine = distributed.shares(np.arange(n_q), world)[world.rank]
    # Passages sorted by length, dealt round-robin: every process gets as many long ones as the others.
    p_order = np.argsort(-passages.lengths[batch.passages], kind="stable")
    p_mine = distributed.shares(p_order, world)[world.rank]

    def embed(texts: TokenizedTexts, positions: np.ndarray) -> torch.Tensor:
        if len(positions) == 0:
            return torch.zeros(0, model.dimension, device=model.device)
        return model.embed_tokenized(texts, positions, bucketing.max_texts, bucketing.max_tokens)

    if micro_batches <= 1:
        with autocast():
            q_local = embed(queries, batch.queries[q_mine])
            p_local = embed(passages, batch.passages[p_mine])
        q_all = distributed.gather_rows(q_local, q_mine, n_q, world)
        p_all = distributed.gather_rows(p_local, p_mine, n_p, world)
        loss = info_nce_loss(q_all, p_all, batch.targets, batch.mask, temperature)
        if loss.requires_grad:  # a process with an empty share has nothing to backpropagate into
            scale(loss).backward()
        return float(loss.detach())

    q_chunks = _split(q_mine, micro_batches)
    p_chunks = _split(p_mine, micro_batches)
    states: dict[str, list[_RandState]] = {"q": [], "p": []}
    full: dict[str, torch.Tensor] = {}
    for key, texts, positions, chunks, mine, total in (
        ("q", queries, batch.queries, q_chunks, q_mine, n_q),
        ("p", passages, batch.passages, p_chunks, p_mine, n_p),
    ):
        reps = []
        for chunk in chunks:  # consecutive pieces of `mine`: their rows concatenate in `mine` order
            states[key].append(_RandState())
            with torch.no_grad(), autocast():
                reps.append(embed(texts, positions[chunk]).float())
        local = torch.cat(reps) if reps else embed(texts, positions[mine]).float()
        full[key] = distributed.gather_rows(local, mine, total, world).requires_grad_()
    q_all, p_all = full["q"], full["p"]
    loss = info_nce_loss(q_all, p_all, batch.targets, batch.mask, temperature)
    scale(loss).backward()

    for texts, positions, chunks, chunk_states, grads in (
        (queries, batch.queries, q_chunks, states["q"], q_all.grad),
        (passages, batch.passages, p_chunks, states["p"], p_all.grad),
    ):
        for chunk, state in zip(chunks, chunk_states, strict=True):
            with state.replay(), autocast():
                reps = embed(texts, positions[chunk])
            index = torch.from_numpy(chunk).to(grads.device)
            torch.autograd.backward(reps.float(), grad_tensors=grads.index_select(0, index))
    return float(loss.detach())


def _split(order: np.ndarray, parts: int) -> list[np.ndarray]:
    return [c for c in np.array_split(order, min(parts, max(len(order), 1))) if len(c)]


def _assemble(reps: list[torch.Tensor], chunks: list[np.ndarray], total: int) -> torch.Tensor:
    """Put chunk rows back at their positions in the step."""
    out = torch.empty(total, reps[0].shape[1], dtype=torch.float32, device=reps[0].device)
    for r, chunk in zip(reps, chunks, strict=True):
        out[torch.from_numpy(chunk).to(out.device)] = r.float()
    return out
