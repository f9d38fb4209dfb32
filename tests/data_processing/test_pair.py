"""The pair record: what the pairs stage writes is what training reads, line for line and byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexdpr.data_processing.pair import Pair, read_pairs, write_pairs
from lexdpr.errors import InputError

PAIR = Pair(
    "PREC_1_1",
    "임대차 보증금의 반환",
    ("LAW_001_제3조", "LAW_001_제4조"),
    ("LAW_001_제9조",),
    {"serial": "1", "split": "train"},
)


def test_the_writer_and_the_reader_agree_and_the_line_keeps_its_field_order(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    assert write_pairs(path, [PAIR]) == 1
    assert (
        path.read_bytes()
        == (
            '{"query_id": "PREC_1_1", "query_text": "임대차 보증금의 반환", '
            '"positive_passages": ["LAW_001_제3조", "LAW_001_제4조"], "hard_negatives": ["LAW_001_제9조"], '
            '"meta": {"serial": "1", "split": "train"}}\n'
        ).encode()
    )
    (read,) = read_pairs(path)
    assert read == PAIR and dict(read.meta) == dict(PAIR.meta)


def test_reading_keeps_each_id_once_and_names_a_bad_field(tmp_path: Path) -> None:
    record = {**PAIR.to_record(), "positive_passages": ["a", "b", "a"], "query_id": 7}
    pair = Pair.from_record(record, "pairs.jsonl", 1)
    assert pair.positives == ("a", "b") and pair.query_id == "7"
    with pytest.raises(InputError, match="expected a list of passage ids") as caught:
        Pair.from_record({**record, "hard_negatives": "a"}, "pairs.jsonl", 3)
    assert caught.value.field == "hard_negatives"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="no pairs in the file"):
        read_pairs(empty)
