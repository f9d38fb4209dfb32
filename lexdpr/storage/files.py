"""Read, write and list files by URI: a local path or `s3://bucket/key`.

Local writes are atomic (a temporary file in the target folder, then `os.replace`), so a killed run
never leaves a half-written output behind; S3 puts are atomic by nature.

`list_files` means the same on both: glob patterns as `pathlib` reads them (`*` stays inside one folder,
`**` spans any number of folders), files only, hidden names (starting with `.`) left out unless the
pattern asks for them, sorted by name.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import shutil
import stat
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

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


def read_many(uris: Sequence[str], workers: int = 16) -> Iterator[tuple[str, bytes | StorageError]]:
    """Each URI with its content, or the `StorageError` that reading it raised, in the order given.

    Why: small S3 objects cost a round trip each, so reading thousands one after the other leaves the link
    idle; here up to `2 × workers` S3 reads run ahead of the consumer in threads (the window bounds the
    memory held). Local files are read as they are consumed. Errors are returned, not raised, so a caller
    can report a bad file and go on with the next.
    """

    def attempt(uri: str) -> bytes | StorageError:
        try:
            return read_bytes(uri)
        except StorageError as exc:
            return exc

    if not any(is_s3(uri) for uri in uris):
        for uri in uris:
            yield uri, attempt(uri)
        return
    pending = iter(uris)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="lexdpr-read") as pool:
        window: deque[tuple[str, Future[bytes | StorageError]]] = deque(
            (uri, pool.submit(attempt, uri)) for uri in itertools.islice(pending, 2 * max(1, workers))
        )
        while window:
            uri, future = window.popleft()
            following = next(pending, None)
            if following is not None:
                window.append((following, pool.submit(attempt, following)))
            yield uri, future.result()


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


def write_file(uri: str | os.PathLike[str], source: Path) -> None:
    """Copy the local file `source` to `uri` atomically, streamed: model weights are not read into memory."""
    if not source.is_file():
        raise StorageError(f"{source}: no such file")
    if is_s3(uri):
        s3.upload_file(source, str(uri))
        return
    with atomic_local_file(Path(uri)) as handle, open(source, "rb") as src:
        shutil.copyfileobj(src, handle, 1 << 20)


@contextlib.contextmanager
def atomic_local_file(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary handle to a temp file next to `path`; rename it into place on success.

    On any error the temp file is removed and an existing `path` keeps its old content. The file gets the
    permissions an ordinary `open(path, "w")` would leave it with (not the 0600 of a temp file): a file
    that exists keeps its own — a user's hand-edited file stays as they set it — and a new one gets 0666
    less the umask. This is the one atomic writer of local files; everything else writes through it.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _existing_mode(path) or _new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_local_folder(target: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield an empty temp folder next to `target`; publish it as `target` when the block succeeds.

    Readers see the old folder or the complete new one, never a part: the files are flushed to disk, given
    the modes a plain mkdir/open would (mkdtemp makes 0700), and the folder is renamed into place. On any
    error the temp folder is removed. With `replace`, an existing `target` is moved aside and deleted after
    the swap (put back if the swap fails); without, an existing `target` wins and ours is discarded — how
    concurrent builders of the same folder (e.g. a shared model cache) settle, as they write the same bytes.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise _unwritable(target, exc) from None
    try:
        yield tmp
        _publish_folder(tmp, target, replace)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _unwritable(path: Path, exc: OSError, what: str | None = None) -> StorageError:
    """Why `path` cannot be written, naming the nearest existing folder on its way (or the file blocking it)."""
    blocker = path.parent
    while not blocker.exists() and blocker != blocker.parent:
        blocker = blocker.parent
    if not blocker.is_dir():
        why = f"{blocker} is not a folder"
    else:
        why = f"cannot create files or folders in {blocker}: {(exc.strerror or str(exc)).lower()}"
    return StorageError(f"{what or path}: cannot write here ({why})")


def ensure_writable_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Create the local `folder` if needed and prove that files can be made in it, or a `StorageError`
    naming `what` (e.g. `out_dir=…`) — before hours of work end in a failed write."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _unwritable(path / ".write-check", exc, what) from None
    return path


def _publish_folder(tmp: Path, target: Path, replace: bool) -> None:
    _make_readable(tmp)
    _fsync_tree(tmp)
    if target.exists() and not target.is_dir():
        raise StorageError(f"{target}: exists and is not a folder; refusing to replace it")
    if target.exists() and replace:
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        aside = old / target.name
        os.rename(target, aside)
        try:
            os.rename(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):  # put the previous folder back rather than lose it
                os.rename(aside, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process published it first
    _fsync_dir(target.parent)


def _make_readable(folder: Path) -> None:
    folder.chmod(0o777 & ~_umask())
    for path in folder.rglob("*"):
        path.chmod(0o777 & ~_umask() if path.is_dir() else _new_file_mode())


def _fsync_tree(folder: Path) -> None:
    """Flush every file before the rename publishes them, so a crash cannot expose empty files."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


