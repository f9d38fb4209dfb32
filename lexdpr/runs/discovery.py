"""Find run folders under a root and resolve what the user typed (`latest`, an id, a folder, a path).

A root is the trainer's `run_dir` (default `wandb/`), any folder above several of them (a PVC where each
Katib trial wrote its own `wandb/`), or an `s3://` prefix where pods copied them. Without a root (`None`,
the CLI's default) both places a user's runs land in are searched: `wandb/` (`lex-dpr train`) and
`checkpoint/sweeps/` (local sweep trials, `<sweep_id>/trial-<n>/wandb/`). Run folders are found at
any depth by their name, `run-{YYYYMMDD_HHMMSS}-{id}`, and their `wandb-metadata.json`; W&B's own
`files/wandb/offline-run-*` folders inside them have other names and are not mistaken for runs.

A run is named by:
- `latest`: the run `latest-run` points to in the root, else the one started last;
- its run id (`xazu3cua`, or a Katib trial's name), or a unique prefix of it;
- its folder name (`run-20260101_120000-xazu3cua`);
- a path or `s3://` URI of the run folder itself, which need not be under the root.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from lexdpr.errors import StorageError
from lexdpr.runs.errors import RunNotFound
from lexdpr.runs.run import RUN_NAME, Run, RunLocation, is_run_folder, load_run
from lexdpr.storage import exists, is_s3, join, list_files, read_text
from lexdpr.sweep.storage import DEFAULT_OUT_ROOT
from lexdpr.tracking.run_folder import LATEST, METADATA

DEFAULT_ROOT = "wandb"
SWEEP_ROOT = str(DEFAULT_OUT_ROOT)  # where sweep agents put their trials
DEFAULT_ROOTS = (DEFAULT_ROOT, SWEEP_ROOT)
LATEST_SELECTOR = "latest"
_MIN_PREFIX = 3  # shorter prefixes of a run id match too much to be meant


def root_label(root: str | os.PathLike[str] | None) -> str:
    """How messages name a root (`None`: the default roots)."""
    return str(root) if root is not None else " and ".join(f"{r}/" for r in DEFAULT_ROOTS)


def find_run_folders(root: str | os.PathLike[str] | None = None) -> list[RunLocation]:
    """Every run folder at or below `root` (`None`: the default roots), oldest first (by the timestamp in
    the folder name)."""
    if root is None:
        roots = [r for r in DEFAULT_ROOTS if Path(r).is_dir()]
        if not roots:
            raise RunNotFound(
                f"no run folders here: neither {DEFAULT_ROOT}/ (where `lex-dpr train` writes them) nor "
                f"{SWEEP_ROOT}/ (sweep trials) exists in {Path.cwd()}; run this where you trained, or point "
                "--root at the run folders' folder, a mounted volume or an s3:// prefix"
            )
        found = {_real(loc.uri): loc for r in roots for loc in find_run_folders(r)}
        return sorted(found.values(), key=lambda loc: (loc.stamp or "", loc.name, loc.uri))
    root = str(root)
    if not is_s3(root) and not Path(root).is_dir():
        raise RunNotFound(
            f"{root}: no such folder. Run folders are written to the trainer's run_dir "
            f"(default {DEFAULT_ROOT}/ in the folder you trained in); point --root at it, a mounted volume, "
            "or an s3:// prefix"
        )
    if is_run_folder(root):
        return [RunLocation(root.rstrip("/"), _basename(root))]
    try:
        metadata_files = list_files(root, f"**/{METADATA}")
    except StorageError as exc:
        raise RunNotFound(f"cannot list run folders under {root}: {exc}") from None
    found: dict[str, RunLocation] = {}
    for uri in metadata_files:
        folder = uri[: -len(METADATA) - 1]
        name = _basename(folder)
        if RUN_NAME.match(name) and _real(folder) not in found:
            found[_real(folder)] = RunLocation(folder, name)
    return sorted(found.values(), key=lambda loc: (loc.stamp or "", loc.name, loc.uri))


def load_runs(root: str | os.PathLike[str] | None, sweep: str | None = None) -> list[Run]:
    """The runs under `root` (only those of `sweep` if given), oldest first by start time."""
    runs = [load_run(loc) for loc in find_run_folders(root)]
    if sweep is not None:
        runs = [r for r in runs if r.sweep_id == sweep]
    return sorted(runs, key=_start_key)


def select_runs(root: str | os.PathLike[str] | None, selectors: Sequence[str]) -> list[Run]:
    """Resolve each selector (see the module docstring) to one run, in the order given."""
    if not selectors:
        raise RunNotFound("name at least one run: `latest`, a run id, a run folder name, or a path")
    direct = [s for s in selectors if _is_path(s)]
    runs = load_runs(root) if len(direct) < len(selectors) else []
    chosen = []
    for selector in selectors:
        run = _load_direct(selector) if selector in direct else _select_one(runs, selector, root)
        chosen.append(run)
    return chosen


def latest_name(root: str | os.PathLike[str] | None) -> str | None:
    """The folder name `{root}/latest-run` points to (a symlink, or a file naming it), if there is one
    (none for the default roots: there `latest` is the run started last)."""
    if root is None:
        return None
    pointer = join(str(root), LATEST)
    if not is_s3(pointer) and os.path.islink(pointer):
        return Path(os.readlink(pointer)).name
    if exists(pointer) and (is_s3(pointer) or Path(pointer).is_file()):
        try:
            return read_text(pointer).strip().rstrip("/").rsplit("/", 1)[-1] or None
        except StorageError:
            return None
    return None


def _select_one(runs: list[Run], selector: str, root: str | os.PathLike[str] | None) -> Run:
    if not runs:
        raise RunNotFound(
            f"no run folders under {root_label(root)} (looked for run-*/{METADATA} at any depth)"
        )
    if selector == LATEST_SELECTOR:
        pointed = latest_name(root)
        match = [r for r in runs if r.location.name == pointed]
        return match[-1] if match else max(runs, key=_start_key)
    for matches in (
        [r for r in runs if r.location.name == selector.rstrip("/")],
        [r for r in runs if selector in (r.run_id, r.location.folder_run_id)],
        [r for r in runs if len(selector) >= _MIN_PREFIX and r.run_id.startswith(selector)],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            where = ", ".join(r.location.uri for r in matches[:6])
            raise RunNotFound(
                f"{selector!r} matches {len(matches)} runs ({where}); name the run folder instead"
            )
    known = ", ".join(r.run_id for r in sorted(runs, key=_start_key, reverse=True)[:8])
    raise RunNotFound(
        f"no run {selector!r} under {root_label(root)}; newest runs there: {known} (or use `latest`)"
    )


def _load_direct(path: str) -> Run:
    path = path.rstrip("/")
    if not is_run_folder(path):
        raise RunNotFound(
            f"{path}: not a run folder (expected run-{{YYYYMMDD_HHMMSS}}-{{id}}/ with {METADATA})"
        )
    return load_run(RunLocation(path, _basename(path)))


def _is_path(selector: str) -> bool:
    return (
        is_s3(selector)
        or "/" in selector
        or os.sep in selector
        or (RUN_NAME.match(selector) is not None and Path(selector).is_dir())
    )


def _start_key(run: Run) -> tuple[datetime, str]:
    return (run.started or datetime.min.replace(tzinfo=UTC), run.location.name)


def _basename(uri: str) -> str:
    return str(uri).rstrip("/").rsplit("/", 1)[-1]


def _real(uri: str) -> str:
    return uri if is_s3(uri) else os.path.realpath(uri)
