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
