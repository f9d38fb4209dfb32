"""`lex-dpr eval --hybrid`: a dense model, BM25 and their fusion, evaluated side by side on one test set.

The fusion (`lexdpr.retrieval.fusion`) has a free choice — RRF, or weighted score fusion with a weight and a
normalisation — and a choice made on the test set would make the test number a lie. So the choice is made on
validation pairs only: every fusion of `HybridSettings.grid` is scored by nDCG@10 on them and the best one
(the first of the grid on a tie, so RRF, which has no parameter, wins ties) is then applied, unchanged, to the
test pairs. Without validation pairs nothing can be chosen and RRF (k = 60) is used, which is recorded as
such (`chosen_on: "default"`).

Everything is computed once: the corpus is encoded once, into a temporary float32 file searched block by
block (`lexdpr.retrieval.dense_search`), and both query sets are searched against it; the BM25 index is built
once and ranks both query sets. Each retriever keeps its top `depth` candidates with scores per query, and the
grid is evaluated on those lists in memory. The dense numbers equal `lex-dpr eval --model` and the BM25
numbers `lex-dpr eval --bm25` (same code, same exact top-k), which the tests check.

Metric names (docs/design.md, 'Metrics'): the dense model's are `eval/*` as for `--model`, BM25's `bm25/*`,
the fusion's `hybrid/*`, all on the one `eval/fingerprint`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lexdpr.evaluation.bm25_eval import bm25_settings, build_bm25_index, rank_bm25
from lexdpr.retrieval.fusion import (
    DEFAULT_DEPTH,
    DEFAULT_RRF_K,
    FUSION_FORMAT,
    FusionConfig,
    Hits,
    Normalization,
    fuse_rankings,
)
from lexdpr.retrieval.metrics import DEFAULT_K_VALUES, MRR_CUTOFF, compute_retrieval_metrics

FINGERPRINT = "eval/fingerprint"
OBJECTIVE = "eval/ndcg_at_10"
DEFAULT_WEIGHTS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

Rankings = dict[str, list[tuple[str, float]]]
"""Per query id, one retriever's top candidates: (passage id, score), best first."""


@dataclass(frozen=True)
class HybridSettings:
    """What `lex-dpr eval --hybrid` may choose from, and how deep each retriever's candidate list is.

    `depth` must cover the metrics' largest cut-off (it is raised to it when smaller): metrics read the first
    k of each ranking, and fusion can only reorder what the two lists hold.
    """

    rrf_k: int = DEFAULT_RRF_K
    depth: int = DEFAULT_DEPTH
    weights: tuple[float, ...] = DEFAULT_WEIGHTS
    normalizations: tuple[Normalization, ...] = ("minmax", "zscore")

    def __post_init__(self) -> None:
        FusionConfig(rrf_k=self.rrf_k, depth=self.depth)  # the same checks
        for w in self.weights:
            FusionConfig("weighted", weight=w)
        for n in self.normalizations:
            FusionConfig("weighted", normalization=n)

    def default(self) -> FusionConfig:
        """The fusion used when there are no validation pairs to choose one: RRF."""
        return FusionConfig("rrf", rrf_k=self.rrf_k, depth=self.depth)

    def grid(self) -> list[FusionConfig]:
        """The candidates, in tie-breaking order: RRF, then each normalisation's weights ascending."""
        weighted = [
            FusionConfig("weighted", weight=w, normalization=n, rrf_k=self.rrf_k, depth=self.depth)
            for n in self.normalizations
            for w in self.weights
        ]
        return [self.default(), *weighted]


@dataclass(frozen=True)
class QuerySet:
    """Eval queries with their positives, read once and ranked by every retriever."""

    path: str
    query_ids: list[str]
    texts: list[str]
    relevant: dict[str, frozenset[str]]
    fingerprint: str

    def __len__(self) -> int:
        return len(self.query_ids)


@dataclass(frozen=True)
class EvalInputs:
    """The corpus and the query sets of one hybrid evaluation (`valid` is None without validation pairs)."""

    corpus_path: str
    ids: list[str]
    texts: list[str]
    test: QuerySet
    valid: QuerySet | None = None

    def query_sets(self) -> list[QuerySet]:
        return [self.test] if self.valid is None else [self.test, self.valid]


