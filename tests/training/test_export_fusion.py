"""`lex-dpr export --fusion`: the exported folder ships the fusion chosen for that checkpoint, or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lexdpr.cli import app
from lexdpr.errors import InputError
from lexdpr.evaluation import eval_cli
from lexdpr.retrieval.fusion import FUSION_FILE, FusionConfig, load_fusion
from lexdpr.training.export import EXPORT_INFO, export_merged
from tests.support.tiny_checkpoint import save_tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_checkpoint(tiny_model, tmp_path_factory.mktemp("run") / "checkpoint-7")


@pytest.fixture(scope="module")
def hybrid_json(checkpoint: Path, dataset: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "hybrid.json"
    argv = ["--hybrid", "--model", str(checkpoint), "--pairs", str(dataset["valid"])]
    argv += ["--valid-pairs", str(dataset["train"]), "--corpus", str(dataset["corpus"])]
    argv += ["--out", str(out), "--quiet", "--workers", "1", "--precision", "fp32"]
    assert eval_cli.main(argv) == 0
    return out


def test_export_ships_the_fusion_chosen_for_the_checkpoint(
    checkpoint: Path, hybrid_json: Path, tmp_path: Path
) -> None:
    evaluated = json.loads(hybrid_json.read_text(encoding="utf-8"))
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["export", "--model", str(checkpoint), "--out", str(tmp_path / "m"), "--fusion", str(hybrid_json)],
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "m"
    loaded = load_fusion(folder)
    assert loaded is not None
    config, record = loaded
    assert config == FusionConfig.from_dict(evaluated["fusion"])
    assert record["label"] == evaluated["hybrid/fusion"] and record["chosen_on"] == "valid"
    assert record["dense"]["model"] == "." and record["dense"]["evaluated_as"] == str(checkpoint)
    assert record["bm25"]["analyzer"] == "kiwipiepy" and record["bm25"]["content_tags"]
    assert record["valid"]["metrics"] == evaluated["fusion"]["valid"]["metrics"]
    info = json.loads((folder / EXPORT_INFO).read_text(encoding="utf-8"))
    assert info["fusion"] == FUSION_FILE
    assert record["label"] in (folder / "README.md").read_text(encoding="utf-8")


def test_without_a_fusion_the_export_says_none_was_chosen(checkpoint: Path, tmp_path: Path) -> None:
    folder = export_merged(checkpoint, tmp_path / "plain")
    assert not (folder / FUSION_FILE).exists() and load_fusion(folder) is None
    assert json.loads((folder / EXPORT_INFO).read_text(encoding="utf-8"))["fusion"] is None


def test_a_fusion_of_another_model_or_no_fusion_at_all_is_refused(
    checkpoint: Path, hybrid_json: Path, tiny_model: Path, dataset: dict[str, Path], tmp_path: Path
) -> None:
    evaluated = json.loads(hybrid_json.read_text(encoding="utf-8"))
    other = {**evaluated["fusion"], "dense": {"model": "x", "checkpoint": "checkpoint-9"}}
    with pytest.raises(InputError, match="chosen for x \\(checkpoint-9\\), not for checkpoint-7"):
        export_merged(checkpoint, tmp_path / "a", other)
    base = {**evaluated["fusion"], "dense": {"model": str(tiny_model), "checkpoint": None}}
    with pytest.raises(InputError, match="not a checkpoint"):
        export_merged(checkpoint, tmp_path / "b", base)
    plain = tmp_path / "dense.json"
    plain.write_text(json.dumps({"eval/ndcg_at_10": 0.5, "eval/fingerprint": "f"}), encoding="utf-8")
    with pytest.raises(InputError, match="not a fusion record"):
        export_merged(checkpoint, tmp_path / "c", plain)
    broken = {**evaluated["fusion"], "weight": 3.0, "method": "weighted"}
    with pytest.raises(InputError, match="weight"):
        export_merged(checkpoint, tmp_path / "d", broken)
    assert not any((tmp_path / n).exists() for n in "abcd")  # refused before anything is written
