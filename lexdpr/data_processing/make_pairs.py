"""Stage 2 — pairs: precedents → query–passage pairs with BM25 hard negatives, split by precedent.

`python -m lexdpr.data_processing.make_pairs --law … [--admin …] --prec-json-dir … --out pairs_train.jsonl`
writes next to `--out`: `pairs_train.jsonl`, `pairs_train_valid.jsonl` (the validation split),
`pairs_test.jsonl` (the fixed test set) and `prec_fallback_passages.jsonl`.

`--max-workers` processes share the work (precedent parsing, then BM25 mining in query chunks); results are
put back in precedent order, so the output is byte-identical for any worker count.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lexdpr import storage
from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.data_processing.hard_negatives import HardNegativeOptions, MiningRequest, mine
from lexdpr.data_processing.law_names import LawNameIndex
from lexdpr.data_processing.pair import Pair, write_pairs
from lexdpr.data_processing.passage import read_passages
from lexdpr.data_processing.precedents import parse_precedent
from lexdpr.data_processing.queries import CitationTarget, PrecedentQueries, QueryDraft, build_queries
from lexdpr.data_processing.raw_documents import SourceKind, detect_kind, load_json_document, relative_name
from lexdpr.data_processing.splits import Split, SplitRatios, split_of
from lexdpr.errors import InputError, StorageError
from lexdpr.progress import track
from lexdpr.reporting import RunReport, Skip
from lexdpr.retrieval.bm25_index import BM25Index
from lexdpr.retrieval.korean_tokenizer import KoreanTokenizer
from lexdpr.stage_cli import add_common_flags, run_main, stderr_console

SPLIT_FILES = {
    Split.TRAIN: "pairs_train.jsonl",
    Split.VALID: "pairs_train_valid.jsonl",
    Split.TEST: "pairs_test.jsonl",
}
FALLBACK_FILE = "prec_fallback_passages.jsonl"
_CHUNK = 64

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PairsConfig:
    law: str = "data/processed/law_passages.jsonl"
    admin: str | None = "data/processed/admin_passages.jsonl"
    prec_json_dir: str = "data/precedents"
    out: str = "data/processed/pairs_train.jsonl"
    glob: str = "*.json"
    use_admin_for_prec: bool = False
    max_positives_per_prec: int = 5
    hard_negatives: HardNegativeOptions = field(default_factory=HardNegativeOptions)
    split: SplitRatios = field(default_factory=SplitRatios)
    max_workers: int = 1
    strict: bool = False
    quiet: bool = False

    def output_path(self, name: str) -> str:
        folder = self.out.rsplit("/", 1)[0] if "/" in self.out else "."
        return storage.join(folder, name)


def run(config: PairsConfig) -> RunReport:
    report = RunReport(stage="pairs")
    law_passages = read_passages(config.law)
    admin_passages = read_passages(config.admin) if config.admin and config.use_admin_for_prec else []
    if not law_passages:
        raise InputError(config.law, "no passages; run the passages stage first (with --out-law)")
    if config.admin and config.use_admin_for_prec and not admin_passages:
        raise InputError(
            config.admin, "no passages; run the passages stage with --out-admin first, or drop --admin"
        )
    targets = [_target(law_passages)] + ([_target(admin_passages)] if admin_passages else [])
    files = storage.list_files(config.prec_json_dir, config.glob)
    if not files:
        raise StorageError(f"{config.prec_json_dir}: no files match {config.glob!r}")

    draft_args = [(uri, relative_name(uri, config.prec_json_dir)) for uri in files]
    drafted = _parallel_map(
        _draft_worker,
        draft_args,
        (targets, config.max_positives_per_prec),
        config.max_workers,
        config.quiet,
        "reading precedents",
    )
    results: list[PrecedentQueries] = []
    for outcome in drafted:
        if isinstance(outcome, Skip):
            report.skips.append(outcome)
        else:
            results.append(outcome)
            report.counts.update(outcome.counts)
    results.sort(key=lambda r: (int(r.serial), r.serial))
    _check_unique_serials(results, report)
    report.enforce_strict(config.strict)  # before any output: a strict failure publishes nothing

    candidates = law_passages + admin_passages
    drafts = [
        (q.text, tuple(p for other in r.queries for p in other.positives)) for r in results for q in r.queries
    ]
    # without admin passages the candidates are the law passages, whose index the targets already hold
    negatives = _mine_all(drafts, candidates, config, None if admin_passages else targets[0].articles)
    records: dict[Split, list[Pair]] = {s: [] for s in Split}
    position = 0
    for result in results:
        split = split_of(result.serial, config.split)
        for query in result.queries:
            hard = negatives[position]
            position += 1
            if split is Split.TEST and query.positive_type == "prec":
                report.counts["test queries left out (fallback positives: the test set scores articles)"] += 1
                continue
            records[split].append(_pair_record(query, hard, split))
    for split, rows in records.items():
        report.counts[f"pairs in {SPLIT_FILES[split]}"] = write_pairs(
            config.output_path(SPLIT_FILES[split]), rows
        )
    fallbacks = [p.to_record() for r in results for p in r.fallbacks]
    report.counts["precedent fallback passages"] = storage.write_jsonl(
        config.output_path(FALLBACK_FILE), fallbacks
    )
    report.counts["precedent files read"] = len(results)
    return report


def _target(passages: list[dict[str, Any]]) -> CitationTarget:
    rows = {(p["parent_id"], p["law_name"], p.get("law_short_name", "")) for p in passages}
    return CitationTarget(names=LawNameIndex(sorted(rows)), articles=ArticleIndex.build(passages))


def _check_unique_serials(results: list[PrecedentQueries], report: RunReport) -> None:
    seen: dict[str, str] = {}
    kept = []
    for result in results:
        if result.serial in seen:
            report.skip(
                result.source or result.serial,
                f"판례일련번호 {result.serial} was already read from {seen[result.serial]}; this copy is ignored",
                field="판례일련번호",
            )
            continue
        seen[result.serial] = result.source or result.serial
        kept.append(result)
    results[:] = kept


def _pair_record(query: QueryDraft, hard_negatives: list[str], split: Split) -> Pair:
    meta = {**query.meta, "split": split.value}
    return Pair(query.query_id, query.text, tuple(query.positives), tuple(hard_negatives), meta)


def _mine_all(
    drafts: list[tuple[str, tuple[str, ...]]],
    candidates: list[dict[str, Any]],
    config: PairsConfig,
    articles: ArticleIndex | None = None,
) -> list[list[str]]:
    """Hard negatives for (query text, precedent positives) drafts, in draft order.

    `articles`, when given, must index exactly `candidates` (it saves hashing every passage text again).

    Kiwi analysis (the expensive part) runs once here, with a cache shared by corpus and queries; scoring and
    filtering of query chunks is what the worker processes share.
    """
    if config.hard_negatives.per_query <= 0 or not drafts:
        return [[] for _ in drafts]
    # Kiwi analyses on `max_workers` threads. Its idle pool threads do not make the fork below unsafe: the
    # children only score and filter (numpy and plain Python) and never call Kiwi.
    tokenizer = KoreanTokenizer(num_workers=config.max_workers if config.max_workers > 1 else 1)
    index = BM25Index.build([p["id"] for p in candidates], [p["text"] for p in candidates], tokenizer)
    tokens = index.tokenize([text for text, _ in drafts])
    requests = [MiningRequest(tuple(t), excluded) for t, (_, excluded) in zip(tokens, drafts, strict=True)]
    articles = articles if articles is not None else ArticleIndex.build(candidates)
    size = max(16, len(requests) // (config.max_workers * 4) + 1)
    chunks = [requests[i : i + size] for i in range(0, len(requests), size)]
    state = (index, articles, config.hard_negatives)
    mined = _parallel_map(
        _mine_worker, chunks, state, config.max_workers, config.quiet, "mining hard negatives"
    )
    return [negs for chunk in mined for negs in chunk]


# --- process-pool plumbing: each worker receives the shared read-only state once, through its initializer.
_worker_state: tuple[Any, ...] = ()


def _init_worker(*state: Any) -> None:
    global _worker_state
    _worker_state = state


def _draft_worker(arg: tuple[str, str]) -> PrecedentQueries | Skip:
    targets, max_positives = _worker_state
    uri, name = arg
    try:
        doc = load_json_document(uri, name)
        if detect_kind(doc) is not SourceKind.PRECEDENT:
            raise InputError(name, "not a precedent (no 판례일련번호 / PrecService)")
        return build_queries(parse_precedent(doc, name), targets, max_positives)
    except InputError as exc:
        return Skip(exc.file, exc.reason, exc.record, exc.field)
    except RecursionError:
        return Skip(name, "nested too deeply to read")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Skip(name, f"unexpected structure ({type(exc).__name__}: {exc})")


def _mine_worker(chunk: list[MiningRequest]) -> list[list[str]]:
    index, articles, options = _worker_state
    return mine(chunk, index, articles, options)


def _parallel_map(
    fn: Callable[[T], R], items: Sequence[T], state: tuple[Any, ...], workers: int, quiet: bool, label: str
) -> list[R]:
    """`map(fn, items)` in `workers` processes (in this process when 1), results in input order."""
    if workers <= 1:
        _init_worker(*state)
        try:
            return list(track(map(fn, items), label, total=len(items), quiet=quiet))
        finally:
            _init_worker()
    # fork: workers inherit the read-only state without pickling it (tens of MB of index). The only other
    # threads are Kiwi's idle pool (see _mine_all), which no child uses; no progress bar is live.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=state) as pool:
        results: Iterable[R] = pool.map(
            fn, items, chunksize=max(1, min(_CHUNK, len(items) // (workers * 4) or 1))
        )
        return list(track(results, label, total=len(items), quiet=quiet))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lexdpr.data_processing.make_pairs",
        description="Precedents → query–passage pairs (train / valid / test by precedent) with BM25 hard negatives.",
    )
    d = PairsConfig()
    parser.add_argument("--law", default=d.law, help="law passages JSONL (from the passages stage)")
    parser.add_argument(
        "--admin", default=d.admin, help="admin-rule passages JSONL (used with --use-admin-for-prec)"
    )
    parser.add_argument(
        "--prec-json-dir", default=d.prec_json_dir, help="folder or s3:// prefix of precedent JSON"
    )
    parser.add_argument(
        "--out", default=d.out, help="pairs_train.jsonl; the other outputs are written next to it"
    )
    parser.add_argument("--glob", default=d.glob, help="which files under --prec-json-dir to read")
    parser.add_argument(
        "--use-admin-for-prec",
        action="store_true",
        help="admin-rule passages may be positives and hard negatives",
    )
    parser.add_argument(
        "--hn_per_q",
        "--hn-per-q",
        type=int,
        default=d.hard_negatives.per_query,
        help="hard negatives per query",
    )
    parser.add_argument(
        "--hn-skip-top",
        type=int,
        default=d.hard_negatives.skip_top,
        help="BM25 results passed over before taking negatives",
    )
    parser.add_argument(
        "--hn-depth", type=int, default=d.hard_negatives.depth, help="how deep the BM25 ranking is read"
    )
    parser.add_argument(
        "--max-positives-per-prec",
        type=int,
        default=d.max_positives_per_prec,
        help="at most this many positive passages per query (one query per precedent issue)",
    )
    parser.add_argument(
        "--test-ratio", type=float, default=d.split.test, help="share of precedents in the test split"
    )
    parser.add_argument(
        "--valid-ratio", type=float, default=d.split.valid, help="share of precedents in the valid split"
    )
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    add_common_flags(parser)
    return parser


def _body(args: argparse.Namespace) -> int:
    for flag in ("hn_per_q", "hn_skip_top", "hn_depth", "max_workers", "max_positives_per_prec"):
        if getattr(args, flag) < (1 if flag in {"max_workers", "max_positives_per_prec", "hn_depth"} else 0):
            raise InputError(
                "command line", f"--{flag.replace('_', '-')} is out of range: {getattr(args, flag)}"
            )
    try:
        ratios = SplitRatios(test=args.test_ratio, valid=args.valid_ratio)
    except ValueError as exc:
        raise InputError("command line", str(exc)) from None
    config = PairsConfig(
        law=args.law,
        admin=args.admin or None,
        prec_json_dir=args.prec_json_dir,
        out=args.out,
        glob=args.glob,
        use_admin_for_prec=args.use_admin_for_prec,
        max_positives_per_prec=args.max_positives_per_prec,
        hard_negatives=HardNegativeOptions(
            per_query=args.hn_per_q, skip_top=args.hn_skip_top, depth=args.hn_depth
        ),
        split=ratios,
        max_workers=args.max_workers,
        strict=args.strict,
        quiet=args.quiet,
    )
    report = run(config)
    report.print(stderr_console(), quiet=config.quiet)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_body, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
