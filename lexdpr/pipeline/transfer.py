"""Folders in storage (a local folder or an `s3://` prefix): hash, list, copy and clear them.

What the KFP launcher does around a container — download its input artifacts, upload its outputs — the
local runner does with these, for the stages whose commands need local paths (a model folder). Reads and
writes go through `lexdpr.storage`, so S3 keeps its multipart transfers, retries and credential-free errors.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from lexdpr import storage
from lexdpr.errors import StorageError
from lexdpr.storage import s3

#: Read files in blocks this big when hashing local files (models are hundreds of MB).
_BLOCK = 1 << 20


def is_folder(uri: str) -> bool:
    """A local folder, or an S3 prefix (not an object of that exact key)."""
    if storage.is_s3(uri):
        return not storage.exists(uri)
    return Path(uri).is_dir()


def files_under(uri: str) -> list[str]:
    """Relative POSIX paths of the files under a folder or prefix (hidden ones left out), sorted."""
    base = uri.rstrip("/")
    return [f[len(base) + 1 :].replace("\\", "/") for f in storage.list_files(base, "**")]


def _file_digest(uri: str) -> str:
    if storage.is_s3(uri):
        return hashlib.sha256(storage.read_bytes(uri)).hexdigest()
    digest = hashlib.sha256()
    try:
        with open(uri, "rb") as handle:
            while block := handle.read(_BLOCK):
                digest.update(block)
    except FileNotFoundError:
        raise StorageError(f"{uri}: no such file") from None
    return digest.hexdigest()


def content_hash(uri: str) -> str:
    """sha256 of a file's bytes, or of a folder's (relative path, file hash) list.

    Names take part, modification times do not: the same content at another time or place hashes the same.
    """
    if not is_folder(uri):
        return _file_digest(uri)
    digest = hashlib.sha256()
    names = files_under(uri)
    if storage.is_s3(uri) and not names:  # S3 has no empty folders: nothing there means a wrong URI
        raise StorageError(f"{uri}: no such object, and no object under it as a prefix")
    if storage.is_s3(uri):  # many small objects: read them ahead in parallel
        contents = storage.read_many([storage.join(uri, rel) for rel in names])
        for rel, (_, raw) in zip(names, contents, strict=True):
            if isinstance(raw, StorageError):
                raise raw
            digest.update(f"{rel}\0{hashlib.sha256(raw).hexdigest()}\n".encode())
        return digest.hexdigest()
    for rel in names:
        digest.update(f"{rel}\0{_file_digest(storage.join(uri, rel))}\n".encode())
    return digest.hexdigest()


def manifest(uri: str) -> dict[str, int]:
    """Relative path → size of the files of a folder (or one file: {"": size}); sizes are -1 on S3."""
    if storage.is_s3(uri):
        return {rel: -1 for rel in files_under(uri)} if is_folder(uri) else {"": -1}
    path = Path(uri)
    if path.is_file():
        return {"": path.stat().st_size}
    return {rel: (path / rel).stat().st_size for rel in files_under(uri)}


def intact(uri: str, recorded: dict[str, int]) -> bool:
    """Whether the files recorded when an output was made are all still there (and, locally, as large)."""
    if not recorded:
        return storage.exists(uri) if storage.is_s3(uri) else Path(uri).exists()
    for rel, size in recorded.items():
        target = storage.join(uri, rel) if rel else uri
        if storage.is_s3(target):
            if not storage.exists(target):
                return False
        else:
            path = Path(target)
            if not path.is_file() or path.stat().st_size != size:
                return False
    return True


def download(uri: str, target: Path) -> Path:
    """Copy a file or folder from storage to a local path."""
    if not storage.is_s3(uri):
        source = Path(uri)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return target
    if not is_folder(uri):
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(uri, target)
        return target
    rels = files_under(uri)
    if not rels:
        raise StorageError(f"{uri}: nothing under this prefix")
    paths = [storage.local_path_under(target, rel, storage.join(uri, rel)) for rel in rels]  # all, before any
    for rel, path in zip(rels, paths, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(storage.join(uri, rel), path)
    return target


def upload(source: Path, uri: str) -> None:
    """Copy a local file or folder to storage: regular files only, as object stores have no links."""
    if source.is_file():
        storage.write_file(uri, source)
        return
    for folder, _, names in sorted(os.walk(source)):
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                storage.write_file(storage.join(uri, path.relative_to(source).as_posix()), path)


def clear(uri: str) -> None:
    """Remove a file or folder from storage, so a stage's outputs never mix with an earlier run's."""
    if not storage.is_s3(uri):
        path = Path(uri)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        return
    uris = [uri] if storage.exists(uri) else [storage.join(uri, rel) for rel in files_under(uri)]
    s3.delete_uris(uris)
