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
