"""Wall time of the three data stages on the real law.go.kr data (issue target: ≤ 30 s on 2 cores).

    .venv/bin/python benchmarks/data_stages.py [--data ../shared/data/lawgo] [--hn-per-q 32] [--workers 2]

Runs passages → pairs → corpus exactly as the CLI does (fresh processes, so imports and Kiwi's model load
are counted), then BM25 on the test split, and prints one line per stage plus the BM25 metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(label: str, args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", *args, "--quiet"], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{label} failed:\n{result.stderr}")
    print(f"{label:<10} {elapsed:6.2f} s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "lawgo"))
    parser.add_argument("--hn-per-q", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        print(
            f"data: {args.data}; hard negatives per query: {args.hn_per_q}; workers: {args.workers}; cpus: {os.cpu_count()}"
        )
        total = timed(
            "passages",
            [
                "lexdpr.data_processing.preprocess_auto",
                "--src-dir",
                args.data,
                "--out-law",
                f"{out}/law.jsonl",
                "--out-admin",
                f"{out}/admin.jsonl",
            ],
        )
        total += timed(
            "pairs",
            [
                "lexdpr.data_processing.make_pairs",
                "--law",
                f"{out}/law.jsonl",
                "--admin",
                f"{out}/admin.jsonl",
                "--prec-json-dir",
                f"{args.data}/precedents",
                "--out",
                f"{out}/pairs_train.jsonl",
                "--hn_per_q",
                str(args.hn_per_q),
                "--max-workers",
                str(args.workers),
            ],
        )
        total += timed(
            "corpus",
            [
                "lexdpr.data_processing.merge_corpus",
                "--law",
                f"{out}/law.jsonl",
                "--admin",
                f"{out}/admin.jsonl",
                "--prec",
                f"{out}/prec_fallback_passages.jsonl",
                "--out",
                f"{out}/merged_corpus.jsonl",
            ],
        )
        print(f"{'total':<10} {total:6.2f} s   (target ≤ 30 s)")
        for name in (
            "law.jsonl",
            "admin.jsonl",
            "pairs_train.jsonl",
            "pairs_train_valid.jsonl",
            "pairs_test.jsonl",
            "prec_fallback_passages.jsonl",
            "merged_corpus.jsonl",
        ):
            lines = sum(1 for _ in (out / name).open(encoding="utf-8"))
            print(f"  {name:<30} {lines:>7} records")
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "lexdpr.evaluation.eval_cli",
                "--bm25",
                "--pairs",
                f"{out}/pairs_test.jsonl",
                "--corpus",
                f"{out}/merged_corpus.jsonl",
                "--quiet",
                "--out",
                f"{out}/bm25.json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"BM25 on pairs_test.jsonl ({time.perf_counter() - start:.1f} s):")
        for key, value in json.loads((out / "bm25.json").read_text()).items():
            print(f"  {key:<20} {value:.4f}" if isinstance(value, float) else f"  {key:<20} {value}")


if __name__ == "__main__":
    main()
