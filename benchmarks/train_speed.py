"""Training and encoding speed of lexdpr against sentence-transformers, on the same model and data.

    .venv/bin/python benchmarks/train_speed.py                      # multilingual-e5-small, ~12 min on 2 cores
    .venv/bin/python benchmarks/train_speed.py --model /path/to/model --steps 10 --batch-size 32
    .venv/bin/python benchmarks/train_speed.py --modes accum        # what GradCache accumulation costs

Measured, each in its own subprocess (so peak memory is per measurement):
- training pairs/s of `lexdpr.training.train` vs `SentenceTransformer.old_fit` with
  MultipleNegativesRankingLoss (scale 20 = our temperature 0.05), both with full fine-tuning and with the same
  LoRA adapter; same model, batch size, max length (queries and passages), one hard negative per query
  (`data.hard_negative_ratio = B / (2B − 1)` gives exactly B hard negatives for B queries), and a batch sampler
  that keeps queries with a shared positive apart on both sides. Pairs/s is timed from the second step to the
  last, so start-up (model load, tokenization) is not counted for either;
- corpus encoding passages/s of lexdpr's evaluation encoder (precision `auto` and fp32) vs
  `SentenceTransformer.encode` at the same precision (bf16 weights where lexdpr encodes in bf16;
  tokenization included on both sides);
- with `--modes precision`, lexdpr alone: LoRA training in fp32 against `trainer.precision=bf16` (bf16 autocast
  on a CPU with native bf16);
- with `--modes breakdown`, lexdpr alone on the real pairs: the median seconds of a LoRA step's phases
  (building the batch, forward, backward, optimizer) with the base model's dropout as shipped, without
  dropout, and without dropout with LoRA in the last 6 of 12 blocks, in fp32 and (native bf16 only) bf16;
  with the step's FLOP/s against a 2048 x 2048 matmul's (the reachable peak);
- with `--modes accum`, lexdpr alone: one batch of B against B/4 queries × 4 accumulated micro-batches;
- peak resident memory (ru_maxrss) of each subprocess.

Measured on the 2-core AMD EPYC (Zen 4, AVX512-BF16) dev machine, idle; multilingual-e5-small, batch 16,
max_len 256, 6 steps: LoRA lexdpr 2.35 pairs/s vs sentence-transformers 1.05 (2.23x; peak RSS 7.4 vs
17.2 GB); full fine-tuning 2.40 vs 1.07 (2.25x; 7.9 vs 12.5 GB). Encoding 512 real law articles: lexdpr
70.8 passages/s (bf16, what `auto` picks there) and 27.1 (fp32) vs sentence-transformers 23.4 (fp32): 3.02x
and 1.16x. `--modes accum` (GradCache, LoRA, logical batch 16): 2.39 pairs/s as 1 x 16, 1.44 as 4 x 4 (1.66x).

`old_fit` is sentence-transformers' classic training loop; it needs no `datasets` package and has less
overhead than its Trainer, so it is the stricter baseline. Data: law articles from `--laws-dir` as passages
and precedent 판시사항 issues from `--precedents-dir` as queries (real lengths; relevance does not matter for
speed), unless `--pairs`/`--passages` name real pairs and corpus files.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# wall: elapsed time (use on an idle machine); cpu: CPU seconds of the process, all threads (robust when
# other processes compete for the cores, but blind to time spent waiting).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
SHARED = ROOT.parent / "shared" / "data" / "lawgo"


# --- data -------------------------------------------------------------------------------------------------


def _article_text(unit: dict[str, Any]) -> str:
    parts = [unit["조문내용"]] if isinstance(unit.get("조문내용"), str) else []
    paragraphs = unit.get("항") or []
    for para in [paragraphs] if isinstance(paragraphs, dict) else paragraphs:
        if isinstance(para.get("항내용"), str):
            parts.append(para["항내용"])
        items = para.get("호") or []
        for item in [items] if isinstance(items, dict) else items:
            if isinstance(item.get("호내용"), str):
                parts.append(item["호내용"])
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


def build_dataset(
    laws_dir: Path, precedents_dir: Path, out: Path, n_passages: int, n_queries: int, seed: int
) -> dict[str, str]:
    """Write corpus.jsonl and pairs.jsonl with real law article and 판시사항 texts."""
    rng = random.Random(seed)
    corpus = []
    for path in sorted(glob.glob(str(laws_dir / "*.json"))):
        try:
            units = json.loads(Path(path).read_text(encoding="utf-8"))["법령"]["조문"]["조문단위"]
        except (KeyError, TypeError, ValueError):
            continue
        for unit in [units] if isinstance(units, dict) else units:
            if unit.get("조문여부") != "조문":
                continue
            text = _article_text(unit)
            if len(text) > 20 and "삭제" not in text[:25]:
                corpus.append({"id": f"LAW_{Path(path).stem}_{unit.get('조문키')}", "text": text})
    rng.shuffle(corpus)
    corpus = corpus[:n_passages]
    queries = []
    for path in sorted(glob.glob(str(precedents_dir / "*.json"))):
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError:
            continue
        doc = doc.get("PrecService", doc) if isinstance(doc, dict) else {}
        text = doc.get("판시사항") if isinstance(doc, dict) else None
        if isinstance(text, str):
            for issue in re.split(r"\[\d+\]", text.replace("<br/>", " ")):
                issue = re.sub(r"\s+", " ", issue).strip()
                if len(issue) > 10:
                    queries.append(issue)
        if len(queries) >= n_queries:
            break
    if len(corpus) < 20 or len(queries) < 20:
        raise SystemExit(f"too little data under {laws_dir} / {precedents_dir}; pass --pairs and --passages")
    ids = [c["id"] for c in corpus]
    pairs = []
    for n, q in enumerate(queries[:n_queries]):
        pos, neg = rng.sample(ids, 2)
        pairs.append(
            {
                "query_id": f"Q{n}",
                "query_text": q,
                "positive_passages": [pos],
                "hard_negatives": [neg],
                "meta": {},
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus", corpus), ("pairs", pairs)):
        (out / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return {"pairs": str(out / "pairs.jsonl"), "passages": str(out / "corpus.jsonl")}


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# --- workers (each runs in its own process) ------------------------------------------------------------


def worker_lexdpr_train(args: dict[str, Any]) -> dict[str, Any]:
    from lexdpr.tracking.tracker import RunTracker
    from lexdpr.training.config import load_config
    from lexdpr.training.trainer import train

    b = args["batch_size"]  # the logical batch: `accumulation` micro-batches of b / accumulation queries
    k = args.get("accumulation", 1)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(
            None,
            [
                f"model.bi_model={args['model']}",
                f"model.max_len={args['max_len']}",
                f"model.query_max_len={args['max_len']}",
                f"model.peft.enabled={str(args['lora']).lower()}",
                f"data.pairs={args['pairs']}",
                "data.valid_pairs=null",
                "data.eval_pairs=null",
                f"data.passages={args['passages']}",
                f"data.batch_size={b // k}",
                f"trainer.gradient_accumulation_steps={k}",
                f"data.hard_negative_ratio={b / (2 * b - 1)}",
                f"trainer.max_steps={args['steps']}",
                "trainer.lr=2e-5",
                "trainer.warmup_ratio=0.1",
                "trainer.keep_last=1",
                f"trainer.precision={args.get('precision', 'auto')}",
                f"out_dir={tmp}/out",
                f"run_dir={tmp}/runs",
            ],
        )
        stamps: list[float] = []
        log = RunTracker.log

        def timed_log(self: RunTracker, step: int, metrics: dict[str, Any]) -> None:
            if "train/loss" in metrics:  # logged right after each optimizer step
                stamps.append(CLOCKS[args["clock"]]())
            log(self, step, metrics)

        RunTracker.log = timed_log  # type: ignore[method-assign]
        train(config, quiet=True)
    return _speed(stamps, b)


def worker_st_train(args: dict[str, Any]) -> dict[str, Any]:
    import torch
    from sentence_transformers import InputExample, SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.datasets import NoDuplicatesDataLoader
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.datasets import NoDuplicatesDataLoader
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    torch.manual_seed(42)
    model = SentenceTransformer(args["model"], device="cpu")
    model.max_seq_length = args["max_len"]
    if args["lora"]:
        from peft import LoraConfig

        from lexdpr.training.peft_targets import lora_target_modules

        target = lora_target_modules(model[0].auto_model, "auto")
        model.add_adapter(
            LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=target, bias="none")
        )
    passages = {p["id"]: p["text"] for p in _read_jsonl(args["passages"])}
    examples = [
        InputExample(
            texts=[
                "query: " + p["query_text"],
                "passage: " + passages[p["positive_passages"][0]],
                "passage: " + passages[p["hard_negatives"][0]],
            ]
        )
        for p in _read_jsonl(args["pairs"])
    ]
    loader = NoDuplicatesDataLoader(examples, batch_size=args["batch_size"])
    loss = MultipleNegativesRankingLoss(model, scale=20.0)
    stamps: list[float] = []
    forward = loss.forward

    def timed_forward(*a: Any, **k: Any) -> Any:
        stamps.append(CLOCKS[args["clock"]]())
        return forward(*a, **k)

    loss.forward = timed_forward  # type: ignore[method-assign]
    steps = args["steps"]
    model.old_fit(
        [(loader, loss)],
        epochs=1,
        steps_per_epoch=steps,
        warmup_steps=max(1, steps // 10),
        optimizer_params={"lr": 2e-5},
        weight_decay=0.01,
        max_grad_norm=1.0,
        show_progress_bar=False,
    )
    stamps.append(CLOCKS[args["clock"]]())
    return _speed(stamps[1:], args["batch_size"])


def _speed(stamps: list[float], batch_size: int) -> dict[str, Any]:
    """Pairs/s from the first to the last stamp (step ends), and from the median step (robust to noise)."""
    steps = sorted(b - a for a, b in itertools.pairwise(stamps))
    seconds = stamps[-1] - stamps[0]
    return {
        "pairs_per_s": len(steps) * batch_size / seconds,
        "median_pairs_per_s": batch_size / steps[len(steps) // 2],
        "steps_timed": len(steps),
        "seconds": seconds,
    }


def worker_lexdpr_encode(args: dict[str, Any]) -> dict[str, Any]:
    from lexdpr.training.evaluate import embed_texts
    from lexdpr.training.model_ref import load_bi_encoder
    from lexdpr.training.runtime import pick_runtime

    texts = [p["text"] for p in _read_jsonl(args["passages"])]
    encoder = load_bi_encoder(args["model"], max_len=args["max_len"])
    runtime = pick_runtime(args["precision"], "cpu")
    start = time.perf_counter()
    embed_texts(encoder, encoder.tokenize(texts, "passage"), runtime.inference_bucketing, runtime)
    seconds = time.perf_counter() - start
    return {
        "passages_per_s": len(texts) / seconds,
        "seconds": seconds,
        "precision": runtime.inference_precision_name,
    }


def worker_st_encode(args: dict[str, Any]) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    texts = [p["text"] for p in _read_jsonl(args["passages"])]
    model = SentenceTransformer(args["model"], device="cpu")
    model.max_seq_length = args["max_len"]
    if args.get("precision") == "bf16":  # the same precision as lexdpr's bf16 encoding: bf16 weights
        import torch

        model = model.to(torch.bfloat16)
    start = time.perf_counter()
    model.encode(texts, prompt="passage: ", batch_size=32, normalize_embeddings=True)
    seconds = time.perf_counter() - start
    return {"passages_per_s": len(texts) / seconds, "seconds": seconds}


# --- where a step's time goes ---------------------------------------------------------------------------

# What `--modes breakdown` compares: the LoRA recipe before (dropout as the base model ships it, LoRA
# dropout 0.05), without dropout, and without dropout with LoRA in the last half of the blocks only.
BREAKDOWN_VARIANTS: dict[str, dict[str, Any]] = {
    "LoRA, model dropout 0.1, LoRA dropout 0.05": {"dropout": None, "lora_dropout": 0.05, "layers": None},
    "LoRA, no dropout": {"dropout": 0.0, "lora_dropout": 0.0, "layers": None},
    "LoRA, no dropout, last 6 of 12 blocks": {"dropout": 0.0, "lora_dropout": 0.0, "layers": 6},
}


def worker_step_breakdown(args: dict[str, Any]) -> dict[str, Any]:
    """Median seconds per step of building the batch, forward, backward and the optimizer, and the FLOP/s.

    The step is the trainer's (`build_step_batch`, `embed_tokenized` with the CPU bucketing, `info_nce_loss`,
    AdamW with clipping), timed phase by phase; the first step is warm-up and not counted.
    """
    import numpy as np
    import torch

    from lexdpr.training.bi_encoder import BiEncoder, LoraSettings
    from lexdpr.training.loss import info_nce_loss
    from lexdpr.training.model_ref import base_settings
    from lexdpr.training.negatives import build_step_batch
    from lexdpr.training.optimization import build_optimizer
    from lexdpr.training.pairs import load_corpus, load_training_pairs
    from lexdpr.training.runtime import pick_runtime

    b, steps = args["batch_size"], args["steps"]
    runtime = pick_runtime(args["precision"], "cpu", quiet=True)
    settings = base_settings(args["model"], None, None, args["max_len"], min(args["max_len"], 128))
    lora = LoraSettings(dropout=args["lora_dropout"], layers=args["layers"])
    model = BiEncoder.build(settings, lora, seed=0, dropout=args["dropout"]).train()
    corpus = load_corpus(args["passages"])
    pairs = load_training_pairs(args["pairs"], corpus, quiet=True)[: b * (steps + 1)]
    queries = model.tokenize([p.query_text for p in pairs], "query")
    needed = list(dict.fromkeys(x for p in pairs for x in (*p.positives, *p.hard_negatives)))
    passages = model.tokenize([corpus.texts[corpus.index[i]] for i in needed], "passage")
    position = {pid: n for n, pid in enumerate(needed)}
    optimizer = build_optimizer(model, 3e-4, 0.01)
    trainable = [p for p in model.parameters() if p.requires_grad]
    bucketing = runtime.bucketing
    phases: dict[str, list[float]] = {"batch": [], "forward": [], "backward": [], "optimizer": []}
    flops: list[float] = []
    config = model.transformer_config()
    blocks, hidden = config.num_hidden_layers, config.hidden_size
    block_params = sum(
        m.weight.numel()
        for name, m in model.backbone.named_modules()
        if isinstance(m, torch.nn.Linear) and ".layer." in name and "lora_" not in name
    )
    backward_share = (args["layers"] or blocks) / blocks
    for step in range(steps + 1):
        t0 = time.perf_counter()
        batch = build_step_batch(
            pairs, list(range(step * b, step * b + b)), position, 0.4, random.Random(step)
        )
        t1 = time.perf_counter()
        with runtime.autocast()():
            q = model.embed_tokenized(queries, batch.queries, bucketing.max_texts, bucketing.max_tokens)
            p = model.embed_tokenized(passages, batch.passages, bucketing.max_texts, bucketing.max_tokens)
        loss = info_nce_loss(q, p, batch.targets, batch.mask, 0.05)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        if step == 0:
            continue
        for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            phases[name].append(seconds)
        lengths = np.concatenate([queries.lengths[batch.queries], passages.lengths[batch.passages]])
        # forward: 2 FLOPs per weight per token in the blocks' linears, plus QK^T and AV (4 L^2 H per block);
        # backward: the input gradients of the blocks it runs through (LoRA's weight gradients are tiny)
        forward = (
            2.0 * block_params * lengths.sum()
            + 4.0 * float((lengths.astype(float) ** 2).sum()) * hidden * blocks
        )
        flops.append(forward * (1.0 + backward_share))
    median = {name: float(np.median(v)) for name, v in phases.items()}
    step_s = sum(median.values())
    return {
        **{f"{k}_s": v for k, v in median.items()},
        "step_s": step_s,
        "pairs_per_s": b / step_s,
        "gflops_per_s": float(np.median(flops)) / step_s / 1e9,
        "precision": runtime.precision_name,
    }


def worker_matmul_peak(args: dict[str, Any]) -> dict[str, Any]:
    """GFLOP/s of a large square matmul in fp32 and bf16: the reachable peak a step's FLOP/s is compared to."""
    import torch

    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, c = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        torch.mm(a, c)
        start, runs = time.perf_counter(), 5
        for _ in range(runs):
            torch.mm(a, c)
        out[name] = 2 * 2048**3 * runs / (time.perf_counter() - start) / 1e9
    return out


