"""`runs compare`: values at each run's best step, base-model and baseline columns, fingerprints enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexdpr.errors import InputError
from lexdpr.runs.baseline import Baseline, load_baseline, require_same_test_set
from lexdpr.runs.compare import compare_runs
from lexdpr.runs.discovery import select_runs
from lexdpr.runs.errors import FingerprintMismatch
from tests.runs.synthetic import write_run


def curves(base: float, best: float, final: float) -> dict:
    return {
        "train/loss": [(s, 2.0 - s / 100) for s in range(1, 101)],
        "eval/ndcg_at_10": [(0, base), (50, best), (100, final)],
        "eval/recall_at_10": [(0, base + 0.1), (50, best + 0.1), (100, final + 0.1)],
        "valid/loss": [(0, 2.5), (50, 1.5), (100, 1.6)],
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_run(tmp_path, "simcse01", curves(0.30, 0.50, 0.45), config={"model": {"bi_model": "ko-simcse"}})
    write_run(tmp_path, "bgem3001", curves(0.40, 0.55, 0.58), config={"model": {"bi_model": "bge-m3-ko"}})
    return tmp_path


def test_each_run_is_shown_at_its_best_step_next_to_each_base_model(root: Path) -> None:
    runs = select_runs(root, ["simcse01", "bgem3001"])
    table = compare_runs(runs, baseline=Baseline("BM25", {"eval/ndcg_at_10": 0.42}, "fp-test", "b.json"))
    assert table.fingerprint == "fp-test"
    assert table.metrics == ["eval/ndcg_at_10", "eval/recall_at_10", "valid/loss"]
    headers = [c.header for c in table.columns]
    assert headers == [
        "step 0 (ko-simcse: simcse01)",
        "step 0 (bge-m3-ko: bgem3001)",
        "BM25",
        "simcse01",
        "bgem3001",
    ]
    simcse, bge = table.columns[3], table.columns[4]
    assert (simcse.step, simcse.values["eval/ndcg_at_10"], simcse.values["valid/loss"]) == (50, 0.50, 1.5)
    assert (bge.step, bge.values["eval/ndcg_at_10"]) == (100, 0.58)
    assert table.best_header("eval/ndcg_at_10") == "bgem3001"
    assert table.best_header("valid/loss") == "simcse01"  # lower is better for a loss


def test_runs_without_a_fingerprint_or_with_two_are_refused(root: Path) -> None:
    write_run(root, "noeval01", {"train/loss": [(1, 2.0)]}, fingerprint=None)
    with pytest.raises(FingerprintMismatch, match="noeval01 logged no eval/fingerprint"):
        compare_runs(select_runs(root, ["simcse01", "noeval01"]))
    twice = write_run(root, "twice001", curves(0.3, 0.5, 0.5))
    with open(twice.path / "wandb-events.jsonl", "a", encoding="utf-8") as events:
        events.write('{"_step": 101, "eval": {"ndcg_at_10": 0.9, "fingerprint": "changed"}}\n')
    with pytest.raises(FingerprintMismatch, match="twice001 logged several eval fingerprints"):
        compare_runs(select_runs(root, ["simcse01", "twice001"]))


def test_a_baseline_without_a_fingerprint_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text('{"eval/ndcg_at_10": 0.4}', encoding="utf-8")
    with pytest.raises(FingerprintMismatch, match="has no eval/fingerprint"):
        require_same_test_set(select_runs(root, ["simcse01"]), load_baseline(str(tmp_path / "old.json")))


def test_baseline_files_are_read_flat_or_nested_and_checked(tmp_path: Path) -> None:
    flat, nested, bad, empty = (tmp_path / n for n in ("flat.json", "nested.json", "bad.json", "empty.json"))
    flat.write_text('{"eval/ndcg_at_10": 0.4, "eval/fingerprint": "fp"}', encoding="utf-8")
    nested.write_text('{"eval": {"ndcg_at_10": 0.4, "fingerprint": "fp"}}', encoding="utf-8")
    bad.write_text("{oops", encoding="utf-8")
    empty.write_text('{"loss": 1.0}', encoding="utf-8")
    for path in (flat, nested):
        baseline = load_baseline(str(path))
        assert (baseline.name, baseline.metrics, baseline.fingerprint) == (
            "BM25",
            {"eval/ndcg_at_10": 0.4},
            "fp",
        )
    with pytest.raises(InputError, match="not a metrics JSON file"):
        load_baseline(str(bad))
    with pytest.raises(InputError, match="no eval/\\* metrics"):
        load_baseline(str(empty))


def _hybrid_file(path: Path) -> Path:
    """An `lex-dpr eval --hybrid --out` file, made by the evaluation code from hand-made rankings."""
    import json

    from lexdpr.evaluation.hybrid import EvalInputs, HybridSettings, QuerySet, hybrid_result

    relevant = {"q1": frozenset({"A"}), "q2": frozenset({"B"})}
    test = QuerySet("test.jsonl", ["q1", "q2"], ["t1", "t2"], relevant, "fp-test")
    dense = {"q1": [("A", 0.9), ("B", 0.5)], "q2": [("A", 0.9), ("B", 0.5)]}  # q1 right, q2 second
    bm25 = {"q1": [("B", 3.0), ("A", 1.0)], "q2": [("B", 3.0)]}  # q1 second, q2 right
    result = hybrid_result(
        EvalInputs("c", [], [], test), [dense], [bm25], HybridSettings(), (1, 10), {"model": "out/run1"}
    )
    path.write_text(json.dumps(result.to_json()), encoding="utf-8")
    return path


def test_a_hybrid_evaluation_puts_dense_bm25_and_hybrid_side_by_side(root: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from lexdpr.runs.tables import comparison_table

    baseline = load_baseline(str(_hybrid_file(tmp_path / "hybrid.json")))
    # the baseline proper is BM25's numbers, under the eval/* names every rule and chart reads
    assert baseline.metrics["eval/ndcg_at_1"] == 0.5 and "bm25/ndcg_at_1" not in baseline.metrics
    assert list(baseline.others) == ["dense (run1)", "hybrid (rrf(k=60))"]
    table = compare_runs(select_runs(root, ["simcse01"]), baseline=baseline)
    headers = [c.header for c in table.columns]
    assert headers == ["step 0 (ko-simcse)", "BM25", "dense (run1)", "hybrid (rrf(k=60))", "simcse01"]
    by_header = {c.header: c for c in table.columns}
    assert by_header["dense (run1)"].values["eval/recall_at_10"] == 1.0
    assert by_header["hybrid (rrf(k=60))"].kind == "baseline"  # never the "best run" of a row
    assert table.best_header("eval/ndcg_at_10") == "simcse01"
    console = Console(width=200, record=True)
    console.print(comparison_table(table))
    text = console.export_text()  # export_text clears the record
    assert "hybrid (rrf(k=60))" in text and "dense (run1)" in text
