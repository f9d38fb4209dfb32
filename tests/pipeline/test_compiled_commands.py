"""The compiled pipeline's container commands, run with their placeholders bound to local paths or S3 URIs,
produce what `lex-dpr pipeline run --local` produces: the YAML's commands are right, not just well-formed.

The data stages run in the default suite (seconds on the sample data); the whole pipeline — sweep,
training, evaluation, export — is `slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexdpr import storage
from lexdpr.pipeline import transfer
from lexdpr.pipeline.commands import sample_data_dir
from lexdpr.pipeline.local_runner import run_local
from lexdpr.pipeline.stages import WORKSPACE_MOUNT, in_order
from tests.pipeline.kfp_exec import run_compiled

ROOT = Path(__file__).resolve().parents[2]
PIPELINE_YAML = ROOT / "pipelines" / "lexdpr_pipeline.yaml"
DATA_STAGES = ("passages", "pairs", "corpus")
DATA_ARTIFACTS = ("passages", "pairs", "corpus")


def _same_files(a: str, b: str) -> list[str]:
    """The relative file names under a and b, after checking both hold the same files with the same bytes."""
    names = transfer.files_under(a)
    assert names == transfer.files_under(b), (a, b)
    assert names, a
    for rel in names:
        assert storage.read_bytes(storage.join(a, rel)) == storage.read_bytes(storage.join(b, rel)), rel
    return names


def _run_both(raw: str, local_root: str, kfp_root: str, workspace: Path, until: str, **extra: object) -> dict:
    params = {"raw_data": raw, "hn_per_q": 8, "workspace": str(workspace / "ws-local"), **extra}
    result = run_local(local_root, params, until=until)
    kfp = run_compiled(
        PIPELINE_YAML,
        kfp_root,
        {k: v for k, v in params.items() if k != "workspace"},
        mounts={WORKSPACE_MOUNT: str(workspace / "ws-kfp")},
        constants={"sweep_backend": "local"},
        until=until,
        log_dir=workspace / "kfp-logs",
    )
    return {"local": result, "kfp": kfp}


def test_data_stages_from_the_yaml_match_the_local_runner_on_local_folders(tmp_path: Path) -> None:
    runs = _run_both(
        str(sample_data_dir()), str(tmp_path / "local"), str(tmp_path / "kfp"), tmp_path, "corpus"
    )
    assert [s.name for s in runs["local"].stages] == list(DATA_STAGES)
    for name in DATA_ARTIFACTS:
        _same_files(str(tmp_path / "local" / name), runs["kfp"][name].outputs[name])
    # the commands the YAML ran are the stage graph's, with paths in place of placeholders
    assert runs["kfp"]["pairs"].argv[:3] == ["lex-dpr", "data", "pairs"]


def test_data_stages_from_the_yaml_match_the_local_runner_through_s3(s3_bucket: str, tmp_path: Path) -> None:
    raw = f"{s3_bucket}/raw"
    transfer.upload(sample_data_dir(), raw)
    runs = _run_both(raw, f"{s3_bucket}/local", f"{s3_bucket}/kfp", tmp_path, "corpus")
    for name in DATA_ARTIFACTS:
        files = _same_files(f"{s3_bucket}/local/{name}", runs["kfp"][name].outputs[name])
        assert files
    # nothing was written locally: the stages read and wrote S3 themselves
    assert not (tmp_path / "local").exists()


GRID_SWEEP = """\
method: grid
metric: {name: eval/ndcg_at_10, goal: maximize}
parameters:
  trainer.lr: {values: [2.0e-4]}
  trainer.temperature: {values: [0.05]}
fixed:
  model.max_len: 48
  model.query_max_len: 32
  data.batch_size: 8
  trainer.max_steps: 3
  trainer.valid_negatives: 4
  trainer.keep_last: 1
"""


@pytest.mark.slow
def test_the_whole_pipeline_from_the_yaml_matches_the_local_runner(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(GRID_SWEEP, encoding="utf-8")
    runs = _run_both(
        str(sample_data_dir()),
        str(tmp_path / "local"),
        str(tmp_path / "kfp"),
        tmp_path,
        "export",
        sweep_file=str(sweep),
        trial_budget=1,
        parallelism=1,
    )
    assert [s.name for s in runs["local"].stages] == [s.name for s in in_order()]
    for name in DATA_ARTIFACTS:
        _same_files(str(tmp_path / "local" / name), runs["kfp"][name].outputs[name])
    local_best = json.loads((tmp_path / "local" / "best_params" / "best.json").read_text())
    kfp_best = json.loads(Path(runs["kfp"]["tune"].outputs["best_params"], "best.json").read_text())
    assert local_best["values"] == kfp_best["values"]
    local_report = tmp_path / "local" / "report"
    kfp_report = Path(runs["kfp"]["evaluate"].outputs["report"])
    for name in ("bm25.json", "zero_shot.json", "model.json"):
        a, b = json.loads((local_report / name).read_text()), json.loads((kfp_report / name).read_text())
        assert a.keys() == b.keys()
        for key, value in a.items():
            assert (
                b[key] == pytest.approx(value, abs=1e-4) if isinstance(value, float) else b[key] == value
            ), key
    # the KFP Metrics artifact's metadata, as the launcher would read it
    metadata = runs["kfp"]["evaluate"].metadata["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    assert metadata["eval/ndcg_at_10"] == pytest.approx(
        json.loads((local_report / "model.json").read_text())["eval/ndcg_at_10"], abs=1e-4
    )
    assert (tmp_path / "local" / "model" / "modules.json").is_file()
    assert Path(runs["kfp"]["export"].outputs["model"], "modules.json").is_file()
