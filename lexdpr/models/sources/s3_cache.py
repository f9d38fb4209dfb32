"""The model cache on S3: `<prefix>/<key>/` mirrored once into a local folder that loaders can open.

Machines without a shared volume (Katib trials on different nodes) share one bucket instead. The first
`find` downloads the folder into `<local root>/s3/<bucket>/<prefix>/<key>/`; later ones use that mirror
without asking S3 at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

from lexdpr.models.sources import ModelRequest
from lexdpr.models.sources.model_folder import build_lock, check_model_folder, is_model_folder
from lexdpr.storage import files, s3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Cache:
    """The model cache `prefix` (`s3://bucket/prefix`), mirrored under `local_root`."""

    prefix: str
    local_root: Path
    origin: ClassVar[str] = "cache"

    @property
    def mirror_root(self) -> Path:
        loc = s3.S3Location.parse(self.prefix.rstrip("/") + "/")
        return self.local_root / "s3" / loc.bucket / PurePosixPath(loc.key or ".")

    def find(self, request: ModelRequest) -> Path | None:
        """Look for `<prefix>/<key>/config.json`; mirror the whole folder under the local root once."""
        mirror_root = self.mirror_root
        for key in request.keys:  # a local mirror of any key first: no S3 request at all on later runs
            if is_model_folder(mirror_root / key):
                return (mirror_root / key).resolve()
        for key in request.keys:
            mirror = mirror_root / key
            base = files.join(self.prefix, key) + "/"
            uris = [u for u in s3.list_uris(base) if not u.endswith("/")]
            if base + "config.json" not in uris:
                continue
            with build_lock(mirror):
                if not is_model_folder(mirror):
                    _download_folder(base, uris, mirror)
            check_model_folder(mirror, "cached model folder")
            return mirror.resolve()
        return None

    def has(self, request: ModelRequest) -> bool:
        """A local mirror, or a listed `config.json` under one of the keys (nothing is downloaded)."""
        if any(is_model_folder(self.mirror_root / key) for key in request.keys):
            return True
        for key in request.keys:
            base = files.join(self.prefix, key) + "/"
            if base + "config.json" in s3.list_uris(base):
                return True
        return False


def _download_folder(base: str, uris: list[str], target: Path) -> None:
    log.info("downloading %s (%d files) to %s", base, len(uris), target)
    with files.atomic_local_folder(target, replace=False) as tmp:
        for uri in uris:
            dest = files.local_path_under(tmp, uri[len(base) :], uri)
            dest.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(uri, dest)  # streamed to disk: weights can be larger than memory allows
