"""Real run folders for the run-tool tests: the tiny BERT of `tests/conftest_models.py`, trained for seconds.

Three trainings, each showing one pattern the verdict must recognise:

- healthy: every weight trained at a sane learning rate on pairs that cover all 16 sentences; valid loss
  and eval/ndcg_at_10 improve on the base model;
- lr_too_high: a LoRA adapter at lr=5: the first steps blow the embeddings up, they collapse, the train
  loss ends above where it started and the metrics fall far below the base model's;
- overfitting: eight pairs about four sentences, forty epochs: train loss goes to ~0 within a few steps,
  valid loss falls first and then climbs while the metrics fall back;
- nan_loss: lr=1e8 without gradient clipping: the loss is NaN at the second step and the trainer stops the
  run as `failed` (it records why and does not log the NaN).

The data is built so the base model is far from perfect (each query shares only three words with its
passage, and every passage has look-alike distractors that share words with it).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from lexdpr.training.config import TrainConfig, apply_overrides
from tests.conftest_models import KOREAN_SENTENCES, build_tiny_bert

# name -> (dataset options, config overrides)
# Run ids are the recipe names without "_" (the trainer's folder name ends in "-{run_id}").
RECIPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "healthy": (
        {},
        {"trainer.lr": 1e-3, "trainer.epochs": 4, "trainer.eval_steps": 4, "model.peft.enabled": False},
    ),
    "lr_too_high": (
        {},
        {"trainer.lr": 5.0, "trainer.epochs": 4, "trainer.eval_steps": 4},
    ),
    "overfitting": (
        {"n_train": 8, "train_sentences": 4},
        {
            "trainer.lr": 3e-3,
            "trainer.epochs": 40,
            "trainer.eval_steps": 5,
            "model.peft.enabled": False,
            "data.batch_size": 4,
            "trainer.warmup_ratio": 0.0,
        },
    ),
    "nan_loss": (
        {},
        {
            "trainer.lr": 1e8,
            "trainer.gradient_clip_norm": 0.0,
            "trainer.warmup_ratio": 0.0,
            "trainer.eval_steps": 4,
        },
    ),
}


def run_id(recipe: str) -> str:
    return recipe.replace("_", "")


def write_dataset(
    folder: Path,
    n_train: int = 32,
    n_valid: int = 16,
    train_sentences: int = 16,
    distractors: int = 3,
    seed: int = 0,
) -> dict[str, Path]:
    """Corpus (16 articles + look-alike distractors), train pairs over the first `train_sentences`
    sentences, and valid pairs over all of them."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    words = [s.split() for s in KOREAN_SENTENCES]
    corpus = [
        {
            "id": f"LAW_1_제{i + 1}조",
            "parent_id": "1",
            "type": "law",
            "text": text,
            "law_name": "민법",
            "article": f"제{i + 1}조",
        }
        for i, text in enumerate(KOREAN_SENTENCES)
    ]
    for i, own in enumerate(words):
        for j in range(distractors):
            other = rng.choice([w for k, w in enumerate(words) if k != i])
            mixed = rng.sample(own, max(2, len(own) // 3)) + rng.sample(other, min(len(other), 5))
            rng.shuffle(mixed)
            corpus.append(
                {
                    "id": f"ADM_{i}_{j}",
                    "parent_id": str(i),
                    "type": "admin",
                    "text": " ".join(mixed),
                    "law_name": "규칙",
                    "article": "제1조",
                }
            )

    def pairs(prefix: str, count: int, sentences: int, rng: random.Random) -> list[dict[str, Any]]:
        out = []
        for q in range(count):
            i = q % sentences
            out.append(
                {
                    "query_id": f"{prefix}{q}",
                    "query_text": " ".join(rng.sample(words[i], 3)),
                    "positive_passages": [corpus[i]["id"]],
                    "hard_negatives": [f"ADM_{i}_{j}" for j in range(distractors)],
                    "meta": {"type": "prec", "precedent_id": f"{prefix}{q}", "issue": 1},
                }
            )
        return out

    paths = {
        "corpus": folder / "corpus.jsonl",
        "train": folder / "train.jsonl",
        "valid": folder / "valid.jsonl",
    }
    # valid pairs from their own generator: every recipe is evaluated on the very same queries
    valid = pairs("V", n_valid, 16, random.Random(seed + 1))
    rows = {"corpus": corpus, "train": pairs("T", n_train, train_sentences, rng), "valid": valid}
    for name, records in rows.items():
        paths[name].write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
    return paths


def train_recipes(base: Path, names: tuple[str, ...] = tuple(RECIPES)) -> dict[str, Any]:
    """Train each recipe into `base/wandb` (run folders) and `base/<name>/` (checkpoints).

    Returns {name: TrainResult}, or the `TrainingFailed` the trainer raised for a run it stopped.
    """
    from lexdpr.training.trainer import TrainingFailed, train

    model = base / "model"
    if not model.exists():
        build_tiny_bert(model)
    results: dict[str, Any] = {}
    for name in names:
        data_options, overrides = RECIPES[name]
        data = write_dataset(base / "data" / name, **data_options)
        config = apply_overrides(
            TrainConfig(),
            {
                "model.bi_model": str(model),
                "model.max_len": 64,
                "model.query_max_len": 32,
                "data.pairs": str(data["train"]),
                "data.valid_pairs": str(data["valid"]),
                "data.passages": str(data["corpus"]),
                "data.batch_size": 8,
                "trainer.precision": "fp32",
                # the recipes were tuned with dropout on (lr=5 diverges without it instead of collapsing)
                "model.dropout": None,
                "model.peft.dropout": 0.05,
                "out_dir": str(base / name),
                "run_dir": str(base / "wandb"),
                **overrides,
            },
        )
        try:
            results[name] = train(config, quiet=True, run_id=run_id(name))
        except TrainingFailed as exc:  # a diverged run is a legitimate outcome here: the verdict judges it
            results[name] = exc
    return results
