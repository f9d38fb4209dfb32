"""Wall times of Korean tokenization and BM25 on the real law.go.kr data.

Why: the whole data pipeline (parse + BM25 hard negatives for ~4-6k queries at top-100 + writing) has a
budget of 30 s on two cores, so corpus tokenization must take a few seconds at most. This measures each step
on the real laws and 2,400 real 판시사항 queries:

    .venv/bin/python benchmarks/bm25_speed.py [--data-dir ../shared/data/lawgo] [--repeat 3] [--workers -1]
                                               [--compare-contextual 1500]

Passages are the laws' articles flattened (조문내용 + 항/호/목 내용; 전문 headings skipped), standing in
for the real passage parser. Every repetition starts from a fresh tokenizer, so tokenization is measured
with a cold cache; the minimum over repetitions is the number to quote on a shared machine, the maximum
shows the noise; CPU seconds add up all threads. `--compare-contextual N` also measures how far
run-by-run analysis (what `KoreanTokenizer` does) drifts from Kiwi over whole passages, on N random
passages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

# so that it also runs from a checkout where lexdpr is not installed (`pip install -e .`)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lexdpr.retrieval.bm25_index import BM25Index
from lexdpr.retrieval.korean_tokenizer import CONTENT_TAGS, KoreanTokenizer

T = TypeVar("T")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lawgo"
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def main() -> None:
    args = _parse_args()
    texts, (load_s, _) = _timed(lambda: law_article_texts(args.data_dir / "laws"))
    queries = precedent_queries(args.data_dir / "precedents")
    ids = [f"P{i:05d}" for i in range(len(texts))]
    print(f"cpus: {os.cpu_count()}  kiwi workers: {args.workers}")
    print(
        f"corpus: {len(texts):,} articles, {sum(map(len, texts)):,} characters (flattened in {load_s:.2f} s)"
    )
    print(f"queries: {len(queries):,} 판시사항, {sum(map(len, queries)):,} characters")

    times: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        tokenizer, seconds = _timed(lambda: KoreanTokenizer(num_workers=args.workers))
        _record(times, "tokenizer load (Kiwi model)", seconds)
        tokens, seconds = _timed(lambda: tokenizer.tokenize(texts))  # noqa: B023
        _record(times, "tokenize corpus (cold cache)", seconds)
        distinct_runs = tokenizer.cache_size()
        _, seconds = _timed(lambda: tokenizer.tokenize(queries))  # noqa: B023
        _record(times, "tokenize queries (corpus-warm cache)", seconds)
        _, seconds = _timed(lambda: tokenizer.tokenize(texts))  # noqa: B023
        _record(times, "tokenize corpus again (all cached)", seconds)
        index, seconds = _timed(lambda: BM25Index.build(ids, texts, tokenizer))  # noqa: B023
        _record(times, "BM25Index.build (tokens cached)", seconds)
        for k in (10, 100):
            _, seconds = _timed(lambda: index.search(queries, k))  # noqa: B023
            _record(times, f"search {len(queries):,} queries top-{k} (tokens cached)", seconds)

    print(f"distinct runs analysed by Kiwi: {distinct_runs:,}; corpus tokens: {sum(map(len, tokens)):,}")
    print(
        f"\n{'step':48s} {'wall min':>8s} {'median':>7s} {'max':>7s} {'cpu min':>8s}   ({args.repeat} runs)"
    )
    for step, values in times.items():
        walls = [wall for wall, _ in values]
        cpu = min(cpu for _, cpu in values)
        print(f"{step:48s} {min(walls):8.2f} {statistics.median(walls):7.2f} {max(walls):7.2f} {cpu:8.2f}")
    best = {step: min(wall for wall, _ in values) for step, values in times.items()}
    per_query = best[f"search {len(queries):,} queries top-100 (tokens cached)"] / len(queries)
    cold = best["tokenizer load (Kiwi model)"] + best["tokenize corpus (cold cache)"]
    for n in (4000, 6000):
        projected = cold + best["BM25Index.build (tokens cached)"] + n * per_query
        print(
            f"projected: Kiwi load + corpus + index + {n:,} queries top-100 ≈ {projected:.1f} s "
            "(+ query tokenization)"
        )

    if args.compare_contextual:
        compare_contextual(texts, args.compare_contextual, args.workers)


def law_article_texts(laws_dir: Path) -> list[str]:
    """One text per article (조문여부 "조문") of every law: its 조문내용 and all 항/호/목 내용, in order."""
    texts = []
    for path in sorted(laws_dir.glob("*.json")):
        law = json.loads(path.read_text(encoding="utf-8"))["법령"]
        for unit in _as_list((law.get("조문") or {}).get("조문단위")):
            if unit.get("조문여부") != "조문":
                continue
            parts = list(_strings(unit.get("조문내용")))
            for para in _as_list(unit.get("항")):
                parts.extend(_strings(para.get("항내용")))
                for item in _as_list(para.get("호")):
                    parts.extend(_strings(item.get("호내용")))
                    for sub in _as_list(item.get("목")):
                        parts.extend(_strings(sub.get("목내용")))
            texts.append(" ".join(p.strip() for p in parts if p.strip()))
    return texts


def precedent_queries(precedents_dir: Path) -> list[str]:
    """The 판시사항 of every precedent (API or flat shape), <br/> removed; empty ones skipped."""
    queries = []
    for path in sorted(precedents_dir.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record = record.get("PrecService", record)
        text = _BR.sub(" ", record.get("판시사항") or "").strip()
        if text:
            queries.append(text)
    return queries


def compare_contextual(texts: list[str], sample: int, workers: int) -> None:
    """Content tokens per run (ours) vs per whole passage (Kiwi with sentence context), on a sample."""
    from kiwipiepy import Kiwi

    chosen = random.Random(0).sample(texts, min(sample, len(texts)))
    ours = KoreanTokenizer(num_workers=workers).tokenize(chosen)
    threads = -1 if workers == -1 else max(workers, 1)  # Kiwi's batch API needs at least one worker thread
    kiwi = Kiwi(num_workers=threads, load_typo_dict=False, load_multi_dict=False)
    start = time.perf_counter()
    analyses = list(kiwi.tokenize(chosen))
    seconds = time.perf_counter() - start
    theirs = [[t.form.lower() for t in a if t.tag.partition("-")[0] in CONTENT_TAGS] for a in analyses]
    common = sum(sum((Counter(a) & Counter(b)).values()) for a, b in zip(ours, theirs, strict=True))
    print(
        f"\nwhole-passage Kiwi on {len(chosen):,} passages ({sum(map(len, chosen)):,} chars): "
        f"{seconds:.2f} s; "
        f"token agreement with per-run analysis: {common / sum(map(len, ours)):.3f} of ours, "
        f"{common / sum(map(len, theirs)):.3f} of theirs"
    )


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help="folder with laws/ and precedents/"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions, each with a fresh tokenizer")
    parser.add_argument("--workers", type=int, default=-1, help="Kiwi threads (-1: one per core)")
    parser.add_argument("--compare-contextual", type=int, default=0, metavar="N", help="passages to compare")
    return parser.parse_args()


def _timed(fn: Callable[[], T]) -> tuple[T, tuple[float, float]]:
    """Result, wall seconds and CPU seconds of all threads (Kiwi's included) of calling `fn`."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, (time.perf_counter() - wall, time.process_time() - cpu)


def _record(times: dict[str, list[tuple[float, float]]], step: str, seconds: tuple[float, float]) -> None:
    times.setdefault(step, []).append(seconds)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _strings(value: Any) -> Iterator[str]:
    """A law.go.kr text field: a string or (nested) lists of strings."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


if __name__ == "__main__":
    main()
