"""The local runner and its cache, on a three-stage stand-in graph (`fake_stage`): which stages run, which
are skipped, what is kept for a resumption, and the same through S3."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from lexdpr import storage
from lexdpr.errors import ConfigError
from lexdpr.pipeline.local_runner import PipelineResult, StageFailed, executable, output_uri, run_local
from lexdpr.pipeline.stages import Input, Output, Stage

REPO = Path(__file__).resolve().parents[2]
FAKE = ("python", "-m", "tests.pipeline.fake_stage")


def graph(fail_once: bool = False) -> tuple[Stage, ...]:
    """a: raw file → folder a/; b: a → folder b/ (a local path, as the trainer needs); c: b → one file."""
    b_extra = ("--fail-once", "{workspace}/b.failed") if fail_once else ()
    return (
        Stage(
            "a",
            "first",
            (
                *FAKE,
                "a",
                "--read",
                "{raw_data}",
                "--write",
                "{a}/",
                "--tag",
                "{hn_per_q}",
                "--calls",
                "{workspace}/calls.log",
            ),
            outputs=(Output("a", "Dataset", "", files=("all.txt", "part.txt")),),
        ),
        Stage(
            "b",
            "second",
            (
                *FAKE,
                "b",
                "--read",
                "{a}/all.txt",
                "--write",
                "{b}/",
                "--calls",
                "{workspace}/calls.log",
                *b_extra,
            ),
            inputs=(Input("a"),),
            outputs=(Output("b", "Model", "", files=("all.txt", "part.txt"), local=True),),
        ),
        Stage(
            "c",
            "third",
            (*FAKE, "c", "--read", "{b}/all.txt", "--write", "{c}", "--calls", "{workspace}/calls.log"),
            inputs=(Input("b", local=True),),
            outputs=(Output("c", "Metrics", "", folder=False),),
        ),
    )


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "raw.txt"
    path.write_text("raw v1\n", encoding="utf-8")
    return path


def run(
    root: str | Path, raw: Path, ws: Path, stages: tuple[Stage, ...] | None = None, **kw: object
) -> PipelineResult:
    params = {"raw_data": str(raw), "hn_per_q": kw.pop("hn_per_q", 1), "workspace": str(ws)}
    console = Console(file=io.StringIO(), width=200)
    return run_local(
        str(root), params, stages=stages or graph(), console=console, env={"PYTHONPATH": str(REPO)}, **kw
    )


def statuses(result: PipelineResult) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


def calls(ws: Path) -> list[str]:
    path = ws / "calls.log"
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def test_unchanged_stages_are_skipped(tmp_path: Path, raw: Path) -> None:
    root, ws = tmp_path / "store", tmp_path / "ws"
    assert statuses(run(root, raw, ws)) == {"a": "ran", "b": "ran", "c": "ran"}
    assert statuses(run(root, raw, ws)) == {"a": "cached", "b": "cached", "c": "cached"}
    assert calls(ws) == ["a", "b", "c"]
    assert (root / "c.json").read_text() == "raw v1\na:1\nb:\nc:\n"
    record = json.loads((root / ".cache" / "b.json").read_text())
    assert record["state"] == "done" and set(record["outputs"]["b"]["files"]) == {"all.txt", "part.txt"}


def test_a_changed_input_reruns_its_stage_and_what_depends_on_it(tmp_path: Path, raw: Path) -> None:
    root, ws = tmp_path / "store", tmp_path / "ws"
    run(root, raw, ws)
    raw.write_text("raw v2\n", encoding="utf-8")  # same path, new content
    assert statuses(run(root, raw, ws)) == {"a": "ran", "b": "ran", "c": "ran"}
    assert statuses(run(root, raw, ws, hn_per_q=2)) == {"a": "ran", "b": "ran", "c": "ran"}
    assert (root / "c.json").read_text() == "raw v2\na:2\nb:\nc:\n"


def test_a_rerun_stage_whose_output_comes_out_the_same_does_not_rerun_the_next(
    tmp_path: Path, raw: Path
) -> None:
    root, ws = tmp_path / "store", tmp_path / "ws"
    run(root, raw, ws)
    (root / "b" / "all.txt").unlink()  # an output went missing: b runs again, writes the same bytes
    assert statuses(run(root, raw, ws)) == {"a": "cached", "b": "ran", "c": "cached"}
    (root / "c.json").write_text("x")  # a damaged output (other size): c runs again
    assert statuses(run(root, raw, ws)) == {"a": "cached", "b": "cached", "c": "ran"}


def test_force_runs_every_stage(tmp_path: Path, raw: Path) -> None:
    root, ws = tmp_path / "store", tmp_path / "ws"
    run(root, raw, ws)
    assert statuses(run(root, raw, ws, force=True)) == {"a": "ran", "b": "ran", "c": "ran"}


def test_until_stops_after_a_stage_and_the_rest_continues_later(tmp_path: Path, raw: Path) -> None:
    root, ws = tmp_path / "store", tmp_path / "ws"
    assert statuses(run(root, raw, ws, until="a")) == {"a": "ran"}
    assert statuses(run(root, raw, ws)) == {"a": "cached", "b": "ran", "c": "ran"}
    with pytest.raises(ConfigError, match="not a stage"):
        run(root, raw, ws, until="z")


def test_a_stopped_stage_resumes_from_its_partial_output(tmp_path: Path, raw: Path) -> None:
    root, ws = tmp_path / "store", tmp_path / "ws"
    with pytest.raises(StageFailed) as info:
        run(root, raw, ws, stages=graph(fail_once=True))
    message = str(info.value)
    assert "b failed (exit code 1)" in message and "stopping halfway on purpose" in message
    assert str(ws / "logs" / "b.log") in message
    assert json.loads((root / ".cache" / "b.json").read_text())["state"] == "running"
    # same key: the partial output is kept and the stage finishes from it
    assert statuses(run(root, raw, ws, stages=graph(fail_once=True))) == {
        "a": "cached",
        "b": "ran",
        "c": "ran",
    }
    assert (root / "b" / "part.txt").read_text() == "partial\n"


def test_a_stage_rerun_with_other_inputs_starts_from_empty_outputs(tmp_path: Path, raw: Path) -> None:
    root, ws = tmp_path / "store", tmp_path / "ws"
    with pytest.raises(StageFailed):
        run(root, raw, ws, stages=graph(fail_once=True))
    with pytest.raises(StageFailed, match="resumed without the partial output"):
        run(root, raw, ws, stages=graph(fail_once=True), hn_per_q=5)


def test_unknown_parameters_are_refused(tmp_path: Path, raw: Path) -> None:
    with pytest.raises(ConfigError, match="unknown pipeline parameter"):
        run_local(str(tmp_path), {"raw_data": str(raw), "nope": 1}, stages=graph())


def test_commands_run_with_this_interpreter() -> None:
    import sys

    assert executable(["lex-dpr", "data", "pairs"]) == [sys.executable, "-m", "lexdpr.cli", "data", "pairs"]
    assert executable(["python", "-m", "x"]) == [sys.executable, "-m", "x"]
    assert output_uri("s3://b/p", Output("metrics", "Metrics", "", folder=False)) == "s3://b/p/metrics.json"


def test_the_same_through_s3_with_local_staging_for_local_only_outputs(
    s3_bucket: str, tmp_path: Path, raw: Path
) -> None:
    root, ws = f"{s3_bucket}/run", tmp_path / "ws"
    assert statuses(run(root, raw, ws)) == {"a": "ran", "b": "ran", "c": "ran"}
    assert storage.read_text(f"{root}/c.json") == "raw v1\na:1\nb:\nc:\n"
    assert storage.exists(f"{root}/b/part.txt")  # written to a local folder, uploaded after the stage
    assert json.loads(storage.read_text(f"{root}/.cache/c.json"))["state"] == "done"
    assert statuses(run(root, raw, ws)) == {"a": "cached", "b": "cached", "c": "cached"}
    assert not (tmp_path / "run").exists()
    # a stopped stage's partial output is uploaded too, and the next run resumes from it
    with pytest.raises(StageFailed):
        run(f"{s3_bucket}/again", raw, ws, stages=graph(fail_once=True))
    assert storage.read_text(f"{s3_bucket}/again/b/part.txt") == "partial\n"
    assert statuses(run(f"{s3_bucket}/again", raw, ws, stages=graph(fail_once=True)))["b"] == "ran"


def test_the_summary_shows_the_model_against_both_baselines_and_where_it_is() -> None:
    from lexdpr.pipeline.local_runner import StageResult, print_summary

    def metrics(value: float) -> dict[str, object]:
        return {
            "eval/ndcg_at_10": value,
            "eval/recall_at_10": value,
            "eval/mrr_at_10": value,
            "eval/ndcg_at_1": value,
            "eval/recall_at_1": value,
            "eval/recall_at_5": value,
        }

    result = PipelineResult(
        storage="out/demo",
        stages=[StageResult("evaluate", "ran", 3.0), StageResult("export", "cached", 0.0)],
        seconds=65.0,
        summary={
            "eval/fingerprint": "abc",
            "models": {"model": metrics(0.61), "zero_shot": metrics(0.55), "bm25": metrics(0.52)},
            "beats_bm25": True,
            "beats_zero_shot": True,
            "verdict": {"passed": False, "outcomes": [{"rule": "train_converges", "status": "fail"}]},
        },
        best={
            "trial": "1",
            "sweep": "s1",
            "metric": "eval/ndcg_at_10",
            "objective": 0.8,
            "values": {"trainer.lr": 0.0002},
        },
        artifacts={
            "model": "out/demo/model",
            "checkpoints": "out/demo/checkpoints",
            "report": "out/demo/report",
        },
    )
    out = io.StringIO()
    print_summary(result, Console(file=out, width=200))
    text = out.getvalue()
    assert "1 stage(s) ran, 1 unchanged" in text
    assert "eval/ndcg_at_10" in text and "0.6100" in text and "0.5500" in text and "0.5200" in text
    assert "failed (train_converges)" in text and "trainer.lr=0.0002" in text
    assert "model: out/demo/model" in text


def test_s3_mistakes_are_clear_errors_without_credentials(
    s3_bucket: str, tmp_path: Path, raw: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lexdpr.errors import StorageError
    from lexdpr.storage import s3

    with pytest.raises(StorageError, match="the bucket does not exist"):
        run(f"{s3_bucket}-missing/run", raw, tmp_path / "ws")
    missing = f"{s3_bucket}/no-such-raw-data"  # a typo in an input: said before any stage runs
    with pytest.raises(ConfigError, match=f"pipeline parameter raw_data: {missing}: no such object, and no"):
        run_local(
            f"{s3_bucket}/run", {"raw_data": missing, "workspace": str(tmp_path / "ws")}, stages=graph()
        )
    secret = "wrong-secret-key-0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    s3.clear_client_cache()
    with pytest.raises(StorageError) as info:
        run(f"{s3_bucket}/run", raw, tmp_path / "ws")
    assert "secret key is wrong" in str(info.value) and secret not in str(info.value)
