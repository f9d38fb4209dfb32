"""The pipeline's evaluate stage: the trained model against both baselines and its BM25 hybrid, on the test set.

    python -m lexdpr.pipeline.evaluate --model OUT_DIR --zero-shot BASE_MODEL --pairs pairs_test.jsonl \
        --corpus merged_corpus.jsonl [--valid-pairs pairs_train_valid.jsonl] --run-dir WANDB --report DIR \
        --metrics FILE [--executor-input JSON]

The evaluation functions of `lex-dpr eval` are called directly (`lexdpr.evaluation.hybrid`), so the corpus is
read and BM25-indexed once and each model encodes it once: the trained model (its best checkpoint), BM25,
their fusion — chosen on `--valid-pairs` by nDCG@10, RRF without them — and the untrained base model
(zero-shot). All four are scored on the same pairs and corpus, one `eval/fingerprint` (docs/design.md,
'Metrics'). The training run's verdict comes from `lexdpr.runs` (the guide's success criteria on its
history). Written:

- `--report`: `model.json`, `zero_shot.json`, `bm25.json` (each as `lex-dpr eval --out` writes it),
  `hybrid.json` (as `lex-dpr eval --hybrid --out` writes it: the trained model's `eval/*`, `bm25/*`,
  `hybrid/*` and the fusion record, which the export stage ships as `lexdpr_fusion.json`) and `summary.json`
  (all four side by side, the comparison, the fusion, the verdict, the fingerprint);
- `--metrics`: the trained model's test metrics, the KFP `Metrics` artifact's file;
- with `--executor-input` (KFP's `{{$}}`): the same numbers as the Metrics artifact's metadata, which is
  what the KFP UI shows as the run's metrics.

In the pipeline the trained model has seen the validation pairs (train-best trains on train + valid), so its
dense scores there are optimistic and the choice leans towards the dense side; the test numbers stay honest,
as the test set chooses nothing. The stage fails on an evaluation error or a fingerprint mismatch, not on a
poor verdict: the verdict is reported (summary, exit summary of `lex-dpr pipeline run`) and the model is
still exported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lexdpr import storage
from lexdpr.errors import InputError, LexDprError
from lexdpr.retrieval.metrics import DEFAULT_K_VALUES
from lexdpr.stage_cli import run_main, stderr_console

FINGERPRINT = "eval/fingerprint"
OBJECTIVE = "eval/ndcg_at_10"
MODELS = ("model", "zero_shot", "bm25", "hybrid")
BASELINES = ("model", "zero_shot", "bm25")  # always evaluated; hybrid joins them when present
HEADINGS = {"model": "model", "zero_shot": "zero-shot", "bm25": "BM25", "hybrid": "hybrid"}


def evaluate_all(
    model: str,
    zero_shot: str,
    pairs: str,
    corpus: str,
    valid_pairs: str | None = None,
    k_values: Iterable[int] = DEFAULT_K_VALUES,
    *,
    workers: int = 1,
    cache_dir: str | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(metrics of model / zero_shot / bm25 / hybrid, each `eval/*` + fingerprint; the `--hybrid` JSON).

    One corpus read, one BM25 index (ranking test and valid), one corpus encoding per model; the fusion is
    chosen on `valid_pairs` only (`lexdpr.evaluation.hybrid.hybrid_result`).
    """
    from lexdpr.evaluation.hybrid import (
        HybridSettings,
        bm25_rankings,
        dense_rankings,
        hybrid_result,
        model_identity,
        read_inputs,
        retrieval_metrics,
        with_depth_for,
    )

    k_values = tuple(k_values)
    settings = with_depth_for(HybridSettings(), k_values)
    inputs = read_inputs(pairs, corpus, valid_pairs)
    lexical = bm25_rankings(inputs, settings.depth, workers)
    dense = dense_rankings(model, inputs, inputs.query_sets(), settings.depth, cache_dir=cache_dir)
    hybrid = hybrid_result(inputs, dense, lexical, settings, k_values, model_identity(model))
    (zero,) = dense_rankings(zero_shot, inputs, [inputs.test], settings.depth, cache_dir=cache_dir)
    fingerprint = {FINGERPRINT: inputs.test.fingerprint}
    results: dict[str, dict[str, Any]] = {
        "model": {**hybrid.dense, **fingerprint},
        "zero_shot": {**retrieval_metrics(zero, inputs.test, k_values), **fingerprint},
        "bm25": {**hybrid.bm25, **fingerprint},
        "hybrid": {**hybrid.hybrid, **fingerprint},
    }
    return results, hybrid.to_json()


def run_verdict(model_dir: str, run_dir: str) -> dict[str, Any]:
    """The training run's verdict (lexdpr.runs): which run, passed or not, and each rule's outcome."""
    from lexdpr.runs.discovery import select_runs
    from lexdpr.runs.verdict import evidence_of, judge

    config_file = Path(model_dir) / "bi_encoder" / "training_config.json"
    try:
        run_id = json.loads(config_file.read_text(encoding="utf-8"))["run_id"]
    except (OSError, ValueError, KeyError):
        raise InputError(str(config_file), "no run_id: is --model a training out_dir?") from None
    run = select_runs(run_dir, [run_id])[0]
    verdict = judge(evidence_of(run))
    return {
        "run_id": run_id,
        "run_folder": run.location.uri,
        "passed": verdict.passed,
        "outcomes": [{"rule": o.rule, "status": o.status, "reason": o.reason} for o in verdict.outcomes],
    }


