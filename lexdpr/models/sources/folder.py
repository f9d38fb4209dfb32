"""Local folders: the model name itself, or the model cache when it is a folder (a PVC, ~/.cache)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from lexdpr.models.sources import ModelRequest
from lexdpr.models.sources.model_folder import check_model_folder


class LocalFolder:
    """The name is a local model folder (a fine-tuned model, or one copied by hand); asked first."""

    origin = "local"

    def find(self, request: ModelRequest) -> Path | None:
        folder = Path(request.name).expanduser()
        if not folder.is_dir():
            return None
        check_model_folder(folder, "model folder")
        return folder.resolve()

    def has(self, request: ModelRequest) -> bool:
        return self.find(request) is not None  # finding a folder builds nothing


@dataclass(frozen=True)
class CacheFolder:
    """The model cache folder holds `<root>/<key>/` for one of the request's keys."""

    root: Path
    origin: ClassVar[str] = "cache"

    def find(self, request: ModelRequest) -> Path | None:
        for key in request.keys:
            folder = self.root / key
            if folder.is_dir():
                check_model_folder(folder, "cached model folder")
                return folder.resolve()
        return None

    def has(self, request: ModelRequest) -> bool:
        return self.find(request) is not None
