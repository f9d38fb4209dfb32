"""Does `method: bayes` beat `method: random`? Best objective after N trials on a cheap synthetic objective.

The search space is the guide's preset itself (15 parameters: log-uniform, uniform and categorical,
numbers and model names), built by the same code agents use (`space.distributions`), and the samplers are
the ones agents use (`engine.build_sampler`), seeded per repetition. For comparison: optuna's GP sampler
(what W&B's "bayes" is), with the same number of random start-up trials.

The objective imitates what we expect of the real one, with the properties that make search hard:
an lr optimum that depends on the base model (interaction), a temperature optimum, more negatives
(batch × accumulation) helping with diminishing returns, a LoRA alpha/r sweet spot (interaction), a few
parameters that do nothing, and evaluation noise. Its maximum is about 0.62.

    python benchmarks/sweep_bayes_vs_random.py [--trials 20] [--seeds 10]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna

from lexdpr.sweep import space
from lexdpr.sweep.engine import TPE_STARTUP_TRIALS, build_sampler
from lexdpr.sweep.preset import preset_spec

MODEL_QUALITY = {
    "ko-simcse": 0.50,
    "bge-m3-ko": 0.56,
    "multilingual-minilm": 0.44,
    "multilingual-e5-small": 0.52,
}
MODEL_BEST_LOG_LR = {
    "ko-simcse": -4.7,
    "bge-m3-ko": -5.3,
    "multilingual-minilm": -4.3,
    "multilingual-e5-small": -4.6,
}


def objective(v: dict, rng: random.Random) -> float:
    model = v["model.bi_model"]
    score = MODEL_QUALITY[model]
    score -= 0.03 * (math.log10(v["trainer.lr"]) - MODEL_BEST_LOG_LR[model]) ** 2
    score -= 1.5 * (v["trainer.temperature"] - 0.05) ** 2
    negatives = v["data.batch_size"] * v["trainer.gradient_accumulation_steps"]
    score += 0.012 * math.log2(negatives / 512)
    score -= 0.4 * (v["trainer.warmup_ratio"] - 0.08) ** 2
    score += {0: 0.0, 1: 0.012, 2: 0.006}[v["data.multiply"]]
    score -= 0.02 * abs(math.log2(v["model.peft.alpha"] / v["model.peft.r"]) - 1)
    score -= 0.15 * (v["data.hard_negative_ratio"] - 0.45) ** 2
    score += 0.01 * (v["model.max_len"] - 256) / 256
    score -= 0.02 * v["trainer.weight_decay"] * (v["trainer.gradient_clip_norm"] < 2)  # nearly irrelevant
    return score + rng.gauss(0, 0.003)  # evaluation noise


def run(method: str, seed: int, trials: int) -> tuple[float, float]:
    """(best value after `trials`, mean seconds per suggestion)."""
    spec = preset_spec()
    distributions = space.distributions(spec)
    if method == "gp":
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS)
    else:
        kind = "bayes" if method == "bayes (TPE)" else "random"
        sampler = build_sampler(type(spec)(**{**spec.__dict__, "method": kind}), "bench", seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    noise = random.Random(seed)
    asking = 0.0
    for _ in range(trials):
        started = time.perf_counter()
        trial = study.ask(distributions)
        asking += time.perf_counter() - started
        study.tell(trial, objective(space.trial_values(spec, trial.params), noise))
    return study.best_value, asking / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--methods", default="random,bayes (TPE),gp")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")

    methods = args.methods.split(",")
    results: dict[str, list[float]] = {m: [] for m in methods}
    ask_s: dict[str, list[float]] = {m: [] for m in methods}
    for seed in range(args.seeds):
        for m in methods:
            best, per_ask = run(m, seed, args.trials)
            results[m].append(best)
            ask_s[m].append(per_ask)

    print(
        f"best {'eval/ndcg_at_10'} after {args.trials} trials, {args.seeds} seeds "
        f"(synthetic objective on the preset's space; {TPE_STARTUP_TRIALS} random start-up trials for bayes/gp)"
    )
    print(f"{'method':<14} {'mean':>7} {'std':>7} {'median':>7} {'min':>7} {'max':>7} {'s/suggest':>10}")
    for m in methods:
        r = results[m]
        print(
            f"{m:<14} {statistics.mean(r):7.4f} {statistics.stdev(r):7.4f} {statistics.median(r):7.4f} "
            f"{min(r):7.4f} {max(r):7.4f} {statistics.mean(ask_s[m]):10.3f}"
        )
    base = results.get("random")
    if base:
        for m in methods:
            if m != "random":
                wins = sum(a > b for a, b in zip(results[m], base, strict=True))
                print(
                    f"{m} beats random on {wins}/{args.seeds} seeds "
                    f"(mean gain {statistics.mean(results[m]) - statistics.mean(base):+.4f})"
                )


if __name__ == "__main__":
    main()