@dataclass(frozen=True)
class FusionChoice:
    """The fusion chosen, on what, and how every candidate scored there (the record a RAG system reads)."""

    config: FusionConfig
    chosen_on: str  # "valid" or "default"
    model: Mapping[str, Any] = field(default_factory=dict)  # `model_identity` of the dense model
    valid_path: str | None = None
    valid_queries: int = 0
    valid_fingerprint: str | None = None
    valid_metrics: Mapping[str, float] = field(default_factory=dict)  # eval/*, bm25/*, hybrid/* on valid
    grid: Sequence[tuple[FusionConfig, float]] = ()  # (candidate, objective on valid)

    def record(self) -> dict[str, Any]:
        """The JSON of `lexdpr_fusion.json` (docs/design.md, 'Hybrid retrieval')."""
        return {
            "format": FUSION_FORMAT,
            **self.config.to_dict(),
            "label": self.config.label,
            "chosen_on": self.chosen_on,
            "objective": OBJECTIVE,
            "dense": {
                **self.model,
                "score": "dot product of unit vectors (cosine), with the model's query and passage prompts",
            },
            "bm25": {**bm25_settings(), "zero_scores": "dropped before fusing"},
            "missing": "a passage missing from one list gets that list's lowest normalised score (0 for "
            "minmax); RRF adds nothing for it",
            "ties": "fused score, then the better of the two ranks, then dense rank, then BM25 rank, then id",
            "valid": None
            if self.chosen_on != "valid"
            else {
                "pairs": self.valid_path,
                "queries": self.valid_queries,
                FINGERPRINT: self.valid_fingerprint,
                "metrics": dict(self.valid_metrics),
                "grid": [{"label": c.label, **c.to_dict(), OBJECTIVE: v} for c, v in self.grid],
            },
        }


@dataclass(frozen=True)
class HybridResult:
    """Test metrics of the dense model, BM25 and the chosen fusion (each under `eval/*` names), and the choice."""

    dense: dict[str, float]
    bm25: dict[str, float]
    hybrid: dict[str, float]
    fingerprint: str
    choice: FusionChoice

    def metrics(self) -> dict[str, float | str]:
        """Flat `eval/*`, `bm25/*`, `hybrid/*`, `eval/fingerprint` and `hybrid/fusion` (the chosen label)."""
        out: dict[str, float | str] = dict(self.dense)
        out.update(renamed(self.bm25, "bm25"))
        out.update(renamed(self.hybrid, "hybrid"))
        out[FINGERPRINT] = self.fingerprint
        out["hybrid/fusion"] = self.choice.config.label
        return out

    def to_json(self) -> dict[str, Any]:
        """What `lex-dpr eval --hybrid --out` writes: `metrics()` plus the fusion record under `fusion`."""
        return {**self.metrics(), "fusion": self.choice.record()}


def model_identity(model: Any) -> dict[str, Any]:
    """Which dense model a fusion was chosen for: as given, and its checkpoint folder's name if trained.

    `lex-dpr export --fusion` compares the checkpoint name with the one it exports, so a fusion chosen for
    one checkpoint is not shipped with another (paths differ between pipeline steps; names do not).
    """
    if not isinstance(model, str | os.PathLike):
        return {"model": None, "checkpoint": None}
    from lexdpr.training.model_ref import find_bi_encoder_folder

    folder = find_bi_encoder_folder(model)
    return {"model": str(model), "checkpoint": folder.name if folder is not None else None}


def _model_version(model: Any) -> str:
    """What names the model's weights for reusing encoded chunks: as given, and its checkpoint folder with
    that folder's mtime (a retrained out_dir keeps its checkpoint names, not their times)."""
    if not isinstance(model, str | os.PathLike):
        return f"in-memory {id(model)}"
    from lexdpr.training.model_ref import find_bi_encoder_folder

    folder = find_bi_encoder_folder(model)
    return f"{model} {folder} {folder.stat().st_mtime_ns if folder is not None else None}"


def renamed(metrics: Mapping[str, float], group: str) -> dict[str, float]:
    """`eval/ndcg_at_10` → `{group}/ndcg_at_10` (the fingerprint and other groups are left out)."""
    return {f"{group}/{k.split('/', 1)[1]}": v for k, v in metrics.items() if k.startswith("eval/")}


def read_inputs(
    pairs: str | os.PathLike[str],
    corpus: str | os.PathLike[str],
    valid_pairs: str | os.PathLike[str] | None = None,
) -> EvalInputs:
    """Read the corpus and the query sets, checked as `lex-dpr eval --model` checks them."""
    from lexdpr.training.pairs import load_corpus

    loaded = load_corpus(corpus)
    test = read_query_set(pairs, loaded.ids)
    valid = read_query_set(valid_pairs, loaded.ids) if valid_pairs is not None else None
    return EvalInputs(str(corpus), loaded.ids, loaded.texts, test, valid)


