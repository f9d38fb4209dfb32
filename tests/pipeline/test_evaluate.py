"""The evaluate stage's bookkeeping: comparable results only, the verdict, and metrics in KFP's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from lexdpr.errors import InputError, LexDprError
from lexdpr.pipeline import evaluate
from lexdpr.tracking.run_folder import RunFolder


def metrics(ndcg: float, fingerprint: str = "f1") -> dict[str, object]:
    return {"eval/ndcg_at_10": ndcg, "eval/recall_at_10": ndcg + 0.1, "eval/fingerprint": fingerprint}


VERDICT = {"run_id": "r1", "passed": True, "outcomes": []}


def test_summary_compares_the_model_with_both_baselines() -> None:
    summary = evaluate.summarize(
        {"model": metrics(0.6), "zero_shot": metrics(0.5), "bm25": metrics(0.7)}, VERDICT
    )
    assert summary["eval/fingerprint"] == "f1"
    assert summary["beats_zero_shot"] is True and summary["beats_bm25"] is False
    assert summary["models"]["bm25"]["eval/ndcg_at_10"] == 0.7


def test_results_from_different_test_sets_are_refused() -> None:
    with pytest.raises(LexDprError, match=r"different pairs or corpora.*bm25=f2"):
        evaluate.summarize(
            {"model": metrics(0.6), "zero_shot": metrics(0.5), "bm25": metrics(0.7, "f2")}, VERDICT
        )


def test_kfp_metadata_is_flat_numbers() -> None:
    summary = evaluate.summarize(
        {"model": metrics(0.6), "zero_shot": metrics(0.5), "bm25": metrics(0.7)}, VERDICT
    )
    assert evaluate.kfp_metadata(summary) == {
        "eval/ndcg_at_10": 0.6,
        "eval/recall_at_10": pytest.approx(0.7),
        "zero_shot/eval/ndcg_at_10": 0.5,
        "zero_shot/eval/recall_at_10": pytest.approx(0.6),
        "bm25/eval/ndcg_at_10": 0.7,
        "bm25/eval/recall_at_10": pytest.approx(0.8),
        "verdict_passed": 1.0,
    }


def test_the_executor_output_is_what_the_kfp_launcher_reads(tmp_path: Path) -> None:
    output_file = tmp_path / "kfp_outputs" / "output_metadata.json"
    executor_input = {
        "inputs": {"parameterValues": {"base_model": "multilingual-e5-small"}},
        "outputs": {
            "artifacts": {
                "metrics": {
                    "artifacts": [
                        {
                            "name": "metrics",
                            "type": {"schemaTitle": "system.Metrics"},
                            "uri": "s3://bucket/root/evaluate/metrics",
                            "metadata": {},
                        }
                    ]
                }
            },
            "outputFile": str(output_file),
        },
    }
    # the real executor input parses into KFP's ExecutorInput; what we write parses into ExecutorOutput
    json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput())
    evaluate.write_executor_output(
        json.dumps(executor_input), "metrics", {"eval/ndcg_at_10": 0.5, "verdict_passed": 1.0}
    )
    parsed = json_format.Parse(output_file.read_text(), pipeline_spec_pb2.ExecutorOutput())
    artifact = parsed.artifacts["metrics"].artifacts[0]
    assert artifact.uri == "s3://bucket/root/evaluate/metrics"
    assert artifact.metadata["eval/ndcg_at_10"] == 0.5


def test_the_verdict_judges_the_run_named_in_the_training_output(tmp_path: Path) -> None:
    runs = tmp_path / "wandb"
    folder = RunFolder.create(runs, "abcd1234", "model: {}\n", {"state": "running"})
    folder.update(state="failed", reason="ValueError: boom")
    model = tmp_path / "out"
    (model / "bi_encoder").mkdir(parents=True)
    (model / "bi_encoder" / "training_config.json").write_text(json.dumps({"run_id": "abcd1234"}))
    verdict = evaluate.run_verdict(str(model), str(runs))
    assert verdict["run_id"] == "abcd1234" and verdict["passed"] is False
    finished = next(o for o in verdict["outcomes"] if o["rule"] == "finished")
    assert finished["status"] == "fail"


def test_a_model_folder_without_a_run_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no run_id"):
        evaluate.run_verdict(str(tmp_path), str(tmp_path))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A training out_dir (one tiny checkpoint, its run folder), the base model, pairs and corpus."""
    from tests.conftest_models import build_tiny_bert, make_dataset
    from tests.support.tiny_checkpoint import save_tiny_checkpoint

    root = tmp_path_factory.mktemp("stage")
    base = build_tiny_bert(root / "base")
    data = make_dataset(root / "data")
    out = root / "out"
    checkpoint = save_tiny_checkpoint(base, out / "bi_encoder" / "checkpoint-3")
    (checkpoint / "trainer_state.json").write_text(json.dumps({"step": 3, "metrics": {}}))  # complete
    (out / "bi_encoder" / "training_config.json").write_text(json.dumps({"run_id": "hyb12345"}))
    runs = root / "wandb"
    RunFolder.create(runs, "hyb12345", "model: {}\n", {"state": "running"}).update(state="finished")
    return {"out": out, "base": base, "runs": runs, **data}


