"""A stand-in stage command for the local runner's tests: milliseconds instead of a model.

    python -m tests.pipeline.fake_stage NAME --read URI… --write URI [--tag T] [--calls FILE] [--fail-once FILE]

Writes to `--write` (a file, or `part.txt` + `all.txt` in a folder when it ends in `/`) the concatenated
content of the `--read` files plus the tag, and appends NAME to `--calls`. With `--fail-once MARKER` the
first call writes `part.txt` only and exits 1, leaving MARKER; the next call finds `part.txt` (the runner
kept it for the resumption) and finishes — like a trainer resuming from its checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lexdpr import storage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--read", nargs="*", default=[])
    parser.add_argument("--write", required=True)
    parser.add_argument("--tag", default="")
    parser.add_argument("--calls")
    parser.add_argument("--fail-once")
    args = parser.parse_args(argv)
    if args.calls:
        with open(args.calls, "a", encoding="utf-8") as handle:
            handle.write(args.name + "\n")
    text = "".join(storage.read_text(uri) for uri in args.read) + f"{args.name}:{args.tag}\n"
    if not args.write.endswith("/"):
        storage.write_text(args.write, text)
        return 0
    folder = args.write.rstrip("/")
    part = storage.join(folder, "part.txt")
    if args.fail_once and not Path(args.fail_once).exists():
        storage.write_text(part, "partial\n")
        Path(args.fail_once).write_text("failed once\n", encoding="utf-8")
        print("stopping halfway on purpose", file=sys.stderr)
        return 1
    if args.fail_once and not storage.exists(part):
        print("resumed without the partial output", file=sys.stderr)
        return 3
    storage.write_text(storage.join(folder, "all.txt"), text)
    if not storage.exists(part):
        storage.write_text(part, "complete\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
