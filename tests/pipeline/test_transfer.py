"""Content hashes and copies of artifact folders, local and on S3 (what the local runner's cache compares)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lexdpr.pipeline import transfer


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    for n in range(30):
        (root / f"{n:02d}.json").write_text(f'{{"n": {n}}}', encoding="utf-8")
    (root / "sub" / "x.json").write_text("민법", encoding="utf-8")
    return root


def test_content_hash_depends_on_names_and_bytes_not_on_times(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "a")
    before = transfer.content_hash(str(tree))
    os.utime(tree / "00.json", (1, 1))
    assert transfer.content_hash(str(tree)) == before
    (tree / "00.json").write_text('{"n": 100}', encoding="utf-8")
    assert transfer.content_hash(str(tree)) != before
    (tree / "00.json").write_text('{"n": 0}', encoding="utf-8")
    (tree / "00.json").rename(tree / "zz.json")
    assert transfer.content_hash(str(tree)) != before


@pytest.mark.s3
def test_a_folder_hashes_the_same_on_s3_as_on_disk(s3_bucket: str, tmp_path: Path) -> None:
    tree = _tree(tmp_path / "a")
    transfer.upload(tree, f"{s3_bucket}/tree")
    assert transfer.content_hash(f"{s3_bucket}/tree") == transfer.content_hash(str(tree))
    assert transfer.content_hash(f"{s3_bucket}/tree/sub/x.json") == transfer.content_hash(
        str(tree / "sub" / "x.json")
    )


@pytest.mark.s3
def test_download_refuses_keys_that_leave_the_target_folder(s3_bucket: str, tmp_path: Path) -> None:
    """`raw//tmp/x` is `/tmp/x` to `Path`: a key like that must not be written outside the target folder.

    (`..` segments never reach a listing: the S3 client normalises them away when it stores the object;
    `storage.local_path_under` refuses them all the same, see tests/storage/test_files.py.)
    """
    from lexdpr import storage
    from lexdpr.errors import StorageError

    outside = tmp_path / "outside.txt"
    storage.write_bytes(f"{s3_bucket}/raw/ok.json", b"{}")
    rel = str(outside)  # "raw/" + "/tmp/…/outside.txt": an empty segment
    storage.write_bytes(f"{s3_bucket}/raw/{rel}", b"escaped")
    assert f"{s3_bucket}/raw/{rel}" in storage.list_files(f"{s3_bucket}/raw", "**")
    target = tmp_path / "dl" / "raw"
    with pytest.raises(StorageError, match="refusing the object key"):
        transfer.download(f"{s3_bucket}/raw", target)
    assert not outside.exists()
    assert not (tmp_path / "dl" / outside.name).exists()
