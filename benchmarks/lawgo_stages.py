"""The three data stages as `lex-dpr data …` command lines, for the benchmarks that start from raw law.go.kr data.

One place for the argv of passages → pairs → corpus into a work folder, so `train_quality.py` and
`hybrid_quality.py` build the same files the same way (`data_stages.py` times the stage modules with its own
worker and chunk flags instead).
"""

from __future__ import annotations

from pathlib import Path


def link_all(sources: list[Path], target: Path) -> int:
    """Symlink every `*.json` of `sources` into `target` (a merged view of several data folders).

    Links point at absolute paths: a relative source such as `../shared/…` would make links that resolve
    against `target`, not against the working folder.
    """
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for folder in sources:
        for path in sorted(folder.resolve().glob("*.json")):
            (target / path.name).symlink_to(path)
            count += 1
    return count


def data_stage_argvs(lex: str, data: Path, work: Path) -> dict[str, list[str]]:
    """label → argv of passages, pairs (train / valid / test) and the merged corpus, written into `work`."""
    law, admin = str(work / "law.jsonl"), str(work / "admin.jsonl")
    return {
        "passages": [lex, "data", "passages", "--src-dir", str(data), "--out-law", law, "--out-admin", admin],
        "pairs": [
            *(lex, "data", "pairs", "--law", law, "--admin", admin),
            *("--prec-json-dir", str(data / "precedents"), "--out", str(work / "pairs_train.jsonl")),
        ],
        "corpus": [
            *(lex, "data", "corpus", "--law", law, "--admin", admin),
            *(
                "--prec",
                str(work / "prec_fallback_passages.jsonl"),
                "--out",
                str(work / "merged_corpus.jsonl"),
            ),
        ],
    }
