"""Looking up passages by (law, article) — the bridge between a parsed citation and passage ids.

Also answers the question hard-negative mining needs: which passages are "the same article" as a positive
(a part or parent of it, or an identical text under another id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lexdpr.data_processing.passage_ids import PREAMBLE_LABEL, article_id_of, article_label

_NON_TEXT = re.compile(r"\s+")


def text_key(text: str) -> str:
    """A hash of the passage text without its law-name prefix spacing noise, for duplicate detection."""
    return hashlib.sha1(_NON_TEXT.sub("", text).encode()).hexdigest()


@dataclass
class ArticleIndex:
    """Passages grouped by (parent id, article label), in corpus order."""

    by_article: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids_by_text: dict[str, list[str]] = field(default_factory=dict)
    text_key_by_id: dict[str, str] = field(default_factory=dict)  # hashed once, not per mined query
    _ids_by_parent: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, passages: Iterable[dict[str, Any]]) -> ArticleIndex:
        index = cls()
        for p in passages:
            index.by_article.setdefault((p["parent_id"], p["article"]), []).append(p)
            index.by_id[p["id"]] = p
            key = text_key(_body(p))
            index.ids_by_text.setdefault(key, []).append(p["id"])
            index.text_key_by_id[p["id"]] = key
        return index

    def ids_of_parent(self, parent_id: str) -> list[str]:
        """Every passage id of one law or admin rule, in corpus order (grouped by article)."""
        # One pass over all articles builds the answer for every parent (a scan per call cost O(corpus) for
        # each mined query that needs filling); `build` is the only writer, so it never goes stale.
        if self._ids_by_parent is None:
            by_parent: dict[str, list[str]] = {}
            for (parent, _), group in self.by_article.items():
                by_parent.setdefault(parent, []).extend(p["id"] for p in group)
            self._ids_by_parent = by_parent
        return list(self._ids_by_parent.get(parent_id, ()))

    def passages_for(
        self,
        parent_id: str,
        article: int | None,
        branch: int | None = None,
        paragraph: int | None = None,
        preamble: bool = False,
    ) -> list[str]:
        """Passage ids for a cited article (or one of its 항, when passages are that fine)."""
        label = (
            PREAMBLE_LABEL if preamble else (article_label(article, branch) if article is not None else None)
        )
        if label is None:
            return []
        found = self.by_article.get((parent_id, label), [])
        if paragraph is not None:
            exact = [p["id"] for p in found if p.get("paragraph") == paragraph]
            if exact:
                return exact
        return [p["id"] for p in found]

    def related_ids(self, positive_ids: Sequence[str]) -> set[str]:
        """Every id that must never be a hard negative for these positives.

        The positives themselves, every passage of the same article (parts and parent: a 항 passage of a
        positive article, or the article of a positive 항), and passages whose text is identical to a
        positive's (the same article under another id, e.g. a law present in two files).
        """
        related: set[str] = set(positive_ids)
        for pid in positive_ids:
            passage = self.by_id.get(pid)
            if passage is None:
                continue
            article_id = article_id_of(pid)
            related.update(
                p["id"] for p in self.by_article.get((passage["parent_id"], passage["article"]), [])
            )
            related.add(article_id)
            key = self.text_key_by_id.get(pid) or text_key(_body(passage))
            related.update(self.ids_by_text.get(key, []))
        return related


def _body(passage: dict[str, Any]) -> str:
    """Passage text without the law-name prefix, so the same article in two laws' files compares equal."""
    text = passage["text"]
    name = passage.get("law_name") or ""
    return text[len(name) :] if name and text.startswith(name) else text