def test_the_stage_reports_dense_bm25_and_hybrid_side_by_side(
    trained: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    report, metrics_file = tmp_path / "report", tmp_path / "metrics.json"
    output_file = tmp_path / "executor_output.json"
    executor_input = {
        "outputs": {
            "artifacts": {"metrics": {"artifacts": [{"name": "metrics", "uri": "m", "metadata": {}}]}},
            "outputFile": str(output_file),
        }
    }
    argv = ["--model", str(trained["out"]), "--zero-shot", str(trained["base"])]
    argv += ["--pairs", str(trained["valid"]), "--valid-pairs", str(trained["train"])]
    argv += ["--corpus", str(trained["corpus"]), "--run-dir", str(trained["runs"])]
    argv += ["--report", str(report), "--metrics", str(metrics_file)]
    argv += ["--executor-input", json.dumps(executor_input)]
    assert evaluate.main(argv) == 0
    files = {p.name for p in report.iterdir()}
    assert files == {"model.json", "zero_shot.json", "bm25.json", "hybrid.json", "summary.json"}
    summary = json.loads((report / "summary.json").read_text())
    assert list(summary["models"]) == ["model", "zero_shot", "bm25", "hybrid"]
    for name in ("model", "zero_shot", "bm25"):  # each file as `lex-dpr eval --out` writes it
        assert json.loads((report / f"{name}.json").read_text()) == summary["models"][name]
    hybrid = json.loads((report / "hybrid.json").read_text())
    assert hybrid["hybrid/ndcg_at_10"] == summary["models"]["hybrid"]["eval/ndcg_at_10"]
    assert hybrid["bm25/ndcg_at_10"] == summary["models"]["bm25"]["eval/ndcg_at_10"]
    assert hybrid["eval/ndcg_at_10"] == summary["models"]["model"]["eval/ndcg_at_10"]
    fusion = summary["fusion"]
    assert fusion == hybrid["fusion"]
    assert fusion["chosen_on"] == "valid" and fusion["valid"]["pairs"] == str(trained["train"])
    assert fusion["dense"]["checkpoint"] == "checkpoint-3"
    assert summary["hybrid_beats_model"] == (
        summary["models"]["hybrid"]["eval/ndcg_at_10"] > summary["models"]["model"]["eval/ndcg_at_10"]
    )
    assert json.loads(metrics_file.read_text()) == summary["models"]["model"]
    written = json.loads(output_file.read_text())["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    assert written["hybrid/eval/ndcg_at_10"] == summary["models"]["hybrid"]["eval/ndcg_at_10"]
    assert written["bm25/eval/ndcg_at_10"] == summary["models"]["bm25"]["eval/ndcg_at_10"]

    # the export stage ships that fusion with the merged model
    from lexdpr.retrieval.fusion import load_fusion
    from lexdpr.training.export import export_merged

    folder = export_merged(trained["out"], tmp_path / "model", str(report / "hybrid.json"))
    loaded = load_fusion(folder)
    assert loaded is not None and loaded[1]["label"] == hybrid["hybrid/fusion"]


def test_the_summary_adds_the_hybrid_when_there_is_one() -> None:
    results = {"model": metrics(0.6), "zero_shot": metrics(0.5), "bm25": metrics(0.7), "hybrid": metrics(0.8)}
    summary = evaluate.summarize(results, VERDICT, {"label": "rrf(k=60)"})
    assert summary["hybrid_beats_model"] is True and summary["fusion"] == {"label": "rrf(k=60)"}
    assert evaluate.kfp_metadata(summary)["hybrid/eval/ndcg_at_10"] == 0.8
    with pytest.raises(LexDprError, match="hybrid=f9"):
        evaluate.summarize({**results, "hybrid": metrics(0.8, "f9")}, VERDICT)


def test_the_end_of_run_summary_shows_the_hybrid_column_and_its_fusion() -> None:
    import io

    from rich.console import Console

    from lexdpr.pipeline.local_runner import PipelineResult, print_summary

    models = {"model": 0.61, "zero_shot": 0.55, "bm25": 0.52, "hybrid": 0.66}
    results = {name: {"eval/ndcg_at_10": v, "eval/fingerprint": "f1"} for name, v in models.items()}
    fusion = {"label": "weighted-minmax(w=0.6)", "chosen_on": "valid"}
    summary = evaluate.summarize(results, VERDICT, fusion)
    out = io.StringIO()
    print_summary(PipelineResult(storage="s", summary=summary), Console(file=out, width=200))
    text = out.getvalue()
    assert "hybrid" in text and "0.6600" in text and "BM25" in text
    assert "fused by weighted-minmax(w=0.6) (chosen on valid)" in text
