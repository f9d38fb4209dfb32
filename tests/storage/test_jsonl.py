"""JSON Lines: deterministic, byte-identical writes; bad lines located by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexdpr.errors import InputError, StorageError
from lexdpr.storage import read_jsonl, write_jsonl

RECORDS = [
    {
        "id": "LAW_001706_제1조",
        "parent_id": "001706",
        "type": "law",
        "text": "민법 제1조(법원) 민사에 관하여…",
    },
    {"id": "LAW_001706_제2조_1", "type": "law", "text": "권리의 행사와 의무의 이행은 ① 신의에 좇아", "n": 2},
    {
        "query_id": "q1",
        "positive_passages": ["a", "b"],
        "hard_negatives": [],
        "meta": {"issue": 1, "x": None},
    },
]


def test_round_trip_and_rewrite_is_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert write_jsonl(first, RECORDS) == 3
    records = list(read_jsonl(first))
    assert records == RECORDS
    write_jsonl(second, records)
    assert second.read_bytes() == first.read_bytes()


def test_format_is_utf8_without_escapes_one_object_per_line(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"id": "a", "text": "민법"}, {"b": [1, 2]}])
    assert target.read_bytes() == '{"id": "a", "text": "민법"}\n{"b": [1, 2]}\n'.encode()


def test_unicode_line_separators_inside_strings_survive(tmp_path: Path) -> None:
    # ensure_ascii=False writes U+2028/U+2029/U+0085 raw; only "\n" may end a line
    record = {"text": "첫째\u2028둘째\u2029셋째\x85넷째\x0c다섯째"}
    target = tmp_path / "sep.jsonl"
    write_jsonl(target, [record, {"n": 2}])
    assert list(read_jsonl(target)) == [record, {"n": 2}]


def test_empty_input_writes_an_empty_file(tmp_path: Path) -> None:
    target = tmp_path / "empty.jsonl"
    assert write_jsonl(target, []) == 0
    assert target.read_bytes() == b""
    assert list(read_jsonl(target)) == []


def test_blank_lines_and_crlf_are_accepted(tmp_path: Path) -> None:
    target = tmp_path / "crlf.jsonl"
    target.write_bytes(b'{"a": 1}\r\n\r\n{"a": 2}\r\n')
    assert list(read_jsonl(target)) == [{"a": 1}, {"a": 2}]


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    target = tmp_path / "bad.jsonl"
    target.write_text('{"a": 1}\n\n{"a": 2,\n{"a": 3}\n')
    with pytest.raises(InputError) as info:
        list(read_jsonl(target))
    assert info.value.file == str(target)
    assert info.value.record == "line 3"
    assert str(info.value).startswith(f"{target}, record line 3: not valid JSON")


def test_records_before_the_bad_line_are_yielded(tmp_path: Path) -> None:
    target = tmp_path / "bad.jsonl"
    target.write_text('{"a": 1}\nnot json\n')
    reader = read_jsonl(target)
    assert next(reader) == {"a": 1}
    with pytest.raises(InputError, match="line 2"):
        next(reader)


def test_a_line_that_is_not_an_object_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "list.jsonl"
    target.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"record line 2: expected a JSON object, got list"):
        list(read_jsonl(target))


def test_non_utf8_file_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    target = tmp_path / "cp949.jsonl"
    target.write_bytes('{"text": "민법"}\n'.encode("cp949"))
    with pytest.raises(StorageError, match=r"cp949\.jsonl: not UTF-8"):
        list(read_jsonl(target))


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    write_jsonl(target, RECORDS)
    before = target.read_bytes()
    with pytest.raises(TypeError):
        write_jsonl(target, [{"ok": 1}, {"not serialisable": object()}])
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
