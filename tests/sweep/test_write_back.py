"""sweep_id is written back into the user's file: comments, order, quoting and indentation stay as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexdpr.errors import ConfigError
from lexdpr.sweep.preset import PRESET_YAML
from lexdpr.sweep.sweep_file import load_sweep_file
from lexdpr.sweep.write_back import SWEEP_ID_COMMENT, write_new_file, write_sweep_id

USER_FILE = """\
# My sweep — tuned for the 2024 precedents
parameters:
    # the learning rate matters most
    trainer.lr:
        distribution: log_uniform_values
        min: 5e-7     # low end
        max: 1.0e-4
    model.bi_model:
        values:
          - "ko-simcse"
          - multilingual-e5-small   # small and fast
metric: {name: eval/ndcg_at_10, goal: maximize}
method: bayes  # keep it bayes
fixed:
  data.pairs: 'data/processed/pairs_train.jsonl'
# trailing comment
"""


def test_a_new_sweep_id_is_appended_and_nothing_else_changes(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(USER_FILE, encoding="utf-8")
    write_sweep_id(path, "ab12cd34")
    assert path.read_text(encoding="utf-8") == USER_FILE + f"sweep_id: ab12cd34  # {SWEEP_ID_COMMENT}\n"
    assert load_sweep_file(path).sweep_id == "ab12cd34"


def test_an_existing_sweep_id_is_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    original = USER_FILE.replace("method: bayes", "sweep_id: oldoldid  # mine\nmethod: bayes")
    path.write_text(original, encoding="utf-8")
    write_sweep_id(path, "newnewid")
    assert path.read_text(encoding="utf-8") == original.replace("oldoldid", "newnewid")


def test_a_file_without_a_final_newline_keeps_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: random\nmetric: {name: eval/ndcg_at_10, goal: maximize}", encoding="utf-8")
    write_sweep_id(path, "x1")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["method: random", "metric: {name: eval/ndcg_at_10, goal: maximize}"]
    assert lines[2].startswith("sweep_id: x1")


def test_the_preset_gets_its_id_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(PRESET_YAML, encoding="utf-8")
    write_sweep_id(path, "pr3s3t00")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(PRESET_YAML)
    assert text[len(PRESET_YAML) :].startswith("sweep_id: pr3s3t00")


def test_write_new_file_refuses_to_overwrite_a_different_file(tmp_path: Path) -> None:
    path = tmp_path / "configs" / "sweep.yaml"
    write_new_file(path, "a: 1\n")
    write_new_file(path, "a: 1\n")  # the same content: fine
    with pytest.raises(ConfigError, match=r"already exists.*--force"):
        write_new_file(path, "a: 2\n")
    write_new_file(path, "a: 2\n", force=True)
    assert path.read_text() == "a: 2\n"
    assert [p.name for p in path.parent.iterdir()] == ["sweep.yaml"]  # no temporary files left


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sweep_id:\n", "sweep_id: n3w\n"),
        ("sweep_id: null   # to be filled\n", "sweep_id: n3w   # to be filled\n"),
        ("sweep_id: 'old-id'\n", "sweep_id: n3w\n"),
    ],
)
def test_an_empty_or_quoted_sweep_id_is_filled_in(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: random  # m\n" + line + "metric: {name: eval/ndcg_at_10, goal: maximize}\n")
    write_sweep_id(path, "n3w")
    assert (
        path.read_text()
        == "method: random  # m\n" + expected + "metric: {name: eval/ndcg_at_10, goal: maximize}\n"
    )


def test_a_flow_style_file_is_rewritten_by_the_round_trip_dumper(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("{method: random, metric: {name: eval/ndcg_at_10, goal: maximize}}\n")
    write_sweep_id(path, "fl0w")
    from ruamel.yaml import YAML

    assert YAML(typ="safe").load(path.read_text()) == {
        "method": "random",
        "metric": {"name": "eval/ndcg_at_10", "goal": "maximize"},
        "sweep_id": "fl0w",
    }
