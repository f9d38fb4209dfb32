"""Training pairs from one file or several (train + valid for the pipeline's final training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexdpr.data_processing.pair import read_pairs
from lexdpr.errors import InputError
from lexdpr.training.config import load_config
from lexdpr.training.pairs import load_corpus, load_training_pairs


def test_a_list_of_files_trains_on_all_of_them_in_order(dataset: dict[str, Path]) -> None:
    corpus = load_corpus(dataset["corpus"])
    train = load_training_pairs(dataset["train"], corpus, quiet=True)
    both = load_training_pairs([dataset["train"], dataset["valid"]], corpus, quiet=True)
    valid_ids = [p.query_id for p in read_pairs(dataset["valid"])]
    assert [p.query_id for p in both] == [p.query_id for p in train] + valid_ids
    assert len(both) > len(train)


def test_a_query_in_two_files_is_an_error_naming_both(dataset: dict[str, Path], tmp_path: Path) -> None:
    corpus = load_corpus(dataset["corpus"])
    first = json.loads(dataset["train"].read_text(encoding="utf-8").splitlines()[0])
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps(first, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_training_pairs([dataset["train"], extra], corpus, quiet=True)
    message = str(caught.value)
    assert str(extra) in message and str(dataset["train"]) in message
    assert first["query_id"] in message and "query_id" in message


def test_data_pairs_takes_a_yaml_list_on_the_command_line(dataset: dict[str, Path]) -> None:
    config = load_config(
        None,
        [f"data.pairs=[{dataset['train']}, {dataset['valid']}]", f"data.passages={dataset['corpus']}"],
    )
    assert config.data.pairs == [str(dataset["train"]), str(dataset["valid"])]
    single = load_config(None, ["data.pairs=s3://bucket/pairs_train.jsonl"])
    assert single.data.pairs == "s3://bucket/pairs_train.jsonl"
