"""Hybrid retrieval: one ranking out of a dense (bi-encoder) and a lexical (BM25) ranking of the same query.

BM25 and the dense model fail on different queries — BM25 on paraphrases, the dense model on rare statute
names and article numbers — so fusing them is the cheapest gain a RAG system can have. Two fusions, each over
the two retrievers' top `depth` candidates only (what a RAG system has in hand: two top-N lists, not every
passage's score):

- **RRF** (reciprocal-rank fusion, Cormack et al. 2009): `score(d) = Σ 1 / (rrf_k + rank(d))` over the lists
  that hold `d` (rank 1 = best). Needs no score scale and no weight: the default when nothing chose one.
- **weighted**: each list's scores are normalised per query — `minmax` to [0, 1], or `zscore` to mean 0 and
  standard deviation 1 — and `score(d) = w · dense(d) + (1 − w) · bm25(d)`. A passage missing from one list
  gets that list's lowest normalised value (0 for min-max): it ranked below everything the list kept.
  Dot products of unit vectors and BM25 sums live on unrelated scales, hence the normalisation; `w` must be
  chosen on validation pairs (`lexdpr.evaluation.hybrid`), never on the test set.

Ties are broken deterministically, so a fused ranking (and every metric of it) is a pure function of its two
inputs: higher fused score, then the better of the passage's two ranks, then the better dense rank, then the
better BM25 rank, then the passage id. Scores are summed in float64 in a fixed order, so equal inputs give
bit-equal scores: RRF of (dense 1, BM25 3) and (dense 3, BM25 1) tie exactly, and the dense-1 passage wins.

A RAG system serving an exported model reads the chosen fusion with `load_fusion(model_folder)` (the folder's
`lexdpr_fusion.json`, docs/design.md, 'Hybrid retrieval') and calls `fuse` on its two top-N lists; this
module needs nothing beyond the standard library.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

FusionMethod = Literal["rrf", "weighted"]
Normalization = Literal["minmax", "zscore"]
Hits = Sequence[tuple[str, float]]
"""One retriever's ranking of one query: (passage id, score), best first, no id twice."""

FUSION_FILE = "lexdpr_fusion.json"  # in an exported model folder (docs/design.md, 'Hybrid retrieval')
FUSION_FORMAT = "lexdpr-fusion/1"
DEFAULT_RRF_K = 60  # the constant of the RRF paper; it damps the head of each list
DEFAULT_DEPTH = 100  # candidates taken from each retriever; ≥ every metric cut-off (10)
_MISSING_RANK = math.inf


