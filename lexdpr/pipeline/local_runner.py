"""The main job on one machine: the pipeline's stages, in the pipeline's order, with the pipeline's commands.

Each stage's argv comes from `lexdpr.pipeline.stages`, exactly as the KFP components get it; only the
placeholders are bound differently. Artifacts live under one *storage* root — a local folder or an
`s3://bucket/prefix` — as `<storage>/<artifact>/` (folders) or `<storage>/<artifact>.json` (the metrics
file). Commands that read and write `s3://` themselves (the data stages, evaluation, the tune stage) get
the URIs; commands that need local paths (the trainer's `out_dir`, loading a model) get a temporary
folder that is downloaded before and uploaded after, which is what the KFP launcher does for every stage.
The workspace (sweep state, W&B runs, trial checkpoints) is a local folder, as the PVC is on Kubernetes.

`lex-dpr` in an argv runs as `python -m lexdpr.cli` and `python` as this interpreter, so the runner works
in a virtual environment without activating it. Stage output goes to `<workspace>/logs/<stage>.log`;
the console shows one line per stage and, at the end, what the run produced. Unchanged stages are
skipped (`lexdpr.pipeline.cache`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from lexdpr import storage
from lexdpr.errors import ConfigError, LexDprError
from lexdpr.pipeline import transfer
from lexdpr.pipeline.cache import DONE, RUNNING, OutputRecord, StageCache, StageRecord, stage_key
from lexdpr.pipeline.stages import EXECUTOR_INPUT, PARAMS, STAGES, Output, Stage, in_order, render_argv

LOG_TAIL_LINES = 25


class StageFailed(LexDprError):
    """A stage's command failed; the message names the stage, shows the end of its log and where the log is."""

    exit_code = 1


@dataclass(frozen=True)
class StageResult:
    name: str
    status: str  # ran | cached
    seconds: float
    log: str | None = None


@dataclass
class PipelineResult:
    """What `run_local` did and produced."""

    storage: str
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0
    summary: dict[str, Any] | None = None
    best: dict[str, Any] | None = None
    artifacts: dict[str, str] = field(default_factory=dict)

    def stage(self, name: str) -> StageResult:
        return next(s for s in self.stages if s.name == name)


def output_uri(root: str, out: Output) -> str:
    """Where an artifact lives under the storage root."""
    return storage.join(root, out.name if out.folder else f"{out.name}.json")


def executable(argv: list[str], python: str = sys.executable) -> list[str]:
    """An argv as this machine runs it: `lex-dpr …` → `python -m lexdpr.cli …`, `python` → this interpreter."""
    if argv[0] == "lex-dpr":
        return [python, "-m", "lexdpr.cli", *argv[1:]]
    if argv[0] == "python":
        return [python, *argv[1:]]
    return argv


