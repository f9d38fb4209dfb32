"""The corpus, and pairs made ready for training (docs/design.md, 'Pair records').

The pair record itself — its type, reader and writer — is `lexdpr.data_processing.pair`, shared with the
pairs stage that writes it. Here: ids a pair mentions but the corpus lacks are dropped with a count on
stderr: a hard negative that is not in the corpus cannot be encoded, and a positive that is not there cannot
be retrieved, so such a pair cannot be scored and is skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lexdpr.data_processing.pair import Pair, read_pairs
from lexdpr.errors import InputError
from lexdpr.storage import read_jsonl


@dataclass(frozen=True)
class Corpus:
    """Passages in file order: `ids[i]` has text `texts[i]`; `index[id] == i`."""

    ids: list[str]
    texts: list[str]
    index: dict[str, int]

    def __len__(self) -> int:
        return len(self.ids)


def load_corpus(path: str | os.PathLike[str]) -> Corpus:
    """Read corpus passages; a missing field or a repeated id is an InputError."""
    ids: list[str] = []
    texts: list[str] = []
    index: dict[str, int] = {}
    for n, rec in enumerate(read_jsonl(path), start=1):
        pid, text = rec.get("id"), rec.get("text")
        if not isinstance(pid, str) or not pid:
            raise InputError(str(path), "missing or empty passage id", record=f"line {n}", field="id")
        if not isinstance(text, str):
            raise InputError(str(path), "missing passage text", record=pid, field="text")
        if pid in index:
            raise InputError(
                str(path), "passage id appears twice (ids must be unique)", record=pid, field="id"
            )
        index[pid] = len(ids)
        ids.append(pid)
        texts.append(text)
    if not ids:
        raise InputError(str(path), "the corpus has no passages")
    return Corpus(ids=ids, texts=texts, index=index)


def load_training_pairs(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], corpus: Corpus, quiet: bool = False
) -> list[Pair]:
    """Training pairs of one file or of several in order (e.g. train + valid for the final training).

    A query id in two files is an error: the files would overlap (the same file given twice, or a valid
    split that is not disjoint from train), and the duplicate would be trained twice as often.
    """
    files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not files:
        raise InputError("data.pairs", "no pairs file given")
    pairs: list[Pair] = []
    seen: dict[str, str] = {}
    for path in files:
        for pair in _load_file(path, corpus, quiet):
            first = seen.setdefault(pair.query_id, str(path))
            if first != str(path):
                raise InputError(
                    str(path), f"also in {first}", record=f"query {pair.query_id}", field="query_id"
                )
            pairs.append(pair)
    return pairs


def _load_file(path: str | os.PathLike[str], corpus: Corpus, quiet: bool) -> list[Pair]:
    """Read pairs for training, keeping only ids the corpus has; pairs left without a positive are skipped."""
    pairs: list[Pair] = []
    dropped_negatives = skipped = 0
    for pair in read_pairs(path):
        positives = tuple(p for p in pair.positives if p in corpus.index)
        negatives = tuple(p for p in pair.hard_negatives if p in corpus.index and p not in positives)
        dropped_negatives += len(pair.hard_negatives) - len(negatives)
        if not positives:
            skipped += 1
            continue
        pairs.append(Pair(pair.query_id, pair.query_text, positives, negatives, pair.meta))
    if not pairs:
        raise InputError(str(path), "no usable pairs (none has a positive passage that is in the corpus)")
    if (skipped or dropped_negatives) and not quiet:
        print(
            f"{path}: skipped {skipped} pair(s) whose positives are not in the corpus; "
            f"dropped {dropped_negatives} hard negative(s) not in the corpus",
            file=sys.stderr,
        )
    return pairs


def unique_queries(pairs: Iterable[Pair], path: str) -> list[Pair]:
    """One pair per query id; the same id with a different text or positives is an InputError."""
    seen: dict[str, Pair] = {}
    for p in pairs:
        first = seen.setdefault(p.query_id, p)
        if (first.query_text, set(first.positives)) != (p.query_text, set(p.positives)):
            raise InputError(
                path, "query id occurs twice with different text or positives", record=p.query_id
            )
    return list(seen.values())
