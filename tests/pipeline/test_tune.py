"""The tune stage: the resolved sweep, the local backend (optuna agents, with the sweep tests' fake trainer)
and the Katib backend (against the Katib simulator of the kube tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from lexdpr.errors import ConfigError
from lexdpr.pipeline import tune
from lexdpr.sweep.runner import SubprocessTrialRunner
from tests.kube.katib_sim import FakeClock, FakeKatib
from tests.sweep.conftest import BASIC_SWEEP, FAKE_TRIAL, REPO

SWEEP = BASIC_SWEEP.replace("  model.bi_model: fake\n", "")


def request(tmp_path: Path, **changes: object) -> tune.TuneRequest:
    sweep = tmp_path / "sweep.yaml"
    if not sweep.exists():
        sweep.write_text(SWEEP, encoding="utf-8")
    values: dict[str, object] = {
        "backend": "local",
        "sweep_file": str(sweep),
        "trials": 2,
        "parallelism": 1,
        "base_model": "fake",
        "train_pairs": "s3://b/pairs/pairs_train.jsonl",
        "valid_pairs": "s3://b/pairs/pairs_train_valid.jsonl",
        "corpus": "s3://b/corpus/merged_corpus.jsonl",
        "workspace": tmp_path / "ws",
        "out": str(tmp_path / "best"),
    }
    values.update(changes)
    return tune.TuneRequest(**values)  # type: ignore[arg-type]


def test_the_resolved_sweep_fixes_the_pipelines_data_and_base_model(tmp_path: Path) -> None:
    definition, digest = tune.resolved_sweep(request(tmp_path))
    assert definition["fixed"] == {
        "trainer.epochs": 2,
        "data.pairs": "s3://b/pairs/pairs_train.jsonl",
        "data.valid_pairs": "s3://b/pairs/pairs_train_valid.jsonl",
        "data.passages": "s3://b/corpus/merged_corpus.jsonl",
        "model.bi_model": "fake",
    }
    assert "sweep_id" not in definition
    # the same data and sweep: the same sweep (resumed); other data: another one
    assert tune.resolved_sweep(request(tmp_path))[1] == digest
    assert tune.resolved_sweep(request(tmp_path, corpus="s3://b/other.jsonl"))[1] != digest
    # a different budget is the same sweep, continued
    assert tune.resolved_sweep(request(tmp_path, trials=9))[1] == digest


def test_a_sweep_over_base_models_keeps_its_models_and_minio_uris_become_s3(tmp_path: Path) -> None:
    sweep = tmp_path / "models.yaml"
    data = yaml.safe_load(SWEEP)
    data["parameters"]["model.bi_model"] = {"values": ["ko-simcse", "multilingual-e5-small"]}
    sweep.write_text(yaml.safe_dump(data), encoding="utf-8")
    definition, _ = tune.resolved_sweep(
        request(
            tmp_path, sweep_file=str(sweep), train_pairs="minio://mlpipeline/v2/artifacts/x/pairs_train.jsonl"
        )
    )
    assert "model.bi_model" not in definition["fixed"]
    assert definition["fixed"]["data.pairs"] == "s3://mlpipeline/v2/artifacts/x/pairs_train.jsonl"


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--backend"):
        tune.run(request(tmp_path, backend="slurm"), print)
    with pytest.raises(ConfigError, match="at least 1"):
        tune.run(request(tmp_path, trials=0), print)


def _fake_runner() -> SubprocessTrialRunner:
    return SubprocessTrialRunner(FAKE_TRIAL, env={"PYTHONPATH": str(REPO)})


def test_local_backend_runs_the_budget_writes_the_best_and_resumes(tmp_path: Path) -> None:
    messages: list[str] = []
    best = tune.run(request(tmp_path), messages.append, runner=_fake_runner())
    assert best.trials_done == 2
    config = yaml.safe_load((tmp_path / "best" / "best.yaml").read_text())
    assert config["data.pairs"] == "s3://b/pairs/pairs_train.jsonl"
    assert config["trainer.lr"] == best.values["trainer.lr"]
    record = json.loads((tmp_path / "best" / "best.json").read_text())
    assert record["backend"] == "local" and record["metric"] == "eval/ndcg_at_10"
    assert record["objective"] == pytest.approx(best.objective)
    # the same request again: the sweep is found and has nothing left to run
    again = tune.run(request(tmp_path), messages.append, runner=_fake_runner())
    assert again.sweep == best.sweep and again.trials_done == 2
    assert any(m.startswith("resuming sweep") for m in messages)
    # a larger budget continues the same sweep with the difference
    more = tune.run(request(tmp_path, trials=3), messages.append, runner=_fake_runner())
    assert more.sweep == best.sweep and more.trials_done == 3


def test_katib_backend_creates_the_experiment_waits_and_reads_the_best(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    katib = FakeKatib(clock, duration=lambda n: 600.0)
    req = request(
        tmp_path,
        backend="katib",
        trials=3,
        parallelism=2,
        trial_image="ghcr.io/lexdpr/lexdpr:9.9-cuda",
        pvc="my-pvc",
        s3_secret="team-s3",
        workspace=tmp_path / "ws",
    )
    messages: list[str] = []
    best = tune.run(req, messages.append, api=katib, sleep=clock.sleep)
    (created,) = [r for r in katib.requests if r.verb == "create"]
    experiment = created.body
    assert experiment["metadata"]["name"].startswith("lexdpr-")
    assert experiment["spec"]["maxTrialCount"] == 3 and experiment["spec"]["parallelTrialCount"] == 2
    job = json.dumps(experiment["spec"]["trialTemplate"])
    assert "ghcr.io/lexdpr/lexdpr:9.9-cuda" in job and "my-pvc" in job and "team-s3" in job
    assert "s3://b/pairs/pairs_train.jsonl" in job  # the trials read the pipeline's artifacts
    assert best.trial.startswith(experiment["metadata"]["name"])
    config = yaml.safe_load((tmp_path / "best" / "best.yaml").read_text())
    assert config["data.passages"] == "s3://b/corpus/merged_corpus.jsonl"
    assert set(best.values) <= set(config)
    # running the stage again waits on the same Experiment instead of creating another
    tune.run(req, messages.append, api=katib, sleep=clock.sleep)
    assert [r.verb for r in katib.requests].count("create") == 1
    assert any("exists: waiting" in m for m in messages)
