"""BM25Index: the right article comes first, scores are bm25s', and ranking is fully deterministic."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import pytest

from lexdpr.evaluation.bm25_eval import evaluate_bm25
from lexdpr.retrieval.bm25_index import BM25Index
from lexdpr.retrieval.korean_tokenizer import KoreanTokenizer

# Real article texts (민법, 근로기준법, 주택임대차보호법, 개인정보 보호법), abridged.
ARTICLES = {
    "LAW_001706_제750조": (
        "제750조(불법행위의 내용) 고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 "
        "배상할 책임이 있다."
    ),
    "LAW_001706_제766조": (
        "제766조(손해배상청구권의 소멸시효) ① 불법행위로 인한 손해배상의 청구권은 피해자나 그 법정대리인이 "
        "그 손해 및 가해자를 안 날로부터 3년간 이를 행사하지 아니하면 시효로 인하여 소멸한다."
    ),
    "LAW_001706_제543조": (
        "제543조(해지, 해제권) ① 계약 또는 법률의 규정에 의하여 당사자의 일방이나 쌍방이 해지 또는 해제의 "
        "권리가 있는 때에는 그 해지 또는 해제는 상대방에 대한 의사표시로 한다."
    ),
    "LAW_001706_제1019조": (
        "제1019조(승인, 포기의 기간) ① 상속인은 상속개시있음을 안 날로부터 3월내에 단순승인이나 한정승인 "
        "또는 포기를 할 수 있다."
    ),
    "LAW_001706_제186조": (
        "제186조(부동산물권변동의 효력) 부동산에 관한 법률행위로 인한 물권의 득실변경은 등기하여야 그 "
        "효력이 생긴다."
    ),
    "LAW_001872_제23조": (
        "제23조(해고 등의 제한) ① 사용자는 근로자에게 정당한 이유 없이 해고, 휴직, 정직, 전직, 감봉, 그 "
        "밖의 징벌을 하지 못한다."
    ),
    "LAW_001872_제27조": (
        "제27조(해고사유 등의 서면통지) ① 사용자는 근로자를 해고하려면 해고사유와 해고시기를 서면으로 "
        "통지하여야 한다."
    ),
    "LAW_001650_제3조": (
        "제3조(대항력 등) ① 임대차는 그 등기가 없는 경우에도 임차인이 주택의 인도와 주민등록을 마친 때에는 "
        "그 다음 날부터 제삼자에 대하여 효력이 생긴다."
    ),
    "LAW_011357_제15조": (
        "제15조(개인정보의 수집ㆍ이용) ① 개인정보처리자는 정보주체의 동의를 받은 경우에는 개인정보를 "
        "수집할 수 있으며 그 수집 목적의 범위에서 이용할 수 있다."
    ),
}
# Precedent-style questions (판시사항 issues), each about exactly one of the articles.
QUERIES = {
    "LAW_001706_제750조": "과실로 타인에게 손해를 입힌 가해자의 불법행위 손해배상 책임이 인정되는지 여부",
    "LAW_001706_제766조": (
        "불법행위로 인한 손해배상청구권의 단기소멸시효의 기산점인 '손해 및 가해자를 안 날'의 의미"
    ),
    "LAW_001706_제543조": "계약 해제의 의사표시가 상대방에게 도달하여야 하는지 여부",
    "LAW_001706_제1019조": "상속인이 상속개시 있음을 안 날로부터 3월 내에 한정승인을 하지 않은 경우",
    "LAW_001706_제186조": "부동산 물권변동에 등기가 필요한지 여부",
    "LAW_001872_제23조": "사용자가 근로자에게 한 징계해고에 정당한 이유가 있는지 판단하는 기준",
    "LAW_001872_제27조": "해고사유와 해고시기를 서면으로 통지하지 않은 해고의 효력",
    "LAW_001650_제3조": "주택 임차인이 주민등록을 마친 경우 대항력이 생기는 시점",
    "LAW_011357_제15조": "정보주체의 동의 없이 개인정보를 수집한 개인정보처리자의 책임",
}


class Whitespace:
    """A transparent tokenizer, so tie and scoring tests control every term."""

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        return [text.split() for text in texts]


@pytest.fixture(scope="module")
def tokenizer() -> KoreanTokenizer:
    return KoreanTokenizer(num_workers=2)


@pytest.fixture(scope="module")
def index(tokenizer: KoreanTokenizer) -> BM25Index:
    return BM25Index.build(list(ARTICLES), list(ARTICLES.values()), tokenizer)


def test_the_cited_article_ranks_first(index: BM25Index) -> None:
    results = index.search(list(QUERIES.values()), k=3)
    for expected, ranked in zip(QUERIES, results, strict=True):
        assert ranked[0][0] == expected, ranked
        assert ranked[0][1] > ranked[1][1] >= ranked[2][1]


def test_returns_k_results_or_the_whole_corpus(index: BM25Index) -> None:
    assert [len(r) for r in index.search(["손해배상", "해고"], k=2)] == [2, 2]
    everything = index.search(["손해배상"], k=100)[0]
    assert sorted(pid for pid, _ in everything) == sorted(ARTICLES)
    assert index.search([], k=5) == []


def test_build_order_does_not_matter(tokenizer: KoreanTokenizer, index: BM25Index) -> None:
    items = list(ARTICLES.items())
    random.Random(7).shuffle(items)
    shuffled = BM25Index.build([i for i, _ in items], [t for _, t in items], tokenizer)
    queries = list(QUERIES.values())
    assert shuffled.search(queries, k=len(ARTICLES)) == index.search(queries, k=len(ARTICLES))
    assert shuffled.ids == sorted(ARTICLES)


_HASH_SEED_SCRIPT = """
import json, random
from lexdpr.retrieval.bm25_index import BM25Index
class Whitespace:
    def tokenize(self, texts):
        return [t.split() for t in texts]