@dataclass(frozen=True)
class FusionConfig:
    """How two rankings are fused; see the module docstring.

    `weight` is the dense retriever's share in weighted fusion (1 − weight goes to BM25) and
    `normalization` how its scores are made comparable; RRF uses neither (they are kept at their defaults
    so that equal fusions compare equal). `depth` is how many candidates each list contributes and how long
    the fused ranking is.
    """

    method: FusionMethod = "rrf"
    weight: float = 0.5
    normalization: Normalization = "minmax"
    rrf_k: int = DEFAULT_RRF_K
    depth: int = DEFAULT_DEPTH

    def __post_init__(self) -> None:
        if self.method not in get_args(FusionMethod):
            raise ValueError(f"fusion method must be one of {get_args(FusionMethod)}, got {self.method!r}")
        if self.normalization not in get_args(Normalization):
            raise ValueError(
                f"normalization must be one of {get_args(Normalization)}, got {self.normalization!r}"
            )
        if isinstance(self.weight, bool) or not (0.0 <= float(self.weight) <= 1.0):
            raise ValueError(f"fusion weight must be in [0, 1], got {self.weight!r}")
        for name in ("rrf_k", "depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @property
    def label(self) -> str:
        """A short human name: `rrf(k=60)`, `weighted-minmax(w=0.7)`."""
        if self.method == "rrf":
            return f"rrf(k={self.rrf_k})"
        return f"weighted-{self.normalization}(w={self.weight:g})"

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON values; `weight` and `normalization` are null for RRF (it has neither)."""
        data = asdict(self)
        if self.method == "rrf":
            data["weight"] = data["normalization"] = None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FusionConfig:
        """Inverse of `to_dict`; unknown keys are ignored, missing ones take the defaults."""
        known = {k: data[k] for k in ("method", "weight", "normalization", "rrf_k", "depth") if k in data}
        return cls(**{k: v for k, v in known.items() if v is not None})


def fuse(dense: Hits, lexical: Hits, config: FusionConfig) -> list[tuple[str, float]]:
    """The fused ranking of one query: up to `config.depth` (passage id, fused score), best first.

    Each input is cut to its first `config.depth` hits before fusing; an id repeated within one list is a
    ValueError (it would be counted twice).
    """
    dense, lexical = list(dense[: config.depth]), list(lexical[: config.depth])
    dense_rank, lexical_rank = _ranks(dense, "dense"), _ranks(lexical, "lexical")
    if config.method == "rrf":
        scores = {pid: 0.0 for pid in (*dense_rank, *lexical_rank)}
        for ranks in (dense_rank, lexical_rank):
            for pid, rank in ranks.items():
                scores[pid] += 1.0 / (config.rrf_k + rank)
    else:
        dense_norm, dense_floor = normalize([s for _, s in dense], config.normalization)
        lexical_norm, lexical_floor = normalize([s for _, s in lexical], config.normalization)
        dense_of = {pid: v for (pid, _), v in zip(dense, dense_norm, strict=True)}
        lexical_of = {pid: v for (pid, _), v in zip(lexical, lexical_norm, strict=True)}
        w = float(config.weight)
        scores = {
            pid: w * dense_of.get(pid, dense_floor) + (1.0 - w) * lexical_of.get(pid, lexical_floor)
            for pid in (*dense_rank, *lexical_rank)
        }

    def order(pid: str) -> tuple[float, float, float, float, str]:
        d, b = dense_rank.get(pid, _MISSING_RANK), lexical_rank.get(pid, _MISSING_RANK)
        return (-scores[pid], min(d, b), d, b, pid)

    return [(pid, scores[pid]) for pid in sorted(scores, key=order)[: config.depth]]


def fuse_rankings(
    dense: Mapping[str, Hits], lexical: Mapping[str, Hits], config: FusionConfig
) -> dict[str, list[str]]:
    """Fused passage ids per query id, for every query of either input (a missing one counts as empty)."""
    return {
        qid: [pid for pid, _ in fuse(dense.get(qid, ()), lexical.get(qid, ()), config)]
        for qid in dict.fromkeys([*dense, *lexical])
    }


def normalize(scores: Sequence[float], how: Normalization) -> tuple[list[float], float]:
    """(normalised scores, the value a passage missing from the list gets) for one query's list.

    minmax: (s − min) / (max − min), missing 0; a list of equal scores maps to 1 (all are hits, none better).
    zscore: (s − mean) / std (population), missing the lowest z of the list; equal scores map to 0. An empty
    list gives ([], 0.0). Non-finite scores are a ValueError: no normalisation makes them comparable.
    """
    values = [float(s) for s in scores]
    if not values:
        return [], 0.0
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"scores must be finite to be normalised, got {values}")
    if how == "minmax":
        low, high = min(values), max(values)
        if high == low:
            return [1.0] * len(values), 0.0
        return [(v - low) / (high - low) for v in values], 0.0
    if how == "zscore":
        mean = math.fsum(values) / len(values)
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
        if std == 0.0:
            return [0.0] * len(values), 0.0
        z = [(v - mean) / std for v in values]
        return z, min(z)
    raise ValueError(f"normalization must be one of {get_args(Normalization)}, got {how!r}")


def fusion_record_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fusion record in `data`: a record itself, or the `fusion` entry of `lex-dpr eval --hybrid --out`.

    Checked, not trusted: a wrong format or an invalid configuration is a ValueError, so a model folder
    never ships a fusion a RAG system could not reproduce.
    """
    record = data.get("fusion") if isinstance(data.get("fusion"), Mapping) else data
    if not isinstance(record, Mapping) or record.get("format") != FUSION_FORMAT:
        raise ValueError(
            f"not a fusion record (expected format {FUSION_FORMAT!r}, as `lex-dpr eval --hybrid --out` writes)"
        )
    FusionConfig.from_dict(record)
    return dict(record)


def load_fusion(model_folder: str | os.PathLike[str]) -> tuple[FusionConfig, dict[str, Any]] | None:
    """The fusion an exported model folder ships (`lexdpr_fusion.json`) as a config and the whole record.

    None when the folder has none: no fusion was chosen for that model (it was exported without an
    evaluation), and which one to use is then the caller's decision (RRF, `FusionConfig()`, needs none).
    """
    path = Path(model_folder) / FUSION_FILE
    if not path.is_file():
        return None
    record = fusion_record_of(json.loads(path.read_text(encoding="utf-8")))
    return FusionConfig.from_dict(record), record


def _ranks(hits: Hits, name: str) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for rank, (pid, _) in enumerate(hits, start=1):
        if ranks.setdefault(pid, rank) != rank:
            raise ValueError(f"the {name} ranking holds passage {pid!r} twice")
    return ranks


__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_RRF_K",
    "FUSION_FILE",
    "FUSION_FORMAT",
    "FusionConfig",
    "FusionMethod",
    "Hits",
    "Normalization",
    "fuse",
    "fuse_rankings",
    "fusion_record_of",
    "load_fusion",
    "normalize",
]
