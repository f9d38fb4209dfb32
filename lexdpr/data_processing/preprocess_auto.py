"""Stage 1 — passages: every law and admin-rule JSON under `--src-dir` → two passage JSONL files.

`python -m lexdpr.data_processing.preprocess_auto --src-dir data --out-law … --out-admin … [--glob …]`
Each file's kind is detected from its content (`법령` → law, `AdmRulService` → admin rule); precedent files
found on the way are counted and left for the pairs stage. A file that cannot be parsed is reported with
file, field and reason and skipped; `--strict` turns any skip into a failing exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from lexdpr import storage
from lexdpr.data_processing.admin_parser import parse_admin_rule
from lexdpr.data_processing.law_parser import parse_law
from lexdpr.data_processing.passage import Granularity, Passage, PassageOptions
from lexdpr.data_processing.raw_documents import SourceKind, detect_kind, parse_json_document, relative_name
from lexdpr.errors import InputError, StorageError
from lexdpr.progress import track
from lexdpr.reporting import RunReport
from lexdpr.stage_cli import add_common_flags, run_main, stderr_console


@dataclass(frozen=True)
class PreprocessConfig:
    src_dir: str = "data"
    out_law: str | None = None
    out_admin: str | None = None
    glob: str = "**/*.json"
    passages: PassageOptions = field(default_factory=PassageOptions)
    strict: bool = False
    quiet: bool = False


def _no_passages_reason(kind: SourceKind, dropped: list[str]) -> str:
    if dropped:
        return f"no passages: all {len(dropped)} article(s) are deleted (삭제)"
    if kind is SourceKind.LAW:
        return "no passages: no article rows (조문여부 '조문'), only 전문 headings"
    return "no passages: no article with a 제N조 head in 조문내용"


def run(config: PreprocessConfig) -> RunReport:
    """Parse every file; on success write only the outputs named in `config` (`out_law`, `out_admin`).

    A file of a kind whose output was not named is counted and left alone, and the other output is never
    touched, so running the stage once for laws and once for admin rules keeps both files. With `strict`,
    any skip fails the run before anything is written.
    """
    report = RunReport(stage="passages")
    targets = {SourceKind.LAW: config.out_law, SourceKind.ADMIN: config.out_admin}
    if not any(targets.values()):
        raise InputError("command line", "name at least one output: --out-law and/or --out-admin")
    outputs: dict[SourceKind, list[Passage]] = {SourceKind.LAW: [], SourceKind.ADMIN: []}
    owner_of_parent: dict[tuple[SourceKind, str], str] = {}
    files = storage.list_files(config.src_dir, config.glob)
    if not files:
        raise StorageError(f"{config.src_dir}: no files match {config.glob!r}")
    contents = storage.read_many(files)
    for uri, raw in track(contents, "parsing laws and admin rules", total=len(files), quiet=config.quiet):
        name = relative_name(uri, config.src_dir)
        try:
            doc = parse_json_document(raw, name)
            kind = detect_kind(doc)
            if kind is None:
                raise InputError(
                    name, "not a law.go.kr law, admin rule or precedent (unknown top-level keys)"
                )
            if kind is SourceKind.PRECEDENT:
                report.counts["precedent files (read by the pairs stage)"] += 1
                continue
            if not targets[kind]:
                flag = "--out-law" if kind is SourceKind.LAW else "--out-admin"
                report.counts[f"{kind.value} files left alone (no {flag})"] += 1
                continue
            parse = parse_law if kind is SourceKind.LAW else parse_admin_rule
            passages, dropped = parse(doc, name, config.passages)
        except InputError as exc:
            report.skip(exc.file, exc.reason, exc.record, exc.field)
            continue
        except RecursionError:
            report.skip(name, "nested too deeply to read")
            continue
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            report.skip(name, f"unexpected structure ({type(exc).__name__}: {exc})")
            continue
        if not passages:
            report.skip(name, _no_passages_reason(kind, dropped))
            continue
        parent = passages[0].parent_id
        earlier = owner_of_parent.setdefault((kind, parent), name)
        if earlier != name:
            report.skip(name, f"{kind.value} {parent} was already read from {earlier}; this copy is ignored")
            continue
        outputs[kind].extend(passages)
        report.counts[f"{kind.value} files"] += 1
        report.counts[f"{kind.value} passages"] += len(passages)
        report.counts["deleted articles dropped"] += len(dropped)
    report.enforce_strict(config.strict)
    for kind, target in targets.items():
        if target:
            storage.write_jsonl(target, (p.to_record() for p in outputs[kind]))
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lexdpr.data_processing.preprocess_auto",
        description="Raw law.go.kr law / admin-rule JSON → passage JSONL (one passage per article or 항).",
    )
    defaults = PreprocessConfig()
    parser.add_argument(
        "--src-dir", default=defaults.src_dir, help="folder or s3:// prefix with the raw JSON files"
    )
    parser.add_argument(
        "--out-law",
        default=defaults.out_law,
        help="law passages JSONL (path or s3:// URI); only the outputs named are written",
    )
    parser.add_argument(
        "--out-admin",
        default=defaults.out_admin,
        help="admin-rule passages JSONL; without it admin rules are left alone (and the file untouched)",
    )
    parser.add_argument("--glob", default=defaults.glob, help="which files under --src-dir to read")
    parser.add_argument(
        "--granularity",
        choices=[g.value for g in Granularity],
        default=defaults.passages.granularity.value,
        help="one passage per article (long articles still split on 항) or per paragraph (항)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=defaults.passages.max_tokens,
        help="articles longer than this (estimated subword tokens) are split on 항 boundaries",
    )
    add_common_flags(parser)
    return parser


def _body(args: argparse.Namespace) -> int:
    config = PreprocessConfig(
        src_dir=args.src_dir,
        out_law=args.out_law,
        out_admin=args.out_admin,
        glob=args.glob,
        passages=PassageOptions(granularity=Granularity(args.granularity), max_tokens=args.max_tokens),
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
