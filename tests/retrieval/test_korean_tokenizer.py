"""KoreanTokenizer: which morphemes survive, and that the output never depends on how it was computed."""

from __future__ import annotations

import pickle

import pytest

from lexdpr.retrieval.korean_tokenizer import KoreanTokenizer

ARTICLE_750 = "고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 배상할 책임이 있다."
TEXTS = [
    ARTICLE_750,
    (
        "불법행위로 인한 손해배상 청구권은 피해자가 그 손해 및 가해자를 안 날부터 3년간 행사하지 아니하면 "
        "소멸한다."
    ),
    '① 이 법에서 "정보통신망"이란 「전기통신사업법」 제2조제2호에 따른 전기통신설비를 말한다. '
    "<개정 2020.2.4>",
    "개인정보처리자는 CCTV를 설치ㆍ운영하거나 ISMS-P 인증을 받은 경우 民法에 따른다.",
    "정당한 이유 없이 현저히 불공정한 계약을 체결한 때",
    "",
]


@pytest.fixture(scope="module")
def tokenizer() -> KoreanTokenizer:
    return KoreanTokenizer(num_workers=2)


def test_keeps_content_morphemes_and_drops_particles_and_endings(tokenizer: KoreanTokenizer) -> None:
    tokens = tokenizer.tokenize([ARTICLE_750])[0]
    for content in ["고의", "과실", "위법", "행위", "타인", "손해", "배상", "책임"]:
        assert content in tokens
    assert tokens.count("손해") == 2
    # particles (로, 에게, 를, 는), endings (ᆯ, 다), the copula/auxiliary 있 and the determiner 그
    for function_word in ["로", "에게", "를", "는", "ᆯ", "다", "있", "그", "또는"]:
        assert function_word not in tokens


def test_verb_stems_roots_and_numbers_are_kept(tokenizer: KoreanTokenizer) -> None:
    tokens = tokenizer.tokenize(["정당한 이유 없이 3년간 집을 짓는다"])[0]
    assert "정당" in tokens  # XR
    assert "짓" in tokens  # VV stem
    assert "3" in tokens  # SN


def test_article_citations_keep_numbers_not_bound_nouns(tokenizer: KoreanTokenizer) -> None:
    assert tokenizer.tokenize(["제750조에"]) == [["750"]]


def test_brackets_keep_particles_on_their_word(tokenizer: KoreanTokenizer) -> None:
    quoted = tokenizer.tokenize(['"정보통신망"이란 「전기통신사업법」에 따른'])[0]
    bare = tokenizer.tokenize(["정보통신망이란 전기통신사업법에 따른"])[0]
    assert quoted == bare
    assert "이란" not in quoted  # cut off its word, Kiwi would read it as the country


def test_middle_dot_separates_nouns(tokenizer: KoreanTokenizer) -> None:
    assert tokenizer.tokenize(["수집ㆍ가공ㆍ저장"]) == [["수집", "가공", "저장"]]


def test_foreign_words_are_lower_cased_and_hanja_kept(tokenizer: KoreanTokenizer) -> None:
    tokens = tokenizer.tokenize(["ISMS-P 인증을 받은 CCTV와 民法"])[0]
    assert {"isms", "p", "cctv", "民法"} <= set(tokens)
    assert all(token == token.lower() for token in tokens)


def test_empty_inputs(tokenizer: KoreanTokenizer) -> None:
    assert tokenizer.tokenize([]) == []
    assert tokenizer.tokenize(["", "  ", "!?…"]) == [[], [], []]


def test_output_is_independent_of_batching_order_threads_and_cache(tokenizer: KoreanTokenizer) -> None:
    expected = tokenizer.tokenize(TEXTS)
    assert tokenizer.tokenize(TEXTS) == expected  # now from the cache
    assert [tokenizer.tokenize([text])[0] for text in TEXTS] == expected
    assert tokenizer.tokenize(TEXTS[::-1]) == expected[::-1]
    for workers in (0, 1, -1):
        assert KoreanTokenizer(num_workers=workers).tokenize(TEXTS[::-1])[::-1] == expected


def test_cache_is_per_instance(tokenizer: KoreanTokenizer) -> None:
    fresh = KoreanTokenizer(num_workers=1)
    assert fresh.cache_size() == 0
    fresh.tokenize(["손해를 배상할 책임"])
    assert fresh.cache_size() == 3


def test_pickles_as_its_settings(tokenizer: KoreanTokenizer) -> None:
    clone = pickle.loads(pickle.dumps(tokenizer))
    assert clone.num_workers == tokenizer.num_workers
    assert clone.cache_size() == 0
    assert clone.tokenize(TEXTS) == tokenizer.tokenize(TEXTS)


def test_rejects_negative_worker_counts() -> None:
    with pytest.raises(ValueError, match="num_workers"):
        KoreanTokenizer(num_workers=-2)
