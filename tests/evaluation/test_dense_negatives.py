"""`lex-dpr data negatives`: hard negatives re-mined with a dense model, filtered as the pairs stage filters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.data_processing.pair import Pair, read_pairs
from lexdpr.errors import InputError
from lexdpr.evaluation import dense_negatives
from lexdpr.evaluation.dense_negatives import (
    DenseNegativeOptions,
    choose_negatives,
    mine_dense_negatives,
    precedent_positives,
    read_candidates,
)
from lexdpr.training.encode import encode_texts


def test_choose_skips_the_top_and_everything_related() -> None:
    ranking = ["R1", "A", "B", "R2", "C", "D", "E", "F"]
    chosen, filled = choose_negatives(
        ranking, ["X", "Y"], {"R1", "R2"}, DenseNegativeOptions(per_query=3, skip_top=1)
    )
    assert chosen == ["B", "C", "D"] and filled == 0  # "A" skipped, R1/R2 related


def test_choose_keeps_input_negatives_first_and_fills_a_short_ranking_from_them() -> None:
    options = DenseNegativeOptions(per_query=4, skip_top=0, keep=1)
    chosen, filled = choose_negatives(["A", "X", "B"], ["R1", "X", "Y", "Z"], {"R1"}, options)
    # kept: X (R1 is related, so never kept); dense: A, B (X already in); filled from input: Y
    assert chosen == ["X", "A", "B", "Y"] and filled == 1
    assert choose_negatives(["A"], ["B"], set(), DenseNegativeOptions(per_query=0)) == ([], 0)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="keep"):
        DenseNegativeOptions(per_query=2, keep=3)
    with pytest.raises(ValueError, match="skip_top"):
        DenseNegativeOptions(skip_top=-1)
    with pytest.raises(ValueError, match="max_len"):
        DenseNegativeOptions(max_len=4)


def test_positives_of_one_precedent_are_excluded_for_each_of_its_queries() -> None:
    pairs = [
        Pair("Q1_1", "a", ("P1",), meta={"precedent_id": "1"}),
        Pair("Q1_2", "b", ("P2",), meta={"precedent_id": "1"}),
        Pair("Q2", "c", ("P3",)),
    ]
    assert precedent_positives(pairs) == [("P1", "P2"), ("P1", "P2"), ("P3",)]


def _rank(model: Path, pairs: Path, corpus_rows: list[dict], tmp: Path) -> list[list[str]]:
    """The dense ranking computed another way: `lex-dpr encode` of both sides, then numpy."""
    passages = tmp / "candidates.jsonl"
    passages.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus_rows), encoding="utf-8"
    )
    p = encode_texts(str(model), passages, tmp / "p", "passage", precision="fp32", quiet=True)
    q = encode_texts(str(model), pairs, tmp / "q", "query", precision="fp32", quiet=True)
    scores = np.load(q.embeddings) @ np.load(p.embeddings).T
    ids = json.loads(Path(p.ids).read_text(encoding="utf-8"))
    return [[ids[j] for j in np.argsort(-row, kind="stable")] for row in scores]


def test_mined_negatives_follow_the_models_ranking_minus_related_passages(
    tiny_model: Path, dataset: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "mined.jsonl"
    options = DenseNegativeOptions(per_query=5, skip_top=1, precision="fp32")
    summary = mine_dense_negatives(str(tiny_model), dataset["train"], dataset["corpus"], out, options)
    before, after = read_pairs(dataset["train"]), read_pairs(out)
    assert summary.pairs == len(before) == len(after) and summary.negatives == 5 * len(after)
    assert not Path(f"{out}.parts").exists()  # finished: the encoded chunks are removed

    rows = [json.loads(line) for line in dataset["corpus"].read_text(encoding="utf-8").splitlines()]
    candidates = [r for r in rows if r.get("type") != "prec"]
    articles = ArticleIndex.build(candidates)
    rankings = _rank(tiny_model, dataset["train"], candidates, tmp_path)
    for old, new, ranking, positives in zip(
        before, after, rankings, precedent_positives(before), strict=True
    ):
        assert (new.query_id, new.query_text, new.positives) == (old.query_id, old.query_text, old.positives)
        assert (
            new.meta["negatives"]["miner"] == "dense" and new.meta["precedent_id"] == old.meta["precedent_id"]
        )
        related = articles.related_ids(positives)
        assert not related & set(new.hard_negatives)
        eligible = [pid for pid in ranking if pid not in related]
        assert list(new.hard_negatives) == eligible[1:6]  # the first eligible one is passed over


def test_a_killed_run_reuses_its_encoded_chunks(
    tiny_model: Path, dataset: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "mined.jsonl"
    real_write = dense_negatives.write_pairs

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dense_negatives, "write_pairs", killed)
    with pytest.raises(KeyboardInterrupt):
        mine_dense_negatives(str(tiny_model), dataset["train"], dataset["corpus"], out)
    parts = sorted(Path(f"{out}.parts").iterdir())
    assert parts and not out.exists()
    stamps = [p.stat().st_mtime_ns for p in parts]
    with pytest.raises(KeyboardInterrupt):  # a second attempt does not re-encode what is there
        mine_dense_negatives(str(tiny_model), dataset["train"], dataset["corpus"], out)
    assert [p.stat().st_mtime_ns for p in sorted(Path(f"{out}.parts").iterdir())] == stamps
    monkeypatch.setattr(dense_negatives, "write_pairs", real_write)
    mine_dense_negatives(str(tiny_model), dataset["train"], dataset["corpus"], out)
    assert out.is_file() and not Path(f"{out}.parts").exists()


def test_corpus_records_without_article_fields_are_named(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"id": "LAW_1_제1조", "text": "t", "parent_id": "1", "type": "law"}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"corpus\.jsonl.*line 1.*law_name"):
        read_candidates(corpus)


def test_cli_errors_name_the_file_record_and_field(
    tiny_model: Path, dataset: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = [
        "--model",
        str(tiny_model),
        "--pairs",
        str(dataset["train"]),
        "--passages",
        str(dataset["corpus"]),
    ]
    assert dense_negatives.main([*same, "--out", str(dataset["train"])]) == 2
    assert "--out must differ from --pairs" in capsys.readouterr().err
    assert dense_negatives.main([*same, "--out", str(tmp_path / "o.jsonl"), "--keep", "40"]) == 2
    assert "keep (40) cannot exceed per_query (32)" in capsys.readouterr().err

    stray = tmp_path / "stray.jsonl"
    record = json.loads(dataset["train"].read_text(encoding="utf-8").splitlines()[0])
    stray.write_text(json.dumps({**record, "positive_passages": ["LAW_9_제99조"]}) + "\n", encoding="utf-8")
    argv = ["--model", str(tiny_model), "--pairs", str(stray), "--passages", str(dataset["corpus"])]
    assert dense_negatives.main([*argv, "--out", str(tmp_path / "o.jsonl")]) != 0
    err = capsys.readouterr().err
    assert "stray.jsonl" in err and record["query_id"] in err and "positive_passages" in err
    assert "LAW_9_제99조" in err and not (tmp_path / "o.jsonl").exists()
