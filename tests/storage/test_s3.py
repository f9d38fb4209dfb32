"""`s3://` paths against a real S3 server (the local Ceph RGW from `tests/support/ceph_rgw.py`)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from lexdpr.errors import StorageError
from lexdpr.storage import (
    exists,
    list_files,
    local_copy,
    read_bytes,
    read_jsonl,
    read_text,
    write_bytes,
    write_file,
    write_jsonl,
    write_text,
)
from lexdpr.storage import s3 as s3_module
from tests.support.ceph_rgw import TEST_SECRET_KEY

pytestmark = pytest.mark.s3

MiB = 1024 * 1024


def _bucket_of(uri: str) -> str:
    return uri[len("s3://") :].split("/", 1)[0]


def test_bytes_and_text_round_trip(s3_bucket: str) -> None:
    write_bytes(f"{s3_bucket}/raw/blob.bin", b"\x00\xff binary")
    write_text(f"{s3_bucket}/raw/민법.txt", "민법 제1조\n")
    assert read_bytes(f"{s3_bucket}/raw/blob.bin") == b"\x00\xff binary"
    assert read_text(f"{s3_bucket}/raw/민법.txt") == "민법 제1조\n"


def test_empty_object_round_trips(s3_bucket: str) -> None:
    write_bytes(f"{s3_bucket}/empty", b"")
    assert read_bytes(f"{s3_bucket}/empty") == b""


def test_exists(s3_bucket: str) -> None:
    write_text(f"{s3_bucket}/data/a.json", "{}")
    assert exists(f"{s3_bucket}/data/a.json")
    assert not exists(f"{s3_bucket}/data/missing.json")
    assert not exists(f"{s3_bucket}/data")  # a "folder" is not an object
    assert exists(s3_bucket)
    assert exists(s3_bucket + "/") is True
    assert not exists("s3://no-such-bucket-lexdpr")


def test_exists_under_a_missing_bucket_is_an_error_not_false(s3_bucket: str) -> None:
    with pytest.raises(
        StorageError, match=re.escape("s3://no-such-bucket-lexdpr/a.json: the bucket does not exist")
    ):
        exists("s3://no-such-bucket-lexdpr/a.json")


@pytest.fixture
def s3_tree(s3_bucket: str) -> str:
    for name in [
        "data/b.json",
        "data/a.json",
        "data/c.txt",
        "data/sub/d.json",
        "data/sub/deeper/e.json",
        "data/.hidden.json",
        "data2/not-in-data.json",
        "top.json",
    ]:
        write_text(f"{s3_bucket}/{name}", "{}")
    return s3_bucket


@pytest.mark.parametrize("suffix", ["", "/"])
def test_list_files_with_and_without_trailing_slash(s3_tree: str, suffix: str) -> None:
    assert list_files(f"{s3_tree}/data{suffix}", "*.json") == [
        f"{s3_tree}/data/a.json",
        f"{s3_tree}/data/b.json",
    ]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", ["a.json", "b.json", "c.txt"]),
        ("**/*.json", ["a.json", "b.json", "sub/d.json", "sub/deeper/e.json"]),
        ("sub/*.json", ["sub/d.json"]),
        ("sub/**/*.json", ["sub/d.json", "sub/deeper/e.json"]),
        ("**", ["a.json", "b.json", "c.txt", "sub/d.json", "sub/deeper/e.json"]),
        (".*.json", [".hidden.json"]),
        ("*.md", []),
    ],
)
def test_list_files_patterns_mean_what_they_mean_locally(
    s3_tree: str, tmp_path: Path, pattern: str, expected: list[str]
) -> None:
    got = [uri[len(f"{s3_tree}/data/") :] for uri in list_files(f"{s3_tree}/data", pattern)]
    assert got == expected
    # the same tree on disk lists the same names
    for name in ["b.json", "a.json", "c.txt", "sub/d.json", "sub/deeper/e.json", ".hidden.json"]:
        write_text(tmp_path / name, "{}")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in list_files(tmp_path, pattern)] == expected


def test_list_files_at_bucket_root(s3_tree: str) -> None:
    assert list_files(s3_tree, "*.json") == [f"{s3_tree}/top.json"]
    assert list_files(s3_tree + "/", "*.json") == [f"{s3_tree}/top.json"]


def test_list_files_of_an_empty_prefix_is_empty(s3_bucket: str) -> None:
    assert list_files(f"{s3_bucket}/nothing-here") == []


def test_list_files_follows_every_page(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_module, "LIST_PAGE_SIZE", 2)  # the real page size is 1000 keys
    names = [f"{i:02d}.json" for i in range(7)]
    for name in names:
        write_bytes(f"{s3_bucket}/many/{name}", b"{}")
    write_bytes(f"{s3_bucket}/many/sub/x.json", b"{}")
    assert list_files(f"{s3_bucket}/many") == [f"{s3_bucket}/many/{n}" for n in names]
    assert len(list_files(f"{s3_bucket}/many", "**/*.json")) == 8


def test_large_upload_is_multipart_and_downloads_intact(s3_bucket: str, s3_client: Any) -> None:
    data = os.urandom(20 * MiB + 123)  # > MULTIPART_THRESHOLD (16 MiB): two parts
    uri = f"{s3_bucket}/models/adapter.safetensors"
    write_bytes(uri, data)

    head = s3_client.head_object(Bucket=_bucket_of(s3_bucket), Key="models/adapter.safetensors")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-2"), f"not a 2-part multipart upload: ETag {head['ETag']}"

    assert hashlib.sha256(read_bytes(uri)).digest() == hashlib.sha256(data).digest()
    with local_copy(uri) as path:
        assert path.name == "adapter.safetensors"
        assert path.stat().st_size == len(data)
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert not path.exists()  # the temporary copy is gone


def test_a_local_file_is_uploaded_streamed_multipart_and_intact(
    s3_bucket: str, s3_client: Any, tmp_path: Path
) -> None:
    source = tmp_path / "model.safetensors"
    with open(source, "wb") as handle:
        for _ in range(5):
            handle.write(os.urandom(4 * MiB))
        handle.write(b"tail")
    uri = f"{s3_bucket}/models/e5/model.safetensors"
    write_file(uri, source)
    head = s3_client.head_object(Bucket=_bucket_of(s3_bucket), Key="models/e5/model.safetensors")
    assert head["ContentLength"] == source.stat().st_size
    assert head["ETag"].strip('"').endswith("-2"), head["ETag"]
    assert hashlib.sha256(read_bytes(uri)).digest() == hashlib.sha256(source.read_bytes()).digest()
    with pytest.raises(StorageError, match="no object key"):
        write_file(f"{s3_bucket}/models/", source)


def test_small_upload_is_a_single_put(s3_bucket: str, s3_client: Any) -> None:
    write_bytes(f"{s3_bucket}/small.bin", b"x" * 1024)
    head = s3_client.head_object(Bucket=_bucket_of(s3_bucket), Key="small.bin")
    assert "-" not in head["ETag"]


def test_missing_key_is_a_clear_error(s3_bucket: str) -> None:
    uri = f"{s3_bucket}/no/such/key.json"
    with pytest.raises(StorageError, match=f"^{re.escape(uri)}: no such object$"):
        read_bytes(uri)
    with pytest.raises(StorageError, match=f"^{re.escape(uri)}: no such object$"), local_copy(uri):
        pass


@pytest.mark.usefixtures("s3_bucket")
def test_missing_bucket_is_a_clear_error() -> None:
    uri = "s3://no-such-bucket-lexdpr/key.json"
    with pytest.raises(StorageError, match=f"^{re.escape(uri)}: the bucket does not exist$"):
        read_bytes(uri)
    with pytest.raises(StorageError, match=f"^{re.escape(uri)}: the bucket does not exist$"):
        write_bytes(uri, b"x")
    with pytest.raises(StorageError, match="the bucket does not exist"):
        list_files("s3://no-such-bucket-lexdpr/data")
    big = "s3://no-such-bucket-lexdpr/big.bin"
    with pytest.raises(StorageError, match=f"^{re.escape(big)}: the bucket does not exist$"):
        write_bytes(big, b"\0" * (17 * MiB))  # the multipart path fails the same way


def test_uri_without_key_is_rejected(s3_bucket: str) -> None:
    with pytest.raises(StorageError, match="no object key"):
        write_bytes(s3_bucket + "/", b"x")
    with pytest.raises(StorageError, match="no object key"):
        read_bytes(s3_bucket)


def test_wrong_secret_is_a_clear_error_that_never_shows_a_secret(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"{s3_bucket}/a.json"
    write_text(uri, "{}")
    wrong = "wrong-secret-0123456789abcdefghijKLMNOP"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    calls = [
        lambda: read_bytes(uri),  # HEAD first: a body-less 403, diagnosed further
        lambda: write_bytes(uri, b"x"),
        lambda: write_bytes(f"{s3_bucket}/big.bin", b"\0" * (17 * MiB)),
        lambda: exists(uri),
        lambda: list_files(s3_bucket),
    ]
    for call in calls:
        with pytest.raises(StorageError) as info:
            call()
        message = str(info.value)
        assert "the secret key is wrong (check AWS_SECRET_ACCESS_KEY)" in message
        assert wrong not in message
        assert TEST_SECRET_KEY not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unknown_access_key_is_a_clear_error(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEYID000000000")
    with pytest.raises(StorageError, match="the access key is not known to the server"):
        read_bytes(f"{s3_bucket}/a.json")


def test_unreachable_endpoint_is_a_clear_error(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    with pytest.raises(StorageError) as info:
        read_bytes(f"{s3_bucket}/a.json")
    assert str(info.value) == (
        f"{s3_bucket}/a.json: cannot reach the S3 endpoint http://127.0.0.1:{port} (check AWS_ENDPOINT_URL)"
    )
    assert TEST_SECRET_KEY not in str(info.value)


def test_client_follows_the_environment(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = s3_module._client()
    assert s3_module._client() is first  # cached while nothing changes
    with monkeypatch.context() as env:
        env.setenv("AWS_SECRET_ACCESS_KEY", "another-secret-0000000000")
        assert s3_module._client() is not first
    write_text(f"{s3_bucket}/again.txt", "ok")  # back on the real keys: a working client again
    assert read_text(f"{s3_bucket}/again.txt") == "ok"


def test_jsonl_on_s3_round_trips_byte_identical_to_local(s3_bucket: str, tmp_path: Path) -> None:
    records = [{"id": "LAW_1_제1조", "text": "민법\u2028제1조"}, {"id": "LAW_1_제2조", "n": [1, 2]}]
    uri = f"{s3_bucket}/corpus/passages.jsonl"
    assert write_jsonl(uri, records) == 2
    assert list(read_jsonl(uri)) == records
    write_jsonl(tmp_path / "passages.jsonl", records)
    assert read_bytes(uri) == (tmp_path / "passages.jsonl").read_bytes()
    write_jsonl(f"{s3_bucket}/corpus/again.jsonl", read_jsonl(uri))
    assert read_bytes(f"{s3_bucket}/corpus/again.jsonl") == read_bytes(uri)


def _read_all(uris: list[str]) -> list[bytes]:
    return [read_bytes(uri) for uri in uris]


def test_forked_workers_never_share_the_parents_connections(s3_bucket: str) -> None:
    """Processes forked after the parent used S3 (as `make_pairs --max-workers` does) read intact objects.

    Inherited keep-alive sockets would be shared by parent and children, and each would read the others'
    responses: an object's body would begin with `HTTP/1.1 200 OK` of another request.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    uris = [f"{s3_bucket}/fork/{n:03d}.json" for n in range(48)]
    for n, uri in enumerate(uris):
        write_bytes(uri, (f'{{"n": {n}, "pad": "' + "가" * (500 + 37 * n) + '"}').encode())
    expected = [read_bytes(uri) for uri in uris]  # the parent now holds pooled connections
    chunks = [uris[i::4] for i in range(4)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        results = list(pool.map(_read_all, chunks))
    for chunk, got in zip(chunks, results, strict=True):
        for uri, data in zip(chunk, got, strict=True):
            assert data == expected[uris.index(uri)], (uri, data[:40])
    assert read_bytes(uris[0]) == expected[0]  # and the parent's own connections still work


def test_delete_uris_removes_just_those_objects(s3_bucket: str) -> None:
    uris = [f"{s3_bucket}/del/{name}" for name in ("a.json", "b.json", "sub/c.json")]
    for uri in uris:
        write_text(uri, "{}")
    s3_module.delete_uris([uris[0], uris[2], f"{s3_bucket}/del/never-written.json"])
    assert list_files(f"{s3_bucket}/del", "**/*") == [uris[1]]
    s3_module.delete_uris([])  # nothing to do is fine


def test_read_many_keeps_the_order_and_returns_errors_in_place(s3_bucket: str) -> None:
    from lexdpr.storage import read_many

    uris = [f"{s3_bucket}/many/{n:03d}.json" for n in range(40)]
    for n, uri in enumerate(uris):
        write_text(uri, f'{{"n": {n}}}')
    missing = f"{s3_bucket}/many/missing.json"
    asked = [*uris[:20], missing, *uris[20:]]
    got = list(read_many(asked, workers=4))
    assert [uri for uri, _ in got] == asked
    for uri, content in got:
        if uri == missing:
            assert isinstance(content, StorageError) and "missing.json" in str(content)
        else:
            assert content == f'{{"n": {int(uri[-8:-5])}}}'.encode()
