"""`python -m lexdpr.kube.upload FOLDER DEST`: copy a trial's run folders to S3 (or any storage path).

Trials write their run folders to the workspace PVC. When the Experiment sets `LEXDPR_RUNS_S3`
(TrialOptions.runs_s3 / chart value katib.trial.runsS3), the trial script copies
`sweeps/<experiment>/<trial>/wandb/` to `$LEXDPR_RUNS_S3/<experiment>/<trial>/wandb/` after the trainer exits
(finished, failed or stopped), so `lex-dpr runs … --root s3://…` sees every trial without the PVC mounted.
A failed upload is reported and does not change the trial's exit status.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lexdpr.errors import LexDprError
from lexdpr.storage import join, write_file


def upload_tree(folder: Path, destination: str) -> int:
    """Copy every file under `folder` to `destination` (same relative paths); returns the number of files."""
    count = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            write_file(join(destination, *path.relative_to(folder).parts), path)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m lexdpr.kube.upload FOLDER DESTINATION", file=sys.stderr)
        return 2
    folder, destination = Path(args[0]), args[1]
    if not folder.is_dir():
        print(f"upload: {folder} does not exist; nothing to copy", file=sys.stderr)
        return 1
    try:
        count = upload_tree(folder, destination)
    except (LexDprError, OSError) as exc:
        print(f"upload: copying {folder} to {destination} failed: {exc}", file=sys.stderr)
        return 1
    print(f"upload: copied {count} files of {folder} to {destination}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
