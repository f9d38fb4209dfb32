"""Finding run folders under a root and resolving `latest`, ids, prefixes, folder names and paths."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lexdpr.runs.discovery import find_run_folders, latest_name, load_runs, select_runs
from lexdpr.runs.errors import RunNotFound
from lexdpr.runs.run import describe_state, load_run
from tests.runs.synthetic import healthy_curves, write_run


def started(minutes: int) -> str:
    return (datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def pvc(tmp_path: Path) -> Path:
    """A volume where two Katib trials and one local run wrote their own wandb/ folders."""
    curves = healthy_curves(20, 10)
    write_run(
        tmp_path / "sweeps" / "s1" / "trial-a" / "wandb",
        "lexdpr-s1-trial-a",
        curves,
        metadata={"started": started(1), "sweep_id": "s1"},
    )
    write_run(
        tmp_path / "sweeps" / "s1" / "trial-b" / "wandb",
        "lexdpr-s1-trial-b",
        curves,
        metadata={"started": started(2), "sweep_id": "s1"},
    )
    local = write_run(tmp_path / "wandb", "abc12345", curves, metadata={"started": started(3)})
    # W&B's own offline run inside files/ has a metadata file too: it is not a run folder of ours
    decoy = local.path / "files" / "wandb" / "offline-run-20260101_120000-abc12345" / "files"
    decoy.mkdir(parents=True)
    (decoy / "wandb-metadata.json").write_text("{}", encoding="utf-8")
    return tmp_path


def test_run_folders_are_found_at_any_depth_and_wandb_internals_are_not(pvc: Path) -> None:
    found = find_run_folders(pvc)
    assert sorted(loc.folder_run_id for loc in found) == [
        "abc12345",
        "lexdpr-s1-trial-a",
        "lexdpr-s1-trial-b",
    ]
    assert all("offline-run" not in loc.uri for loc in found)


def test_runs_are_ordered_by_start_and_filtered_by_sweep(pvc: Path) -> None:
    assert [r.run_id for r in load_runs(pvc)] == ["lexdpr-s1-trial-a", "lexdpr-s1-trial-b", "abc12345"]
    assert [r.run_id for r in load_runs(pvc, sweep="s1")] == ["lexdpr-s1-trial-a", "lexdpr-s1-trial-b"]
    assert load_runs(pvc, sweep="other") == []


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("abc12345", "abc12345"),  # run id
        ("abc1", "abc12345"),  # unique prefix
        ("lexdpr-s1-trial-b", "lexdpr-s1-trial-b"),  # a Katib trial name with dashes
        ("latest", "abc12345"),  # no latest-run at this root: the one started last
    ],
)
def test_selectors(pvc: Path, selector: str, expected: str) -> None:
    (run,) = select_runs(pvc, [selector])
    assert run.run_id == expected


def test_a_folder_name_and_a_path_select_a_run(pvc: Path) -> None:
    (loc,) = [loc for loc in find_run_folders(pvc) if loc.folder_run_id == "abc12345"]
    assert select_runs(pvc, [loc.name])[0].run_id == "abc12345"
    assert select_runs("/nonexistent-root", [loc.uri])[0].run_id == "abc12345"  # a path needs no root
    assert select_runs(pvc, [loc.uri + "/"])[0].run_id == "abc12345"


def test_latest_follows_the_latest_run_link_then_a_pointer_file(tmp_path: Path) -> None:
    curves = healthy_curves(20, 10)
    first = write_run(tmp_path, "first111", curves, metadata={"started": started(1)})
    write_run(tmp_path, "second22", curves, metadata={"started": started(2)})
    first.point_latest()  # e.g. the first run was resumed last
    assert latest_name(tmp_path) == first.path.name
    assert select_runs(tmp_path, ["latest"])[0].run_id == "first111"
    (tmp_path / "latest-run").unlink()
    (tmp_path / "latest-run").write_text(first.path.name + "\n", encoding="utf-8")  # no symlinks there
    assert select_runs(tmp_path, ["latest"])[0].run_id == "first111"


def test_an_ambiguous_prefix_or_id_names_the_candidates(pvc: Path) -> None:
    with pytest.raises(RunNotFound, match="'lexdpr-s1' matches 2 runs"):
        select_runs(pvc, ["lexdpr-s1"])


def test_an_unknown_run_lists_the_newest_ones(pvc: Path) -> None:
    with pytest.raises(
        RunNotFound, match=r"no run 'zzz' under .*newest runs there: abc12345, lexdpr-s1-trial-b"
    ):
        select_runs(pvc, ["zzz"])


def test_a_missing_root_says_where_run_folders_are(tmp_path: Path) -> None:
    with pytest.raises(
        RunNotFound, match=r"no such folder\. Run folders are written to the trainer's run_dir"
    ):
        select_runs(tmp_path / "nope", ["latest"])
    with pytest.raises(RunNotFound, match="no run folders under"):
        select_runs(tmp_path, ["latest"])
    with pytest.raises(RunNotFound, match="not a run folder"):
        select_runs(tmp_path, [str(tmp_path)])


def test_a_root_that_is_itself_a_run_folder(pvc: Path) -> None:
    (loc,) = [loc for loc in find_run_folders(pvc) if loc.folder_run_id == "abc12345"]
    assert [x.uri for x in find_run_folders(loc.uri)] == [loc.uri]


def test_a_running_run_is_shown_as_running_with_its_age(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    folder = write_run(
        tmp_path, "live0001", healthy_curves(20, 10), state="running", metadata={"host": "a-pod", "pid": 1}
    )
    run = load_run_at(folder.path)
    assert describe_state(run, now=now + timedelta(seconds=30)).startswith("running (updated")
    stale = describe_state(run, now=now + timedelta(hours=3))
    assert stale.startswith("running? (no update for") and "may be gone" in stale


def test_a_running_run_whose_process_is_gone_on_this_host_says_so(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    folder = write_run(
        tmp_path,
        "dead0001",
        healthy_curves(20, 10),
        state="running",
        metadata={"host": socket.gethostname(), "pid": int(dead.stdout)},
    )
    assert "process is gone" in describe_state(load_run_at(folder.path))
    alive = write_run(
        tmp_path,
        "live0002",
        healthy_curves(20, 10),
        state="running",
        metadata={"host": socket.gethostname(), "pid": os.getpid()},
    )
    assert describe_state(load_run_at(alive.path)).startswith("running (updated")


def test_a_checkpoint_recorded_inside_a_pod_is_found_on_the_mounted_volume(tmp_path: Path) -> None:
    volume = tmp_path / "mnt-here"
    checkpoint = volume / "ckpt" / "t1" / "bi_encoder" / "checkpoint-40"
    checkpoint.mkdir(parents=True)
    recorded = "/mnt/pvc/ckpt/t1/bi_encoder/checkpoint-40"
    folder = write_run(
        volume / "wandb",
        "pod00001",
        healthy_curves(20, 10),
        metadata={"host": "trial-pod", "best_checkpoint": recorded, "last_checkpoint": recorded},
    )
    (ref,) = load_run_at(folder.path).checkpoints()
    assert (ref.exists, ref.path, ref.recorded_path, ref.role) == (
        True,
        str(checkpoint),
        recorded,
        "best, last",
    )


def test_a_checkpoint_that_cannot_be_reached_is_missing_here_or_unverified_elsewhere(tmp_path: Path) -> None:
    gone = "/nowhere/bi_encoder/checkpoint-9"
    here = write_run(
        tmp_path,
        "here0001",
        healthy_curves(20, 10),
        metadata={"host": socket.gethostname(), "best_checkpoint": gone},
    )
    there = write_run(
        tmp_path, "there001", healthy_curves(20, 10), metadata={"host": "pod", "best_checkpoint": gone}
    )
    assert [c.exists for c in load_run_at(here.path).checkpoints()] == [False]
    assert [c.exists for c in load_run_at(there.path).checkpoints()] == [None]


def test_a_folder_without_readable_metadata_is_state_unknown(tmp_path: Path) -> None:
    folder = write_run(tmp_path, "broken01", healthy_curves(20, 10))
    (folder.path / "wandb-metadata.json").write_text("{not json", encoding="utf-8")
    run = load_run_at(folder.path)
    assert (run.state, run.run_id) == ("unknown", "broken01")
    assert run.started is not None  # from the folder name


def load_run_at(path: Path):
    from lexdpr.runs.run import RunLocation

    return load_run(RunLocation(str(path), path.name))
