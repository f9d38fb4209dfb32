"""The sampler (no shared positives in a batch) and the step's passage pool (hard-negative share, masking)."""

from __future__ import annotations

import random

import pytest

from lexdpr.data_processing.pair import Pair
from lexdpr.training.augmentation import augment, mask_article_numbers
from lexdpr.training.negatives import build_step_batch, hard_negative_budget
from lexdpr.training.sampler import NoSharedPositiveBatchSampler


def test_no_batch_holds_two_queries_that_share_a_positive():
    rng = random.Random(0)
    positives = [{f"P{rng.randrange(30)}" for _ in range(rng.randint(1, 3))} for _ in range(300)]
    sampler = NoSharedPositiveBatchSampler(positives, batch_size=8, seed=1)
    for epoch in range(3):
        batches = sampler.batches(epoch)
        assert sorted(i for b in batches for i in b) == list(range(300))  # every query once per epoch
        for batch in batches:
            assert 1 <= len(batch) <= 8
            seen: set[str] = set()
            for i in batch:
                assert seen.isdisjoint(positives[i])
                seen |= positives[i]


def test_batches_are_a_function_of_seed_and_epoch():
    positives = [{f"P{i % 7}"} for i in range(50)]
    a = NoSharedPositiveBatchSampler(positives, 4, seed=5)
    b = NoSharedPositiveBatchSampler(positives, 4, seed=5)
    assert a.batches(2) == b.batches(2)
    assert a.batches(0) != a.batches(1)


@pytest.mark.parametrize(
    ("queries", "ratio", "expected"), [(32, 0.4, 21), (32, 0.5, 31), (8, 0.0, 0), (1, 0.5, 0)]
)
def test_hard_negative_budget(queries, ratio, expected):
    h = hard_negative_budget(queries, ratio)
    assert h == expected
    if h:
        assert abs(h / (h + queries - 1) - ratio) < 0.02


def _pairs(n: int, negatives: int = 5) -> list[Pair]:
    return [
        Pair(f"Q{i}", f"질의 {i}", (f"P{i}",), tuple(f"N{i}_{j}" for j in range(negatives))) for i in range(n)
    ]


def _position(pairs: list[Pair]) -> dict[str, int]:
    ids = sorted({x for p in pairs for x in (*p.positives, *p.hard_negatives)})
    return {pid: n for n, pid in enumerate(ids)}


def test_step_pool_has_the_hard_negative_share():
    pairs = _pairs(8)
    position = _position(pairs)
    batch = build_step_batch(pairs, list(range(8)), position, 0.5, random.Random(0))
    assert batch.hard_negatives == 7 and len(batch.passages) == 15
    assert len(set(batch.passages.tolist())) == 15
    assert batch.mask is None
    # Each query's target is its own positive.
    names = {v: k for k, v in position.items()}
    for row, target in enumerate(batch.targets.tolist()):
        assert names[int(batch.passages[target])] == f"P{row}"


def test_queries_short_of_negatives_leave_their_slots_to_others():
    pairs = _pairs(4, negatives=0) + _pairs(8)[4:]
    batch = build_step_batch(pairs, list(range(8)), _position(_pairs(8)), 0.5, random.Random(1))
    assert batch.hard_negatives == 7


def test_other_positives_of_a_query_are_masked_not_negatives():
    pairs = [
        Pair("Q0", "a", ("P0", "P1"), ("N0",)),
        Pair("Q1", "b", ("P2",), ("P1", "N1")),  # Q0's second positive is Q1's hard negative
    ]
    position = {pid: n for n, pid in enumerate(["P0", "P1", "P2", "N0", "N1"])}
    for seed in range(10):
        batch = build_step_batch(pairs, [0, 1], position, 0.9, random.Random(seed))
        ids = [pid for pid, n in sorted(position.items(), key=lambda kv: kv[1])]
        pool = [ids[i] for i in batch.passages]
        if batch.mask is not None:
            masked = {pool[j] for j in batch.mask[0].nonzero().flatten().tolist()}
            assert masked <= {"P0", "P1"} and pool[batch.targets[0]] not in masked
            assert not batch.mask[1].any()
        assert "P1" not in pool or batch.mask is not None or pool[batch.targets[0]] == "P1"


def test_multiply_adds_masked_and_holding_copies():
    pair = Pair(
        "Q1", "민법 제750조 및 제10조의2 제3항에 따른 손해배상", ("P",), ("N",), {"summary": "요지 문장"}
    )
    plain = Pair("Q2", "조문 번호 없는 질의", ("P2",), ())
    assert augment([pair, plain], 0) == [pair, plain]
    one = augment([pair, plain], 1)
    assert [p.query_id for p in one] == ["Q1", "Q2", "Q1#masked"]
    assert one[2].query_text == "민법 제○조 및 제○조의○ 제○항에 따른 손해배상"
    two = augment([pair, plain], 2)
    assert [p.query_id for p in two] == ["Q1", "Q2", "Q1#masked", "Q1#holding"]
    assert two[3].query_text == "요지 문장" and two[3].positives == ("P",)
    assert mask_article_numbers("제 5 호") == "제 ○ 호"