def full_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every pipeline parameter: the given values, the defaults of `PARAMS` for the rest."""
    unknown = set(values) - set(PARAMS)
    if unknown:
        raise ConfigError(
            f"unknown pipeline parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(PARAMS)}"
        )
    return {name: values.get(name, p.default) for name, p in PARAMS.items()}


def run_local(
    storage_root: str,
    params: Mapping[str, Any],
    *,
    stages: tuple[Stage, ...] = STAGES,
    until: str | None = None,
    force: bool = False,
    verbose: bool = False,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
    python: str = sys.executable,
) -> PipelineResult:
    """Run the stages (up to and including `until`) under `storage_root`; see the module docstring."""
    console = console or Console(stderr=True, highlight=False)
    values = full_params(params)
    chosen = _select(stages, until)
    root = storage_root.rstrip("/") if storage.is_s3(storage_root) else str(Path(storage_root))
    workspace = Path(values["workspace"])
    workspace.mkdir(parents=True, exist_ok=True)
    cache = StageCache(root)
    uris = {out.name: output_uri(root, out) for s in stages for out in s.outputs}
    hashes: dict[str, str] = {}
    contents: dict[str, str] = {}
    result = PipelineResult(storage=root)
    started = time.perf_counter()
    console.print(
        f"[bold]lexdpr pipeline[/bold] · storage {root} · workspace {workspace} · {len(chosen)} stages"
    )
    for number, s in enumerate(chosen, start=1):
        label = f"[{number}/{len(chosen)}] {s.name}"
        for name in s.params:
            if PARAMS[name].content and name not in contents:
                contents[name] = _param_content(name, str(values[name]))
        inputs = {i.name: _input_hash(i.name, cache, stages, hashes) for i in s.inputs}
        key = stage_key(
            s.argv,
            {name: values[name] for name in s.params},
            {name: contents[name] for name in s.params if name in contents},
            inputs,
            {out.name: uris[out.name] for out in s.outputs},
        )
        record = None if force else cache.hit(s.name, key)
        if record is not None:
            hashes.update({name: out.hash for name, out in record.outputs.items()})
            result.stages.append(StageResult(s.name, "cached", 0.0))
            console.print(f"{label} [dim]unchanged, skipped[/dim]")
            continue
        t0 = time.perf_counter()
        log = workspace / "logs" / f"{s.name}.log"
        if verbose or not console.is_terminal:  # on a terminal a spinner says it instead
            console.print(f"{label} [dim]running … (log: {log})[/dim]")
        outputs = _run_stage(s, key, values, uris, cache, log, label, console, verbose, env, python)
        seconds = time.perf_counter() - t0
        cache.save(StageRecord(s.name, key, DONE, outputs, _now(), round(seconds, 3)))
        hashes.update({name: out.hash for name, out in outputs.items()})
        result.stages.append(StageResult(s.name, "ran", seconds, str(log)))
        console.print(f"{label} [green]done[/green] in {_duration(seconds)}")
    result.seconds = time.perf_counter() - started
    result.artifacts = {name: uri for name, uri in uris.items()}
    result.summary = _read_json(uris.get("report"), "summary.json")
    result.best = _read_json(uris.get("best_params"), "best.json")
    return result


def _select(stages: tuple[Stage, ...], until: str | None) -> list[Stage]:
    ordered = list(in_order(stages))
    if until is None:
        return ordered
    names = [s.name for s in ordered]
    if until not in names:
        raise ConfigError(f"--until {until!r} is not a stage; the stages are {', '.join(names)}")
    return ordered[: names.index(until) + 1]


def _param_content(name: str, value: str) -> str:
    try:
        return transfer.content_hash(value)
    except LexDprError as exc:
        raise ConfigError(f"pipeline parameter {name}: {exc}") from None


def _input_hash(name: str, cache: StageCache, stages: tuple[Stage, ...], hashes: dict[str, str]) -> str:
    """An input's content hash: from this run, or from the producer's record of an earlier run."""
    if name in hashes:
        return hashes[name]
    producer = next(s for s in stages if any(o.name == name for o in s.outputs))
    record = cache.load(producer.name)
    if record is None or record.state != DONE or name not in record.outputs:
        raise ConfigError(
            f"stage {producer.name} has not run yet under this storage (its output {name} is needed)"
        )
    hashes[name] = record.outputs[name].hash
    return hashes[name]


def _run_stage(
    s: Stage,
    key: str,
    values: Mapping[str, Any],
    uris: Mapping[str, str],
    cache: StageCache,
    log: Path,
    label: str,
    console: Console,
    verbose: bool,
    env: Mapping[str, str] | None,
    python: str,
) -> dict[str, OutputRecord]:
    resume = cache.interrupted(s.name, key)
    cache.save(StageRecord(s.name, key, RUNNING, started=_now()))
    with tempfile.TemporaryDirectory(prefix=f"lexdpr-{s.name}-") as tmp:
        staging = Path(tmp)
        bound = {name: str(values[name]) for name in s.params}
        for i in s.inputs:
            uri = uris[i.name]
            staged = i.local and storage.is_s3(uri)
            bound[i.name] = str(transfer.download(uri, staging / "in" / i.name)) if staged else uri
        local_out: dict[str, Path] = {}
        for out in s.outputs:
            uri = uris[out.name]
            if not resume:
                transfer.clear(uri)
            bound[out.name] = uri
            if out.local and storage.is_s3(uri):
                local_out[out.name] = staging / "out" / out.name
                local_out[out.name].parent.mkdir(parents=True, exist_ok=True)
                if resume and transfer.files_under(uri):
                    transfer.download(uri, local_out[out.name])
                bound[out.name] = str(local_out[out.name])
            elif not storage.is_s3(uri):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
        bound[EXECUTOR_INPUT] = _executor_input(s, uris, staging / "executor_output.json")
        argv = render_argv(s, bound, {i.name: uris[i.name] for i in s.inputs})
        try:
            _execute(argv, log, label, console, verbose, env, python)
        except BaseException:
            # Keep what a stopped stage wrote (a trainer's checkpoints), so the next run resumes from it.
            for name, folder in local_out.items():
                if folder.exists():
                    transfer.upload(folder, uris[name])
            raise
        outputs: dict[str, OutputRecord] = {}
        for out in s.outputs:
            uri = uris[out.name]
            written = str(local_out.get(out.name, uri))
            if not _exists(written):
                raise StageFailed(f"stage {s.name} succeeded but wrote no {out.name} ({written}); log: {log}")
            digest = transfer.content_hash(written)
            if out.name in local_out:
                transfer.upload(local_out[out.name], uri)
            outputs[out.name] = OutputRecord(uri, digest, transfer.manifest(uri))
    return outputs


def _exists(uri: str) -> bool:
    if storage.is_s3(uri):
        return storage.exists(uri) or bool(transfer.files_under(uri))
    return Path(uri).exists()


def _executor_input(s: Stage, uris: Mapping[str, str], output_file: Path) -> str:
    """A KFP-shaped executor input: where the stage may report output metadata (evaluate's metrics)."""
    artifacts = {
        out.name: {"artifacts": [{"name": out.name, "uri": uris[out.name], "metadata": {}}]}
        for out in s.outputs
    }
    return json.dumps({"outputs": {"artifacts": artifacts, "outputFile": str(output_file)}})


def _execute(
    argv: list[str],
    log: Path,
    label: str,
    console: Console,
    verbose: bool,
    env: Mapping[str, str] | None,
    python: str,
) -> None:
    """Run one command; its output goes to `log` (and, verbose, to the terminal too)."""
    command = executable(argv, python)
    log.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as handle:
        handle.write(("$ " + " ".join(argv) + "\n").encode())
        handle.flush()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=None if verbose else handle,
            stderr=None if verbose else subprocess.STDOUT,
            env=child_env,
        )
        try:
            _wait(process, log, label, console, verbose)
        except BaseException:
            _stop(process)
            raise
    if process.returncode != 0:
        tail = "" if verbose else "\n".join(_tail(log, LOG_TAIL_LINES))
        raise StageFailed(
            f"{label.split('] ', 1)[-1]} failed (exit code {process.returncode}): {' '.join(argv)}\n"
            + (f"{tail}\n" if tail else "")
            + f"full log: {log}"
        )


