"""Hard-negative mining and BM25 evaluation on real data give the same bytes for any worker count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexdpr.data_processing import make_pairs, merge_corpus, preprocess_auto
from lexdpr.data_processing.hard_negatives import HardNegativeOptions
from lexdpr.evaluation.bm25_eval import evaluate_bm25
from lexdpr.retrieval import bm25_index
from lexdpr.retrieval.korean_tokenizer import KoreanTokenizer

OUTPUTS = ("pairs_train.jsonl", "pairs_train_valid.jsonl", "pairs_test.jsonl", "prec_fallback_passages.jsonl")


# A slice of lawgo small enough for seconds of Kiwi analysis (~1.2k articles instead of 12k): seven laws that
# the precedents below cite (형법, 민사집행법, 근로기준법, 행정소송법, 특정경제범죄법, 약관법, 집합건물법) and the
# three smallest admin rules, so both passage kinds are mined.
LAWS = ("001692", "009290", "001872", "001218", "001136", "000667", "001262")
ADMIN_RULES = 3
PRECEDENTS = 160


@pytest.fixture(scope="module")
def small_real(tmp_path_factory: pytest.TempPathFactory, lawgo_dir: Path) -> Path:
    """Passages of a few lawgo laws and admin rules, and precedents that cite them (symlinked, not copied)."""
    out = tmp_path_factory.mktemp("small-real")
    src = out / "src"
    (src / "laws").mkdir(parents=True)
    (src / "admin_rules").mkdir()
    names = []
    for law_id in LAWS:
        path = lawgo_dir / "laws" / f"{law_id}.json"
        (src / "laws" / path.name).symlink_to(path)
        names.append(json.loads(path.read_text(encoding="utf-8"))["법령"]["기본정보"]["법령명_한글"])
    admin = sorted((lawgo_dir / "admin_rules").glob("*.json"), key=lambda p: (p.stat().st_size, p.name))
    for path in admin[:ADMIN_RULES]:
        (src / "admin_rules" / path.name).symlink_to(path)
    preprocess_auto.run(
        preprocess_auto.PreprocessConfig(
            src_dir=str(src), out_law=f"{out}/law.jsonl", out_admin=f"{out}/admin.jsonl", quiet=True
        )
    )
    precedents = out / "precedents"
    precedents.mkdir()
    chosen = 0
    for path in sorted((lawgo_dir / "precedents").glob("*.json")):
        cited = json.loads(path.read_text(encoding="utf-8")).get("참조조문") or ""
        if any(name in cited for name in names):
            (precedents / path.name).symlink_to(path)
            chosen += 1
            if chosen == PRECEDENTS:
                break
    return out


def mine(root: Path, out: Path, workers: int) -> None:
    make_pairs.run(
        make_pairs.PairsConfig(
            law=f"{root}/law.jsonl",
            admin=f"{root}/admin.jsonl",
            prec_json_dir=str(root / "precedents"),
            out=f"{out}/pairs_train.jsonl",
            use_admin_for_prec=True,
            hard_negatives=HardNegativeOptions(per_query=32),
            max_workers=workers,
            quiet=True,
        )
    )


@pytest.fixture(scope="module")
def mined(small_real: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The pairs stage's outputs with 1 and 2 worker processes (shared by both tests)."""
    root = tmp_path_factory.mktemp("mined")
    for workers in (1, 2):
        mine(small_real, root / f"w{workers}", workers)
    return {workers: root / f"w{workers}" for workers in (1, 2)}


def test_mining_is_byte_identical_for_one_and_two_workers(mined: dict[int, Path]) -> None:
    for name in OUTPUTS:
        assert (mined[2] / name).read_bytes() == (mined[1] / name).read_bytes(), name
    pairs = [json.loads(line) for line in (mined[1] / "pairs_train.jsonl").read_text().splitlines()]
    assert len(pairs) >= 2 * bm25_index._MIN_PARALLEL_QUERIES
    assert all(len(p["hard_negatives"]) == 32 for p in pairs)
    assert {p["meta"]["type"] for p in pairs} >= {"law", "prec"}


def test_bm25_evaluation_is_the_same_for_any_worker_count(
    small_real: Path, mined: dict[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in OUTPUTS:
        (tmp_path / name).symlink_to(mined[2] / name)
    merge_corpus.run(
        merge_corpus.MergeConfig(
            law=f"{small_real}/law.jsonl",
            admin=f"{small_real}/admin.jsonl",
            prec=f"{tmp_path}/prec_fallback_passages.jsonl",
            out=f"{tmp_path}/corpus.jsonl",
            quiet=True,
        )
    )
    read = lambda name: [json.loads(x) for x in (tmp_path / name).read_text().splitlines()]  # noqa: E731
    pairs, corpus = read("pairs_train.jsonl"), read("corpus.jsonl")
    assert len(pairs) >= 2 * bm25_index._MIN_PARALLEL_QUERIES  # enough queries for the parallel path

    forks: list[tuple[int, int]] = []
    real_fork_map = bm25_index.fork_map

    def recording(fn, items, state, workers):
        forks.append((len(items), workers))
        return real_fork_map(fn, items, state, workers)

    monkeypatch.setattr(bm25_index, "fork_map", recording)
    tokenizer = KoreanTokenizer(num_workers=1)
    one = evaluate_bm25(pairs, corpus, tokenizer=tokenizer, workers=1)
    three = evaluate_bm25(pairs, corpus, tokenizer=tokenizer, workers=3)
    assert forks and forks[0][0] > 1 and forks[0][1] == 3  # the 3-worker run did fork, the 1-worker did not
    assert len(forks) == 1
    assert one == three
    assert 0.2 < one["eval/ndcg_at_10"] < 1.0
