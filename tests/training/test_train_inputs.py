"""`lex-dpr train` with a wrong input: it fails before loading anything, and a run that never saved a
checkpoint does not refuse the corrected rerun."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexdpr.errors import InputError
from lexdpr.training import trainer
from lexdpr.training.checkpoint import checkpoint_root, list_checkpoints
from lexdpr.training.config import load_config


def test_a_missing_corpus_fails_before_the_model_is_loaded_and_leaves_nothing(
    train_overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model(*args, **kwargs):
        raise AssertionError("the base model was resolved before the inputs were checked")

    monkeypatch.setattr(trainer, "base_settings", no_model)
    missing = tmp_path / "data" / "merged_corpus.jsonl"
    config = load_config(None, [*train_overrides, f"data.passages={missing}"])
    with pytest.raises(InputError) as caught:
        trainer.train(config, quiet=True)
    assert str(missing) in str(caught.value) and "data.passages" in str(caught.value)
    assert not (checkpoint_root(config.out_dir) / trainer.TRAINING_CONFIG).exists()
    assert not Path(config.run_dir).exists()


def test_every_missing_input_is_named_at_once(train_overrides: list[str], tmp_path: Path) -> None:
    config = load_config(
        None,
        [*train_overrides, f"data.pairs={tmp_path / 'p.jsonl'}", f"data.valid_pairs={tmp_path / 'v.jsonl'}"],
    )
    with pytest.raises(InputError, match=r"data\.pairs=.*p\.jsonl; data\.valid_pairs=.*v\.jsonl"):
        trainer.train(config, quiet=True)


def test_a_run_that_never_saved_a_checkpoint_does_not_block_the_corrected_rerun(
    train_overrides: list[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken_corpus.jsonl"
    broken.write_text('{"id": "p1"}\n', encoding="utf-8")  # no text: fails after the model was loaded
    first = load_config(None, [*train_overrides, f"data.passages={broken}"])
    with pytest.raises(InputError, match="missing passage text"):
        trainer.train(first, quiet=True)
    root = checkpoint_root(first.out_dir)
    assert (root / trainer.TRAINING_CONFIG).exists() and not list_checkpoints(root)

    fixed = load_config(None, [*train_overrides, "trainer.max_steps=2", "trainer.eval_steps=2"])
    result = trainer.train(fixed, quiet=True)  # a different config: refused before the fix
    assert result.state == "finished" and result.steps == 2
    assert list_checkpoints(root)
