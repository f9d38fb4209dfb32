"""Stage 3 — corpus: law, admin-rule and precedent-fallback passages → one `merged_corpus.jsonl`.

`python -m lexdpr.data_processing.merge_corpus --law … --admin … [--prec …] --out …`
Retrieval is evaluated over this whole corpus (docs/design.md, 'The corpus'), so ids must be unique across the inputs: a
duplicate is an error naming both files, never a silent overwrite.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lexdpr import storage
from lexdpr.data_processing.passage import check_passage
from lexdpr.errors import InputError
from lexdpr.reporting import RunReport
from lexdpr.stage_cli import add_common_flags, run_main, stderr_console

REQUIRED_FIELDS = ("id", "parent_id", "type", "text")


@dataclass(frozen=True)
class MergeConfig:
    law: str | None = "data/processed/law_passages.jsonl"
    admin: str | None = "data/processed/admin_passages.jsonl"
    prec: str | None = None
    out: str = "data/processed/merged_corpus.jsonl"
    strict: bool = False
    quiet: bool = False


def run(config: MergeConfig) -> RunReport:
    report = RunReport(stage="corpus")
    merged: list[dict[str, Any]] = []
    origin: dict[str, str] = {}
    inputs = [p for p in (config.law, config.admin, config.prec) if p]
    if not inputs:
        raise InputError("merge_corpus", "no input given (--law, --admin or --prec)")
    for path in inputs:
        before = len(merged)
        for lineno, record in enumerate(storage.read_jsonl(path), start=1):
            check_passage(record, path, lineno, REQUIRED_FIELDS)
            pid = record["id"]
            if pid in origin:
                raise InputError(
                    path,
                    f"duplicate passage id {pid!r} (already in {origin[pid]})",
                    record=f"line {lineno}",
                    field="id",
                )
            origin[pid] = f"{path} line {lineno}"
            merged.append(record)
            report.counts[f"{record['type']} passages"] += 1
        if len(merged) == before:
            _empty_input(path, config, report)
    report.counts["total passages"] = len(merged)
    report.enforce_strict(config.strict)
    storage.write_jsonl(config.out, merged)
    return report


def _empty_input(path: str, config: MergeConfig, report: RunReport) -> None:
    """A corpus without laws is a mistake (the passages stage was not run, or not with --out-law); a data set
    may lack admin rules (a skip, so --strict can insist) or need no fallback passages (normal)."""
    if path == config.law:
        raise InputError(path, "no passages (--law); run the passages stage first (with --out-law)")
    if path == config.admin:
        report.skip(path, "no passages (--admin): the corpus has no admin rules; leave --admin out if meant")
    else:
        report.counts["precedent fallback files without passages"] += 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lexdpr.data_processing.merge_corpus",
        description="Merge passage files into the retrieval corpus; refuses duplicate ids.",
    )
    defaults = MergeConfig()
    parser.add_argument("--law", default=defaults.law, help="law passages JSONL ('' to leave out)")
    parser.add_argument("--admin", default=defaults.admin, help="admin-rule passages JSONL ('' to leave out)")
    parser.add_argument("--prec", default=defaults.prec, help="precedent fallback passages JSONL (optional)")
    parser.add_argument("--out", default=defaults.out, help="merged corpus JSONL")
    add_common_flags(parser)
    return parser


def _body(args: argparse.Namespace) -> int:
    config = MergeConfig(
        law=args.law or None,
        admin=args.admin or None,
        prec=args.prec or None,
        out=args.out,
        strict=args.strict,
        quiet=args.quiet,
    )
    report = run(config)
    report.print(stderr_console(), quiet=config.quiet)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_body, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
