"""What every source hands back: a Hugging Face model folder with safetensors weights, built once.

A folder without `config.json` is no model folder, and one with only pickled weights (`*.bin`) is refused:
loading a pickle runs code. Sources that build a folder (a download, a mirror, a rebuild) hold a lock next
to it, so several processes on one machine (the ranks of a node, parallel trials) build it once.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from lexdpr.errors import ConfigError


def is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def check_model_folder(folder: Path, what: str) -> None:
    """A `ConfigError` naming `folder` (described as `what`) unless it is a safetensors model folder."""
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"{folder}: this {what} has no config.json, so it is not a Hugging Face model folder"
        )
    if not any(folder.glob("*.safetensors")):
        raise ConfigError(
            f"{folder}: this {what} has no *.safetensors weights; only safetensors are loaded "
            "(convert pickled weights with `safetensors` first)"
        )


@contextlib.contextmanager
def build_lock(target: Path) -> Iterator[None]:
    """Serialize builders of one cache folder (e.g. several ranks on a node) so the work is done once."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
