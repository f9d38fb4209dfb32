"""Copy a trial's run folders to S3 (or any storage path): what `lex-dpr sweep trial` does when it ends.

Trials write their run folders to the workspace PVC. When the Experiment sets `LEXDPR_RUNS_S3`
(TrialOptions.runs_s3 / chart value katib.trial.runsS3), the trial command copies
`sweeps/<experiment>/<trial>/wandb/` to `$LEXDPR_RUNS_S3/<experiment>/<trial>/wandb/` after the trainer exits
(finished, failed or stopped), so `lex-dpr runs … --root s3://…` sees every trial without the PVC mounted.
"""

from __future__ import annotations

from pathlib import Path

from lexdpr.storage import join, write_file


def upload_tree(folder: Path, destination: str) -> int:
    """Copy every file under `folder` to `destination` (same relative paths); returns the number of files."""
    count = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            write_file(join(destination, *path.relative_to(folder).parts), path)
            count += 1
    return count
