"""`encode`: embed queries or passages from a JSONL file into `.npy` + ids, for RAG pipelines.

Input records are pairs (`query_id`, `query_text`: encoded as queries, with the query prefix) or passages
(`id`, `text`: encoded as passages). Output: `{out}.npy` (float32 [n, dim], unit rows, file order) and
`{out}.ids.json` (the ids in the same order). Both may be `s3://` URIs.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lexdpr.errors import InputError
from lexdpr.storage import read_jsonl, write_bytes, write_text
from lexdpr.training.evaluate import embed_texts
from lexdpr.training.runtime import pick_runtime


@dataclass(frozen=True)
class EncodeResult:
    embeddings: str
    ids: str
    count: int
    dimension: int
    kind: str


def output_paths(output: str | os.PathLike[str]) -> tuple[str, str]:
    """(`….npy`, `….ids.json`) for an output path given with or without `.npy`."""
    base = str(output)
    if base.endswith(".npy"):
        base = base[:-4]
    return base + ".npy", base + ".ids.json"


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
) -> EncodeResult:
    """Embed every record of `input_path`; `kind="auto"` decides by the first record's fields."""
    from lexdpr.training.model_ref import load_bi_encoder

    records = list(read_jsonl(input_path))
    if not records:
        raise InputError(str(input_path), "no records to encode")
    if kind == "auto":
        kind = "query" if "query_text" in records[0] else "passage"
    id_key, text_key = ("query_id", "query_text") if kind == "query" else ("id", "text")
    ids, texts = [], []
    for n, rec in enumerate(records, start=1):
        rid, text = rec.get(id_key), rec.get(text_key)
        if rid is None or not isinstance(text, str):
            raise InputError(str(input_path), f"expected {id_key!r} and {text_key!r}", record=f"line {n}")
        ids.append(str(rid))
        texts.append(text)

    encoder = load_bi_encoder(model, cache_dir=cache_dir)
    runtime = pick_runtime(precision, device, quiet=True)
    encoder.to(runtime.device)
    tokens = encoder.tokenize(texts, kind)
    vectors = embed_texts(encoder, tokens, runtime.inference_bucketing, runtime, quiet, f"encoding {kind}s")
    array = vectors.cpu().numpy().astype(np.float32)

    npy_path, ids_path = output_paths(output)
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_bytes(npy_path, buffer.getvalue())
    write_text(ids_path, json.dumps(ids, ensure_ascii=False) + "\n")
    return EncodeResult(npy_path, ids_path, len(ids), int(array.shape[1]), kind)
