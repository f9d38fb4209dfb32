"""`export_merged`: a trained bi-encoder as a plain sentence-transformers folder.

The LoRA adapter is merged into the base weights, and the folder gets the classic sentence-transformers
files (modules.json, sentence_bert_config.json, 1_Pooling, 2_Normalize, config_sentence_transformers.json with
the query/passage prompts). `SentenceTransformer(folder)` then loads it with no lexdpr and no peft installed,
and `model.encode(texts, prompt_name="query")` gives the vectors this package computes. The format is the
one hub models use, which every sentence-transformers release from 3.0 on reads; it is written by hand
so exporting needs no sentence-transformers at run time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import transformers

from lexdpr.errors import InputError
from lexdpr.storage.files import atomic_local_folder
from lexdpr.training.bi_encoder import BiEncoder
from lexdpr.training.model_ref import require_folder

EXPORT_INFO = "lexdpr_export.json"


def export_merged(model_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Write the merged model of `model_dir` (a checkpoint, or a training out_dir → its best checkpoint).

    An existing `out_dir` is replaced only if it is an earlier export; the new folder appears atomically.
    """
    source = require_folder(model_dir)
    target = Path(out_dir)
    if target.exists() and not (target / EXPORT_INFO).is_file() and any(target.iterdir()):
        raise InputError(str(target), "exists and is not an earlier export; choose an empty or new folder")
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
            },
        )
        (tmp / "README.md").write_text(_model_card(source, settings), encoding="utf-8")
    return target


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


def _model_card(source: Path, settings) -> str:
    return (
        "# lexdpr bi-encoder\n\n"
        f"Fine-tuned from `{settings.base_model}` with lexdpr (checkpoint `{source.name}`); "
        f"{settings.pooling} pooling, unit-length vectors.\n\n"
        "```python\nfrom sentence_transformers import SentenceTransformer\n"
        'model = SentenceTransformer("path/to/this/folder")\n'
        'q = model.encode(["질의"], prompt_name="query")\n'
        'p = model.encode(["조문"], prompt_name="passage")\n```\n'
    )
