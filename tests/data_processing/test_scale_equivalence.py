"""Speed-ups for law.go.kr-sized data change no output: each is compared with the plain version it replaced."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from lexdpr.data_processing import law_names
from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.data_processing.hard_negatives import _eligible
from lexdpr.data_processing.law_names import restore_spaces
from lexdpr.data_processing.passage import estimate_tokens
from lexdpr.retrieval.bm25_index import BM25Index


def flat_pattern(names: frozenset[str]) -> re.Pattern[str]:
    """The name pattern as it was: one flat alternation of all names, longest first."""
    cleaned = {law_names._WS.sub(" ", n.strip()) for n in names if n and n.strip()}
    ordered = sorted(cleaned, key=lambda n: (-len(n.replace(" ", "")), n))
    alternation = "|".join(law_names._flexible(name) for name in ordered)
    return re.compile(
        rf"(?P<old>구\s)?(?P<body>[‘“「『]?(?:{alternation})[’”」』]?)(?P<gap>\s?)(?=제\s?\d+\s?조)"
    )


def test_restore_spaces_matches_the_flat_alternation_on_real_precedents(
    lawgo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = {
        json.loads(p.read_text())["법령"]["기본정보"]["법령명_한글"]
        for p in (lawgo_dir / "laws").glob("*.json")
    }
    # names that start with a middle dot, share first characters, or contain spaces and dots
    names |= {"ㆍ가상법", "민사집행법", "민 법", "남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률"}
    known = frozenset(names) | law_names._COMMON_NAMES
    texts = []
    for path in sorted((lawgo_dir / "precedents").glob("*.json"))[:400]:
        doc = json.loads(path.read_text(encoding="utf-8"))
        texts += [str(doc.get("판시사항") or ""), str(doc.get("판결요지") or "")]
    texts += [
        "없는 한민법 제368조",
        "행위가구 ‘하도급거래 공정화에 관한 법률’ 제4조",
        "·가상법제1조",
        "손해배상청구 민법 제750조",
    ]
    fast = [restore_spaces(t, known) for t in texts]
    monkeypatch.setattr(law_names, "_name_pattern", flat_pattern)
    slow = [restore_spaces(t, known) for t in texts]
    assert fast == slow
    assert sum(a != b for a, b in zip(fast, texts, strict=True)) > 20  # spaces were restored in many texts


def test_estimate_tokens_counts_non_space_characters() -> None:
    text = "".join(chr(i) for i in range(0x3100)) + "\u3000 \t\n조문"
    assert estimate_tokens(text) == int(sum(1 for c in text if not c.isspace()) * 0.8) + 1


def test_ids_of_parent_is_every_passage_of_the_law_in_corpus_order() -> None:
    passages = [
        {
            "id": f"LAW_{law}_제{art}조" + (f"_{para}" if para else ""),
            "parent_id": law,
            "article": f"제{art}조",
            "text": f"{law} {art} {para}",
        }
        for law, art, para in [("1", 2, 0), ("2", 1, 0), ("1", 1, 1), ("1", 3, 0), ("1", 1, 2), ("2", 5, 0)]
    ]
    index = ArticleIndex.build(passages)
    expected = {
        parent: [p["id"] for (par, _), group in index.by_article.items() if par == parent for p in group]
        for parent in ("1", "2", "3")
    }
    assert expected["1"] == ["LAW_1_제2조", "LAW_1_제1조_1", "LAW_1_제1조_2", "LAW_1_제3조"]
    for parent, ids in expected.items():
        assert index.ids_of_parent(parent) == ids
    index.ids_of_parent("1").append("x")  # callers get a copy
    assert index.ids_of_parent("1") == expected["1"]


class SplitTokenizer:
    def tokenize(self, texts):
        return [t.split() for t in texts]


def test_top_k_over_matching_passages_equals_sorting_all_scores() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(400)]
    index = BM25Index.build([f"P{i:04d}" for i in range(400)], texts, SplitTokenizer())
    queries = [list(rng.choice(words, size=rng.integers(1, 5))) for _ in range(60)] + [["w0"], ["nope"]]
    for tokens in queries:
        scores = index._scores(tokens)
        order = np.lexsort((np.arange(400), -scores))
        for k in (1, 5, 50, 399):
            got = index.search_tokens([tokens], k)[0]
            assert [pid for pid, _ in got] == [f"P{i:04d}" for i in order[:k]]
            assert [s for _, s in got] == [float(scores[i]) for i in order[:k]]


def test_eligible_stops_early_and_equals_filtering_the_whole_ranking() -> None:
    """`hard_negatives._eligible` against the full filter it replaced, zero and negative scores included."""
    rng = np.random.default_rng(1)
    for _ in range(300):
        n = int(rng.integers(0, 60))
        scores = sorted((float(x) for x in rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0, 3.5], size=n)), reverse=True)
        ranking = [(f"P{i}", s) for i, s in enumerate(scores)]
        related = {f"P{i}" for i in range(n) if rng.random() < 0.3}
        skip, take = int(rng.integers(0, 5)), int(rng.integers(1, 20))
        whole = [pid for pid, score in ranking if score > 0 and pid not in related][skip : skip + take]
        assert _eligible(ranking, related, skip, take) == whole
