"""Korean morpheme tokenization for lexical (BM25) retrieval.

BM25 over raw Korean words matches badly: a noun carries its particles (`불법행위로`, `불법행위의`) and a
verb its endings, so the same concept rarely has the same surface form in a precedent's 판시사항 and in an
article. We analyse text with Kiwi and keep only the morphemes that carry content.

Speed is the design constraint: the data pipeline tokenizes ~13k passages plus thousands of queries on two
cores within a few seconds. Kiwi over whole passages manages ~0.2M characters/s there (the 4M characters of
the 82 real laws: ~24 s), far too slow. Legal text is, however, extremely repetitive: those laws hold ~0.9M
*runs* (maximal sequences of letters and digits) but only ~77k distinct ones. So we cut text into runs
(brackets, quotes and punctuation never reach Kiwi), analyse each distinct run once, on its own, with Kiwi's
multi-threaded batch API, and memoise the result in the tokenizer: ~4.6 CPU-seconds for the laws (about 3 s
on two idle cores), and queries mostly hit the cache. A run analysed on its own loses the sentence context
Kiwi could use to disambiguate; BM25 only needs content morphemes and barely notices (precedent issues
against the articles their 참조조문 cite, whole law corpus: nDCG@10 0.342 per run vs 0.346 per passage).
In exchange the output is a pure function of each run: deterministic whatever the batching, the order of
the texts or the number of threads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import chain

from kiwipiepy import Kiwi

# Content-bearing Kiwi (Sejong) tags, compared after dropping Kiwi's conjugation suffix ("VV-I" -> "VV").
#   NNG/NNP  common and proper nouns: the bulk of legal vocabulary (손해, 배상, 전기통신사업법).
#   NR       numerals written as words (하나, 천만, 억): amounts in penalty clauses.
#   VV/VA    verb and adjective stems (받, 짓, 아름답): "who did what" in 판시사항 is often verbal.
#   XR       roots of 하다-adjectives: the legal standards 정당, 현저, 명백, 충분 (정당한 이유, 현저히).
#   SL/SH    foreign (Latin) words and hanja: statute abbreviations, 民法-style mixed script.
#   SN       numbers: article and 항/호 numbers and years are how legal texts cite each other.
# Deliberately excluded: bound nouns NNB (조, 항, 호, 자, 것, 등 — in every article, no signal),
# pronouns NP, auxiliary/copula/negative predicates VX/VCP/VCN (있다, 이다, 아니다), determiners and adverbs
# MM/MAG/MAJ, interjections IC, all particles J* and endings E*, affixes XPN/XSN/XSV/XSA (제, 성, 하, 되),
# and symbols S[FPSEOWB]/W_* (punctuation never reaches Kiwi anyway, see `_RUN`).
CONTENT_TAGS: frozenset[str] = frozenset({"NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SH", "SN"})

# Closing brackets and quotes are deleted before text is cut into runs, so that the particle after one
# stays on its word (`"정보통신망"이란` -> 정보통신망이란, `「민법」에` -> 민법에; cut apart, Kiwi
# reads a lone 이란 as the country). Opening ones separate runs like any punctuation, as they usually
# follow a word directly (`제2조(정의)`). Straight quotes count as closing: an opening one almost always
# follows a space anyway.
_CLOSING = re.compile(r"""[」』)\]］）}｝〉》】〕｣”’"']""")
# A run: letters and digits of any script, without "_" and without the Hangul letter araea "ㆍ", which Korean
# statutes use as a middle dot between nouns (수집ㆍ가공ㆍ저장) although Unicode classes it as a letter. All
# other punctuation separates runs, so `2020.2.4` gives three numbers and `1.` the number 1.
_RUN = re.compile(r"[^\W_ㆍ]+")


class KoreanTokenizer:
    """Content-morpheme tokenizer built on Kiwi, memoising the analysis of every distinct run.

    One instance owns one Kiwi model (~1 s to load) and its cache; share it between a corpus and its queries
    so that queries reuse the corpus' analyses. The cache grows with the distinct runs seen (~77k, a few tens
    of MB, for all laws), which suits a pipeline stage; do not keep one instance alive across unrelated
    corpora. Results depend on the kiwipiepy version and its bundled model, both pinned in requirements.lock.
    """

    def __init__(self, num_workers: int = -1) -> None:
        """Load Kiwi with `num_workers` threads (-1: one per core; 0 or 1: analyse on the calling thread).

        The typo and multi-word dictionaries are not loaded: statutes are edited text without typos, and runs
        are single words, so multi-word entries could never match; leaving them out halves the load time.
        """
        if num_workers < -1:
            raise ValueError(f"num_workers must be -1 or >= 0, got {num_workers}")
        self.num_workers = num_workers
        # Kiwi's batch API needs worker threads; with a single core a plain loop is faster than one worker.
        self._batched = num_workers == -1 or num_workers >= 2
        self._kiwi = Kiwi(
            num_workers=num_workers if self._batched else 1,
            load_typo_dict=False,
            load_multi_dict=False,
        )
        self._cache: dict[str, tuple[str, ...]] = {}

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Return the lower-cased content morphemes of each text, in text order."""
        runs_per_text = [_RUN.findall(_CLOSING.sub("", text.lower())) for text in texts]
        cache = self._cache
        # dict.fromkeys: de-duplicated, in first-seen order, so the work done does not depend on hashing.
        distinct = dict.fromkeys(run for runs in runs_per_text for run in runs)
        missing = [run for run in distinct if run not in cache]
        if missing:
            cache.update(zip(missing, self._analyse(missing), strict=True))
        lookup = cache.__getitem__
        return [list(chain.from_iterable(map(lookup, runs))) for runs in runs_per_text]

    def cache_size(self) -> int:
        """Number of distinct runs analysed so far (for benchmarks and memory estimates)."""
        return len(self._cache)

    def _analyse(self, runs: list[str]) -> Iterable[tuple[str, ...]]:
        """Analyse each run on its own with Kiwi and keep its content morphemes."""
        if self._batched:
            analyses: Iterable[list] = self._kiwi.tokenize(runs)
        else:
            analyses = (self._kiwi.tokenize(run) for run in runs)
        for tokens in analyses:
            yield tuple(t.form.lower() for t in tokens if t.tag.partition("-")[0] in CONTENT_TAGS)

    def __reduce__(self) -> tuple[type[KoreanTokenizer], tuple[int]]:
        """Pickle as settings only: a worker process rebuilds its own Kiwi (a Kiwi cannot be pickled)."""
        return (KoreanTokenizer, (self.num_workers,))
