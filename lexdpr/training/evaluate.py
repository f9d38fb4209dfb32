"""Evaluation of a bi-encoder: exact retrieval over the whole corpus, and the validation loss.

The trainer and `lex-dpr eval` run this same code, so a number in a sweep table and a number from the CLI
mean the same thing. One evaluation:

1. encodes the whole corpus once, in batches of similar length (little padding);
2. encodes the eval queries and ranks every passage by dot product (vectors are unit length, so this is
   cosine similarity) with `torch.topk` — exact search, no index;
3. scores the rankings with `lexdpr.retrieval.metrics.compute_retrieval_metrics` and records
   `eval/fingerprint` (hash of eval pairs + corpus ids; only equal fingerprints are comparable);
4. computes `valid/loss`: InfoNCE of each validation query against its first positive and
   `trainer.valid_negatives` negatives — its mined hard negatives first, then passages drawn at random from
   the corpus with a fixed seed, so the loss is comparable across steps and across batch sizes.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lexdpr.data_processing.pair import Pair, read_pairs
from lexdpr.progress import track
from lexdpr.retrieval.metrics import MRR_CUTOFF, compute_retrieval_metrics, eval_fingerprint
from lexdpr.training.bi_encoder import BiEncoder
from lexdpr.training.grad_cache import Bucketing
from lexdpr.training.pairs import Corpus, load_corpus, unique_queries
from lexdpr.training.runtime import Runtime, pick_runtime
from lexdpr.training.tokenized import TokenizedTexts, iter_padded, length_buckets

_SEARCH_CHUNK = 1024  # queries scored against the corpus at a time (bounds the score matrix)
_CORPUS_BLOCK = 65536  # passages scored at a time (with _SEARCH_CHUNK: at most 256 MB of scores)
_EVAL_CHUNK = 8192  # passages encoded at a time by `evaluate_model` (to a float32 file, not RAM)


@dataclass(frozen=True)
class RetrievalSet:
    """Eval queries (tokenized) with their positives, and the fingerprint of queries + corpus."""

    query_ids: list[str]
    query_tokens: TokenizedTexts
    relevant: dict[str, set[str]]
    fingerprint: str


@dataclass(frozen=True)
class ValidSet:
    """Validation queries and, per query, corpus rows [positive, negatives…] (−1 = padding)."""

    query_tokens: TokenizedTexts
    candidates: np.ndarray  # int64 [queries, 1 + valid_negatives]


@dataclass(frozen=True)
class EvalData:
    corpus: Corpus
    corpus_tokens: TokenizedTexts
    retrieval: RetrievalSet | None
    valid: ValidSet | None


def prepare_retrieval_set(
    model: BiEncoder, pairs: Sequence[Pair], corpus: Corpus, workers: int = 0
) -> RetrievalSet:
    tokens = model.tokenize([p.query_text for p in pairs], "query", workers)
    return RetrievalSet(
        query_ids=[p.query_id for p in pairs],
        query_tokens=tokens,
        relevant={p.query_id: set(p.positives) for p in pairs},
        fingerprint=eval_fingerprint([p.to_record() for p in pairs], corpus.ids),
    )


def prepare_valid_set(
    model: BiEncoder, pairs: Sequence[Pair], corpus: Corpus, negatives: int, seed: int, workers: int = 0
) -> ValidSet | None:
    """Fix each validation query's candidates once (see the module docstring); None if nothing is usable."""
    rng = random.Random(f"valid-{seed}")
    rows, texts = [], []
    for p in pairs:
        positives = [corpus.index[x] for x in p.positives if x in corpus.index]
        if not positives:
            continue
        excluded = set(positives)
        chosen = [
            corpus.index[x] for x in p.hard_negatives if x in corpus.index and corpus.index[x] not in excluded
        ]
        chosen = list(dict.fromkeys(chosen))[:negatives]
        available = len(corpus) - len(excluded) - len(chosen)
        want = min(negatives - len(chosen), max(available, 0))
        taken = set(chosen) | excluded
        while want > 0:
            j = rng.randrange(len(corpus))
            if j not in taken:
                taken.add(j)
                chosen.append(j)
                want -= 1
        rows.append([positives[0], *chosen] + [-1] * (negatives - len(chosen)))
        texts.append(p.query_text)
    if not rows:
        return None
    return ValidSet(model.tokenize(texts, "query", workers), np.asarray(rows, dtype=np.int64))