def summarize(
    results: Mapping[str, Mapping[str, Any]],
    verdict: Mapping[str, Any],
    fusion: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """All evaluations side by side (hybrid when present); refuses results from different test sets."""
    names = [name for name in MODELS if name in results or name in BASELINES]
    prints = {name: results[name].get(FINGERPRINT) for name in names}
    if len(set(prints.values())) != 1:
        listing = ", ".join(f"{k}={v}" for k, v in prints.items())
        raise LexDprError(f"the evaluations used different pairs or corpora ({FINGERPRINT}: {listing})")
    model = results["model"]
    summary: dict[str, Any] = {
        FINGERPRINT: prints["model"],
        "objective": OBJECTIVE,
        "models": {name: dict(results[name]) for name in names},
        "beats_bm25": _number(model, OBJECTIVE) > _number(results["bm25"], OBJECTIVE),
        "beats_zero_shot": _number(model, OBJECTIVE) > _number(results["zero_shot"], OBJECTIVE),
    }
    if "hybrid" in results:
        summary["hybrid_beats_model"] = _number(results["hybrid"], OBJECTIVE) > _number(model, OBJECTIVE)
    if fusion is not None:
        summary["fusion"] = dict(fusion)
    summary["verdict"] = dict(verdict)
    return summary


def _number(metrics: Mapping[str, Any], key: str) -> float:
    value = metrics.get(key)
    if not isinstance(value, int | float):
        raise LexDprError(f"no numeric {key} in the evaluation results")
    return float(value)


def kfp_metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Flat numbers for the KFP Metrics artifact: the model's eval/*, then the others' with a prefix."""
    out: dict[str, Any] = {}
    for name in summary["models"]:
        prefix = "" if name == "model" else f"{name}/"
        for key, value in summary["models"][name].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[prefix + key] = value
    out["verdict_passed"] = 1.0 if summary["verdict"]["passed"] else 0.0
    return out


def write_executor_output(executor_input: str, output: str, metadata: Mapping[str, Any]) -> None:
    """Report `metadata` on the output artifact `output` the way KFP's own Python executor does."""
    data = json.loads(executor_input)
    artifact = data["outputs"]["artifacts"][output]["artifacts"][0]
    result = {
        "artifacts": {
            output: {
                "artifacts": [
                    {
                        "name": artifact.get("name", ""),
                        "uri": artifact.get("uri", ""),
                        "metadata": dict(metadata),
                    }
                ]
            }
        }
    }
    path = Path(data["outputs"]["outputFile"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result), encoding="utf-8")


def _body(args: argparse.Namespace) -> int:
    results, hybrid = evaluate_all(
        args.model,
        args.zero_shot,
        args.pairs,
        args.corpus,
        args.valid_pairs or None,
        workers=os.cpu_count() or 1,
    )
    summary = summarize(results, run_verdict(args.model, args.run_dir), hybrid["fusion"])
    for name in BASELINES:
        _write_json(storage.join(args.report, f"{name}.json"), results[name])
    _write_json(storage.join(args.report, "hybrid.json"), hybrid)
    _write_json(storage.join(args.report, "summary.json"), summary)
    _write_json(args.metrics, results["model"])
    if args.executor_input:
        write_executor_output(args.executor_input, "metrics", kfp_metadata(summary))
    verdict = "passed" if summary["verdict"]["passed"] else "failed"
    scores = ", ".join(f"{HEADINGS[n]} {_number(results[n], OBJECTIVE):.4f}" for n in summary["models"])
    stderr_console().print(
        f"{OBJECTIVE}: {scores} (fusion {hybrid['hybrid/fusion']}, chosen on "
        f"{'valid' if hybrid['fusion']['chosen_on'] == 'valid' else 'nothing: the default'}); "
        f"run verdict: {verdict}",
        markup=False,
        highlight=False,
    )
    return 0


def _write_json(uri: str, data: Mapping[str, Any]) -> None:
    storage.write_text(uri, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lexdpr.pipeline.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--model", required=True, help="the training out_dir (its best checkpoint is evaluated)"
    )
    parser.add_argument("--zero-shot", required=True, help="the base model, evaluated untrained")
    parser.add_argument("--pairs", required=True, help="the test pairs (path or s3:// URI)")
    parser.add_argument("--corpus", required=True, help="the merged corpus (path or s3:// URI)")
    parser.add_argument(
        "--valid-pairs",
        default="",
        help="pairs to choose the BM25 fusion on (path or s3:// URI); without them: RRF",
    )
    parser.add_argument("--run-dir", required=True, help="the folder with the training's run folder")
    parser.add_argument("--report", required=True, help="folder (or s3:// prefix) for the JSON results")
    parser.add_argument("--metrics", required=True, help="file for the trained model's metrics (KFP Metrics)")
    parser.add_argument("--executor-input", default="", help="KFP's executor input JSON ({{$}}), if any")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_body, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
