"""`lex-dpr data negatives`: re-mine a pairs file's hard negatives with a dense model (ANCE-style).

The pairs stage mines hard negatives with BM25 (`lexdpr.data_processing.hard_negatives`). BM25's mistakes
are lexical: passages that share the query's words. A dense model makes other mistakes, and the ones the
model being trained makes are the negatives that teach it most (ANCE: approximate nearest-neighbour
negatives). This stage ranks the corpus for every query of a pairs file with a dense model — the zero-shot
base before training, or a trained run after a first pass — and writes the same pairs with those negatives.

The filter is the pairs stage's, so the two kinds of negatives are interchangeable: everything related to
any positive of the same precedent (the positive, its parts and parent article, the same text under another
id: `ArticleIndex.related_ids`) is never a negative, precedent fallback passages (`type: prec`) are not
candidates, and the first `skip_top` eligible passages are passed over — a dense model's very top is, even
more often than BM25's, a true answer the precedent did not cite. `keep` BM25 negatives of the input can be
kept in front (a mix of both kinds). A query whose ranking runs short is filled from its own input
negatives, so every query keeps as many negatives as it had, up to `per_query`.

Rankings come from `hybrid.dense_rankings` (the exact top-k `lex-dpr eval` computes). The corpus is encoded
chunk by chunk into `{out}.parts/`: a killed run started again reuses the finished chunks; the folder is
removed when the pairs file has been written (atomically).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.data_processing.pair import Pair, read_pairs, write_pairs
from lexdpr.data_processing.passage import STATUTE_FIELDS, check_passage
from lexdpr.errors import ConfigError, InputError
from lexdpr.stage_cli import run_main, stderr_console
from lexdpr.storage import read_jsonl


@dataclass(frozen=True)
class DenseNegativeOptions:
    """How many negatives per query, how many top eligible passages to pass over, how many input ones to keep."""

    per_query: int = 32
    skip_top: int = 3
    keep: int = 0
    precision: str = "auto"
    max_len: int | None = None
    query_max_len: int | None = None

    def __post_init__(self) -> None:
        for name in ("per_query", "skip_top", "keep"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0 or value > 10_000:
                raise ValueError(f"{name} must be an integer in [0, 10000], got {value!r}")
        if self.keep > self.per_query:
            raise ValueError(f"keep ({self.keep}) cannot exceed per_query ({self.per_query})")
        for name in ("max_len", "query_max_len"):
            value = getattr(self, name)
            if value is not None and not 8 <= value <= 8192:
                raise ValueError(f"{name} must be in [8, 8192], got {value}")

    @property
    def depth(self) -> int:
        """Ranking depth: enough for the skipped, the wanted and a margin for related passages."""
        return self.skip_top + self.per_query + 64


@dataclass(frozen=True)
class MiningSummary:
    pairs: int
    negatives: int
    filled_from_input: int
    changed: int  # pairs whose negatives differ from the input's
    out: str


@dataclass(frozen=True)
class _Candidates:
    """The corpus passages that may be negatives, and their article index for the related-id filter."""

    ids: list[str]
    texts: list[str]
    articles: ArticleIndex
    corpus_ids: frozenset[str]  # every id of the corpus, fallbacks included


def read_candidates(corpus: str | os.PathLike[str]) -> _Candidates:
    """Law and admin passages of the corpus (not precedent fallbacks), checked as the pairs stage checks them
    (`check_passage`: the statute fields name the article, which the related-passage filter needs)."""
    path = str(corpus)
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, rec in enumerate(read_jsonl(corpus), start=1):
        check_passage(rec, path, n, ("id", "text"))
        if rec["id"] in seen:
            raise InputError(
                path, "passage id appears twice (ids must be unique)", record=rec["id"], field="id"
            )
        seen.add(rec["id"])
        if rec.get("type") != "prec":
            check_passage(rec, path, n, STATUTE_FIELDS)
            records.append(rec)
    if not records:
        raise InputError(path, "no law or admin passages to mine negatives from")
    return _Candidates(
        [r["id"] for r in records], [r["text"] for r in records], ArticleIndex.build(records), frozenset(seen)
    )


def precedent_positives(pairs: Sequence[Pair]) -> list[tuple[str, ...]]:
    """Per pair, the positives of every pair of its precedent (`meta.precedent_id`; the pair's own without)."""
    by_precedent: dict[str, dict[str, None]] = {}
    for pair in pairs:
        key = pair.meta.get("precedent_id")
        if key is not None:
            by_precedent.setdefault(str(key), {}).update(dict.fromkeys(pair.positives))
    return [
        tuple(by_precedent[str(p.meta["precedent_id"])])
        if p.meta.get("precedent_id") is not None
        else p.positives
        for p in pairs
    ]


def choose_negatives(
    ranking: Sequence[str], current: Sequence[str], related: set[str], options: DenseNegativeOptions
) -> tuple[list[str], int]:
    """(negatives, how many came from `current` to fill a short ranking) for one query.

    The first `keep` of `current` (the input negatives not related to a positive) come first; then the dense
    ranking's eligible passages after the first `skip_top`; then, if still short, the rest of `current`.
    The count is `per_query`, or fewer when the input had fewer and the ranking ran short.
    """
    if options.per_query == 0:
        return [], 0
    usable = [pid for pid in current if pid not in related]
    chosen = dict.fromkeys(usable[: options.keep])
    skipped = 0
    for pid in ranking:
        if len(chosen) == options.per_query:
            break
        if pid in related or pid in chosen:
            continue
        if skipped < options.skip_top:
            skipped += 1
            continue
        chosen[pid] = None
    filled = 0
    for pid in usable:
        if len(chosen) >= options.per_query:
            break
        if pid not in chosen:
            chosen[pid] = None
            filled += 1
    return list(chosen), filled


def mine_dense_negatives(
    model: Any,
    pairs_path: str | os.PathLike[str],
    corpus_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    options: DenseNegativeOptions = DenseNegativeOptions(),
    *,
    cache_dir: str | None = None,
    quiet: bool = True,
) -> MiningSummary:
    """Rank the candidates for every pair with `model` and write the pairs with the chosen negatives."""
    from lexdpr.evaluation.hybrid import EvalInputs, QuerySet, dense_rankings, model_identity
    from lexdpr.training.encode import parts_folder

    pairs = read_pairs(pairs_path)
    candidates = read_candidates(corpus_path)
    for pair in pairs:  # a positive outside the corpus would silently never be filtered: say so
        missing = [pid for pid in pair.positives if pid not in candidates.corpus_ids]
        if missing:
            raise InputError(
                str(pairs_path),
                f"positive {missing[0]!r} is not in the corpus {corpus_path}",
                record=pair.query_id,
                field="positive_passages",
            )
    queries = QuerySet(
        path=str(pairs_path),
        query_ids=[str(n) for n in range(len(pairs))],  # by position: a query id may repeat in a file
        texts=[p.query_text for p in pairs],
        relevant={},
        fingerprint="",
    )
    inputs = EvalInputs(str(corpus_path), candidates.ids, candidates.texts, queries)
    parts = parts_folder(str(out_path))
    (rankings,) = dense_rankings(
        model,
        inputs,
        [queries],
        options.depth,
        cache_dir=cache_dir,
        precision=options.precision,
        quiet=quiet,
        parts_dir=parts,
        max_len=options.max_len,
        query_max_len=options.query_max_len,
    )
    identity = model_identity(model)
    mined: list[Pair] = []
    filled = changed = total = 0
    for n, (pair, positives) in enumerate(zip(pairs, precedent_positives(pairs), strict=True)):
        related = candidates.articles.related_ids(positives)
        ranking = [pid for pid, _ in rankings[str(n)]]
        negatives, from_input = choose_negatives(ranking, pair.hard_negatives, related, options)
        filled += from_input
        total += len(negatives)
        changed += tuple(negatives) != pair.hard_negatives
        meta: Mapping[str, Any] = {
            **pair.meta,
            "negatives": {"miner": "dense", **identity, "skip_top": options.skip_top, "kept": options.keep},
        }
        mined.append(Pair(pair.query_id, pair.query_text, pair.positives, tuple(negatives), meta))
    write_pairs(out_path, mined)
    shutil.rmtree(parts, ignore_errors=True)
    return MiningSummary(len(mined), total, filled, changed, str(out_path))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lexdpr.evaluation.dense_negatives",
        description="Re-mine the hard negatives of a pairs file with a dense model (the zero-shot base, or a "
        "trained run for a second, ANCE-style pass); writes the same pairs with the new negatives.",
    )
    defaults = DenseNegativeOptions()
    parser.add_argument("--model", required=True, help="a base-model alias or folder, or a trained out_dir")
    parser.add_argument("--pairs", required=True, help="pairs JSONL to re-mine (e.g. pairs_train.jsonl)")
    parser.add_argument("--passages", required=True, help="the merged corpus JSONL")
    parser.add_argument("--out", required=True, help="pairs JSONL to write (may not be --pairs)")
    parser.add_argument("--per-query", type=int, default=defaults.per_query, help="negatives per query")
    parser.add_argument(
        "--skip-top", type=int, default=defaults.skip_top, help="eligible top passages passed over"
    )
    parser.add_argument(
        "--keep",
        type=int,
        default=defaults.keep,
        help="input (BM25) negatives kept in front of the dense ones",
    )
    parser.add_argument("--max-len", type=int, default=None, help="passage tokens (default: the model's)")
    parser.add_argument("--query-max-len", type=int, default=None, help="query tokens (default: the model's)")
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default=defaults.precision, help="encoding precision"
    )
    parser.add_argument("--model-cache", default=None, help="folder or s3:// prefix of cached base models")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary (for pipelines)")
    return parser


def _body(args: argparse.Namespace) -> int:
    if os.path.abspath(args.out) == os.path.abspath(args.pairs):
        raise ConfigError("--out must differ from --pairs (the input is read while the output is written)")
    try:
        options = DenseNegativeOptions(
            per_query=args.per_query,
            skip_top=args.skip_top,
            keep=args.keep,
            precision=args.precision,
            max_len=args.max_len,
            query_max_len=args.query_max_len,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    summary = mine_dense_negatives(
        args.model, args.pairs, args.passages, args.out, options, cache_dir=args.model_cache, quiet=args.quiet
    )
    if not args.quiet:
        stderr_console().print(
            f"{summary.pairs} pairs, {summary.negatives} negatives ({summary.changed} pairs changed, "
            f"{summary.filled_from_input} negatives filled from the input): {summary.out}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_body, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