@torch.no_grad()
def embed_texts(
    model: BiEncoder,
    tokens: TokenizedTexts,
    bucketing: Bucketing,
    runtime: Runtime,
    quiet: bool = True,
    description: str = "encoding",
) -> torch.Tensor:
    """Unit vectors [len(tokens), dim] (fp32, on the model's device), encoded in length-sorted buckets."""
    was_training = model.training
    model.eval()
    out = torch.empty(len(tokens), model.dimension, dtype=torch.float32, device=model.device)
    total = len(length_buckets(tokens.lengths, bucketing.max_texts, bucketing.max_tokens))
    buckets = iter_padded(
        tokens, np.arange(len(tokens)), model.pad_id, bucketing.max_texts, bucketing.max_tokens
    )
    with torch.no_grad(), model.inference_weights(runtime.inference_dtype), runtime.inference_autocast()():
        for bucket, ids, mask in track(buckets, description, total=total, quiet=quiet):
            out[torch.from_numpy(bucket).to(out.device)] = model(ids, mask).float()
    model.train(was_training)
    return out


def search(
    queries: torch.Tensor, passages: torch.Tensor, top_k: int, corpus_block: int = _CORPUS_BLOCK
) -> torch.Tensor:
    """Row indices of the `top_k` passages per query by dot product, best first (exact).

    The corpus is scored `corpus_block` rows at a time and each block's best are merged with the best so
    far, so no query chunk × corpus score matrix is ever built (at 1 M passages it would be 4 GB).
    """
    top_k = min(top_k, passages.shape[0])
    parts = []
    for i in range(0, queries.shape[0], _SEARCH_CHUNK):
        q = queries[i : i + _SEARCH_CHUNK]
        best_s = torch.empty(q.shape[0], 0, dtype=q.dtype, device=q.device)
        best_i = torch.empty(q.shape[0], 0, dtype=torch.long, device=q.device)
        for start in range(0, passages.shape[0], corpus_block):
            scores = q @ passages[start : start + corpus_block].T
            block = torch.topk(scores, min(top_k, scores.shape[1]), dim=1)
            best_s = torch.cat((best_s, block.values), dim=1)
            best_i = torch.cat((best_i, block.indices + start), dim=1)
            keep = torch.topk(best_s, min(top_k, best_s.shape[1]), dim=1)
            best_s, best_i = keep.values, torch.gather(best_i, 1, keep.indices)
        parts.append(best_i)
    return torch.cat(parts) if parts else torch.zeros(0, top_k, dtype=torch.long)


def run_evaluation(
    model: BiEncoder,
    data: EvalData,
    k_values: Iterable[int],
    temperature: float,
    runtime: Runtime,
    quiet: bool = True,
) -> dict[str, float | str]:
    """eval/* (with eval/fingerprint) and valid/loss for the model as it is now."""
    result: dict[str, float | str] = {}
    k_values = tuple(k_values)
    bucketing = runtime.inference_bucketing
    corpus_vectors = embed_texts(model, data.corpus_tokens, bucketing, runtime, quiet, "encoding corpus")
    if data.retrieval is not None:
        r = data.retrieval
        query_vectors = embed_texts(model, r.query_tokens, bucketing, runtime, True)
        top = search(query_vectors, corpus_vectors, max((*k_values, MRR_CUTOFF))).cpu().numpy()
        ids = data.corpus.ids
        rankings = {qid: [ids[j] for j in row] for qid, row in zip(r.query_ids, top, strict=True)}
        result.update(compute_retrieval_metrics(rankings, r.relevant, k_values))
        result["eval/fingerprint"] = r.fingerprint
    if data.valid is not None:
        v = data.valid
        query_vectors = embed_texts(model, v.query_tokens, bucketing, runtime, True)
        result["valid/loss"] = validation_loss(query_vectors, corpus_vectors, v.candidates, temperature)
    return result


