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


@pytest.fixture(scope="module")
def small_real(tmp_path_factory: pytest.TempPathFactory, lawgo_dir: Path) -> Path:
    """Passages of every lawgo law and admin rule, and 300 of its precedents (symlinked, not copied)."""
    out = tmp_path_factory.mktemp("small-real")
    preprocess_auto.run(
        preprocess_auto.PreprocessConfig(
            src_dir=str(lawgo_dir), out_law=f"{out}/law.jsonl", out_admin=f"{out}/admin.jsonl", quiet=True
        )
    )
    precedents = out / "precedents"
    precedents.mkdir()
    for path in sorted((lawgo_dir / "precedents").glob("*.json"))[:300]:
        (precedents / path.name).symlink_to(path)
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


def test_mining_is_byte_identical_for_one_and_two_workers(small_real: Path, tmp_path: Path) -> None:
    mine(small_real, tmp_path / "w1", 1)
    mine(small_real, tmp_path / "w2", 2)
    for name in OUTPUTS:
        one, two = (tmp_path / "w1" / name).read_bytes(), (tmp_path / "w2" / name).read_bytes()
        assert one == two, name
    pairs = [json.loads(line) for line in (tmp_path / "w1" / "pairs_train.jsonl").read_text().splitlines()]
    assert len(pairs) > 300 and all(len(p["hard_negatives"]) == 32 for p in pairs)


def test_bm25_evaluation_is_the_same_for_any_worker_count(
    small_real: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine(small_real, tmp_path, 2)
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
