"""The Hugging Face hub: the last source, used only when it is not switched off (`HF_HUB_OFFLINE`).

A download keeps configs, tokenizer files and safetensors weights — never pickled weights — and goes into
the local cache under the model's first cache key, so the next run finds it there.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.models.sources import ModelRequest
from lexdpr.models.sources.model_folder import build_lock, check_model_folder, is_model_folder
from lexdpr.storage import files

log = logging.getLogger(__name__)

# What a hub download keeps: configs, tokenizer files and safetensors weights — never pickled weights.
HUB_ALLOW_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "1_Pooling/*")
_TRUE = {"1", "true", "yes", "on"}
_HUB_ANSWERS: dict[str, str | None] = {}


def hub_offline() -> bool:
    """True when the hub is switched off (`HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` set to a true value)."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def probe_hub(hub_id: str, timeout_s: float = 10.0) -> str | None:
    """Ask the hub about `hub_id` (metadata only; answers are remembered per process): None when it is
    there, else why not (no network, not found, gated)."""
    if hub_id not in _HUB_ANSWERS:
        from huggingface_hub import HfApi

        try:
            HfApi().model_info(hub_id, timeout=timeout_s)
            _HUB_ANSWERS[hub_id] = None
        except Exception as exc:  # network, 404, gated repo: all one reason
            text = str(exc).strip().splitlines()
            _HUB_ANSWERS[hub_id] = f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
    return _HUB_ANSWERS[hub_id]


@dataclass(frozen=True)
class Hub:
    """Downloads into `local_root`; `probe` tells whether the hub answers for a model without downloading."""

    local_root: Path
    probe: Callable[[str], str | None] = field(default=probe_hub)
    origin: ClassVar[str] = "hub"

    def find(self, request: ModelRequest) -> Path | None:
        if hub_offline() or request.hub_id is None:
            return None
        return download(request.hub_id, self.local_root / request.keys[0])

    def has(self, request: ModelRequest) -> bool:
        return not hub_offline() and self.why_not(request) is None

    def why_not(self, request: ModelRequest) -> str | None:
        """Why the hub cannot give this model (the probe's answer), or None when it can."""
        if request.hub_id is None:
            return f"{request.name!r} is not a hub id"
        return self.probe(request.hub_id)


def download(hub_id: str, target: Path) -> Path:
    """`hub_id` as a model folder at `target` (downloaded once; a folder already there is kept)."""
    from huggingface_hub import snapshot_download

    with build_lock(target):
        if is_model_folder(target):
            return target.resolve()
        log.info("downloading %s from the Hugging Face hub to %s", hub_id, target)
        with files.atomic_local_folder(target, replace=False) as tmp:
            try:
                snapshot_download(repo_id=hub_id, local_dir=str(tmp), allow_patterns=list(HUB_ALLOW_PATTERNS))
            except LexDprError:
                raise
            except Exception as exc:  # network, 404, gated repo: all one clear message
                raise ConfigError(
                    f"cannot download {hub_id} from the Hugging Face hub ({type(exc).__name__}: {exc})"
                ) from None
            shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
            check_model_folder(tmp, f"hub model {hub_id}")
    return target.resolve()
