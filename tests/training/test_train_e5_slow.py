"""A real short training of the offline default base model: eval/ndcg_at_10 must beat the step-0 baseline.

Queries name an article's subject the way a question would ("…에 관한 규정"); the passage is the article's
text without its title, so the untrained model has to guess from shared words. Training queries and
validation queries use different phrasings of the same subjects, so the test shows the model learned which
article each subject names, not the wording of the training queries. A few minutes on 2 idle cores.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from lexdpr.training.config import load_config
from lexdpr.training.trainer import train
from tests.training.law_articles import ARTICLES

TRAIN_TEMPLATES = ["{t}", "{t}에 관한 규정", "{law}상 {t}의 요건과 효과"]
VALID_TEMPLATES = ["{law}의 {t}에 관한 조문"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.slow
def test_short_training_of_multilingual_e5_small_improves_ndcg(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    rng = random.Random(0)
    corpus = [
        {"id": f"LAW_{n}", "parent_id": law, "type": "law", "text": text, "law_name": law, "article": title}
        for n, (law, title, text) in enumerate(ARTICLES)
    ]
    by_law: dict[str, list[str]] = {}
    for c in corpus:
        by_law.setdefault(c["law_name"], []).append(c["id"])

    def pairs(templates: list[str], prefix: str) -> list[dict]:
        rows = []
        for n, (law, title, _) in enumerate(ARTICLES):
            same_law = [i for i in by_law[law] if i != f"LAW_{n}"]
            for k, template in enumerate(templates):
                rows.append(
                    {
                        "query_id": f"{prefix}{n}_{k}",
                        "query_text": template.format(t=title, law=law),
                        "positive_passages": [f"LAW_{n}"],
                        "hard_negatives": rng.sample(same_law, min(4, len(same_law))),
                        "meta": {},
                    }
                )
        return rows

    overrides = [
        f"data.pairs={_write(tmp_path / 'train.jsonl', pairs(TRAIN_TEMPLATES, 'T'))}",
        f"data.valid_pairs={_write(tmp_path / 'valid.jsonl', pairs(VALID_TEMPLATES, 'V'))}",
        f"data.passages={_write(tmp_path / 'corpus.jsonl', corpus)}",
        "model.max_len=96",
        "model.query_max_len=48",
        "data.batch_size=16",
        "data.hard_negative_ratio=0.3",
        "trainer.lr=1e-4",
        "trainer.epochs=2",
        "trainer.warmup_ratio=0.1",
        "trainer.valid_negatives=16",
        f"out_dir={tmp_path / 'out'}",
        f"run_dir={tmp_path / 'wandb'}",
    ]
    result = train(load_config(None, overrides), quiet=True)
    events = [json.loads(x) for x in (result.run_folder / "wandb-events.jsonl").read_text().splitlines()]
    evals = [e for e in events if "eval" in e]
    baseline, final = evals[0], evals[-1]
    assert baseline["_step"] == 0 and final["_step"] == result.steps
    # The best evaluation (the checkpoint the trainer keeps as best) beats the untrained model.
    best = max(e["eval"]["ndcg_at_10"] for e in evals[1:])
    assert best > baseline["eval"]["ndcg_at_10"] + 0.005, [
        (e["_step"], e["eval"]["ndcg_at_10"]) for e in evals
    ]
    assert result.best_metrics["eval/ndcg_at_10"] == pytest.approx(best)
    assert final["valid"]["loss"] < baseline["valid"]["loss"]
