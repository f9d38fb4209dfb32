"""`export_merged`: a trained bi-encoder as a plain sentence-transformers folder.

The LoRA adapter is merged into the base weights, and the folder gets the classic sentence-transformers
files (modules.json, sentence_bert_config.json, 1_Pooling, 2_Normalize, config_sentence_transformers.json with
the query/passage prompts). `SentenceTransformer(folder)` then loads it with no lexdpr and no peft installed,
and `model.encode(texts, prompt_name="query")` gives the vectors this package computes. The format is the
one hub models use, which every sentence-transformers release from 3.0 on reads; it is written by hand
so exporting needs no sentence-transformers at run time.

With `fusion` (the `--out` file of `lex-dpr eval --hybrid`, or the pipeline's `report/hybrid.json`) the
folder also gets `lexdpr_fusion.json`: how to fuse this model with BM25, as chosen on validation pairs, so a
RAG system reproduces the evaluated hybrid (`lexdpr.retrieval.fusion.load_fusion`). Without it there is no
such file: no fusion was chosen for this model, and an invented default would look like a validated one
(docs/design.md, 'Hybrid retrieval'). A fusion chosen for another checkpoint is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import transformers

from lexdpr import storage
from lexdpr.errors import InputError
from lexdpr.retrieval.fusion import FUSION_FILE, fusion_record_of
from lexdpr.storage.files import atomic_local_folder
from lexdpr.training.bi_encoder import BiEncoder
from lexdpr.training.model_ref import require_folder

EXPORT_INFO = "lexdpr_export.json"


def export_merged(
    model_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fusion: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> Path:
    """Write the merged model of `model_dir` (a checkpoint, or a training out_dir → its best checkpoint).

    An existing `out_dir` is replaced only if it is an earlier export; the new folder appears atomically.
    `fusion` (a file path / s3:// URI, or its parsed JSON) adds `lexdpr_fusion.json`; see the module docstring.
    """
    source = require_folder(model_dir)
    target = Path(out_dir)
    if target.exists() and not (target / EXPORT_INFO).is_file() and any(target.iterdir()):
        raise InputError(str(target), "exists and is not an earlier export; choose an empty or new folder")
    fusion_record = _fusion_for(source, fusion) if fusion is not None else None
    encoder = BiEncoder.load(source)
    backbone = encoder.backbone.merge_and_unload() if encoder.lora else encoder.backbone
    settings = encoder.settings

    with atomic_local_folder(target, replace=True) as tmp:
        backbone.save_pretrained(tmp, safe_serialization=True)
        encoder.tokenizer.save_pretrained(tmp)
        dim = int(backbone.config.hidden_size)
        _write_json(
            tmp / "modules.json",
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize",
                },
            ],
        )
        _write_json(
            tmp / "sentence_bert_config.json", {"max_seq_length": settings.max_len, "do_lower_case": False}
        )
        _write_json(tmp / "1_Pooling" / "config.json", _pooling_config(settings.pooling, dim))
        (tmp / "2_Normalize").mkdir()
        _write_json(
            tmp / "config_sentence_transformers.json",
            {
                "__version__": {
                    "sentence_transformers": "3.0.0",
                    "transformers": transformers.__version__,
                    "pytorch": torch.__version__,
                },
                "prompts": {"query": settings.query_prefix, "passage": settings.passage_prefix},
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
        )
        _write_json(
            tmp / EXPORT_INFO,
            {
                "source": str(source.resolve()),
                "base_model": settings.base_model,
                "pooling": settings.pooling,
                "query_prefix": settings.query_prefix,
                "passage_prefix": settings.passage_prefix,
                "max_len": settings.max_len,
                "query_max_len": settings.query_max_len,
                "merged_lora": encoder.lora,
                "fusion": FUSION_FILE if fusion_record is not None else None,
            },
        )
        if fusion_record is not None:
            _write_json(tmp / FUSION_FILE, fusion_record)
        (tmp / "README.md").write_text(_model_card(source, settings, fusion_record), encoding="utf-8")
    return target


def _fusion_for(source: Path, fusion: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The fusion record to ship with `source`'s export, checked to be one and to be chosen for `source`.

    The checkpoint is compared by folder name: the evaluation may have read it at another path (a pipeline
    step's own copy), but `checkpoint-120` is `checkpoint-120`. A fusion chosen for a base model (no
    checkpoint) or another checkpoint would ship weights tuned to another model's scores.
    """
    where = "the fusion" if isinstance(fusion, Mapping) else str(fusion)
    try:
        data = fusion if isinstance(fusion, Mapping) else json.loads(storage.read_text(str(fusion)))
        record = fusion_record_of(data)
    except ValueError as exc:
        raise InputError(where, str(exc)) from None
    dense = dict(record.get("dense") or {})
    chosen_for = dense.get("checkpoint")
    if chosen_for != source.name:
        raise InputError(
            where,
            f"it was chosen for {dense.get('model') or 'another model'} ({chosen_for or 'not a checkpoint'}), "
            f"not for {source.name}: evaluate this checkpoint with `lex-dpr eval --hybrid --out` first",
        )
    record["dense"] = {**dense, "model": ".", "evaluated_as": dense.get("model")}
    return record


def _pooling_config(pooling: str, dim: int) -> dict[str, Any]:
    return {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _model_card(source: Path, settings, fusion: Mapping[str, Any] | None = None) -> str:
    card = (
        "# lexdpr bi-encoder\n\n"
        f"Fine-tuned from `{settings.base_model}` with lexdpr (checkpoint `{source.name}`); "
        f"{settings.pooling} pooling, unit-length vectors.\n\n"
        "```python\nfrom sentence_transformers import SentenceTransformer\n"
        'model = SentenceTransformer("path/to/this/folder")\n'
        'q = model.encode(["질의"], prompt_name="query")\n'
        'p = model.encode(["조문"], prompt_name="passage")\n```\n'
    )
    if fusion is not None:
        how = "chosen on validation pairs" if fusion.get("chosen_on") == "valid" else "the default"
        card += (
            f"\nHybrid retrieval with BM25: `{fusion.get('label')}` ({how}); the settings, BM25's tokenizer "
            f"and the validation metrics are in `{FUSION_FILE}`.\n"
        )
    return card
