"""Run a function over chunks of work in forked processes that share a large read-only object.

The shared object (a BM25 index of a million passages is hundreds of MB) is put in a module global before
the pool starts, so every worker inherits it through `fork` instead of receiving a pickled copy. Results
come back in input order, so the output does not depend on the worker count.

Forking is safe here because the children only run numpy and plain Python on the shared object: Kiwi
(whose thread pool may exist in the parent) is never called in a child, and no progress bar is live.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_shared: Any = None


def shared() -> Any:
    """The object `fork_map` shares with its workers (in the parent too, while it runs)."""
    return _shared


def fork_map(fn: Callable[[T], R], items: Sequence[T], state: Any, workers: int) -> list[R]:
    """`[fn(item) for item in items]`, with `shared()` returning `state`, in up to `workers` processes."""
    global _shared
    previous, _shared = _shared, state
    try:
        if workers <= 1 or len(items) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            return [fn(item) for item in items]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(items)), mp_context=context) as pool:
            return list(pool.map(fn, items))
    finally:
        _shared = previous
