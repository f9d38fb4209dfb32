"""The raw-document reader both data stages use: a file's kind from its keys, and every unreadable file an
`InputError` naming it."""

from __future__ import annotations

import pytest

from lexdpr.data_processing.raw_documents import (
    SourceKind,
    detect_kind,
    parse_json_document,
    relative_name,
)
from lexdpr.errors import InputError, StorageError


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        ({"법령": {}}, SourceKind.LAW),
        ({"AdmRulService": {}}, SourceKind.ADMIN),
        ({"PrecService": {}}, SourceKind.PRECEDENT),
        ({"판례일련번호": "1"}, SourceKind.PRECEDENT),
        ({"other": 1}, None),
        ([1, 2], None),
    ],
)
def test_the_kind_comes_from_the_top_level_keys(doc: object, kind: SourceKind | None) -> None:
    assert detect_kind(doc) is kind


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"  \n", "the file is empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": ', "not valid JSON"),
        (b'{"a": "\\ud800"}', "unpaired surrogate"),
        (StorageError("x.json: permission denied"), "permission denied"),
    ],
)
def test_an_unreadable_file_is_an_input_error_naming_it(raw: bytes | StorageError, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as caught:
        parse_json_document(raw, "laws/x.json")
    assert caught.value.file == "laws/x.json"


def test_names_are_relative_to_the_source_folder() -> None:
    assert relative_name("s3://b/raw/laws/x.json", "s3://b/raw/") == "laws/x.json"
    assert relative_name("/elsewhere/x.json", "/data") == "/elsewhere/x.json"
    assert parse_json_document('\ufeff{"법령": {}}'.encode(), "x.json") == {"법령": {}}
