"""Hybrid retrieval on real data: BM25, a dense model and their fusion on the law.go.kr test split.

    .venv/bin/python benchmarks/hybrid_quality.py                       # ../shared/data/lawgo, zero-shot
    .venv/bin/python benchmarks/hybrid_quality.py --model checkpoint/lexdpr --work out/bench-hybrid

What it runs, each step a `lex-dpr` command (what users run), timed:

1. the data stages (passages, pairs split train / valid / test by precedent, the merged corpus), unless
   `--work` already holds them;
2. `lex-dpr eval --hybrid --model MODEL --pairs pairs_test.jsonl --valid-pairs pairs_train_valid.jsonl`: the
   fusion is chosen on the valid split and applied to the test split (docs/design.md, 'Hybrid retrieval').

It prints nDCG@10, Recall@10 and MRR@10 of BM25, the dense model and the hybrid on the test split, the fusion
chosen and its valid-split nDCG@10 next to RRF's, and the wall time of each step.
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

from lawgo_stages import data_stage_argvs

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "lawgo"
BIN = Path(sys.executable).parent
METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")


def run(label: str, argv: list[str]) -> float:
    """Run one `lex-dpr` command; stop with its output if it fails. Returns the wall time."""
    start = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-4000:]}")
    print(f"{label:<16} {seconds:7.1f} s", flush=True)
    return seconds


def data_stages(data: Path, work: Path, lex: str) -> None:
    """passages → pairs → corpus into `work` (skipped when the corpus and the test pairs are there)."""
    if (work / "merged_corpus.jsonl").is_file() and (work / "pairs_test.jsonl").is_file():
        return
    for label, argv in data_stage_argvs(lex, data, work).items():
        run(label, argv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=SHARED, help="law.go.kr data (laws, admin_rules, precedents)"
    )
    parser.add_argument(
        "--work", type=Path, help="work folder, reused if it holds the data (default: temporary)"
    )
    parser.add_argument(
        "--model", default="multilingual-e5-small", help="dense model: alias, checkpoint, export"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        lex = str(BIN / "lex-dpr")
        if not (work / "merged_corpus.jsonl").is_file() and not (args.data / "precedents").is_dir():
            raise SystemExit(f"{args.data}: no precedents/ folder (give --data)")
        data_stages(args.data, work, lex)
        out = work / "hybrid.json"
        run(
            "eval --hybrid",
            [
                *(lex, "eval", "--hybrid", "--model", args.model, "--pairs", str(work / "pairs_test.jsonl")),
                *("--valid-pairs", str(work / "pairs_train_valid.jsonl")),
                *("--corpus", str(work / "merged_corpus.jsonl"), "--out", str(out), "--quiet"),
            ],
        )
        result = json.loads(out.read_text(encoding="utf-8"))
        fusion = result["fusion"]
        print(f"\ntest split ({args.model}), fusion {fusion['label']} chosen on {fusion['chosen_on']}")
        print(f"{'retriever':<12}" + "".join(f"{m:>14}" for m in METRICS))
        for name, group in (("BM25", "bm25"), ("dense", "eval"), ("hybrid", "hybrid")):
            print(f"{name:<12}" + "".join(f"{result[f'{group}/{m}']:>14.4f}" for m in METRICS))
        if fusion["valid"]:
            grid = {row["method"]: row["eval/ndcg_at_10"] for row in fusion["valid"]["grid"]}
            valid = fusion["valid"]["metrics"]
            print(
                f"valid split ({fusion['valid']['queries']} queries) nDCG@10: BM25 {valid['bm25/ndcg_at_10']:.4f}, "
                f"dense {valid['eval/ndcg_at_10']:.4f}, chosen {valid['hybrid/ndcg_at_10']:.4f}, "
                f"RRF {grid['rrf']:.4f}"
            )


if __name__ == "__main__":
    main()