WORKERS = {
    f.__name__: f
    for f in (
        worker_lexdpr_train,
        worker_st_train,
        worker_lexdpr_encode,
        worker_st_encode,
        worker_step_breakdown,
        worker_matmul_peak,
    )
}


def _run_worker(name: str, args: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="multilingual-e5-small", help="alias or model folder")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6, help="training steps per measurement")
    parser.add_argument("--encode-passages", type=int, default=512)
    parser.add_argument("--pairs", help="real pairs JSONL (with --passages)")
    parser.add_argument("--passages", help="real corpus JSONL (with --pairs)")
    parser.add_argument("--laws-dir", type=Path, default=SHARED / "laws")
    parser.add_argument("--precedents-dir", type=Path, default=SHARED / "precedents")
    parser.add_argument(
        "--modes",
        default="lora,full,encode",
        help="comma list of lora, full, encode, accum, precision, breakdown",
    )
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="how steps are timed")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        name, payload = args.worker
        result = WORKERS[name](json.loads(payload))
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    import torch
    from cpu_info import describe_cpu

    from lexdpr.training.base_models import resolve_base_model
    from lexdpr.training.runtime import pick_runtime

    print(describe_cpu(), flush=True)
    model = str(resolve_base_model(args.model).path)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(
            f"warning: load average {load:.1f}: other processes share the CPU, timings will be noisy "
            "(the median-step figures are the more robust ones)",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        if args.pairs and args.passages:
            data = {"pairs": args.pairs, "passages": args.passages}
        else:
            n_queries = args.batch_size * (args.steps + 2)
            data = build_dataset(args.laws_dir, args.precedents_dir, Path(tmp), 4000, n_queries, seed=0)
        encode_file = Path(tmp) / "encode.jsonl"
        encode_file.write_text(
            "".join(
                json.dumps(p, ensure_ascii=False) + "\n"
                for p in _read_jsonl(data["passages"])[: args.encode_passages]
            ),
            encoding="utf-8",
        )
        common = {
            "model": model,
            "batch_size": args.batch_size,
            "max_len": args.max_len,
            "steps": args.steps,
            "clock": args.clock,
            **data,
        }
        print(
            f"model {args.model} ({model}), batch {args.batch_size}, max_len {args.max_len}, "
            f"{args.steps} steps, {torch.get_num_threads()} torch threads, clock {args.clock}"
            + (" (rates are per CPU-second)" if args.clock == "cpu" else ""),
            flush=True,
        )
        for mode in [m for m in args.modes.split(",") if m in ("lora", "full")]:
            lora = mode == "lora"
            ours = _run_worker("worker_lexdpr_train", {**common, "lora": lora})
            theirs = _run_worker("worker_st_train", {**common, "lora": lora})
            print(
                f"train {mode:4}: lexdpr {ours['pairs_per_s']:.2f} pairs/s (median step "
                f"{ours['median_pairs_per_s']:.2f}, peak {ours['peak_rss_mb']:.0f} MB) | sentence-transformers "
                f"{theirs['pairs_per_s']:.2f} pairs/s (median step {theirs['median_pairs_per_s']:.2f}, peak "
                f"{theirs['peak_rss_mb']:.0f} MB) | speed-up {ours['pairs_per_s'] / theirs['pairs_per_s']:.2f}x "
                f"(median {ours['median_pairs_per_s'] / theirs['median_pairs_per_s']:.2f}x)",
                flush=True,
            )
        if "precision" in args.modes.split(","):
            # what trainer.precision=bf16 buys on a CPU with native bf16 (fp32 where the CPU has none)
            fp32 = _run_worker("worker_lexdpr_train", {**common, "lora": True, "precision": "fp32"})
            bf16 = _run_worker("worker_lexdpr_train", {**common, "lora": True, "precision": "bf16"})
            print(
                f"precision (LoRA, lexdpr): fp32 {fp32['pairs_per_s']:.2f} pairs/s (median step "
                f"{fp32['median_pairs_per_s']:.2f}) | bf16 → {pick_runtime('bf16', 'cpu', quiet=True).precision_name} "
                f"{bf16['pairs_per_s']:.2f} pairs/s (median step {bf16['median_pairs_per_s']:.2f}) | "
                f"speed-up {bf16['pairs_per_s'] / fp32['pairs_per_s']:.2f}x",
                flush=True,
            )
        if "breakdown" in args.modes.split(","):
            peak = _run_worker("worker_matmul_peak", {})
            print(
                f"matmul peak (2048 x 2048): fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s",
                flush=True,
            )
            print(
                f"{'step breakdown (median s)':<44}{'batch':>7}{'forward':>9}{'backward':>10}{'optimizer':>11}"
                f"{'step':>7}{'pairs/s':>9}{'GFLOP/s':>9}{'of peak':>9}",
                flush=True,
            )
            for precision in ("fp32", "bf16"):
                for label, variant in BREAKDOWN_VARIANTS.items():
                    r = _run_worker("worker_step_breakdown", {**common, **variant, "precision": precision})
                    if r["precision"] != precision:
                        continue  # this CPU has no native bf16: the bf16 rows would repeat fp32
                    print(
                        f"{label + ', ' + precision:<44}{r['batch_s']:>7.3f}{r['forward_s']:>9.3f}"
                        f"{r['backward_s']:>10.3f}{r['optimizer_s']:>11.3f}{r['step_s']:>7.2f}"
                        f"{r['pairs_per_s']:>9.2f}{r['gflops_per_s']:>9.1f}"
                        f"{r['gflops_per_s'] / peak[precision]:>9.0%}",
                        flush=True,
                    )
        if "accum" in args.modes.split(","):
            # GradCache costs a second forward of each micro-batch: expect ~1.3x the time of one big batch
            plain = _run_worker("worker_lexdpr_train", {**common, "lora": True})
            accum = _run_worker("worker_lexdpr_train", {**common, "lora": True, "accumulation": 4})
            print(
                f"accumulation (LoRA, logical batch {args.batch_size}): 1 x {args.batch_size} "
                f"{plain['pairs_per_s']:.2f} pairs/s | 4 x {args.batch_size // 4} {accum['pairs_per_s']:.2f} "
                f"pairs/s | cost of GradCache {plain['pairs_per_s'] / accum['pairs_per_s']:.2f}x",
                flush=True,
            )
        if "encode" not in args.modes.split(","):
            return
        enc = {**common, "passages": str(encode_file)}
        for precision in ("auto", "fp32"):
            ours = _run_worker("worker_lexdpr_encode", {**enc, "precision": precision})
            # sentence-transformers at the precision lexdpr ran at (bf16 weights for bf16), so the ratio
            # compares the encoders, not the number formats
            theirs = _run_worker("worker_st_encode", {**enc, "precision": ours["precision"]})
            print(
                f"encode corpus ({args.encode_passages} passages, lexdpr precision={precision} → "
                f"{ours['precision']}): lexdpr {ours['passages_per_s']:.1f} passages/s (peak "
                f"{ours['peak_rss_mb']:.0f} MB) | sentence-transformers ({ours['precision']}) "
                f"{theirs['passages_per_s']:.1f} "
                f"passages/s (peak {theirs['peak_rss_mb']:.0f} MB) | speed-up "
                f"{ours['passages_per_s'] / theirs['passages_per_s']:.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