def _wait(process: subprocess.Popen[bytes], log: Path, label: str, console: Console, verbose: bool) -> None:
    start = time.perf_counter()
    if verbose or not console.is_terminal:
        process.wait()
        return
    with console.status(label) as status:
        while process.poll() is None:
            time.sleep(0.5)
            last = next(iter(_tail(log, 1)), "")
            status.update(f"{label} [dim]{_duration(time.perf_counter() - start)}  {last[-80:]}[/dim]")


def _stop(process: subprocess.Popen[bytes], grace_s: float = 60.0) -> None:
    """Let the stage stop cleanly (the trainer saves a checkpoint on SIGTERM), then make sure it is gone."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    rows = [r.rsplit("\r", 1)[-1].rstrip() for r in text.split("\n")]
    return [r for r in rows if r.strip()][-lines:]


def _read_json(uri: str | None, name: str) -> dict[str, Any] | None:
    if uri is None:
        return None
    path = storage.join(uri, name)
    try:
        return json.loads(storage.read_text(path)) if storage.exists(path) else None
    except (LexDprError, ValueError):
        return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d} min"


# --- the end-of-run summary ------------------------------------------------------------------------

SUMMARY_METRICS = (
    "eval/ndcg_at_10",
    "eval/recall_at_10",
    "eval/mrr_at_10",
    "eval/ndcg_at_1",
    "eval/recall_at_1",
    "eval/recall_at_5",
)


SUMMARY_COLUMNS = {"model": "fine-tuned", "zero_shot": "zero-shot", "bm25": "BM25", "hybrid": "hybrid"}


def print_summary(result: PipelineResult, console: Console, say: Callable[[str], None] | None = None) -> None:
    """Test metrics against BM25 and zero-shot, the best parameters, the verdict and where the model is."""
    from rich.table import Table

    ran = sum(s.status == "ran" for s in result.stages)
    cached = sum(s.status == "cached" for s in result.stages)
    console.print(
        f"\n[bold]done[/bold] in {_duration(result.seconds)}: {ran} stage(s) ran, {cached} unchanged"
    )
    summary = result.summary
    if summary:
        models = summary["models"]
        columns = [name for name in SUMMARY_COLUMNS if name in models]  # hybrid: from this version on
        table = Table(title=f"test set ({summary.get('eval/fingerprint')})", title_justify="left")
        table.add_column("metric")
        for name in columns:
            table.add_column(SUMMARY_COLUMNS[name], justify="right")
        for metric in SUMMARY_METRICS:
            row = [models[name].get(metric) for name in columns]
            if all(isinstance(v, int | float) for v in row):
                table.add_row(metric, *(f"{v:.4f}" for v in row))
        console.print(table)
        fusion = summary.get("fusion") or {}
        if fusion:
            how = "chosen on valid" if fusion.get("chosen_on") == "valid" else "default: no valid pairs"
            console.print(f"hybrid = fine-tuned + BM25, fused by {fusion.get('label')} ({how})", markup=False)
        verdict = summary.get("verdict") or {}
        failed = [o["rule"] for o in verdict.get("outcomes", []) if o.get("status") == "fail"]
        console.print(
            f"run verdict: {'[green]passed[/green]' if verdict.get('passed') else '[red]failed[/red] (' + ', '.join(failed) + ')'}"
            f" · beats BM25: {_yes(summary.get('beats_bm25'))} · beats zero-shot: {_yes(summary.get('beats_zero_shot'))}"
        )
    if result.best:
        best = result.best
        values = ", ".join(f"{k}={_short(v)}" for k, v in (best.get("values") or {}).items())
        console.print(
            f"best parameters (trial {best.get('trial')} of sweep {best.get('sweep')}, "
            f"{best.get('metric')}={_short(best.get('objective'))}): {values}"
        )
    produced = {o.name for s in STAGES if s.name in {r.name for r in result.stages} for o in s.outputs}
    for name in ("model", "checkpoints", "report"):
        if name in produced:
            console.print(f"{name}: {result.artifacts[name]}")


def _yes(value: Any) -> str:
    return "[green]yes[/green]" if value else "[yellow]no[/yellow]"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
