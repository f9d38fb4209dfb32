"""Retrieval metrics: hand-computed cases, agreement with ranx, and the eval fingerprint."""

from __future__ import annotations

import math
import random

import pytest

from lexdpr.retrieval.metrics import (
    compute_retrieval_metrics,
    eval_fingerprint,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)

LOG2_3 = math.log2(3)
LOG2_5 = math.log2(5)


# --- single queries, by hand ------------------------------------------------------------------------------


def test_ndcg_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    assert ndcg_at_k(ranked, {"a"}, 1) == 1.0
    assert ndcg_at_k(ranked, {"b"}, 1) == 0.0
    # hits at ranks 2 and 4; the ideal puts both first
    assert ndcg_at_k(ranked, {"b", "d"}, 4) == pytest.approx((1 / LOG2_3 + 1 / LOG2_5) / (1 + 1 / LOG2_3))
    # only rank 2 inside the cut, the ideal still has both relevant passages in the first 3
    assert ndcg_at_k(ranked, {"b", "d"}, 3) == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
    # more relevant than k: the ideal is capped at k
    assert ndcg_at_k(ranked, {"a", "x", "y"}, 1) == 1.0
    assert ndcg_at_k(ranked, {"x"}, 10) == 0.0
    assert ndcg_at_k([], {"x"}, 10) == 0.0
    assert ndcg_at_k(ranked, set(), 10) == 0.0


def test_recall_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    assert recall_at_k(ranked, {"b", "d"}, 1) == 0.0
    assert recall_at_k(ranked, {"b", "d"}, 3) == 0.5
    assert recall_at_k(ranked, {"b", "d"}, 10) == 1.0
    assert recall_at_k(ranked, {"a", "x", "y"}, 1) == pytest.approx(1 / 3)  # not capped at k
    assert recall_at_k(ranked, set(), 3) == 0.0


def test_mrr_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    assert mrr_at_k(ranked, {"c", "d"}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, {"c"}, 2) == 0.0
    assert mrr_at_k(ranked, {"a"}, 1) == 1.0
    assert mrr_at_k(ranked, {"x"}, 10) == 0.0


def test_repeated_ids_and_bad_k_are_errors() -> None:
    with pytest.raises(ValueError, match="repeats"):
        recall_at_k(["a", "b", "a"], {"a"}, 3)
    assert recall_at_k(["a", "b", "a"], {"a"}, 2) == 1.0  # the repeat is outside the cut
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(["a"], {"a"}, 0)


# --- means over queries -----------------------------------------------------------------------------------


def test_metric_names_are_exactly_the_design_names() -> None:
    result = compute_retrieval_metrics({"q": ["a"]}, {"q": {"a"}})
    assert list(result) == [
        "eval/ndcg_at_1",
        "eval/ndcg_at_3",
        "eval/ndcg_at_5",
        "eval/ndcg_at_10",
        "eval/recall_at_1",
        "eval/recall_at_3",
        "eval/recall_at_5",
        "eval/recall_at_10",
        "eval/mrr_at_10",
    ]
    custom = compute_retrieval_metrics({"q": ["a"]}, {"q": {"a"}}, k_values=[20, 2, 2])
    assert set(custom) == {
        "eval/ndcg_at_2",
        "eval/ndcg_at_20",
        "eval/recall_at_2",
        "eval/recall_at_20",
        "eval/mrr_at_10",
    }