rng = random.Random(11)
vocab = [f"w{i}" for i in range(200)]
texts = [" ".join(rng.choices(vocab, k=rng.randint(3, 40))) for _ in range(300)]
index = BM25Index.build([f"id{i}" for i in range(300)], texts, Whitespace())
queries = [" ".join(rng.choices(vocab, k=rng.randint(1, 12))) for _ in range(50)]
print(json.dumps(index.search(queries, 20)))
"""


def test_results_do_not_depend_on_the_hash_seed() -> None:
    # bm25s numbers its vocabulary in set order, which changes with PYTHONHASHSEED; results must not.
    root = Path(__file__).resolve().parents[2]
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        done = subprocess.run(
            [sys.executable, "-c", _HASH_SEED_SCRIPT], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_ties_and_zero_scores_are_ordered_by_id() -> None:
    ids = ["p3", "p1", "x9", "p2", "a0"]
    texts = ["same text", "same text", "other words", "same text", "unrelated"]
    index = BM25Index.build(ids, texts, Whitespace())
    ranked = index.search(["same"], k=5)[0]
    assert [pid for pid, _ in ranked] == ["p1", "p2", "p3", "a0", "x9"]
    assert ranked[0][1] == ranked[1][1] == ranked[2][1] > 0.0
    assert ranked[3][1] == ranked[4][1] == 0.0
    # the cut at k keeps the smallest ids among equal scores
    assert [pid for pid, _ in index.search(["same"], k=2)[0]] == ["p1", "p2"]
    assert [pid for pid, _ in index.search(["never seen"], k=2)[0]] == ["a0", "p1"]


def test_scores_equal_bm25s_including_repeated_query_terms() -> None:
    rng = random.Random(3)
    vocab = [f"t{i}" for i in range(30)]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(1, 25))) for _ in range(60)]
    ids = [f"d{i:03d}" for i in range(60)]  # already sorted: document i of bm25s is ids[i]
    index = BM25Index.build(ids, texts, Whitespace(), k1=1.5, b=0.6)
    reference = bm25s.BM25(k1=1.5, b=0.6, method="lucene")
    reference.index([t.split() for t in texts], show_progress=False)
    for _ in range(20):
        query = rng.choices(vocab, k=rng.randint(1, 8))
        expected = reference.get_scores(query)
        got = dict(index.search([" ".join(query)], k=len(ids))[0])
        np.testing.assert_allclose([got[i] for i in ids], expected, rtol=1e-6, atol=1e-6)


def test_rejects_bad_input() -> None:
    ws = Whitespace()
    with pytest.raises(ValueError, match="duplicate"):
        BM25Index.build(["a", "b", "a"], ["x", "y", "z"], ws)
    with pytest.raises(ValueError, match="ids but"):
        BM25Index.build(["a"], ["x", "y"], ws)
    with pytest.raises(ValueError, match="empty corpus"):
        BM25Index.build([], [], ws)
    with pytest.raises(ValueError, match="no passage"):
        BM25Index.build(["a"], [""], ws)
    with pytest.raises(ValueError, match="method"):
        BM25Index.build(["a"], ["x"], ws, method="bm25+")
    with pytest.raises(ValueError, match="k must be"):
        BM25Index.build(["a"], ["x"], ws).search(["x"], k=0)


def test_evaluate_bm25_on_a_small_corpus(tokenizer: KoreanTokenizer) -> None:
    corpus = [{"id": pid, "text": text, "type": "law"} for pid, text in ARTICLES.items()]
    pairs = [
        {"query_id": f"q{n}", "query_text": text, "positive_passages": [pid], "hard_negatives": []}
        for n, (pid, text) in enumerate(QUERIES.items())
    ]
    result = evaluate_bm25(pairs, corpus, (1, 3), tokenizer)
    assert set(result) == {
        "eval/ndcg_at_1",
        "eval/ndcg_at_3",
        "eval/recall_at_1",
        "eval/recall_at_3",
        "eval/mrr_at_10",
        "eval/fingerprint",
    }
    assert result["eval/recall_at_1"] == result["eval/ndcg_at_1"] == result["eval/mrr_at_10"] == 1.0
    assert isinstance(result["eval/fingerprint"], str) and len(result["eval/fingerprint"]) == 16
    assert evaluate_bm25(pairs[::-1], corpus[::-1], (1, 3), tokenizer) == result

    conflicting = [*pairs, {**pairs[0], "positive_passages": ["LAW_001706_제186조"]}]
    with pytest.raises(ValueError, match="twice"):
        evaluate_bm25(conflicting, corpus, (1, 3), tokenizer)
