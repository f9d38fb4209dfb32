"""Turn what a user passes as `--model` into a loaded BiEncoder.

Accepted, in this order:
- a bi-encoder folder (a checkpoint, `bi_encoder.json` inside);
- a training output folder (`{out_dir}` or `{out_dir}/bi_encoder`): its best checkpoint by eval/ndcg_at_10,
  else its newest;
- anything `resolve_base_model` accepts — an alias, a plain or sentence-transformers model folder (e.g. one
  written by `export_merged`), a hub id — used untrained (the step-0 baseline).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lexdpr.errors import InputError
from lexdpr.training.bi_encoder import ENCODER_FILE, BiEncoder, EncoderSettings
from lexdpr.training.checkpoint import best_checkpoint, checkpoint_root, list_checkpoints

DEFAULT_MAX_LEN = 256
DEFAULT_QUERY_MAX_LEN = 128


def find_bi_encoder_folder(path: str | os.PathLike[str]) -> Path | None:
    """The bi-encoder folder `path` stands for, or None when it is not a training output."""
    folder = Path(path)
    if (folder / ENCODER_FILE).is_file():
        return folder
    for root in (checkpoint_root(folder), folder):
        checkpoints = list_checkpoints(root)
        if checkpoints:
            chosen = best_checkpoint(checkpoints) or checkpoints[-1]
            return chosen.path
    return None


def load_bi_encoder(
    model: str | os.PathLike[str] | BiEncoder,
    cache_dir: str | None = None,
    max_len: int | None = None,
    query_max_len: int | None = None,
) -> BiEncoder:
    """A BiEncoder for inference (eval mode); see the module docstring for what `model` may be."""
    if isinstance(model, BiEncoder):
        return model.eval()
    folder = find_bi_encoder_folder(model)
    if folder is not None:
        encoder = BiEncoder.load(folder)
    else:
        encoder = BiEncoder.build(
            base_settings(str(model), cache_dir, None, max_len, query_max_len), lora=None
        )
    if max_len or query_max_len:
        from dataclasses import replace

        encoder.settings = replace(
            encoder.settings,
            max_len=max_len or encoder.settings.max_len,
            query_max_len=query_max_len or encoder.settings.query_max_len,
        )
    return encoder.eval()


def base_settings(
    name: str, cache_dir: str | None, pooling: str | None, max_len: int | None, query_max_len: int | None
) -> EncoderSettings:
    """Settings for a base model: pooling and prefixes from its alias or folder, lengths from the caller."""
    from lexdpr.training.base_models import resolve_base_model

    resolved = resolve_base_model(name, cache_dir)
    folder_max = _sentence_transformers_max_len(resolved.path)
    return EncoderSettings(
        base_model=name,
        base_model_path=str(resolved.path),
        pooling=pooling or resolved.spec.pooling,
        query_prefix=resolved.spec.query_prefix,
        passage_prefix=resolved.spec.passage_prefix,
        max_len=max_len or folder_max or DEFAULT_MAX_LEN,
        query_max_len=query_max_len or min(folder_max or DEFAULT_QUERY_MAX_LEN, DEFAULT_QUERY_MAX_LEN),
    )


def _sentence_transformers_max_len(folder: Path) -> int | None:
    try:
        data = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("max_seq_length") if isinstance(data, dict) else None
    return int(value) if isinstance(value, int) and value > 0 else None


def require_folder(path: str | os.PathLike[str]) -> Path:
    folder = find_bi_encoder_folder(path)
    if folder is None:
        raise InputError(
            str(path), "not a trained bi-encoder (no bi_encoder.json and no checkpoint-* folder)"
        )
    return folder
