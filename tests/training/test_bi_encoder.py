from __future__ import annotations

import pytest
import torch

from lexdpr.errors import ConfigError
from lexdpr.training.bi_encoder import BiEncoder, EncoderSettings, LoraSettings, pool
from lexdpr.training.model_ref import base_settings, load_bi_encoder
from lexdpr.training.peft_targets import lora_target_modules


def settings(model_dir, **kw) -> EncoderSettings:
    base = dict(
        base_model="tiny",
        base_model_path=str(model_dir),
        pooling="mean",
        query_prefix="손해 ",
        passage_prefix="계약 ",
        max_len=16,
        query_max_len=8,
    )
    return EncoderSettings(**{**base, **kw})


def test_mean_and_cls_pooling_by_hand():
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 4.0], [100.0, 100.0]]])  # third token is padding
    mask = torch.tensor([[1, 1, 0]])
    mean = pool(hidden, mask, "mean")
    assert torch.allclose(mean, torch.tensor([[2.0, 2.0]]) / (8**0.5))
    cls = pool(hidden, mask, "cls")
    assert torch.allclose(cls, torch.tensor([[1.0, 0.0]]))


def test_prefixes_and_separate_length_limits(tiny_model):
    encoder = BiEncoder.build(settings(tiny_model), lora=None)
    long_text = "불법행위로 인한 손해배상 청구권은 피해자가 그 손해 및 가해자를 안 날부터 3년간 행사하지 아니하면 소멸한다."
    q = encoder.tokenize([long_text], "query")
    p = encoder.tokenize([long_text], "passage")
    assert len(q.get(0)) == 8 and len(p.get(0)) == 16
    q_tokens = encoder.tokenizer.convert_ids_to_tokens(q.get(0).tolist())
    p_tokens = encoder.tokenizer.convert_ids_to_tokens(p.get(0).tolist())
    assert "[UNK]" not in q_tokens + p_tokens
    assert encoder.tokenizer.decode(q.get(0)[1:3]).replace(" ", "").startswith("손해")
    assert encoder.tokenizer.decode(p.get(0)[1:3]).replace(" ", "").startswith("계약")
    # The prefix changes the vector: the two kinds of the same text differ.
    encoder.eval()
    qv, pv = encoder.encode(["손해배상"], "query"), encoder.encode(["손해배상"], "passage")
    assert not torch.allclose(qv, pv)
    assert torch.allclose(qv.norm(dim=1), torch.ones(1))


def test_bucketed_encoding_matches_one_padded_batch(tiny_model):
    encoder = BiEncoder.build(settings(tiny_model, pooling="cls"), lora=None).eval()
    texts = [
        "계약",
        "부동산에 관한 물권의 득실변경은 등기하여야 그 효력이 생긴다.",
        "상속인은 포기를 할 수 있다.",
        "해제",
    ]
    tokens = encoder.tokenize(texts, "passage")
    bucketed = encoder.embed_tokenized(tokens, max_texts=1, max_tokens=10)
    whole = encoder.embed_tokenized(tokens, max_texts=64, max_tokens=10**6)
    assert torch.allclose(bucketed, whole, atol=1e-5)
    reordered = encoder.embed_tokenized(tokens, positions=[3, 0], max_texts=2, max_tokens=100)
    assert torch.allclose(reordered, whole[[3, 0]], atol=1e-5)


def test_lora_targets_cover_encoder_linears_but_not_the_pooler(tiny_model):
    encoder = BiEncoder.build(settings(tiny_model), LoraSettings(r=2, alpha=4))
    adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in encoder.backbone.named_modules() if n.endswith("lora_A")}
    assert any(n.endswith("attention.self.key") for n in adapted)
    assert any(n.endswith("intermediate.dense") for n in adapted)
    assert any(n.endswith("output.dense") for n in adapted)
    assert not any("pooler" in n for n in adapted)
    trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert lora_target_modules(encoder.backbone, ["query"]) == ["query"]


def test_full_fine_tuning_trains_every_weight(tiny_model):
    encoder = BiEncoder.build(settings(tiny_model), lora=None)
    assert all(p.requires_grad for p in encoder.parameters())