def validation_loss(
    queries: torch.Tensor, corpus: torch.Tensor, candidates: np.ndarray, temperature: float
) -> float:
    """Mean InfoNCE over each query's fixed candidates (column 0 is the positive; −1 entries are ignored)."""
    index = torch.from_numpy(candidates).to(corpus.device)
    valid = index >= 0
    vectors = corpus[index.clamp(min=0)]  # [Q, C, d]
    scores = torch.einsum("qd,qcd->qc", queries, vectors) / temperature
    scores = scores.masked_fill(~valid, float("-inf"))
    return float(-torch.log_softmax(scores, dim=1)[:, 0].mean())


def evaluate_model(
    model: str | os.PathLike[str] | BiEncoder,
    pairs_path: str | os.PathLike[str],
    corpus_path: str | os.PathLike[str],
    k_values: Iterable[int] = (1, 3, 5, 10),
    *,
    cache_dir: str | None = None,
    max_len: int | None = None,
    query_max_len: int | None = None,
    device: str | None = None,
    precision: str = "auto",
    quiet: bool = False,
    chunk_size: int = _EVAL_CHUNK,
) -> dict[str, float | str]:
    """`lex-dpr eval`: eval/* metrics and eval/fingerprint of `model` on pairs against the whole corpus.

    `model` is a checkpoint or training output folder, an exported model folder, a base-model alias (the
    untrained baseline) or a loaded BiEncoder; see `model_ref.load_bi_encoder`.
    """
    from lexdpr.retrieval.dense_search import top_k
    from lexdpr.training.encode import assemble_npy, encode_in_chunks
    from lexdpr.training.model_ref import load_bi_encoder

    k_values = tuple(k_values)
    encoder = load_bi_encoder(model, cache_dir=cache_dir, max_len=max_len, query_max_len=query_max_len)
    runtime = pick_runtime(precision, device, quiet=True)
    encoder.to(runtime.device)
    corpus = load_corpus(corpus_path)
    pairs = unique_queries(read_pairs(pairs_path), str(pairs_path))
    retrieval = prepare_retrieval_set(encoder, pairs, corpus)

    def embed(texts: list[str]) -> np.ndarray:
        tokens = encoder.tokenize(texts, "passage")
        return embed_texts(encoder, tokens, runtime.inference_bucketing, runtime, True).cpu().numpy()

    # The corpus is encoded chunk by chunk into a float32 file and searched block by block from it, so
    # memory holds one chunk of vectors whatever the corpus size (the trainer's in-memory path gives the
    # same vectors: chunking changes only which texts share a padded batch).
    with tempfile.TemporaryDirectory(prefix="lexdpr-eval-") as tmp:
        rows = zip(corpus.ids, corpus.texts, strict=True)
        _, files, _ = encode_in_chunks(rows, Path(tmp) / "parts", "eval", embed, chunk_size, "float32", quiet)
        assemble_npy(files, f"{tmp}/corpus.npy", "float32")
        corpus_vectors = np.load(f"{tmp}/corpus.npy", mmap_mode="r")
        query_vectors = embed_texts(
            encoder, retrieval.query_tokens, runtime.inference_bucketing, runtime, True
        )
        top, _ = top_k(query_vectors.cpu().numpy(), corpus_vectors, max((*k_values, MRR_CUTOFF)))
        del corpus_vectors
    ids = corpus.ids
    rankings = {qid: [ids[j] for j in row] for qid, row in zip(retrieval.query_ids, top, strict=True)}
    result: dict[str, float | str] = dict(compute_retrieval_metrics(rankings, retrieval.relevant, k_values))
    result["eval/fingerprint"] = retrieval.fingerprint
    return result
