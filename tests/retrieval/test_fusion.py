"""Fusion of a dense and a BM25 ranking, checked by hand on small rankings."""

from __future__ import annotations

import pytest

from lexdpr.retrieval.fusion import FusionConfig, fuse, fuse_rankings, normalize

RRF = FusionConfig("rrf", rrf_k=60, depth=10)


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [pid for pid, _ in hits]


def test_rrf_sums_reciprocal_ranks_over_both_lists() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    bm25 = [("c", 12.0), ("d", 11.0), ("a", 3.0)]
    fused = fuse(dense, bm25, RRF)
    scores = dict(fused)
    assert scores["a"] == 1 / 61 + 1 / 63
    assert scores["c"] == 1 / 63 + 1 / 61
    assert scores["b"] == 1 / 62 and scores["d"] == 1 / 62
    # a and c tie exactly (same ranks, swapped): the better best rank is equal (1), so the dense rank decides;
    # b and d tie too (rank 2 in one list each): dense first again
    assert ids(fused) == ["a", "c", "b", "d"]


def test_rrf_constant_damps_the_head() -> None:
    dense = [("a", 1.0), ("b", 0.5)]
    bm25 = [("b", 5.0), ("c", 4.0)]
    # b is in both lists (ranks 2 and 1) and beats a (rank 1 in one list) for any k
    assert ids(fuse(dense, bm25, FusionConfig("rrf", rrf_k=1)))[:2] == ["b", "a"]
    assert ids(fuse(dense, bm25, FusionConfig("rrf", rrf_k=1000)))[:2] == ["b", "a"]
    # with a tiny k the head dominates: rank 1 alone (1/2) beats ranks 3 + 3 (1/4 + 1/4) only barely ...
    dense = [("a", 1.0), ("x", 0.9), ("b", 0.8)]
    bm25 = [("y", 9.0), ("z", 8.0), ("b", 7.0)]
    small = dict(fuse(dense, bm25, FusionConfig("rrf", rrf_k=1)))
    assert small["a"] == 0.5 and small["b"] == 0.5  # 1/2 == 1/4 + 1/4
    # ... while a large k flattens ranks, so appearing twice wins
    assert ids(fuse(dense, bm25, FusionConfig("rrf", rrf_k=60)))[0] == "b"


def test_weighted_minmax_normalises_each_list_and_weights_dense_by_w() -> None:
    dense = [("a", 0.90), ("b", 0.80), ("c", 0.50)]  # minmax: a 1, b 0.75, c 0
    bm25 = [("c", 30.0), ("b", 20.0), ("d", 10.0)]  # minmax: c 1, b 0.5, d 0
    fused = dict(fuse(dense, bm25, FusionConfig("weighted", weight=0.7, normalization="minmax")))
    assert fused["a"] == pytest.approx(0.7 * 1.0 + 0.3 * 0.0)  # missing from BM25: its floor, 0
    assert fused["b"] == pytest.approx(0.7 * 0.75 + 0.3 * 0.5)
    assert fused["c"] == pytest.approx(0.7 * 0.0 + 0.3 * 1.0)
    assert fused["d"] == pytest.approx(0.0)
    ranking = ids(fuse(dense, bm25, FusionConfig("weighted", weight=0.7)))
    assert ranking == ["a", "b", "c", "d"]
    # all weight on BM25: its order, then the passages it lacks (ties at 0 by dense rank)
    assert ids(fuse(dense, bm25, FusionConfig("weighted", weight=0.0))) == ["c", "b", "a", "d"]
    # all weight on dense: its order, then d
    assert ids(fuse(dense, bm25, FusionConfig("weighted", weight=1.0))) == ["a", "b", "c", "d"]


def test_weighted_zscore_uses_mean_and_std_and_the_lowest_z_for_missing() -> None:
    z, floor = normalize([3.0, 2.0, 1.0], "zscore")
    std = (2 / 3) ** 0.5
    assert z == pytest.approx([1 / std, 0.0, -1 / std]) and floor == pytest.approx(-1 / std)
    dense = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    bm25 = [("d", 5.0), ("a", 5.0)]  # equal scores: z = 0 for both, floor 0
    fused = dict(fuse(dense, bm25, FusionConfig("weighted", weight=0.5, normalization="zscore")))
    assert fused["a"] == pytest.approx(0.5 / std)
    assert fused["d"] == pytest.approx(0.5 * -1 / std)  # missing from dense: dense's lowest z


def test_normalisation_edge_cases() -> None:
    assert normalize([], "minmax") == ([], 0.0)
    assert normalize([2.0, 2.0], "minmax") == ([1.0, 1.0], 0.0)  # all hits, none better
    assert normalize([2.0, 2.0], "zscore") == ([0.0, 0.0], 0.0)
    with pytest.raises(ValueError, match="finite"):
        normalize([1.0, float("nan")], "minmax")


def test_ties_are_deterministic_whatever_the_input_order_of_equal_scores() -> None:
    # every passage in one list only, all with equal fused scores: better rank first, dense before BM25, id
    dense = [("q", 1.0), ("p", 1.0)]
    bm25 = [("s", 2.0), ("r", 2.0)]
    fused = fuse(dense, bm25, FusionConfig("weighted", weight=0.5))
    assert ids(fused) == ["q", "s", "p", "r"]
    assert len({score for _, score in fused}) == 1


def test_depth_cuts_inputs_and_output() -> None:
    dense = [(f"d{i}", 1.0 - i / 100) for i in range(20)]
    bm25 = [(f"b{i}", 20.0 - i) for i in range(20)]
    fused = fuse(dense, bm25, FusionConfig("rrf", depth=5))
    assert len(fused) == 5
    assert set(ids(fused)) <= {f"d{i}" for i in range(5)} | {f"b{i}" for i in range(5)}


def test_a_repeated_id_and_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        fuse([("a", 1.0), ("a", 0.5)], [], RRF)
    for bad in (
        {"method": "max"},
        {"weight": 1.5},
        {"weight": True},
        {"rrf_k": 0},
        {"depth": 0},
        {"normalization": "rank"},
    ):
        with pytest.raises(ValueError):
            FusionConfig(**bad)  # type: ignore[arg-type]


def test_fuse_rankings_covers_queries_of_either_side_and_the_config_round_trips() -> None:
    fused = fuse_rankings({"q1": [("a", 1.0)]}, {"q2": [("b", 1.0)]}, RRF)
    assert fused == {"q1": ["a"], "q2": ["b"]}
    for config in (RRF, FusionConfig("weighted", weight=0.3, normalization="zscore", depth=50)):
        assert FusionConfig.from_dict(config.to_dict()) == config
    assert RRF.to_dict()["weight"] is None and RRF.label == "rrf(k=60)"
    assert FusionConfig("weighted", weight=0.7).label == "weighted-minmax(w=0.7)"
