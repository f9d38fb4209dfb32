"""`lex-dpr eval --hybrid`: the fusion is chosen on valid only, and dense / BM25 / hybrid are reported side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexdpr.evaluation import eval_cli
from lexdpr.evaluation.bm25_eval import evaluate_bm25
from lexdpr.evaluation.hybrid import (
    EvalInputs,
    HybridSettings,
    QuerySet,
    choose_fusion,
    hybrid_result,
)
from lexdpr.retrieval.fusion import FusionConfig
from lexdpr.training.evaluate import evaluate_model

FILLERS = [(f"F{i}", 0.4 - i * 0.05) for i in range(7)]  # dense scores 0.4 … 0.1


def dense_right(n: int, prefix: str) -> tuple[dict, dict, QuerySet]:
    """Queries where the dense model ranks the positive first and BM25 misses it.

    BM25's top hit (wrong) is also the dense model's second, so RRF (which rewards being in both lists)
    ranks it first; only a weighted fusion with w > 2/3 on min-max scores keeps the positive on top.
    """
    dense, bm25, relevant = {}, {}, {}
    for i in range(n):
        qid, pos, wrong = f"{prefix}{i}", f"P{prefix}{i}", f"W{prefix}{i}"
        dense[qid] = [(pos, 0.9), (wrong, 0.5), *FILLERS]
        bm25[qid] = [(wrong, 10.0), ("B1", 5.0), ("B2", 1.0)]
        relevant[qid] = frozenset({pos})
    return dense, bm25, _query_set(relevant)


def bm25_right(n: int, prefix: str) -> tuple[dict, dict, QuerySet]:
    """The mirror case: BM25 ranks the positive first, the dense model second behind a wrong passage."""
    dense, bm25, relevant = {}, {}, {}
    for i in range(n):
        qid, pos, wrong = f"{prefix}{i}", f"P{prefix}{i}", f"W{prefix}{i}"
        dense[qid] = [(wrong, 0.9), (pos, 0.5), *FILLERS]
        bm25[qid] = [(pos, 10.0), ("B1", 5.0), ("B2", 1.0)]
        relevant[qid] = frozenset({pos})
    return dense, bm25, _query_set(relevant)


def _query_set(relevant: dict[str, frozenset[str]]) -> QuerySet:
    qids = list(relevant)
    return QuerySet("hand-made", qids, [f"text {q}" for q in qids], relevant, "fp-" + qids[0][0])


def _inputs(test: QuerySet, valid: QuerySet | None) -> EvalInputs:
    return EvalInputs("corpus", [], [], test, valid)


SETTINGS = HybridSettings(depth=20)


def test_the_fusion_is_chosen_on_valid_and_applied_unchanged_to_test() -> None:
    valid_dense, valid_bm25, valid = dense_right(8, "v")
    test_dense, test_bm25, test = bm25_right(6, "t")
    result = hybrid_result(_inputs(test, valid), [test_dense, valid_dense], [test_bm25, valid_bm25], SETTINGS)
    choice = result.choice
    assert choice.chosen_on == "valid" and choice.valid_queries == 8
    # the first grid point with w > 2/3: min-max, w = 0.7
    assert choice.config == FusionConfig("weighted", weight=0.7, normalization="minmax", depth=20)
    assert choice.valid_metrics["hybrid/ndcg_at_10"] == 1.0
    assert choice.valid_metrics["bm25/ndcg_at_10"] == 0.0
    assert choice.valid_metrics["eval/ndcg_at_10"] == 1.0
    grid = dict((c.label, v) for c, v in choice.grid)
    assert len(grid) == 19 and grid["rrf(k=60)"] < 1.0 and grid["weighted-minmax(w=0.6)"] < 1.0
    # on test that weight is wrong (BM25 is right there), and it is applied all the same
    assert result.bm25["eval/ndcg_at_10"] == 1.0
    assert result.hybrid["eval/ndcg_at_10"] < 1.0
    assert result.fingerprint == test.fingerprint


def test_the_test_set_cannot_move_the_choice() -> None:
    valid_dense, valid_bm25, valid = dense_right(8, "v")
    choices = []
    for test_dense, test_bm25, test in (dense_right(5, "t"), bm25_right(5, "t")):
        result = hybrid_result(
            _inputs(test, valid), [test_dense, valid_dense], [test_bm25, valid_bm25], SETTINGS
        )
        choices.append(result.choice.config)
    assert choices[0] == choices[1]
    # and when valid looks like the BM25-friendly set, the choice follows it (RRF puts the positive first)
    dense, bm25, mirrored = bm25_right(8, "v")
    chosen = choose_fusion(dense, bm25, mirrored, SETTINGS)
    assert chosen.config.method == "rrf"
    assert chosen.valid_metrics["hybrid/ndcg_at_10"] == 1.0


def test_without_valid_pairs_rrf_is_used_and_said_to_be_the_default() -> None:
    test_dense, test_bm25, test = bm25_right(4, "t")
    result = hybrid_result(_inputs(test, None), [test_dense], [test_bm25], SETTINGS)
    assert result.choice.config == FusionConfig("rrf", depth=20)
    record = result.choice.record()
    assert record["chosen_on"] == "default" and record["valid"] is None
    assert record["method"] == "rrf" and record["weight"] is None and record["rrf_k"] == 60
    assert result.metrics()["hybrid/fusion"] == "rrf(k=60)"


def test_zero_score_bm25_hits_are_not_fused() -> None:
    # BM25 fills its list with zero-score passages in id order; they must not earn RRF credit
    dense = {"q": [("A", 0.9), ("Z", 0.1)]}
    bm25 = {"q": [("A", 0.0), ("Z", 0.0)]}
    test = QuerySet("t", ["q"], ["q"], {"q": frozenset({"Z"})}, "fp")
    result = hybrid_result(_inputs(test, None), [dense], [bm25], SETTINGS)
    assert result.hybrid["eval/ndcg_at_1"] == result.dense["eval/ndcg_at_1"] == 0.0


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_eval_hybrid_end_to_end_on_a_tiny_model(
    checkpoint: Path,
    dataset: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import lexdpr.training.encode as encode
    from lexdpr.retrieval.bm25_index import BM25Index

    calls = {"encode": 0, "bm25": 0}
    real_encode, real_build = encode.encode_in_chunks, BM25Index.build.__func__

    def counting_encode(*args, **kwargs):
        calls["encode"] += 1
        return real_encode(*args, **kwargs)

    def counting_build(cls, *args, **kwargs):
        calls["bm25"] += 1
        return real_build(cls, *args, **kwargs)

    monkeypatch.setattr(encode, "encode_in_chunks", counting_encode)
    monkeypatch.setattr(BM25Index, "build", classmethod(counting_build))
    out = tmp_path / "hybrid.json"
    argv = [
        "--hybrid",
        "--model",
        str(checkpoint),
        "--pairs",
        str(dataset["valid"]),  # the test role
        "--valid-pairs",
        str(dataset["train"]),  # the choosing role
        "--corpus",
        str(dataset["corpus"]),
        "--precision",
        "fp32",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    assert eval_cli.main(argv) == 0
    assert calls == {"encode": 1, "bm25": 1}  # the corpus is encoded once and indexed once for both sets
    captured = capsys.readouterr()
    lines = dict(line.split("=", 1) for line in captured.out.splitlines() if line.strip())
    assert {"eval/ndcg_at_10", "bm25/ndcg_at_10", "hybrid/ndcg_at_10", "eval/fingerprint"} <= set(lines)
    assert "dense" in captured.err and "hybrid" in captured.err  # the side-by-side table

    written = json.loads(out.read_text(encoding="utf-8"))
    # the dense numbers are `lex-dpr eval --model`'s and the BM25 numbers `lex-dpr eval --bm25`'s
    dense = evaluate_model(checkpoint, dataset["valid"], dataset["corpus"], precision="fp32", quiet=True)
    bm25 = evaluate_bm25(_read(dataset["valid"]), _read(dataset["corpus"]))
    assert written["eval/fingerprint"] == dense["eval/fingerprint"] == bm25["eval/fingerprint"]
    for key, value in dense.items():
        if key != "eval/fingerprint":
            assert written[key] == pytest.approx(value, abs=1e-9), key
            assert written[key.replace("eval/", "bm25/")] == pytest.approx(bm25[key], abs=1e-12), key
            assert 0.0 <= written[key.replace("eval/", "hybrid/")] <= 1.0
    fusion = written["fusion"]
    assert fusion["format"] == "lexdpr-fusion/1" and fusion["chosen_on"] == "valid"
    assert fusion["label"] == written["hybrid/fusion"]
    assert fusion["dense"]["checkpoint"] == "checkpoint-1"
    assert fusion["bm25"]["analyzer"] == "kiwipiepy" and fusion["bm25"]["k1"] == 1.2
    assert fusion["valid"]["pairs"] == str(dataset["train"]) and len(fusion["valid"]["grid"]) == 19
    best = max(row["eval/ndcg_at_10"] for row in fusion["valid"]["grid"])
    assert fusion["valid"]["metrics"]["hybrid/ndcg_at_10"] == best


def test_eval_hybrid_without_valid_pairs_uses_rrf(
    tiny_model: Path, dataset: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "rrf.json"
    argv = ["--hybrid", "--model", str(tiny_model), "--pairs", str(dataset["valid"])]
    argv += ["--corpus", str(dataset["corpus"]), "--out", str(out), "--quiet", "--k", "1,5"]
    assert eval_cli.main(argv) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["hybrid/fusion"] == "rrf(k=60)" and written["fusion"]["chosen_on"] == "default"
    assert written["fusion"]["dense"]["checkpoint"] is None  # a base model, not a trained checkpoint
    assert set(k for k in written if k.startswith("hybrid/")) == {
        "hybrid/ndcg_at_1",
        "hybrid/ndcg_at_5",
        "hybrid/recall_at_1",
        "hybrid/recall_at_5",
        "hybrid/mrr_at_10",
        "hybrid/fusion",
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hybrid", "--bm25"], "--hybrid fuses BM25 with a dense model"),
        (["--model", "m", "--valid-pairs", "v.jsonl"], "--valid-pairs chooses the fusion"),
        (["--hybrid", "--model", "m", "--rrf-k", "0"], "--rrf-k / --depth"),
    ],
)
def test_bad_hybrid_flags_are_usage_errors(
    argv: list[str], message: str, dataset: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    full = [*argv, "--pairs", str(dataset["valid"]), "--corpus", str(dataset["corpus"])]
    assert eval_cli.main(full) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")