def test_means_by_hand() -> None:
    rankings = {"q1": ["a", "b", "c"], "q2": ["x", "y", "z"], "q3": ["m"]}
    relevant = {"q1": {"b"}, "q2": {"x", "w"}, "q3": {"m"}}
    result = compute_retrieval_metrics(rankings, relevant, k_values=(1, 3))
    assert result["eval/recall_at_1"] == pytest.approx((0 + 0.5 + 1) / 3)
    assert result["eval/recall_at_3"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert result["eval/mrr_at_10"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert result["eval/ndcg_at_1"] == pytest.approx((0 + 1 + 1) / 3)
    assert result["eval/ndcg_at_3"] == pytest.approx((1 / LOG2_3 + 1 / (1 + 1 / LOG2_3) + 1) / 3)


def test_queries_without_positives_are_excluded_and_missing_rankings_score_zero() -> None:
    relevant = {"q1": {"a"}, "q2": set(), "q3": {"c"}}
    rankings = {"q1": ["a"], "q2": ["a", "b"], "other": ["a"]}  # q3 has no ranking
    result = compute_retrieval_metrics(rankings, relevant, k_values=(1,))
    assert result == {"eval/ndcg_at_1": 0.5, "eval/recall_at_1": 0.5, "eval/mrr_at_10": 0.5}
    with pytest.raises(ValueError, match="no query has a relevant passage"):
        compute_retrieval_metrics(rankings, {"q2": set()})
    with pytest.raises(ValueError, match="k_values"):
        compute_retrieval_metrics(rankings, relevant, k_values=(0, 1))
    for bad in [(), (1.0,), (True,), ("3",)]:
        with pytest.raises(ValueError, match="k_values"):
            compute_retrieval_metrics(rankings, relevant, k_values=bad)
    numpy = pytest.importorskip("numpy")
    assert "eval/ndcg_at_3" in compute_retrieval_metrics(rankings, relevant, k_values=numpy.array([3]))


def test_the_mean_does_not_depend_on_query_order() -> None:
    rng = random.Random(5)
    rankings = {f"q{i}": rng.sample(range(50), 10) for i in range(200)}
    relevant = {q: set(rng.sample(range(50), 3)) for q in rankings}
    reversed_rankings = dict(reversed(rankings.items()))
    reversed_relevant = dict(reversed(relevant.items()))
    assert compute_retrieval_metrics(rankings, relevant) == compute_retrieval_metrics(
        reversed_rankings, reversed_relevant
    )


# --- agreement with ranx ----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:unsafe cast from uint64 to int64")  # inside ranx' numba code
def test_agrees_with_ranx_on_random_rankings() -> None:
    ranx = pytest.importorskip("ranx")
    rng = random.Random(20240611)
    corpus = [f"P{i:03d}" for i in range(60)]
    rankings: dict[str, list[str]] = {}
    relevant: dict[str, set[str]] = {}
    for q in range(500):
        qid = f"Q{q:04d}"
        relevant[qid] = set(rng.sample(corpus, rng.randint(1, 12)))
        # short and long rankings, some shorter than the largest k, some with no hit at all
        rankings[qid] = rng.sample(corpus, rng.randint(1, 40))
    k_values = (1, 3, 5, 10)
    ours = compute_retrieval_metrics(rankings, relevant, k_values)

    qrels = ranx.Qrels({q: dict.fromkeys(rel, 1) for q, rel in relevant.items()})
    # strictly decreasing scores reproduce our order exactly (ranx sorts by score)
    run = ranx.Run({q: {pid: float(len(r) - i) for i, pid in enumerate(r)} for q, r in rankings.items()})
    names = [f"{m}@{k}" for m in ("ndcg", "recall") for k in k_values] + ["mrr@10"]
    theirs = ranx.evaluate(qrels, run, names)

    for name in names:
        metric, k = name.split("@")
        assert ours[f"eval/{metric}_at_{k}"] == pytest.approx(theirs[name], abs=1e-9), name


# --- fingerprint ------------------------------------------------------------------------------------------

PAIRS = [
    {"query_id": "147596_1", "query_text": "공동근저당", "positive_passages": ["LAW_001706_제357조"]},
    {
        "query_id": "147596_3",
        "query_text": "계약 해제",
        "positive_passages": ["LAW_001706_제548조", "LAW_001706_제543조"],
        "hard_negatives": ["LAW_001706_제750조"],
    },
]
CORPUS = ["LAW_001706_제357조", "LAW_001706_제543조", "LAW_001706_제548조", "LAW_001706_제750조"]


def test_fingerprint_is_short_hex_and_stable_under_reordering() -> None:
    fingerprint = eval_fingerprint(PAIRS, CORPUS)
    assert len(fingerprint) == 16
    int(fingerprint, 16)
    assert eval_fingerprint(PAIRS, CORPUS) == fingerprint
    assert eval_fingerprint(PAIRS[::-1], reversed(CORPUS)) == fingerprint
    flipped = [PAIRS[0], {**PAIRS[1], "positive_passages": PAIRS[1]["positive_passages"][::-1]}]
    assert eval_fingerprint(flipped, CORPUS) == fingerprint
    # what is not compared: query text, hard negatives, other keys
    cosmetic = [{**p, "query_text": "다른 문장", "hard_negatives": [], "meta": {}} for p in PAIRS]
    assert eval_fingerprint(cosmetic, iter(CORPUS)) == fingerprint


@pytest.mark.parametrize(
    "change",
    [
        "rename query",
        "rename positive",
        "add positive",
        "drop positive",
        "drop query",
        "add corpus id",
        "drop corpus id",
        "rename corpus id",
    ],
)
def test_fingerprint_changes_with_any_id(change: str) -> None:
    pairs = [dict(p, positive_passages=list(p["positive_passages"])) for p in PAIRS]
    corpus = list(CORPUS)
    if change == "rename query":
        pairs[0]["query_id"] = "147596_2"
    elif change == "rename positive":
        pairs[1]["positive_passages"][0] = "LAW_001706_제549조"
    elif change == "add positive":
        pairs[0]["positive_passages"].append("LAW_001706_제750조")
    elif change == "drop positive":
        pairs[1]["positive_passages"].pop()
    elif change == "drop query":
        pairs.pop()
    elif change == "add corpus id":
        corpus.append("PREC_147596_1")
    elif change == "drop corpus id":
        corpus.pop()
    else:
        corpus[0] = "LAW_001706_제357조_1"
    assert eval_fingerprint(pairs, corpus) != eval_fingerprint(PAIRS, CORPUS)


def test_fingerprint_does_not_confuse_where_an_id_belongs() -> None:
    # the same strings moved between queries, positives and corpus must not collide
    a = eval_fingerprint([{"query_id": "x", "positive_passages": ["y"]}], ["z"])
    b = eval_fingerprint([{"query_id": "y", "positive_passages": ["x"]}], ["z"])
    c = eval_fingerprint([{"query_id": "x", "positive_passages": ["z"]}], ["y"])
    assert len({a, b, c}) == 3
