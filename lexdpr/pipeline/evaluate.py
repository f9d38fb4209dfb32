"""The pipeline's evaluate stage: the trained model against both baselines on the fixed test set.

    python -m lexdpr.pipeline.evaluate --model OUT_DIR --zero-shot BASE_MODEL --pairs pairs_test.jsonl \
        --corpus merged_corpus.jsonl --run-dir WANDB --report DIR --metrics FILE [--executor-input JSON]

Three runs of `lex-dpr eval` (the same code path as the command, called in this process so the corpus
tokenizer and Kiwi load once): the trained model (its best checkpoint), the untrained base model
(zero-shot) and BM25. Their `eval/fingerprint`s must agree — the three numbers are comparable only on the
same pairs and corpus (docs/design.md, 'Metrics'). The training run's verdict comes from `lexdpr.runs`
(the guide's success criteria on its history). Written:

- `--report`: `model.json`, `zero_shot.json`, `bm25.json` (as `lex-dpr eval --out` writes them) and
  `summary.json` (all three, the comparison, the verdict, the fingerprint);
- `--metrics`: the trained model's test metrics, the KFP `Metrics` artifact's file;
- with `--executor-input` (KFP's `{{$}}`): the same numbers as the Metrics artifact's metadata, which is
  what the KFP UI shows as the run's metrics.

The stage fails on an evaluation error or a fingerprint mismatch, not on a poor verdict: the verdict is
reported (summary, exit summary of `lex-dpr pipeline run`) and the model is still exported.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lexdpr import storage
from lexdpr.errors import InputError, LexDprError
from lexdpr.stage_cli import run_main, stderr_console

FINGERPRINT = "eval/fingerprint"
OBJECTIVE = "eval/ndcg_at_10"
MODELS = ("model", "zero_shot", "bm25")


def evaluate_one(name: str, flags: list[str], pairs: str, corpus: str, report: str) -> dict[str, Any]:
    """Run `lex-dpr eval FLAGS --pairs … --corpus … --out REPORT/NAME.json` and return its metrics."""
    from lexdpr.evaluation import eval_cli

    out = storage.join(report, f"{name}.json")
    code = eval_cli.main([*flags, "--pairs", pairs, "--corpus", corpus, "--out", out, "--quiet"])
    if code != 0:
        raise LexDprError(f"evaluating {name} failed (lex-dpr eval {' '.join(flags)} exited {code})")
    return json.loads(storage.read_text(out))


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


def summarize(results: Mapping[str, Mapping[str, Any]], verdict: Mapping[str, Any]) -> dict[str, Any]:
    """All three evaluations side by side; refuses results from different test sets."""
    prints = {name: results[name].get(FINGERPRINT) for name in MODELS}
    if len(set(prints.values())) != 1:
        listing = ", ".join(f"{k}={v}" for k, v in prints.items())
        raise LexDprError(f"the evaluations used different pairs or corpora ({FINGERPRINT}: {listing})")
    model = results["model"]
    return {
        FINGERPRINT: prints["model"],
        "objective": OBJECTIVE,
        "models": {name: dict(results[name]) for name in MODELS},
        "beats_bm25": _number(model, OBJECTIVE) > _number(results["bm25"], OBJECTIVE),
        "beats_zero_shot": _number(model, OBJECTIVE) > _number(results["zero_shot"], OBJECTIVE),
        "verdict": dict(verdict),
    }


def _number(metrics: Mapping[str, Any], key: str) -> float:
    value = metrics.get(key)
    if not isinstance(value, int | float):
        raise LexDprError(f"no numeric {key} in the evaluation results")
    return float(value)


def kfp_metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Flat numbers for the KFP Metrics artifact: the model's eval/*, then the baselines' with a prefix."""
    out: dict[str, Any] = {}
    for name, prefix in (("model", ""), ("zero_shot", "zero_shot/"), ("bm25", "bm25/")):
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
    results = {
        "model": evaluate_one("model", ["--model", args.model], args.pairs, args.corpus, args.report),
        "zero_shot": evaluate_one(
            "zero_shot", ["--model", args.zero_shot], args.pairs, args.corpus, args.report
        ),
        "bm25": evaluate_one("bm25", ["--bm25"], args.pairs, args.corpus, args.report),
    }
    summary = summarize(results, run_verdict(args.model, args.run_dir))
    storage.write_text(
        storage.join(args.report, "summary.json"), json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    )
    storage.write_text(args.metrics, json.dumps(results["model"], ensure_ascii=False, indent=2) + "\n")
    if args.executor_input:
        write_executor_output(args.executor_input, "metrics", kfp_metadata(summary))
    verdict = "passed" if summary["verdict"]["passed"] else "failed"
    stderr_console().print(
        f"{OBJECTIVE}: model {_number(results['model'], OBJECTIVE):.4f}, zero-shot "
        f"{_number(results['zero_shot'], OBJECTIVE):.4f}, BM25 {_number(results['bm25'], OBJECTIVE):.4f}; "
        f"run verdict: {verdict}",
        markup=False,
        highlight=False,
    )
    return 0


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
    parser.add_argument("--run-dir", required=True, help="the folder with the training's run folder")
    parser.add_argument("--report", required=True, help="folder (or s3:// prefix) for the JSON results")
    parser.add_argument("--metrics", required=True, help="file for the trained model's metrics (KFP Metrics)")
    parser.add_argument("--executor-input", default="", help="KFP's executor input JSON ({{$}}), if any")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_body, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
