"""The false-negative guard: passages that are probably right answers are never scored as a query's negatives.

A precedent cites only some of the articles that answer its issue, so two kinds of "negatives" are often
unlabelled positives (the guard is `data.false_negative_guard`):

- a **neighbour** of a positive: any passage of the same law's 제N조 as a positive — its other paragraphs and
  its branch articles 제N조의M (for a positive 제N조의2 also 제N조 and 제N조의3). They extend or qualify the
  cited article, often in the same words;
- a **co-cited** article: one that another training query cites together with one of this query's positive
  articles. Precedents that cite the same article for their issue and also cite this one mark it as part of
  the answer to that kind of issue.

Only the training pairs are read, so neither valid nor test precedents influence training. A guarded passage
is skipped when hard negatives are drawn and masked out of the query's scores when it reaches the step's pool
as another query's positive or hard negative (`negatives.build_step_batch`).
On the law.go.kr training split 0.6 % of the mined hard negatives are neighbours and 4.3 % co-cited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from lexdpr.data_processing.pair import Pair
from lexdpr.data_processing.passage_ids import article_id_of, article_number_of


@dataclass(frozen=True)
class _Guarded:
    articles: frozenset[str]  # article ids co-cited with a positive
    numbers: frozenset[str]  # article numbers of the positives (their neighbours share them)
    positives: frozenset[str]


class FalseNegativeGuard:
    """Per training pair, which passage ids must not be its negatives."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        positive_articles = [{article_id_of(pid) for pid in pair.positives} for pair in pairs]
        cocited: dict[str, set[str]] = defaultdict(set)
        for articles in positive_articles:
            for article in articles:
                cocited[article].update(articles - {article})
        self._guarded: list[_Guarded] = []
        for pair, articles in zip(pairs, positive_articles, strict=True):
            self._guarded.append(
                _Guarded(
                    articles=frozenset(set().union(*(cocited[a] for a in articles)) - articles),
                    numbers=frozenset(n for pid in pair.positives if (n := article_number_of(pid))),
                    positives=frozenset(pair.positives),
                )
            )

    def blocks(self, pair_index: int, passage_id: str) -> bool:
        """Whether `passage_id` is a probable positive of pair `pair_index` (its own positives excluded)."""
        guarded = self._guarded[pair_index]
        if passage_id in guarded.positives:
            return False
        if article_id_of(passage_id) in guarded.articles:
            return True
        number = article_number_of(passage_id)
        return number is not None and number in guarded.numbers
