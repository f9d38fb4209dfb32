"""Read, write and list files by URI: a local path or `s3://bucket/key`.

Local writes are atomic (a temporary file in the target folder, then `os.replace`), so a killed run
never leaves a half-written output behind; S3 puts are atomic by nature.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lexdpr.errors import StorageError
from lexdpr.storage import s3

S3_PREFIX = "s3://"


def is_s3(uri: str | os.PathLike[str]) -> bool:
    return str(uri).startswith(S3_PREFIX)


def join(base: str | os.PathLike[str], *parts: str) -> str:
    """Join path parts, keeping `s3://` URIs intact."""
    if is_s3(base):
        out = str(base).rstrip("/")
        for part in parts:
            out += "/" + part.strip("/")
        return out
    return str(Path(base, *parts))


def read_bytes(uri: str | os.PathLike[str]) -> bytes:
    if is_s3(uri):
        return s3.get_bytes(str(uri))
    path = Path(uri)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise StorageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise StorageError(f"{path}: is a folder, expected a file") from None
    except PermissionError:
        raise StorageError(f"{path}: permission denied") from None


def read_text(uri: str | os.PathLike[str]) -> str:
    data = read_bytes(uri)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StorageError(f"{uri}: not UTF-8 text (byte {exc.start})") from None


def write_bytes(uri: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` atomically: readers see the old file or the new one, never a part."""
    if is_s3(uri):
        s3.put_bytes(str(uri), data)
        return
    with atomic_local_file(Path(uri)) as handle:
        handle.write(data)


def write_text(uri: str | os.PathLike[str], text: str) -> None:
    write_bytes(uri, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_local_file(path: Path) -> Iterator[object]:
    """Yield a binary handle to a temp file next to `path`; rename it into place on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def exists(uri: str | os.PathLike[str]) -> bool:
    if is_s3(uri):
        return s3.exists(str(uri))
    return Path(uri).exists()


def list_files(prefix: str | os.PathLike[str], pattern: str = "*") -> list[str]:
    """Files directly under a folder (or S3 prefix) whose name matches `pattern`, sorted by name."""
    if is_s3(prefix):
        base = str(prefix).rstrip("/") + "/"
        keys = s3.list_uris(base)
        return sorted(u for u in keys if "/" not in u[len(base) :] and fnmatch.fnmatch(u[len(base) :], pattern))
    folder = Path(prefix)
    if not folder.is_dir():
        raise StorageError(f"{folder}: no such folder")
    return sorted(str(p) for p in folder.glob(pattern) if p.is_file())


@contextlib.contextmanager
def local_copy(uri: str | os.PathLike[str]) -> Iterator[Path]:
    """A local path holding the file at `uri` (downloaded to a temp file for S3)."""
    if not is_s3(uri):
        yield Path(uri)
        return
    with tempfile.TemporaryDirectory(prefix="lexdpr-") as tmp:
        path = Path(tmp) / Path(str(uri)).name
        path.write_bytes(s3.get_bytes(str(uri)))
        yield path
