"""Query augmentation (`data.multiply`): extra training queries made from a pair itself.

- 0: the pair's query text only.
- 1: plus a copy whose cited article numbers are masked (`제750조의2` → `제○조의○`, likewise 항/호), so the
  model learns the legal content rather than matching the number string a query happens to quote.
- 2: 1, plus a copy whose text is the pair's 판결요지 (`meta["summary"]`, written by make_pairs) when the pairs
  file carries it: the same legal question as the court summarised it.

A copy is added only when its text differs from the original. Copies keep the pair's positives and hard
negatives and get the query id `{query_id}#masked` / `{query_id}#holding`. Because they share positives with
their original, the batch sampler never puts a copy in the same batch as its original.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from lexdpr.data_processing.pair import Pair

MASK = "○"
_ARTICLE = re.compile(r"(제\s*)\d+(\s*(?:조|항|호))(?:(\s*의\s*)\d+)?")
HOLDING_KEYS = ("summary",)  # make_pairs writes the 판결요지 to meta["summary"]


def mask_article_numbers(text: str) -> str:
    """Replace the numbers of article/paragraph/item citations with a mask character."""

    def repl(m: re.Match[str]) -> str:
        out = f"{m.group(1)}{MASK}{m.group(2)}"
        if m.group(3):
            out += f"{m.group(3)}{MASK}"
        return out

    return _ARTICLE.sub(repl, text)


def holding_text(pair: Pair) -> str | None:
    for key in HOLDING_KEYS:
        value = pair.meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def augment(pairs: Sequence[Pair], multiply: int) -> list[Pair]:
    """The training queries for `data.multiply` (originals first, copies after)."""
    out = list(pairs)
    if multiply >= 1:
        for p in pairs:
            masked = mask_article_numbers(p.query_text)
            if masked != p.query_text:
                out.append(replace(p, query_id=f"{p.query_id}#masked", query_text=masked))
    if multiply >= 2:
        for p in pairs:
            holding = holding_text(p)
            if holding and holding != p.query_text:
                out.append(replace(p, query_id=f"{p.query_id}#holding", query_text=holding))
    return out
