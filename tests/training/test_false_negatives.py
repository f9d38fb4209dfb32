"""The false-negative guard: neighbours and co-cited articles of a query's positives are not its negatives."""

from __future__ import annotations

import random

from lexdpr.data_processing.pair import Pair
from lexdpr.data_processing.passage_ids import article_number_of
from lexdpr.training.false_negatives import FalseNegativeGuard
from lexdpr.training.negatives import build_step_batch


def test_article_number_drops_branch_and_paragraph():
    assert article_number_of("LAW_001_제10조") == "LAW_001_제10조"
    assert article_number_of("LAW_001_제10조의2") == "LAW_001_제10조"
    assert article_number_of("LAW_001_제10조의2_3_1") == "LAW_001_제10조"
    assert article_number_of("ADM_7_제1-2조의3") == "ADM_7_제1-2조"
    assert article_number_of("LAW_001_제100조") != article_number_of("LAW_001_제10조")
    assert article_number_of("PREC_123_1") is None


def _pair(qid: str, positives: tuple[str, ...], negatives: tuple[str, ...] = ()) -> Pair:
    return Pair(qid, f"질의 {qid}", positives, negatives)


def test_neighbours_and_co_cited_articles_are_blocked():
    pairs = [
        _pair("Q0", ("LAW_1_제10조_1",)),
        _pair("Q1", ("LAW_1_제10조", "LAW_2_제5조")),  # another query cites 제10조 with 법2 제5조
        _pair("Q2", ("LAW_3_제1조",)),
    ]
    guard = FalseNegativeGuard(pairs)
    assert guard.blocks(0, "LAW_1_제10조의2")  # branch article of the positive
    assert guard.blocks(0, "LAW_1_제10조_2")  # another paragraph of it
    assert guard.blocks(0, "LAW_2_제5조_1")  # co-cited (a paragraph of the co-cited article)
    assert not guard.blocks(0, "LAW_1_제10조_1")  # its own positive is not "blocked"
    assert not guard.blocks(0, "LAW_1_제11조")
    assert not guard.blocks(0, "LAW_2_제10조")  # same number, other law
    assert not guard.blocks(2, "LAW_2_제5조")  # Q2 shares nothing with the others
    assert guard.blocks(1, "LAW_1_제10조_1")  # Q0's positive is Q1's neighbour


def test_guarded_passages_are_neither_drawn_nor_scored_as_negatives():
    pairs = [
        _pair("Q0", ("LAW_1_제10조",), ("LAW_1_제10조의2", "LAW_2_제5조", "LAW_9_제1조")),
        _pair("Q1", ("LAW_1_제10조", "LAW_2_제5조"), ("LAW_9_제2조",)),  # co-cites 법2 제5조 with 제10조
        _pair("Q2", ("LAW_1_제10조의2",), ("LAW_9_제3조",)),
        _pair("Q3", ("LAW_2_제7조",), ("LAW_9_제4조",)),
    ]
    ids = sorted({x for p in pairs for x in (*p.positives, *p.hard_negatives)})
    position = {pid: n for n, pid in enumerate(ids)}
    guard = FalseNegativeGuard(pairs)
    drawn_without_guard = 0
    for seed in range(20):
        batch = build_step_batch(pairs, [0, 2, 3], position, 0.6, random.Random(seed), guard)
        pool = [ids[i] for i in batch.passages]
        assert "LAW_2_제5조" not in pool  # co-cited with Q0's positive: never drawn as its hard negative
        column = {pid: n for n, pid in enumerate(pool)}
        # Q2's positive 제10조의2 is a neighbour of Q0's 제10조: masked for Q0, and vice versa
        assert batch.mask is not None
        assert batch.mask[0, column["LAW_1_제10조의2"]] and batch.mask[1, column["LAW_1_제10조"]]
        assert not batch.mask[2].any()  # Q3 has no neighbour or co-cited article in the pool
        unguarded = build_step_batch(pairs, [0, 2, 3], position, 0.6, random.Random(seed))
        assert unguarded.mask is None or not unguarded.mask[0, column["LAW_1_제10조의2"]]
        drawn_without_guard += "LAW_2_제5조" in {ids[i] for i in unguarded.passages}
    assert drawn_without_guard > 0
