"""Quality on real data under a CPU budget: fine-tuning the embedded default against BM25 and zero-shot.

    .venv/bin/python benchmarks/train_quality.py                        # ../shared/data/lawgo, ~25 min on 2 cores
    .venv/bin/python benchmarks/train_quality.py --out out/quality --label lr1e-3 --set trainer.lr=1e-3
    .venv/bin/python benchmarks/train_quality.py --out out/quality --label ance --negatives out/quality/train-defaults
    .venv/bin/python benchmarks/train_quality.py --out out/quality --label xl --xl ../shared/data/lawgo-xl \
        --set trainer.max_steps=225

What it runs, each step a `lex-dpr` command (so this measures the product as users run it), timed:

1. the data stages on law.go.kr data: passages, pairs (train / valid / test by precedent, BM25 hard
   negatives), the merged corpus;
2. `lex-dpr eval --hybrid --model multilingual-e5-small` (zero-shot) on `pairs_test.jsonl` against the whole
   merged corpus, the fusion with BM25 chosen on `pairs_train_valid.jsonl` — this gives BM25, the zero-shot
   dense model and their hybrid on test, and the dense model on valid, from one corpus encoding;
2b. with `--negatives MODEL`, `lex-dpr data negatives` re-mines the training pairs' hard negatives with MODEL;
   with `--xl DIR`, the data stages run again on --data + DIR and only their train split is used (test and
   valid stay --data's; a training precedent whose case number is in them is left out);
3. `lex-dpr train` with the defaults of `configs/base.yaml` — only the data paths are given (and
   `data.valid_pairs=null`: the run must not evaluate, the benchmark does) plus any `--set KEY=VALUE`;
4. `lex-dpr eval --hybrid` of the trained run, as in 2.

The valid split chooses (the fusion here; the recipe in docs/training.md's ablation table), the test split
only reports. With `--out`, steps 1 and 2 are skipped when their outputs are there (their recorded times still
count towards the budget), so an ablation re-runs only 3 and 4; each run appends one JSON line (label, the
`--set` overrides, metrics on test and valid, steps, pairs/s, minutes) to `<out>/ablation.jsonl`.

It prints nDCG@10, Recall@10 and MRR@10 of BM25, zero-shot and fine-tuned (dense and hybrid) on test, the
dense nDCG@10 on valid, training pairs/s, and the wall time against `--budget-min` (the issue's 30 minutes).
`eval/fingerprint`s must agree, so the rows are comparable (same pairs, same corpus).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpu_info import describe_cpu
from lawgo_stages import data_stage_argvs, link_all

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "lawgo"
BIN = Path(sys.executable).parent
METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")
TIMINGS = "timings.json"  # the reusable steps' wall times, kept in the work folder


def run(label: str, argv: list[str], timings: dict[str, float]) -> None:
    """Run one `lex-dpr` command; stop the benchmark with its output if it fails."""
    start = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    timings[label] = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-4000:]}")
    print(f"{label:<22} {timings[label]:7.1f} s", flush=True)


def data_stages(lex: str, data: Path, work: Path, timings: dict[str, float]) -> None:
    """passages → pairs (train / valid / test) → merged corpus, into `work`, with `--quiet`."""
    for label, argv in data_stage_argvs(lex, data, work).items():
        run(label, [*argv, "--quiet"], timings)


def hybrid_eval(lex: str, label: str, model: str, work: Path, out: Path, timings: dict[str, float]) -> dict:
    """`lex-dpr eval --hybrid`: dense, BM25 and fusion on test, the fusion chosen on valid."""
    run(
        label,
        [
            lex,
            "eval",
            "--hybrid",
            "--model",
            model,
            "--pairs",
            str(work / "pairs_test.jsonl"),
            "--valid-pairs",
            str(work / "pairs_train_valid.jsonl"),
            "--corpus",
            str(work / "merged_corpus.jsonl"),
            "--out",
            str(out),
            "--quiet",
        ],
        timings,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def xl_training_data(
    lex: str, data: Path, xl: Path, work: Path, kept: dict[str, float], timings: dict[str, float]
) -> tuple[Path, Path]:
    """Training pairs and corpus of `data` + `xl` (laws and precedents of both), built into `<work>/xl`.

    The split is by 판례일련번호 alone, so a precedent of `data` keeps its split and the test and valid files of
    `data` stay the evaluation; only the merged run's train file is used. Its precedents are checked against
    the test and valid ones (serial and case number): a shared precedent stops the benchmark.
    """
    out = work / "xl"
    labels = ("xl passages", "xl pairs", "xl corpus")
    if (out / "merged_corpus.jsonl").is_file() and all(k in kept for k in labels):
        timings.update({k: kept[k] for k in labels})
        print(f"xl data stages         reused ({sum(kept[k] for k in labels):.1f} s when run)", flush=True)
    else:
        src = work / "xl-src"
        shutil.rmtree(src, ignore_errors=True)
        link_all([data / "laws", xl / "laws"], src / "laws")
        link_all([data / "precedents", xl / "precedents"], src / "precedents")
        link_all([data / "admin_rules"], src / "admin_rules")
        for label, argv in data_stage_argvs(lex, src, out).items():
            run(f"xl {label}", [*argv, "--quiet"], timings)
    held_out = precedents_of(work / "pairs_test.jsonl") | precedents_of(work / "pairs_train_valid.jsonl")
    kept, dropped = [], []
    for line in (out / "pairs_train.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            (dropped if precedent_keys(json.loads(line)) & held_out else kept).append(line)
    if dropped:  # another serial, the same case number: maybe another court's case, maybe a copy — drop it
        print(f"xl: {len(dropped)} training pairs share a case number with test/valid: left out", flush=True)
    disjoint = out / "pairs_train.disjoint.jsonl"
    disjoint.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return disjoint, out / "merged_corpus.jsonl"


def precedent_keys(record: dict) -> set[str]:
    """A pair's precedent as its serial number and its case number (either may repeat in another file)."""
    meta = record.get("meta", {})
    return {f"{k}:{meta[k]}" for k in ("precedent_id", "case_number") if meta.get(k)}


