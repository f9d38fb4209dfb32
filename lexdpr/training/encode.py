"""`encode`: embed queries or passages from a JSONL file into `.npy` + ids, for RAG pipelines.

Input records are pairs (`query_id`, `query_text`: encoded as queries, with the query prefix) or passages
(`id`, `text`: encoded as passages). Output: `{out}.npy` ([n, dim] unit rows in file order; float32, or
float16 with `dtype="float16"`) and `{out}.ids.json` (the ids in the same order). Both may be `s3://` URIs.

A large corpus is encoded in chunks of `chunk_size` records: each finished chunk is written atomically to a
parts folder (`{out}.npy.parts/`, or a fixed folder under the temp dir for an `s3://` output), named by a
hash of its ids, texts and the encoding settings. A killed run started again with the same arguments reuses
every finished chunk and encodes only the rest; at the end the chunks are streamed into the output file
(written atomically) and the parts folder is removed. Memory holds one chunk of vectors, not the corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lexdpr.errors import InputError
from lexdpr.storage import is_s3, read_jsonl, write_file, write_text
from lexdpr.storage.files import atomic_local_file

DEFAULT_CHUNK_SIZE = 8192
DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class EncodeResult:
    embeddings: str
    ids: str
    count: int
    dimension: int
    kind: str
    chunks_reused: int = 0


def output_paths(output: str | os.PathLike[str]) -> tuple[str, str]:
    """(`….npy`, `….ids.json`) for an output path given with or without `.npy`."""
    base = str(output)
    if base.endswith(".npy"):
        base = base[:-4]
    return base + ".npy", base + ".ids.json"


def parts_folder(npy_path: str) -> Path:
    """Where the finished chunks of an encode into `npy_path` are kept until it completes."""
    if is_s3(npy_path):
        digest = hashlib.sha1(npy_path.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"lexdpr-encode-{digest}.parts"
    return Path(npy_path + ".parts")


def encode_texts(
    model,
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    kind: Literal["auto", "query", "passage"] = "auto",
    *,
    cache_dir: str | None = None,
    device: str | None = None,
    precision: str = "auto",
    quiet: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: str = "float32",
) -> EncodeResult:
    """Embed every record of `input_path`; `kind="auto"` decides by the first record's fields."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    records = iter(read_jsonl(input_path))
    first = next(records, None)
    if first is None:
        raise InputError(str(input_path), "no records to encode")
    if kind == "auto":
        kind = "query" if "query_text" in first else "passage"
    id_key, text_key = ("query_id", "query_text") if kind == "query" else ("id", "text")

    def rows() -> Iterator[tuple[str, str]]:
        for n, rec in enumerate(_chain(first, records), start=1):
            rid, text = rec.get(id_key), rec.get(text_key)
            if rid is None or not isinstance(text, str):
                raise InputError(str(input_path), f"expected {id_key!r} and {text_key!r}", record=f"line {n}")
            yield str(rid), text

    npy_path, ids_path = output_paths(output)
    settings = json.dumps([str(model), kind, precision, device, dtype], ensure_ascii=False)
    encoder = _LazyEncoder(model, cache_dir, device, precision, kind)
    ids, chunk_files, reused = encode_in_chunks(
        rows(), parts_folder(npy_path), settings, encoder, chunk_size, dtype, quiet
    )
    dimension = assemble_npy(chunk_files, npy_path, dtype)
    write_text(ids_path, json.dumps(ids, ensure_ascii=False) + "\n")
    shutil.rmtree(parts_folder(npy_path), ignore_errors=True)
    return EncodeResult(npy_path, ids_path, len(ids), dimension, kind, reused)


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


class _LazyEncoder:
    """Loads the model on the first chunk that needs encoding (a fully resumed run loads nothing)."""

    def __init__(self, model, cache_dir: str | None, device: str | None, precision: str, kind: str) -> None:
        self._args = (model, cache_dir, device, precision)
        self.kind = kind
        self._loaded: tuple[Any, Any] | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        from lexdpr.training.evaluate import embed_texts

        if self._loaded is None:
            from lexdpr.training.model_ref import load_bi_encoder
            from lexdpr.training.runtime import pick_runtime

            model, cache_dir, device, precision = self._args
            encoder = load_bi_encoder(model, cache_dir=cache_dir)
            runtime = pick_runtime(precision, device, quiet=True)
            encoder.to(runtime.device)
            self._loaded = (encoder, runtime)
        encoder, runtime = self._loaded
        tokens = encoder.tokenize(texts, self.kind)
        vectors = embed_texts(encoder, tokens, runtime.inference_bucketing, runtime, True)
        return vectors.cpu().numpy()


def encode_in_chunks(
    rows: Iterator[tuple[str, str]],
    folder: Path,
    settings: str,
    embed,
    chunk_size: int,
    dtype: str = "float32",
    quiet: bool = True,
) -> tuple[list[str], list[Path], int]:
    """Encode (id, text) rows chunk by chunk into `folder`; returns (all ids, chunk files, chunks reused).

    `embed(texts) -> float array [len(texts), dim]`. A chunk file whose name (index + hash of `settings`, the
    chunk's ids and texts) already exists is reused as it is.
    """
    from lexdpr.progress import track

    folder.mkdir(parents=True, exist_ok=True)
    ids: list[str] = []
    files: list[Path] = []
    reused = 0

    def chunks() -> Iterator[list[tuple[str, str]]]:
        batch: list[tuple[str, str]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == chunk_size:
                yield batch
                batch = []
        if batch:
            yield batch

    for number, batch in enumerate(track(chunks(), "encoding chunks", quiet=quiet)):
        digest = hashlib.sha1(f"{settings}\n{chunk_size}".encode())
        for rid, text in batch:
            digest.update(f"\n{rid}\t{len(text)}\t".encode())
            digest.update(text.encode())
        path = folder / f"{number:06d}-{digest.hexdigest()[:20]}.npy"
        ids.extend(rid for rid, _ in batch)
        files.append(path)
        if path.is_file():
            reused += 1
            continue
        vectors = np.asarray(embed([text for _, text in batch]), dtype=dtype)
        with atomic_local_file(path) as handle:
            np.save(handle, vectors)
    return ids, files, reused


def assemble_npy(chunk_files: list[Path], npy_path: str, dtype: str) -> int:
    """Stream the chunks into one `.npy` at `npy_path` (atomically); returns the vector dimension."""
    shapes = [np.load(f, mmap_mode="r").shape for f in chunk_files]
    dimension = int(shapes[0][1])
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": (sum(s[0] for s in shapes), dimension),
    }

    def write(handle) -> None:
        np.lib.format.write_array_header_1_0(handle, header)
        for f in chunk_files:
            handle.write(np.ascontiguousarray(np.load(f, mmap_mode="r"), dtype=dtype).tobytes())

    if is_s3(npy_path):
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "embeddings.npy"
            with open(local, "wb") as handle:
                write(handle)
            write_file(npy_path, local)
    else:
        with atomic_local_file(Path(npy_path)) as handle:
            write(handle)
    return dimension
