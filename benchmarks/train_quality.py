"""Quality on real data: does fine-tuning the embedded default beat BM25 and the zero-shot model, on a CPU?

    .venv/bin/python benchmarks/train_quality.py                    # ../shared/data/lawgo, ~30 min on 2 cores
    .venv/bin/python benchmarks/train_quality.py --steps 40 --out out/bench-quality

What it runs, each step a `lex-dpr` command (so this measures the product as users run it), timed:

1. the data stages on law.go.kr data: passages, pairs (train / valid / test by precedent, BM25 hard
   negatives), the merged corpus;
2. `lex-dpr eval --bm25` and `lex-dpr eval --model multilingual-e5-small` (zero-shot) on `pairs_test.jsonl`
   against the whole merged corpus;
3. `lex-dpr train` of the offline multilingual-e5-small with LoRA on `pairs_train.jsonl` for `--steps`
   optimizer steps (no evaluation while training: the test split must not choose anything);
4. `lex-dpr eval --model` of the trained run, on the same test pairs and corpus.

It prints nDCG@10, Recall@10 and MRR@10 of the three, whether the fine-tuned model beats both, and the
wall time of each step against `--budget-min` (the issue's 30 minutes). `eval/fingerprint`s must agree, so
the three rows are comparable (same pairs, same corpus).
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

from cpu_info import describe_cpu

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "lawgo"
BIN = Path(sys.executable).parent
METRICS = ("eval/ndcg_at_10", "eval/recall_at_10", "eval/mrr_at_10")


def run(label: str, argv: list[str], timings: dict[str, float]) -> None:
    """Run one `lex-dpr` command; stop the benchmark with its output if it fails."""
    start = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    timings[label] = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-4000:]}")
    print(f"{label:<22} {timings[label]:7.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=SHARED, help="law.go.kr data (laws, admin_rules, precedents)"
    )
    parser.add_argument("--out", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--model", default="multilingual-e5-small", help="base model alias or folder")
    parser.add_argument("--steps", type=int, default=140, help="optimizer steps of the fine-tuning")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (LoRA)")
    parser.add_argument(
        "--precision", default="auto", help="trainer.precision (auto: bf16 on a CPU with native bf16)"
    )
    parser.add_argument("--budget-min", type=float, default=30.0, help="the wall-time budget to check")
    args = parser.parse_args()
    if not (args.data / "precedents").is_dir():
        raise SystemExit(f"{args.data}: no precedents/ folder (give --data)")

    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        lex = str(BIN / "lex-dpr")
        pairs, corpus = work / "pairs_train.jsonl", work / "merged_corpus.jsonl"
        test = work / "pairs_test.jsonl"
        timings: dict[str, float] = {}
        load = os.getloadavg()[0]
        print(describe_cpu(), flush=True)
        print(
            f"data {args.data}, model {args.model}, {args.steps} steps of {args.batch_size} pairs, "
            f"lr {args.lr:g}, load average {load:.1f}"
            + (" (not idle: timings are pessimistic)" if load > 0.5 else ""),
            flush=True,
        )
        run(
            "passages",
            [
                lex,
                "data",
                "passages",
                "--src-dir",
                str(args.data),
                "--out-law",
                str(work / "law.jsonl"),
                "--out-admin",
                str(work / "admin.jsonl"),
                "--quiet",
            ],
            timings,
        )
        run(
            "pairs",
            [
                lex,
                "data",
                "pairs",
                "--law",
                str(work / "law.jsonl"),
                "--admin",
                str(work / "admin.jsonl"),
                "--prec-json-dir",
                str(args.data / "precedents"),
                "--out",
                str(pairs),
                "--quiet",
            ],
            timings,
        )
        run(
            "corpus",
            [
                lex,
                "data",
                "corpus",
                "--law",
                str(work / "law.jsonl"),
                "--admin",
                str(work / "admin.jsonl"),
                "--prec",
                str(work / "prec_fallback_passages.jsonl"),
                "--out",
                str(corpus),
                "--quiet",
            ],
            timings,
        )
        common = ["--pairs", str(test), "--corpus", str(corpus), "--quiet"]
        run("eval BM25", [lex, "eval", "--bm25", *common, "--out", str(work / "bm25.json")], timings)
        run(
            "eval zero-shot",
            [lex, "eval", "--model", args.model, *common, "--out", str(work / "zero_shot.json")],
            timings,
        )
        run(
            "train (LoRA)",
            [
                lex,
                "train",
                "--quiet",
                f"model.bi_model={args.model}",
                f"data.pairs={pairs}",
                "data.valid_pairs=null",
                f"data.passages={corpus}",
                f"data.batch_size={args.batch_size}",
                f"trainer.lr={args.lr}",
                f"trainer.max_steps={args.steps}",
                f"trainer.precision={args.precision}",
                "trainer.eval_steps=null",
                f"out_dir={work / 'train'}",
                f"run_dir={work / 'wandb'}",
            ],
            timings,
        )
        run(
            "eval fine-tuned",
            [lex, "eval", "--model", str(work / "train"), *common, "--out", str(work / "fine_tuned.json")],
            timings,
        )

        results = {
            name: json.loads((work / f"{name}.json").read_text())
            for name in ("bm25", "zero_shot", "fine_tuned")
        }
        prints = {r["eval/fingerprint"] for r in results.values()}
        if len(prints) != 1:
            raise SystemExit(f"the evaluations saw different pairs or corpora: fingerprints {prints}")
        n_test = sum(1 for line in test.read_text(encoding="utf-8").splitlines() if line.strip())
        print(
            f"\ntest split: {n_test} queries against {sum(1 for _ in corpus.open(encoding='utf-8'))} passages"
        )
        print(f"{'model':<12}" + "".join(f"{m.split('/')[1]:>14}" for m in METRICS))
        for name, metrics in results.items():
            print(f"{name:<12}" + "".join(f"{metrics[m]:>14.4f}" for m in METRICS))
        tuned = results["fine_tuned"]["eval/ndcg_at_10"]
        beats = all(tuned > results[b]["eval/ndcg_at_10"] for b in ("bm25", "zero_shot"))
        total = sum(timings.values())
        print(f"\nfine-tuned beats BM25 and zero-shot on nDCG@10: {'yes' if beats else 'NO'}")
        print(
            f"wall time {total / 60:.1f} min (budget {args.budget_min:g} min: "
            f"{'within' if total <= args.budget_min * 60 else 'OVER'}); training {timings['train (LoRA)'] / 60:.1f} min"
        )


if __name__ == "__main__":
    main()