@pytest.mark.parametrize("lora", [True, False])
def test_save_and_load_give_the_same_vectors(tiny_model, tmp_path, lora):
    encoder = BiEncoder.build(settings(tiny_model), LoraSettings() if lora else None, seed=3)
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if "lora_B" in name or not lora:
                param.add_(torch.randn_like(param) * 0.01)
    encoder.eval()
    before = encoder.encode(["임대차 계약의 해지"], "query")
    encoder.save(tmp_path / "saved")
    loaded = load_bi_encoder(tmp_path / "saved")
    assert loaded.settings == encoder.settings and loaded.lora == lora
    assert torch.allclose(loaded.encode(["임대차 계약의 해지"], "query"), before, atol=1e-6)


def test_base_settings_from_a_plain_folder(tiny_model):
    s = base_settings(str(tiny_model), None, None, 64, 32)
    assert (s.pooling, s.query_prefix, s.passage_prefix, s.max_len, s.query_max_len) == (
        "mean",
        "",
        "",
        64,
        32,
    )
    assert base_settings(str(tiny_model), None, "cls", None, None).pooling == "cls"


def test_lora_in_the_last_blocks_only(tiny_model):
    encoder = BiEncoder.build(settings(tiny_model), LoraSettings(r=2, alpha=4, layers=1))
    adapted = {n for n, _ in encoder.backbone.named_modules() if n.endswith("lora_A")}
    assert adapted and all(".layer.1." in n for n in adapted)  # the tiny BERT has blocks 0 and 1
    assert {n.rsplit(".", 2)[-2] for n in adapted} >= {"query", "key", "value", "dense"}
    # no parameter of block 0 trains, so the backward pass stops above it
    with pytest.raises(ConfigError, match="has 2 encoder blocks"):
        BiEncoder.build(settings(tiny_model), LoraSettings(layers=3))


def test_dropout_override_reaches_every_dropout_of_the_base_model(tiny_model):
    kept = BiEncoder.build(settings(tiny_model), LoraSettings(dropout=0.2))
    rates = {round(m.p, 3) for n, m in kept.backbone.named_modules() if isinstance(m, torch.nn.Dropout)}
    assert 0.2 in rates and len(rates) == 2  # the base model's own rate and LoRA's
    off = BiEncoder.build(settings(tiny_model), LoraSettings(dropout=0.2), dropout=0.0).train()
    base = [
        m for n, m in off.backbone.named_modules() if isinstance(m, torch.nn.Dropout) and "lora_" not in n
    ]
    assert base and all(m.p == 0.0 for m in base)
    assert {
        m.p
        for n, m in off.backbone.named_modules()
        if "lora_dropout" in n and isinstance(m, torch.nn.Dropout)
    } == {0.2}
    # without dropout anywhere, training mode gives the eval-mode vectors
    quiet = BiEncoder.build(settings(tiny_model), LoraSettings(dropout=0.0), dropout=0.0)
    text = ["임대차 계약의 해지"]
    assert torch.equal(quiet.train().encode(text, "query"), quiet.eval().encode(text, "query"))


@pytest.mark.parametrize("lora", [True, False])
def test_inference_weights_merge_lora_and_put_the_weights_back(tiny_model, lora):
    encoder = BiEncoder.build(settings(tiny_model), LoraSettings(dropout=0.0) if lora else None, seed=1)
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if "lora_B" in name:
                param.add_(torch.randn_like(param) * 0.05)  # a trained adapter, not the zero init
    encoder.eval()
    before = {n: p.detach().clone() for n, p in encoder.named_parameters()}
    texts = ["임대차 계약의 해지", "부동산에 관한 물권의 득실변경은 등기하여야 그 효력이 생긴다."]
    plain = encoder.encode(texts, "passage")
    with encoder.inference_weights(None):
        merged = encoder.encode(texts, "passage")
    assert torch.allclose(merged, plain, atol=1e-5)
    with encoder.inference_weights(torch.bfloat16), torch.autocast("cpu", dtype=torch.bfloat16):
        low = encoder.encode(texts, "passage")
        linears = [
            m
            for n, m in encoder.backbone.named_modules()
            if isinstance(m, torch.nn.Linear) and "lora_" not in n
        ]
        assert all(m.weight.dtype == torch.bfloat16 for m in linears)
    assert torch.nn.functional.cosine_similarity(low, plain).min() > 0.99
    after = dict(encoder.named_parameters())
    assert all(torch.equal(before[n], after[n]) and after[n].dtype == torch.float32 for n in before)
    assert torch.equal(encoder.encode(texts, "passage"), plain)