def read_query_set(path: str | os.PathLike[str], corpus_ids: Sequence[str]) -> QuerySet:
    """One query per id (a conflicting repeat is an InputError) and the fingerprint over the corpus ids."""
    from lexdpr.data_processing.pair import read_pairs
    from lexdpr.retrieval.metrics import eval_fingerprint
    from lexdpr.training.pairs import unique_queries

    pairs = unique_queries(read_pairs(path), str(path))
    return QuerySet(
        path=str(path),
        query_ids=[p.query_id for p in pairs],
        texts=[p.query_text for p in pairs],
        relevant={p.query_id: frozenset(p.positives) for p in pairs},
        fingerprint=eval_fingerprint([p.to_record() for p in pairs], corpus_ids),
    )


def bm25_rankings(inputs: EvalInputs, depth: int, workers: int = 1, tokenizer: Any = None) -> list[Rankings]:
    """BM25's top `depth` per query, for each of `inputs.query_sets()` (one index, built once)."""
    index = build_bm25_index(inputs.ids, inputs.texts, tokenizer)
    out = []
    for qs in inputs.query_sets():
        hits = rank_bm25(index, qs.texts, depth, workers)
        out.append(dict(zip(qs.query_ids, hits, strict=True)))
    return out


def dense_rankings(
    model: Any,
    inputs: EvalInputs,
    query_sets: Sequence[QuerySet],
    depth: int,
    *,
    cache_dir: str | None = None,
    device: str | None = None,
    precision: str = "auto",
    quiet: bool = True,
    chunk_size: int = 8192,
    parts_dir: Path | None = None,
    max_len: int | None = None,
    query_max_len: int | None = None,
) -> list[Rankings]:
    """The dense model's top `depth` per query, for each query set, the corpus encoded once.

    `model` is anything `lex-dpr eval --model` takes (`model_ref.load_bi_encoder`). The corpus goes chunk by
    chunk into a temporary float32 file and is searched block by block, as in `evaluate_model`, so memory
    holds one chunk of vectors whatever the corpus size, and the rankings are the ones it computes.
    With `parts_dir` the chunks are kept there instead (a killed caller started again reuses them; the
    caller removes the folder). `max_len`/`query_max_len` override the model's lengths.
    """
    from lexdpr.retrieval.dense_search import top_k
    from lexdpr.training.encode import assemble_npy, encode_in_chunks
    from lexdpr.training.evaluate import embed_texts
    from lexdpr.training.model_ref import load_bi_encoder
    from lexdpr.training.runtime import pick_runtime

    encoder = load_bi_encoder(model, cache_dir=cache_dir, max_len=max_len, query_max_len=query_max_len)
    runtime = pick_runtime(precision, device, quiet=True)
    encoder.to(runtime.device)

    def embed(texts: Sequence[str], kind: Literal["query", "passage"]) -> np.ndarray:
        tokens = encoder.tokenize(list(texts), kind)
        return embed_texts(encoder, tokens, runtime.inference_bucketing, runtime, True).cpu().numpy()

    out: list[Rankings] = []
    ids = inputs.ids
    settings = f"eval {_model_version(model)} {max_len} {precision}"
    with tempfile.TemporaryDirectory(prefix="lexdpr-hybrid-") as tmp:
        rows = zip(ids, inputs.texts, strict=True)
        parts = parts_dir if parts_dir is not None else Path(tmp) / "parts"
        _, files, _ = encode_in_chunks(
            rows, parts, settings, lambda t: embed(t, "passage"), chunk_size, "float32", quiet
        )
        assemble_npy(files, f"{tmp}/corpus.npy", "float32")
        corpus_vectors = np.load(f"{tmp}/corpus.npy", mmap_mode="r")
        for qs in query_sets:
            rows_, scores = top_k(embed(qs.texts, "query"), corpus_vectors, depth)
            out.append(
                {
                    qid: [(ids[j], float(s)) for j, s in zip(r, sc, strict=True)]
                    for qid, r, sc in zip(qs.query_ids, rows_, scores, strict=True)
                }
            )
        del corpus_vectors
    return out


def retrieval_metrics(
    rankings: Mapping[str, Hits] | Mapping[str, Sequence[str]],
    query_set: QuerySet,
    k_values: Iterable[int],
) -> dict[str, float]:
    """`eval/*` metrics of rankings given as hits (id, score) or as plain ids."""
    ids = {qid: [h if isinstance(h, str) else h[0] for h in ranked] for qid, ranked in rankings.items()}
    return compute_retrieval_metrics(ids, query_set.relevant, k_values)


