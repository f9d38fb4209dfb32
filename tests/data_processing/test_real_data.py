"""The data stages on the real law.go.kr data in ../shared/data/lawgo (the issue's acceptance checks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexdpr.data_processing import make_pairs, preprocess_auto
from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.data_processing.hard_negatives import HardNegativeOptions
from lexdpr.data_processing.passage_ids import article_id_of
from lexdpr.reporting import RunReport


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, lawgo_dir: Path) -> tuple[Path, RunReport, RunReport]:
    out = tmp_path_factory.mktemp("lawgo")
    passages = preprocess_auto.run(
        preprocess_auto.PreprocessConfig(
            src_dir=str(lawgo_dir), out_law=f"{out}/law.jsonl", out_admin=f"{out}/admin.jsonl", quiet=True
        )
    )
    pairs = make_pairs.run(
        make_pairs.PairsConfig(
            law=f"{out}/law.jsonl",
            admin=f"{out}/admin.jsonl",
            prec_json_dir=str(lawgo_dir / "precedents"),
            out=f"{out}/pairs_train.jsonl",
            hard_negatives=HardNegativeOptions(per_query=32),
            max_workers=2,
            quiet=True,
        )
    )
    return out, passages, pairs


def test_every_law_and_admin_rule_parses_without_skips(real) -> None:
    _, passages, _ = real
    assert passages.skips == []
    assert passages.counts["law files"] == 82
    assert passages.counts["admin files"] == 21
    assert passages.counts["law passages"] > 13_000
    assert passages.counts["admin passages"] > 1_400


def test_citations_of_articles_in_the_corpus_resolve(real) -> None:
    _, _, pairs = real
    cited = pairs.counts["citations of an article whose law is in the corpus"]
    resolved = pairs.counts["citations resolved to passages"]
    assert cited > 10_000
    assert resolved / cited >= 0.97, (resolved, cited)
    assert pairs.skips == []


def test_no_hard_negative_is_a_positive_or_part_of_one(real) -> None:
    out, _, _ = real
    corpus = [
        json.loads(line)
        for name in ("law.jsonl", "admin.jsonl")
        for line in (out / name).open(encoding="utf-8")
    ]
    index = ArticleIndex.build(corpus)
    total = 0
    for name in ("pairs_train.jsonl", "pairs_train_valid.jsonl", "pairs_test.jsonl"):
        for line in (out / name).open(encoding="utf-8"):
            pair = json.loads(line)
            negatives = set(pair["hard_negatives"])
            assert len(negatives) == len(pair["hard_negatives"]) == 32
            assert not negatives & index.related_ids(pair["positive_passages"]), pair["query_id"]
            assert not {article_id_of(p) for p in pair["positive_passages"]} & {
                article_id_of(n) for n in negatives
            }
            total += 1
    assert total > 4_000
