from __future__ import annotations

import io
import json
import os
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lexdpr.tracking.run_folder import RunFolder, nest, new_run_id
from lexdpr.tracking.stdout_metrics import MetricEcho, metric_lines
from lexdpr.tracking.tracker import RunTracker
from lexdpr.tracking.wandb_mirror import WandbMirror


def test_nest_groups_by_prefix():
    assert nest({"train/loss": 1.0, "train/lr": 0.1, "eval/ndcg_at_10": 0.5, "x": 1}) == {
        "train": {"loss": 1.0, "lr": 0.1},
        "eval": {"ndcg_at_10": 0.5},
        "x": 1,
    }


def test_create_log_update_and_latest_link(tmp_path):
    run_id = new_run_id()
    assert len(run_id) == 8 and run_id.isalnum()
    folder = RunFolder.create(tmp_path, run_id, "trainer:\n  lr: 0.1\n", {"sweep_id": "sw1"})
    assert folder.path.name.startswith("run-") and folder.path.name.endswith(f"-{run_id}")
    assert (tmp_path / "latest-run").is_symlink() and os.readlink(tmp_path / "latest-run") == folder.path.name
    meta = folder.metadata()
    assert meta["state"] == "running" and meta["run_id"] == run_id and meta["sweep_id"] == "sw1"
    assert (folder.path / "config.yaml").read_text() == "trainer:\n  lr: 0.1\n"
    assert folder.files_dir.is_dir()

    folder.log(1, {"train/loss": 2.0})
    folder.log(2, {"eval/ndcg_at_10": 0.25, "eval/fingerprint": "abc", "valid/loss": 1.5})
    lines = (folder.path / "wandb-events.jsonl").read_text().splitlines()
    first, second = (json.loads(x) for x in lines)
    assert first["_step"] == 1 and first["train"] == {"loss": 2.0}
    assert second["eval"] == {"ndcg_at_10": 0.25, "fingerprint": "abc"} and second["valid"] == {"loss": 1.5}

    folder.update(state="failed", reason="boom")
    assert folder.metadata()["state"] == "failed" and folder.metadata()["reason"] == "boom"
    folder.update(state="running", reason=None)
    assert "reason" not in folder.metadata()
    with pytest.raises(ValueError):
        folder.update(state="exploded")
    assert [
        p.name for p in folder.path.iterdir() if p.name.startswith(".")
    ] == []  # atomic writes left no temps

    assert RunFolder.find(tmp_path, run_id).path == folder.path
    assert RunFolder.find(tmp_path, "nope") is None


def test_truncate_events_after_a_step(tmp_path):
    folder = RunFolder.create(tmp_path, "abcd1234", "", {})
    for step in range(6):
        folder.log(step, {"train/loss": float(step)})
    assert folder.truncate_events(3) == 2
    assert [e["_step"] for e in folder.events()] == [0, 1, 2, 3]


def test_stdout_lines_for_katib():
    metrics = {
        "eval/ndcg_at_10": 0.51234567,
        "eval/fingerprint": "abc",
        "valid/loss": 1.25,
        "train/loss": 3.0,
        "eval/recall_at_1": float("nan"),
    }
    assert metric_lines(metrics) == ["eval/ndcg_at_10=0.512346", "valid/loss=1.25"]
    stream = io.StringIO()
    MetricEcho(clock=lambda: datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)).print(
        {"eval/mrr_at_10": 1.0}, stream
    )
    assert stream.getvalue() == "2026-01-02T03:04:05.000006Z eval/mrr_at_10=1\n"


def test_metric_timestamps_strictly_increase_when_the_clock_stands_still():
    """Katib's `latest` is the row with the newest time; equal times come back in no defined order."""
    frozen = datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=9)))
    echo = MetricEcho(clock=lambda: frozen)
    first = echo.lines({"eval/ndcg_at_10": 0.1, "valid/loss": 2.0})
    second = echo.lines({"eval/ndcg_at_10": 0.2})
    stamps = [line.split(" ", 1)[0] for line in first + second]
    # one evaluation's lines share a time (different metrics); the next is 1 µs later, in UTC
    assert stamps == ["2026-01-01T18:04:05.999999Z"] * 2 + ["2026-01-01T18:04:06.000000Z"]
    assert echo.lines({"train/loss": 1.0}) == []


def test_wandb_disabled_means_no_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert WandbMirror.start(tmp_path, "abcd1234", {}, None, resume=False) is None


def test_a_broken_wandb_does_not_stop_training(tmp_path, monkeypatch, capsys):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(wandb, "init", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no service")))
    assert WandbMirror.start(tmp_path, "abcd1234", {}, None, resume=False) is None
    assert "could not start the offline W&B run" in capsys.readouterr().err


def test_offline_wandb_run_is_written_into_files(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    folder = RunFolder.create(tmp_path, "wb123456", "", {})
    tracker = RunTracker.open(folder, {"trainer.lr": 0.1}, "sweep-7", resume=False, echo_stdout=False)
    tracker.log(0, {"eval/ndcg_at_10": 0.5, "eval/fingerprint": "abc"})
    tracker.log(1, {"train/loss": 2.0})
    tracker.finish("finished")
    runs = list((folder.files_dir / "wandb").glob("offline-run-*-wb123456"))
    assert len(runs) == 1
    # W&B's service process writes the file; it may finish a moment after `finish()` returns.
    deadline = time.monotonic() + 30
    while b"train/loss" not in (data := (runs[0] / "run-wb123456.wandb").read_bytes()):
        assert time.monotonic() < deadline, data[:200]
        time.sleep(0.1)
    assert b"eval/ndcg_at_10" in data
    assert folder.metadata()["state"] == "finished"