def lexical_candidates(rankings: Mapping[str, Hits]) -> dict[str, list[tuple[str, float]]]:
    """BM25 hits worth fusing: score > 0 (a zero-score passage shares no term with the query)."""
    return {qid: [(pid, s) for pid, s in hits if s > 0.0] for qid, hits in rankings.items()}


def choose_fusion(
    dense: Mapping[str, Hits],
    lexical: Mapping[str, Hits],
    valid: QuerySet,
    settings: HybridSettings,
    k_values: Iterable[int] = DEFAULT_K_VALUES,
) -> FusionChoice:
    """The fusion of `settings.grid()` with the best nDCG@10 on `valid` (first of the grid on a tie).

    Only `valid`'s rankings and positives are read: the test set cannot influence the choice.
    """
    k_values = tuple(k_values)
    candidates = lexical_candidates(lexical)
    scored: list[tuple[FusionConfig, float]] = []
    for config in settings.grid():
        fused = fuse_rankings(dense, candidates, config)
        scored.append((config, compute_retrieval_metrics(fused, valid.relevant, (10,))[OBJECTIVE]))
    best_config, _ = max(scored, key=lambda item: item[1])  # max keeps the first of equal values
    chosen = fuse_rankings(dense, candidates, best_config)
    metrics = {
        **retrieval_metrics(dense, valid, k_values),
        **renamed(retrieval_metrics(lexical, valid, k_values), "bm25"),
        **renamed(retrieval_metrics(chosen, valid, k_values), "hybrid"),
    }
    return FusionChoice(
        config=best_config,
        chosen_on="valid",
        valid_path=valid.path,
        valid_queries=len(valid),
        valid_fingerprint=valid.fingerprint,
        valid_metrics=metrics,
        grid=scored,
    )


def hybrid_result(
    inputs: EvalInputs,
    dense: Sequence[Rankings],
    lexical: Sequence[Rankings],
    settings: HybridSettings = HybridSettings(),
    k_values: Iterable[int] = DEFAULT_K_VALUES,
    model: Mapping[str, Any] | None = None,
) -> HybridResult:
    """Choose the fusion on `inputs.valid` (RRF without it) and score dense, BM25 and the fusion on test.

    `dense` and `lexical` hold the rankings of `inputs.query_sets()`, in that order (test, then valid);
    `model` is the dense model's `model_identity`, recorded with the choice.
    """
    k_values = tuple(k_values)
    if inputs.valid is not None:
        choice = choose_fusion(dense[1], lexical[1], inputs.valid, settings, k_values)
    else:
        choice = FusionChoice(settings.default(), "default")
    choice = replace(choice, model=dict(model or {}))
    test = inputs.test
    fused = fuse_rankings(dense[0], lexical_candidates(lexical[0]), choice.config)
    return HybridResult(
        dense=retrieval_metrics(dense[0], test, k_values),
        bm25=retrieval_metrics(lexical[0], test, k_values),
        hybrid=retrieval_metrics(fused, test, k_values),
        fingerprint=test.fingerprint,
        choice=choice,
    )


def with_depth_for(settings: HybridSettings, k_values: Iterable[int]) -> HybridSettings:
    """`settings` with `depth` raised to the metrics' largest cut-off (MRR@10 included) if it is below."""
    depth = max(settings.depth, *k_values, MRR_CUTOFF)
    return settings if depth == settings.depth else replace(settings, depth=depth)


def evaluate_hybrid(
    model: Any,
    pairs: str | os.PathLike[str],
    corpus: str | os.PathLike[str],
    valid_pairs: str | os.PathLike[str] | None = None,
    k_values: Iterable[int] = DEFAULT_K_VALUES,
    settings: HybridSettings = HybridSettings(),
    *,
    cache_dir: str | None = None,
    device: str | None = None,
    precision: str = "auto",
    workers: int = 1,
    quiet: bool = True,
) -> HybridResult:
    """Dense `model`, BM25 and their fusion on `pairs` over `corpus`, the fusion chosen on `valid_pairs`."""
    k_values = tuple(k_values)
    settings = with_depth_for(settings, k_values)
    depth = settings.depth
    inputs = read_inputs(pairs, corpus, valid_pairs)
    lexical = bm25_rankings(inputs, depth, workers)
    dense = dense_rankings(
        model,
        inputs,
        inputs.query_sets(),
        depth,
        cache_dir=cache_dir,
        device=device,
        precision=precision,
        quiet=quiet,
    )
    return hybrid_result(inputs, dense, lexical, settings, k_values, model_identity(model))
