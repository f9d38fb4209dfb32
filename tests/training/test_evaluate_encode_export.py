"""Evaluation, `encode` and `export_merged` on a saved tiny bi-encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lexdpr.errors import InputError
from lexdpr.retrieval.metrics import eval_fingerprint
from lexdpr.training.bi_encoder import BiEncoder, EncoderSettings, LoraSettings
from lexdpr.training.encode import encode_texts
from lexdpr.training.evaluate import evaluate_model, search, validation_loss
from lexdpr.training.export import export_merged


@pytest.fixture(scope="module")
def saved_model(tiny_model, tmp_path_factory):
    settings = EncoderSettings("tiny", str(tiny_model), "mean", "손해 ", "계약 ", 64, 32)
    encoder = BiEncoder.build(settings, LoraSettings(), seed=0)
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    folder = tmp_path_factory.mktemp("saved") / "checkpoint-1"
    encoder.save(folder)
    return folder


def test_search_is_exact():
    rng = torch.Generator().manual_seed(0)
    q, p = torch.randn(5, 8, generator=rng), torch.randn(40, 8, generator=rng)
    top = search(q, p, 7)
    assert torch.equal(top, torch.argsort(q @ p.T, dim=1, descending=True)[:, :7])
    assert search(q, p, 100).shape == (5, 40)


def test_validation_loss_by_hand():
    corpus = torch.eye(3)
    queries = torch.tensor([[1.0, 0.0, 0.0]])
    loss = validation_loss(queries, corpus, np.array([[0, 1, -1]]), temperature=1.0)
    assert loss == pytest.approx(-1 + np.log(np.e + 1), rel=1e-6)


def test_evaluate_model_metrics_and_fingerprint(saved_model, dataset, tiny_model):
    metrics = evaluate_model(saved_model, dataset["valid"], dataset["corpus"], k_values=(1, 5), quiet=True)
    assert set(metrics) == {
        "eval/ndcg_at_1",
        "eval/ndcg_at_5",
        "eval/recall_at_1",
        "eval/recall_at_5",
        "eval/mrr_at_10",
        "eval/fingerprint",
    }
    pairs = [json.loads(line) for line in dataset["valid"].read_text().splitlines()]
    ids = [json.loads(line)["id"] for line in dataset["corpus"].read_text().splitlines()]
    assert metrics["eval/fingerprint"] == eval_fingerprint(pairs, ids)
    assert all(0.0 <= v <= 1.0 for k, v in metrics.items() if k != "eval/fingerprint")
    # The base model alone (a plain folder) is evaluated too: the step-0 baseline of `lex-dpr eval`.
    baseline = evaluate_model(str(tiny_model), dataset["valid"], dataset["corpus"], quiet=True)
    assert baseline["eval/fingerprint"] == metrics["eval/fingerprint"]


def test_encode_queries_and_passages(saved_model, dataset, tmp_path):
    encoder = BiEncoder.load(saved_model).eval()
    result = encode_texts(saved_model, dataset["valid"], tmp_path / "q", precision="fp32", quiet=True)
    assert result.kind == "query" and result.embeddings.endswith("q.npy")
    vectors = np.load(result.embeddings)
    ids = json.loads(Path(result.ids).read_text())
    texts = [json.loads(line)["query_text"] for line in dataset["valid"].read_text().splitlines()]
    assert vectors.shape == (len(texts), 48) and len(ids) == len(texts) and ids[0] == "Q1000"
    assert np.allclose(vectors, encoder.encode(texts, "query").numpy(), atol=1e-5)

    # bf16 encoding (what `auto` picks on a CPU with native bf16) stays close to fp32
    result = encode_texts(saved_model, dataset["valid"], tmp_path / "q16", precision="bf16", quiet=True)
    cosines = (np.load(result.embeddings) * vectors).sum(axis=1)
    assert cosines.min() > 0.999

    result = encode_texts(saved_model, dataset["corpus"], tmp_path / "p.npy", quiet=True)
    assert result.kind == "passage" and np.load(result.embeddings).shape[0] == result.count == 32


def test_encode_rejects_records_without_text(saved_model, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "A"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="'id' and 'text'"):
        encode_texts(saved_model, bad, tmp_path / "out", quiet=True)


def test_export_loads_in_plain_sentence_transformers(saved_model, dataset, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    out = export_merged(saved_model, tmp_path / "export")
    assert not (out / "adapter_config.json").exists()
    model = st.SentenceTransformer(str(out), device="cpu")
    encoder = BiEncoder.load(saved_model).eval()
    texts = ["불법행위 손해배상", "임대차 계약의 해지와 차임"]
    for kind in ("query", "passage"):
        theirs = model.encode(texts, prompt_name=kind, convert_to_numpy=True)
        ours = encoder.encode(texts, kind).numpy()
        assert np.allclose(theirs, ours, atol=1e-5), kind
    # lexdpr reads the export back (pooling, prefixes, length) and scores it like the checkpoint.
    a = evaluate_model(out, dataset["valid"], dataset["corpus"], quiet=True)
    b = evaluate_model(saved_model, dataset["valid"], dataset["corpus"], quiet=True)
    assert a.pop("eval/fingerprint") == b.pop("eval/fingerprint")
    assert a == pytest.approx(b, abs=1e-6)
    # Exporting again replaces the earlier export; a foreign folder is refused.
    export_merged(saved_model, out)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an earlier export"):
        export_merged(saved_model, foreign)
