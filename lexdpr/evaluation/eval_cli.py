"""`lex-dpr eval`: retrieval metrics of BM25, a trained model, or both fused, on eval pairs over a corpus.

Metrics go to stdout one per line as `eval/ndcg_at_10=0.5123` (the form Katib's metrics collector and
shell scripts read), a table to stderr, and with `--out` a JSON file. `--hybrid` evaluates the `--model`,
BM25 and their fusion side by side (`eval/*`, `bm25/*`, `hybrid/*`); the fusion is chosen on `--valid-pairs`,
never on `--pairs`, and is RRF when no validation pairs are given (`lexdpr.evaluation.hybrid`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence

from rich.table import Table

from lexdpr import storage
from lexdpr.errors import ConfigError, InputError
from lexdpr.retrieval.fusion import DEFAULT_DEPTH, DEFAULT_RRF_K
from lexdpr.retrieval.metrics import DEFAULT_K_VALUES
from lexdpr.stage_cli import run_main, stderr_console


def parse_k_values(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise ConfigError(f"--k must be comma-separated positive integers, got {text!r}") from None
    if not values or values[0] < 1:
        raise ConfigError(f"--k must be comma-separated positive integers, got {text!r}")
    return values


def format_metric_lines(metrics: Mapping[str, float | str]) -> str:
    """`name=value` lines, floats with 4 decimals: the line format log scrapers (Katib) read."""
    return "\n".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())


def _check_pairs(pairs: list[dict], path: str) -> None:
    for lineno, pair in enumerate(pairs, start=1):
        for name, kind in (("query_id", str), ("query_text", str), ("positive_passages", list)):
            if not isinstance(pair.get(name), kind):
                raise InputError(
                    path, f"missing or not a {kind.__name__}", record=f"line {lineno}", field=name
                )


def _body(args: argparse.Namespace) -> int:
    if args.bm25 == bool(args.model):
        raise ConfigError("give exactly one of --bm25 or --model")
    if args.hybrid and not args.model:
        raise ConfigError("--hybrid fuses BM25 with a dense model: give --model, not --bm25")
    if args.valid_pairs and not args.hybrid:
        raise ConfigError("--valid-pairs chooses the fusion of --hybrid; it does nothing without it")
    k_values = parse_k_values(args.k)
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    pairs = list(storage.read_jsonl(args.pairs))
    _check_pairs(pairs, args.pairs)
    if not pairs:
        raise InputError(args.pairs, "no pairs to evaluate")
    if args.hybrid:
        return _hybrid(args, k_values)
    if args.bm25:
        from lexdpr.evaluation.bm25_eval import evaluate_bm25

        corpus = list(storage.read_jsonl(args.corpus))
        metrics = evaluate_bm25(pairs, corpus, k_values, workers=args.workers)
    else:
        from lexdpr.training.evaluate import evaluate_model

        metrics = evaluate_model(
            args.model,
            args.pairs,
            args.corpus,
            k_values,
            cache_dir=args.model_cache,
            precision=args.precision,
            quiet=args.quiet,
        )
    print(format_metric_lines(metrics), flush=True)
    if args.out:
        storage.write_text(args.out, json.dumps(metrics, ensure_ascii=False, indent=2) + "\n")
    if not args.quiet:
        table = Table(title=f"{'BM25' if args.bm25 else args.model} on {args.pairs}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in metrics.items():
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
        stderr_console().print(table)
    return 0


def _hybrid(args: argparse.Namespace, k_values: tuple[int, ...]) -> int:
    """`--hybrid`: dense, BM25 and fused metrics side by side; the fusion record goes into `--out`."""
    from lexdpr.evaluation.hybrid import HybridSettings, evaluate_hybrid

    try:
        settings = HybridSettings(rrf_k=args.rrf_k, depth=args.depth)
    except ValueError as exc:
        raise ConfigError(f"--rrf-k / --depth: {exc}") from None
    result = evaluate_hybrid(
        args.model,
        args.pairs,
        args.corpus,
        args.valid_pairs,
        k_values,
        settings,
        cache_dir=args.model_cache,
        precision=args.precision,
        workers=args.workers,
        quiet=args.quiet,
    )
    metrics = result.metrics()
    print(format_metric_lines(metrics), flush=True)
    if args.out:
        storage.write_text(args.out, json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n")
    if not args.quiet:
        choice = result.choice
        how = (
            f"chosen on {choice.valid_path} ({choice.valid_queries} queries)"
            if choice.chosen_on == "valid"
            else "the default: no --valid-pairs to choose on"
        )
        table = Table(title=f"{args.model} and BM25 on {args.pairs}; fusion {choice.config.label}, {how}")
        table.add_column("metric")
        for heading in ("dense", "BM25", "hybrid"):
            table.add_column(heading, justify="right")
        for key, dense in result.dense.items():
            values = (dense, result.bm25[key], result.hybrid[key])
            table.add_row(key.split("/", 1)[1], *(f"{v:.4f}" for v in values))
        stderr_console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lex-dpr eval", description=__doc__.splitlines()[0])
    parser.add_argument("--bm25", action="store_true", help="evaluate the BM25 baseline (Kiwi morphemes)")
    parser.add_argument(
        "--model", help="a run's out_dir, a checkpoint, an exported model, or a base-model alias (zero-shot)"
    )
    parser.add_argument(
        "--hybrid",
        action="store_true",
        help="also evaluate BM25 and the fusion of BM25 with --model (RRF, or weighted chosen on --valid-pairs)",
    )
    parser.add_argument("--pairs", default="data/processed/pairs_test.jsonl", help="eval pairs JSONL")
    parser.add_argument(
        "--valid-pairs",
        help="--hybrid: choose the fusion (RRF or a weight) by nDCG@10 on these pairs; default: RRF",
    )
    parser.add_argument("--corpus", default="data/processed/merged_corpus.jsonl", help="merged corpus JSONL")
    parser.add_argument("--k", default=",".join(map(str, DEFAULT_K_VALUES)), help="cutoffs, e.g. 1,3,5,10")
    parser.add_argument(
        "--model-cache", help="base-model cache folder or s3:// prefix (default: LEXDPR_MODEL_CACHE)"
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="encoding precision: auto = bf16 on a GPU or a CPU with native bf16, else fp32",
    )
    parser.add_argument("--out", help="also write the metrics as JSON here (path or s3:// URI)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="BM25: processes scoring the queries"
    )
    parser.add_argument(
        "--rrf-k", type=int, default=DEFAULT_RRF_K, help="--hybrid: the RRF constant (default 60)"
    )
    parser.add_argument(
        "--depth",
        type=int,
        default=DEFAULT_DEPTH,
        help="--hybrid: candidates taken from each retriever and fused (default 100)",
    )
    parser.add_argument("--quiet", action="store_true", help="only the metric lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_body, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
