"""Train / valid / test split by precedent, stable under any change to the rest of the data (docs/design.md, 'Splits').

The split of a precedent depends only on its serial number (a salted SHA-256 bucket), never on how many
other precedents there are or in which order they are read, so `pairs_test.jsonl` stays the fixed test set
as data is added, and no precedent ever has queries on both sides of a split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

SPLIT_SALT = "lexdpr-split-v1"
_BUCKETS = 10_000


class Split(StrEnum):
    TRAIN = "train"
    VALID = "valid"
    TEST = "test"


@dataclass(frozen=True)
class SplitRatios:
    test: float = 0.1
    valid: float = 0.1

    def __post_init__(self) -> None:
        if not (0 <= self.test < 1 and 0 <= self.valid < 1 and self.test + self.valid < 1):
            raise ValueError("split ratios must be in [0, 1) and leave room for training")


def split_of(precedent_serial: str, ratios: SplitRatios = SplitRatios()) -> Split:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{precedent_serial}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % _BUCKETS
    if bucket < ratios.test * _BUCKETS:
        return Split.TEST
    if bucket < (ratios.test + ratios.valid) * _BUCKETS:
        return Split.VALID
    return Split.TRAIN
