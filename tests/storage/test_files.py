"""Local files through `lexdpr.storage`: atomic writes, listing, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lexdpr.errors import StorageError
from lexdpr.storage import (
    exists,
    join,
    list_files,
    local_copy,
    read_bytes,
    read_text,
    write_bytes,
    write_file,
    write_text,
)
from lexdpr.storage.files import atomic_local_file


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- writing ----------------------------------------------------------------------------------------


def test_write_creates_parent_folders_and_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    write_text(target, "민법 제1조\n")
    assert read_text(target) == "민법 제1조\n"
    assert read_bytes(target) == "민법 제1조\n".encode()
    assert exists(target)


def test_failed_write_keeps_old_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_local_file(target) as handle:
        handle.write(b"new, half written")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_failed_rename_keeps_old_content_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.txt"
    write_text(target, "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="no space left"):
        write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_write_of_wrong_type_leaves_no_temp_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_bytes(tmp_path / "x.bin", "not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_written_file_gets_ordinary_permissions_not_temp_file_ones(tmp_path: Path) -> None:
    target = tmp_path / "shared.txt"
    write_text(target, "x")
    assert target.stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def test_an_overwritten_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "private.yaml"
    target.write_text("old")
    target.chmod(0o600)
    write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o600


def test_overwrite_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    write_text(target, "first version, longer")
    write_text(target, "second")
    assert read_text(target) == "second"


# -- reading ----------------------------------------------------------------------------------------


def test_write_file_copies_a_local_file_atomically(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 7))  # more than one copy chunk
    target = tmp_path / "out" / "model" / "weights.bin"
    write_file(target, source)
    assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["weights.bin"]  # no temp file left
    with pytest.raises(StorageError, match=r"missing\.bin: no such file$"):
        write_file(target, tmp_path / "missing.bin")
    assert target.read_bytes() == source.read_bytes()  # the old file stays
    assert sorted(p.name for p in target.parent.iterdir()) == ["weights.bin"]


def test_read_text_of_non_utf8_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "euc-kr.txt"
    target.write_bytes("민법".encode("euc-kr"))
    with pytest.raises(StorageError, match=r"euc-kr\.txt: not UTF-8 text \(byte 0\)"):
        read_text(target)


def test_read_text_strips_a_utf8_bom(tmp_path: Path) -> None:
    target = tmp_path / "bom.txt"
    target.write_bytes(b"\xef\xbb\xbf" + "법령".encode())
    assert read_text(target) == "법령"


def test_read_of_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"nope\.txt: no such file"):
        read_bytes(tmp_path / "nope.txt")


def test_read_of_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a folder"):
        read_bytes(tmp_path)


def test_local_copy_of_a_local_path_is_the_path(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    write_text(target, "x")
    with local_copy(target) as path:
        assert path == target


# -- listing ----------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in [
        "b.json",
        "a.json",
        "c.txt",
        "sub/d.json",
        "sub/deeper/e.json",
        ".hidden.json",
        ".out.json.k3j4h5.tmp",
        ".ipynb_checkpoints/a-checkpoint.json",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    (tmp_path / "folder.json").mkdir()  # a folder whose name matches is not a file
    return tmp_path


def _names(paths: list[str], root: Path) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.json", ["a.json", "b.json"]),
        ("*", ["a.json", "b.json", "c.txt"]),
        ("?.txt", ["c.txt"]),
        ("[ab].json", ["a.json", "b.json"]),
        ("[!a].json", ["b.json"]),
        ("**/*.json", ["a.json", "b.json", "sub/d.json", "sub/deeper/e.json"]),
        ("sub/*.json", ["sub/d.json"]),
        ("sub/**/*.json", ["sub/d.json", "sub/deeper/e.json"]),
        ("**", ["a.json", "b.json", "c.txt", "sub/d.json", "sub/deeper/e.json"]),
        (".*.json", [".hidden.json"]),
        ("*.md", []),
    ],
)
def test_list_files_matches_like_pathlib_glob_sorted_without_hidden(
    tree: Path, pattern: str, expected: list[str]
) -> None:
    assert _names(list_files(tree, pattern), tree) == expected


def test_list_files_is_sorted_by_name(tmp_path: Path) -> None:
    for name in ["10.json", "2.json", "1.json", "가.json", "B.json", "a.json"]:
        (tmp_path / name).write_text("{}")
    assert _names(list_files(tmp_path, "*.json"), tmp_path) == sorted(
        ["10.json", "2.json", "1.json", "가.json", "B.json", "a.json"]
    )


def test_list_files_accepts_a_trailing_slash(tree: Path) -> None:
    assert list_files(str(tree) + "/", "*.json") == list_files(tree, "*.json")


def test_list_files_of_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such folder"):
        list_files(tmp_path / "missing")


def test_join_keeps_s3_uris_and_local_paths() -> None:
    assert join("s3://bucket/data/", "/raw/", "x.json") == "s3://bucket/data/raw/x.json"
    assert join("s3://bucket", "x.json") == "s3://bucket/x.json"
    assert join("data", "raw", "x.json") == str(Path("data", "raw", "x.json"))


def test_read_many_reads_local_files_in_order_and_returns_errors_in_place(tmp_path: Path) -> None:
    from lexdpr.storage import read_many

    (tmp_path / "a.json").write_bytes(b"A")
    (tmp_path / "b.json").write_bytes(b"B")
    asked = [str(tmp_path / "b.json"), str(tmp_path / "gone.json"), str(tmp_path / "a.json")]
    got = list(read_many(asked))
    assert [uri for uri, _ in got] == asked
    assert got[0][1] == b"B" and got[2][1] == b"A"
    assert isinstance(got[1][1], StorageError) and "no such file" in str(got[1][1])


def test_atomic_local_folder_publishes_complete_readable_folders_only(tmp_path: Path) -> None:
    from lexdpr.storage.files import atomic_local_folder

    target = tmp_path / "model"
    with atomic_local_folder(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"v1")
        assert not target.exists()  # nothing is visible before the block ends
    assert (target / "weights.bin").read_bytes() == b"v1"
    assert target.stat().st_mode & 0o777 == 0o777 & ~_current_umask()
    assert (target / "weights.bin").stat().st_mode & 0o777 == 0o666 & ~_current_umask()

    with pytest.raises(RuntimeError), atomic_local_folder(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert (target / "weights.bin").read_bytes() == b"v1"  # the old folder stays
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp folder left behind

    with atomic_local_folder(target, replace=True) as tmp:
        (tmp / "weights.bin").write_bytes(b"v2")
    assert (target / "weights.bin").read_bytes() == b"v2"
    with atomic_local_folder(target, replace=False) as tmp:  # another builder was first: theirs wins
        (tmp / "weights.bin").write_bytes(b"v3")
    assert (target / "weights.bin").read_bytes() == b"v2"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


@pytest.mark.parametrize("rel", ["", "/etc/passwd", "a//b", "a/../../b", "..", "./a", "a/.", "a\\..\\..\\b"])
def test_local_path_under_refuses_paths_that_leave_the_target(tmp_path: Path, rel: str) -> None:
    from lexdpr.storage import local_path_under

    with pytest.raises(StorageError, match=r"s3://b/k: refusing the object key"):
        local_path_under(tmp_path, rel, "s3://b/k")


def test_local_path_under_keeps_ordinary_keys_inside(tmp_path: Path) -> None:
    from lexdpr.storage import local_path_under

    assert local_path_under(tmp_path, "a/b.json", "s3://b/a/b.json") == tmp_path / "a" / "b.json"