@functools.cache
def _umask() -> int:
    """The process umask, read from /proc where possible (`os.umask` is not thread-safe)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_file_mode() -> int:
    """0666 less the process umask."""
    return 0o666 & ~_umask()


def _existing_mode(path: Path) -> int | None:
    """The permission bits of the regular file at `path`, or None if there is none."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mode & 0o777 if stat.S_ISREG(info.st_mode) else None


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every file system allows fsync on a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def exists(uri: str | os.PathLike[str]) -> bool:
    if is_s3(uri):
        return s3.exists(str(uri))
    return Path(uri).exists()


def list_files(prefix: str | os.PathLike[str], pattern: str = "*") -> list[str]:
    """Files under a folder (or S3 prefix) matching the glob `pattern`, sorted by name.

    `*`, `?` and `[...]` match within one folder; `**` matches any number of folders (`**/*.json` finds
    JSON files at every depth). Hidden files and folders are skipped unless the pattern part that meets
    them starts with `.`, so half-written temp files and `.ipynb_checkpoints` never show up.
    `s3://bucket/prefix` and `s3://bucket/prefix/` are the same folder.
    """
    matcher = _glob_regex(pattern)
    if is_s3(prefix):
        base = str(prefix).rstrip("/") + "/"
        if base == "s3://":
            raise StorageError(f"{prefix}: no bucket in the URI (expected s3://bucket/prefix)")
        literal = _literal_folders(pattern)
        rest = pattern[len(literal) :]
        recursive = "/" in rest or "**" in rest
        uris = s3.list_uris(base + literal, recursive=recursive)
        return sorted(u for u in uris if not u.endswith("/") and matcher.match(u[len(base) :]))
    folder = Path(prefix)
    if not folder.is_dir():
        raise StorageError(f"{folder}: no such folder")
    out = []
    walk = (
        pattern + "/*" if pattern.rstrip("/").endswith("**") else pattern
    )  # pathlib's "**" yields folders only
    for path in folder.glob(walk):
        rel = path.relative_to(folder).as_posix()
        if matcher.match(rel) and path.is_file():
            out.append(str(path))
    return sorted(out)


def _literal_folders(pattern: str) -> str:
    """The leading folders of `pattern` that hold no wildcard (`a/b/` of `a/b/*.json`): a cheaper listing."""
    literal = ""
    for part in pattern.split("/")[:-1]:
        if any(ch in part for ch in "*?[") or part in {"", ".", ".."}:
            break
        literal += part + "/"
    return literal


@functools.lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for relative POSIX paths, with pathlib's glob meaning and hidden names excluded."""
    parts = [p for p in pattern.split("/") if p not in {"", "."}]
    if not parts:
        raise StorageError(f"{pattern!r}: empty file pattern")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            # zero or more visible folders (and, as the last part, any visible file below them)
            regex += r"(?:(?!\.)[^/]*/)*" + (r"(?!\.)[^/]+" if last else "")
            continue
        regex += ("" if part.startswith(".") else r"(?!\.)") + _segment_regex(part) + ("" if last else "/")
    return re.compile(regex + r"\Z")


def _segment_regex(part: str) -> str:
    """fnmatch rules for one path part; no wildcard crosses a `/`."""
    out = ""
    i = 0
    while i < len(part):
        ch = part[i]
        i += 1
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            j = i
            if j < len(part) and part[j] == "!":
                j += 1
            if j < len(part) and part[j] == "]":
                j += 1  # a "]" first in the set is a literal
            end = part.find("]", j)
            if end < 0:
                out += re.escape(ch)
                continue
            body = part[i:end]
            i = end + 1
            negate = body.startswith("!")
            body = "".join(c if c == "-" else re.escape(c) for c in body[1 if negate else 0 :])
            out += f"[{'^' if negate else ''}{body}]"
        else:
            out += re.escape(ch)
    return out


def local_path_under(target: Path, relative: str, uri: str | os.PathLike[str]) -> Path:
    """`target / relative` for a path taken from a remote key, refused unless it stays inside `target`.

    An object key may hold anything: `a//b` (an empty segment, which `Path` would read as the absolute
    `/b`), `..`, `.` or a leading `/`. Any of these is a `StorageError` naming the object, never a write
    outside the folder it was meant for.
    """
    parts = relative.replace("\\", "/").split("/")
    if not relative or any(part in {"", ".", ".."} for part in parts) or "\0" in relative:
        raise StorageError(
            f"{uri}: refusing the object key: its path below the folder ({relative!r}) is empty, absolute "
            f"or has an empty, '.' or '..' segment, so it could be written outside {target}"
        )
    return target.joinpath(*parts)


@contextlib.contextmanager
def local_copy(uri: str | os.PathLike[str]) -> Iterator[Path]:
    """A local path holding the file at `uri` (downloaded to a temp file for S3, deleted afterwards)."""
    if not is_s3(uri):
        yield Path(uri)
        return
    with tempfile.TemporaryDirectory(prefix="lexdpr-") as tmp:
        name = str(uri).rstrip("/").rsplit("/", 1)[-1] or "object"
        path = local_path_under(Path(tmp), name, uri)
        s3.download_file(str(uri), path)
        yield path