def precedents_of(pairs: Path) -> set[str]:
    """The precedents of a pairs file (`precedent_keys` of every pair)."""
    found: set[str] = set()
    for line in pairs.read_text(encoding="utf-8").splitlines():
        if line.strip():
            found |= precedent_keys(json.loads(line))
    return found


def mine_negatives(
    lex: str,
    model: str,
    extra: list[str],
    pairs: Path,
    corpus: Path,
    kept: dict[str, float],
    timings: dict[str, float],
) -> Path:
    """`lex-dpr data negatives` of the training pairs with `model` (at the training lengths, 256/128), reused
    from the work folder when it was mined before with the same model and flags (its time still counts)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).name + "".join(extra))
    out = pairs.with_name(f"{pairs.stem}.dense-{name}.jsonl")
    label = f"mine {out.parent.name}/{name}"
    if out.is_file() and label in kept:
        timings[label] = kept[label]
        print(f"{label:<22} reused ({kept[label]:.1f} s when run)", flush=True)
        return out
    run(
        label,
        [
            lex,
            "data",
            "negatives",
            "--model",
            model,
            "--pairs",
            str(pairs),
            "--passages",
            str(corpus),
            "--out",
            str(out),
            "--max-len",
            "256",
            "--query-max-len",
            "128",
            "--quiet",
            *extra,
        ],
        timings,
    )
    return out


def trained_steps(out_dir: Path) -> int:
    """The step of the run's last checkpoint (the run's length)."""
    steps = [
        int(m.group(1))
        for p in (out_dir / "bi_encoder").iterdir()
        if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
    ]
    return max(steps)


def print_table(path: Path) -> None:
    """The runs of an ablation as the markdown table docs/training.md shows (valid chooses, test reports)."""
    if not path.is_file():
        raise SystemExit(f"{path}: no runs recorded yet")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(
        "| run | overrides | steps × batch | train min | pairs/s | valid nDCG@10 | test nDCG@10 | test R@10 "
        "| hybrid test nDCG@10 / R@10 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        test, hybrid = r["test"]["fine-tuned"], r["test"]["fine-tuned hybrid"]
        print(
            f"| {r['label']} | {' '.join(r['overrides']) or '(defaults)'} | {r['steps']} × {r['batch']} "
            f"| {r['train_min']:.1f} | {r['pairs_per_s']:.2f} | {r['valid_ndcg_at_10']['fine-tuned']:.3f} "
            f"| {test['ndcg_at_10']:.3f} | {test['recall_at_10']:.3f} "
            f"| {hybrid['ndcg_at_10']:.3f} / {hybrid['recall_at_10']:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=SHARED, help="law.go.kr data (laws, admin_rules, precedents)"
    )
    parser.add_argument("--out", type=Path, help="work folder, reused across runs (default: a temporary one)")
    parser.add_argument("--label", default="defaults", help="name of this run in the work folder and table")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a `lex-dpr train` override on top of the defaults (repeatable)",
    )
    parser.add_argument(
        "--negatives",
        metavar="MODEL",
        help="train on pairs whose hard negatives `lex-dpr data negatives` mined with MODEL (a base alias, or "
        "a trained out_dir such as <out>/train-defaults for an ANCE-style second pass) instead of BM25's",
    )
    parser.add_argument(
        "--negatives-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra flag for `lex-dpr data negatives`, e.g. --negatives-arg=--keep=8 (repeatable)",
    )
    parser.add_argument(
        "--xl",
        type=Path,
        metavar="DIR",
        help="train on the train split of --data + DIR (e.g. ../shared/data/lawgo-xl: more laws and "
        "precedents); test and valid stay --data's",
    )
    parser.add_argument("--budget-min", type=float, default=30.0, help="the wall-time budget to check")
    parser.add_argument(
        "--table", action="store_true", help="print <out>/ablation.jsonl as a markdown table and stop"
    )
    args = parser.parse_args()
    if args.table:
        if args.out is None:
            raise SystemExit("--table needs --out")
        print_table(args.out / "ablation.jsonl")
        return
    if not (args.data / "precedents").is_dir():
        raise SystemExit(f"{args.data}: no precedents/ folder (give --data)")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", args.label):
        raise SystemExit(f"--label {args.label!r}: use letters, digits, '.', '_' or '-'")

    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        lex = str(BIN / "lex-dpr")
        timings_file = work / TIMINGS
        kept: dict[str, float] = (
            json.loads(timings_file.read_text(encoding="utf-8")) if timings_file.is_file() else {}
        )
        timings: dict[str, float] = {}
        load = os.getloadavg()[0]
        print(describe_cpu(), flush=True)
        print(
            f"data {args.data}, run {args.label!r}, overrides {args.overrides or 'none'}, load average {load:.1f}"
            + (" (not idle: timings are pessimistic)" if load > 0.5 else ""),
            flush=True,
        )
        if (work / "merged_corpus.jsonl").is_file() and all(
            k in kept for k in ("passages", "pairs", "corpus")
        ):
            timings.update({k: kept[k] for k in ("passages", "pairs", "corpus")})
            print(f"data stages            reused ({sum(timings.values()):.1f} s when run)", flush=True)
        else:
            data_stages(lex, args.data, work, timings)
        zero_file = work / "zero_shot.json"
        if zero_file.is_file() and "eval zero-shot" in kept:
            zero_shot = json.loads(zero_file.read_text(encoding="utf-8"))
            timings["eval zero-shot"] = kept["eval zero-shot"]
            print(f"eval zero-shot         reused ({timings['eval zero-shot']:.1f} s when run)", flush=True)
        else:
            zero_shot = hybrid_eval(lex, "eval zero-shot", "multilingual-e5-small", work, zero_file, timings)
        timings_file.write_text(json.dumps({**kept, **timings}, indent=1), encoding="utf-8")

        train_pairs, train_corpus = work / "pairs_train.jsonl", work / "merged_corpus.jsonl"
        if args.xl:
            train_pairs, train_corpus = xl_training_data(lex, args.data, args.xl, work, kept, timings)
            timings_file.write_text(json.dumps({**kept, **timings}, indent=1), encoding="utf-8")
        if args.negatives:
            train_pairs = mine_negatives(
                lex, args.negatives, args.negatives_arg, train_pairs, train_corpus, kept, timings
            )
            timings_file.write_text(json.dumps({**kept, **timings}, indent=1), encoding="utf-8")
        out_dir = work / f"train-{args.label}"
        shutil.rmtree(out_dir, ignore_errors=True)  # a fresh run, not a resume of an older one
        run(
            "train",
            [
                lex,
                "train",
                "--quiet",
                f"data.pairs={train_pairs}",
                "data.valid_pairs=null",
                f"data.passages={train_corpus}",
                f"out_dir={out_dir}",
                f"run_dir={work / 'wandb'}",
                *args.overrides,
            ],
            timings,
        )
        tuned = hybrid_eval(
            lex, "eval fine-tuned", str(out_dir), work, work / f"fine_tuned-{args.label}.json", timings
        )

        prints = {zero_shot["eval/fingerprint"], tuned["eval/fingerprint"]}
        if len(prints) != 1:
            raise SystemExit(f"the evaluations saw different pairs or corpora: fingerprints {prints}")
        rows = {
            "BM25": {m: tuned[f"bm25/{m}"] for m in METRICS},
            "zero-shot": {m: zero_shot[f"eval/{m}"] for m in METRICS},
            "zero-shot hybrid": {m: zero_shot[f"hybrid/{m}"] for m in METRICS},
            "fine-tuned": {m: tuned[f"eval/{m}"] for m in METRICS},
            "fine-tuned hybrid": {m: tuned[f"hybrid/{m}"] for m in METRICS},
        }
        valid = {
            "zero-shot": zero_shot["fusion"]["valid"]["metrics"]["eval/ndcg_at_10"],
            "fine-tuned": tuned["fusion"]["valid"]["metrics"]["eval/ndcg_at_10"],
            "fine-tuned hybrid": tuned["fusion"]["valid"]["metrics"]["hybrid/ndcg_at_10"],
        }
        n_test = sum(1 for line in (work / "pairs_test.jsonl").open(encoding="utf-8") if line.strip())
        n_passages = sum(1 for line in (work / "merged_corpus.jsonl").open(encoding="utf-8") if line.strip())
        print(f"\ntest split: {n_test} queries against {n_passages} passages (valid only chooses)")
        print(f"{'':<18}" + "".join(f"{'test ' + m:>20}" for m in METRICS) + f"{'valid ndcg_at_10':>20}")
        for name, metrics in rows.items():
            print(
                f"{name:<18}"
                + "".join(f"{metrics[m]:>20.4f}" for m in METRICS)
                + (f"{valid[name]:>20.4f}" if name in valid else f"{'':>20}")
            )
        print(
            f"fusion chosen on valid: zero-shot {zero_shot['hybrid/fusion']}, fine-tuned {tuned['hybrid/fusion']}"
        )

        steps = trained_steps(out_dir)
        config = json.loads((out_dir / "bi_encoder" / "training_config.json").read_text(encoding="utf-8"))[
            "config"
        ]
        batch = int(config["data"]["batch_size"]) * int(config["trainer"]["gradient_accumulation_steps"])
        pairs_per_s = steps * batch / timings["train"]
        total = sum(timings.values())
        beats = all(rows["fine-tuned"]["ndcg_at_10"] > rows[b]["ndcg_at_10"] for b in ("BM25", "zero-shot"))
        print(f"\nfine-tuned beats BM25 and zero-shot on nDCG@10: {'yes' if beats else 'NO'}")
        print(
            f"training: {steps} steps of {batch} pairs in {timings['train'] / 60:.1f} min "
            f"({pairs_per_s:.2f} pairs/s, start-up included)"
        )
        print(
            f"wall time {total / 60:.1f} min (budget {args.budget_min:g} min: "
            f"{'within' if total <= args.budget_min * 60 else 'OVER'})"
        )
        with (work / "ablation.jsonl").open("a", encoding="utf-8") as log:
            record = {
                "label": args.label,
                "overrides": args.overrides
                + (
                    [f"negatives={args.negatives} {' '.join(args.negatives_arg)}".strip()]
                    if args.negatives
                    else []
                )
                + ([f"xl={args.xl}"] if args.xl else []),
                "test": {name: metrics for name, metrics in rows.items()},
                "valid_ndcg_at_10": valid,
                "steps": steps,
                "batch": batch,
                "pairs_per_s": round(pairs_per_s, 3),
                "train_min": round(timings["train"] / 60, 2),
                "total_min": round(total / 60, 2),
                "load": round(load, 2),
            }
            log.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
