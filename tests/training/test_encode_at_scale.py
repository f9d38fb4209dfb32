"""Encoding and dense search at corpus scale: chunked, resumable, and without a queries × corpus matrix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lexdpr.retrieval.dense_search import top_k
from lexdpr.training import encode as encode_module
from lexdpr.training.encode import encode_texts, parts_folder
from lexdpr.training.evaluate import evaluate_model, search
from lexdpr.training.model_ref import load_bi_encoder


def full_matrix_top_k(q: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """The reference: sort the whole score matrix, best first, equal scores by lower row."""
    scores = q.astype(np.float32) @ p.astype(np.float32).T
    rows = np.arange(p.shape[0])
    return np.stack([np.lexsort((rows, -s))[:k] for s in scores])


@pytest.mark.parametrize("corpus_block", [1, 3, 7, 64, 1000])
@pytest.mark.parametrize("query_block", [1, 4, 100])
def test_blockwise_top_k_equals_full_matrix_top_k(corpus_block: int, query_block: int) -> None:
    rng = np.random.default_rng(0)
    # small integers: every dot product is exact in float32 whatever the block shape, and ties abound
    q = rng.integers(-2, 3, (9, 6)).astype(np.float32)
    p = rng.integers(-2, 3, (50, 6)).astype(np.float32)
    p[[10, 30, 49]] = p[5]
    q[3] = 0  # scores 0.0 against every passage
    for k in (1, 6, 50, 80):
        got, scores = top_k(q, p, k, query_block=query_block, corpus_block=corpus_block)
        want = full_matrix_top_k(q, p, k)
        assert np.array_equal(got, want), (k, got, want)
        assert np.array_equal(scores, np.take_along_axis(q @ p.T, want, axis=1))
    # the zero query ties everything: the lowest rows win
    assert list(top_k(q, p, 5, corpus_block=corpus_block)[0][3]) == [0, 1, 2, 3, 4]
    # real-valued vectors (no exact ties)
    q, p = rng.standard_normal((9, 8)), rng.standard_normal((50, 8))
    got, _ = top_k(q, p, 12, query_block=query_block, corpus_block=corpus_block)
    assert np.array_equal(got, full_matrix_top_k(q, p, 12))


def test_blockwise_top_k_reads_a_float16_memmap(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    p = rng.standard_normal((200, 16)).astype(np.float16)
    np.save(tmp_path / "p.npy", p)
    q = rng.standard_normal((5, 16)).astype(np.float32)
    got, _ = top_k(q, np.load(tmp_path / "p.npy", mmap_mode="r"), 10, corpus_block=17)
    assert np.array_equal(got, full_matrix_top_k(q, p, 10))


def test_torch_search_blockwise_equals_one_matrix() -> None:
    rng = torch.Generator().manual_seed(0)
    q, p = torch.randn(6, 8, generator=rng), torch.randn(90, 8, generator=rng)
    reference = torch.argsort(q @ p.T, dim=1, descending=True)[:, :7]
    for block in (1, 5, 13, 90, 500):
        assert torch.equal(search(q, p, 7, corpus_block=block), reference)


@pytest.fixture(scope="module")
def corpus_file(dataset: dict[str, Path], tmp_path_factory) -> Path:
    """The test corpus three times over (96 passages, unique ids) so several chunks hold something."""
    rows = [json.loads(line) for line in dataset["corpus"].read_text(encoding="utf-8").splitlines()]
    out = tmp_path_factory.mktemp("big") / "corpus.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for copy in range(3):
            for r in rows:
                fh.write(
                    json.dumps(
                        {**r, "id": f"{r['id']}#{copy}", "text": r["text"] + " 제" + str(copy)},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    return out


def test_chunked_encode_equals_unchunked(tiny_model: Path, corpus_file: Path, tmp_path: Path) -> None:
    whole = encode_texts(
        tiny_model, corpus_file, tmp_path / "whole", precision="fp32", quiet=True, chunk_size=10_000
    )
    chunked = encode_texts(
        tiny_model, corpus_file, tmp_path / "chunked", precision="fp32", quiet=True, chunk_size=7
    )
    a, b = np.load(whole.embeddings), np.load(chunked.embeddings)
    assert a.shape == b.shape == (96, 48) and a.dtype == b.dtype == np.float32
    assert np.allclose(a, b, atol=1e-5)
    assert Path(whole.ids).read_text() == Path(chunked.ids).read_text()
    # and equal to encoding every text in one go with the model itself
    texts = [json.loads(line)["text"] for line in corpus_file.read_text(encoding="utf-8").splitlines()]
    assert np.allclose(a, load_bi_encoder(str(tiny_model)).eval().encode(texts, "passage").numpy(), atol=1e-5)
    # nothing is left behind next to the output
    assert not parts_folder(chunked.embeddings).exists()

    half = encode_texts(
        tiny_model,
        corpus_file,
        tmp_path / "half",
        precision="fp32",
        quiet=True,
        chunk_size=7,
        dtype="float16",
    )
    c = np.load(half.embeddings)
    assert c.dtype == np.float16 and np.allclose(c, a, atol=2e-3)


def test_killed_encode_resumes_from_the_last_finished_chunk(
    tiny_model: Path, corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = np.load(
        encode_texts(
            tiny_model, corpus_file, tmp_path / "ref", precision="fp32", quiet=True, chunk_size=10
        ).embeddings
    )

    real_save = np.save
    saved: list[int] = []

    def dying_save(handle, array, *args, **kwargs):
        if len(saved) == 4:  # the 5th chunk: killed half-way through writing it
            handle.write(b"\x93NUMPY partial")
            raise KeyboardInterrupt
        saved.append(len(array))
        return real_save(handle, array, *args, **kwargs)

    monkeypatch.setattr(encode_module.np, "save", dying_save)
    out = tmp_path / "emb"
    with pytest.raises(KeyboardInterrupt):
        encode_texts(tiny_model, corpus_file, out, precision="fp32", quiet=True, chunk_size=10)
    parts = parts_folder(str(out) + ".npy")
    assert sorted(p.name[:6] for p in parts.iterdir()) == [
        "000000",
        "000001",
        "000002",
        "000003",
    ]  # no partial file
    assert not (tmp_path / "emb.npy").exists() and not (tmp_path / "emb.ids.json").exists()
    monkeypatch.setattr(encode_module.np, "save", real_save)

    encoded: list[int] = []
    real_embed = encode_module._LazyEncoder.__call__

    def counting(self, texts):
        encoded.append(len(texts))
        return real_embed(self, texts)

    monkeypatch.setattr(encode_module._LazyEncoder, "__call__", counting)
    result = encode_texts(tiny_model, corpus_file, out, precision="fp32", quiet=True, chunk_size=10)
    assert result.chunks_reused == 4 and encoded == [10] * 5 + [6]  # chunks 4..9 only
    assert np.allclose(np.load(result.embeddings), reference, atol=1e-5)
    assert not parts.exists()


def test_resume_ignores_chunks_of_other_input_or_settings(
    tiny_model: Path, corpus_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "emb"
    parts = parts_folder(str(out) + ".npy")
    parts.mkdir(parents=True)
    # a leftover chunk from another run (other texts): same index, other hash, so it is not reused
    np.save(parts / "000000-0123456789abcdef0123.npy", np.zeros((10, 48), dtype=np.float32))
    result = encode_texts(tiny_model, corpus_file, out, precision="fp32", quiet=True, chunk_size=10)
    assert result.chunks_reused == 0
    assert np.abs(np.load(result.embeddings)).sum(axis=1).min() > 0


def test_evaluate_model_with_tiny_chunks_matches_one_chunk(
    tiny_model: Path, dataset: dict[str, Path]
) -> None:
    one = evaluate_model(
        str(tiny_model), dataset["valid"], dataset["corpus"], precision="fp32", quiet=True, chunk_size=10_000
    )
    tiny = evaluate_model(
        str(tiny_model), dataset["valid"], dataset["corpus"], precision="fp32", quiet=True, chunk_size=3
    )
    assert one == tiny
    assert set(one) >= {"eval/ndcg_at_10", "eval/recall_at_10", "eval/fingerprint"}
