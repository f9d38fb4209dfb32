"""`lex-dpr sweep …`: one plain function per command; `lexdpr/cli.py` only parses flags and calls these.

Errors the user can fix raise `LexDprError` (the CLI's `main` prints them); a stopped agent raises
`AgentStopped`, whose exit code is 128 + the signal, as a shell reports it.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.stage_cli import stderr_console
from lexdpr.sweep.agent import Agent, AgentOptions, AgentReport, AgentStopped
from lexdpr.sweep.engine import SweepEngine
from lexdpr.sweep.preflight import (
    base_model_problems,
    missing_inputs,
    require_inputs,
    require_loadable_base_models,
)
from lexdpr.sweep.preset import DEFAULT_OUTPUT, PRESET_YAML
from lexdpr.sweep.report import TrialRow, best_row, status_table, summary_line, trial_rows
from lexdpr.sweep.runner import TRIAL_MODULE, SubprocessTrialRunner, TrialRunner
from lexdpr.sweep.storage import Heartbeat, display_url, resolve_url
from lexdpr.sweep.sweep_file import SweepSpec, load_sweep_file
from lexdpr.sweep.time_window import zone_clock
from lexdpr.sweep.write_back import write_new_file, write_sweep_id


def preset(
    output: Path = DEFAULT_OUTPUT,
    *,
    run: bool = True,
    run_agent: bool = True,
    force: bool = False,
    storage: str | None = None,
    options: AgentOptions | None = None,
    runner: TrialRunner | None = None,
    console: Console | None = None,
) -> str | None:
    """Write the guide's preset to `output`; then (unless `run` is off) create the sweep and maybe run an agent
    with `options`.

    Returns the sweep id, or None with `run=False`.
    """
    say = _say(console)
    output = Path(output)
    write_new_file(output, PRESET_YAML, force=force)
    say(f"wrote the sweep preset to {output}")
    if not run:
        say(f"edit it, then: lex-dpr sweep --config {output}")
        return None
    return create(
        output, storage=storage, run_agent=run_agent, options=options, runner=runner, console=console
    )


def create(
    config_path: Path,
    *,
    storage: str | None = None,
    run_agent: bool = True,
    options: AgentOptions | None = None,
    runner: TrialRunner | None = None,
    console: Console | None = None,
) -> str:
    """Create a sweep from a (validated) sweep file, write its id into the file, and maybe run an agent
    with `options` (checked when they were made: `AgentOptions.from_flags`)."""
    say = _say(console)
    config_path = Path(config_path)
    spec = load_sweep_file(config_path)
    if spec.sweep_id:
        raise ConfigError(
            f"{config_path} already created sweep {spec.sweep_id}: add agents with "
            f"`lex-dpr sweep agent --config {config_path}`, or delete its sweep_id line to create a new sweep"
        )
    if run_agent and _real_trainer(runner):  # before the sweep exists: the file can still be edited
        require_inputs(spec, str(config_path))
        require_loadable_base_models(spec, str(config_path))
    elif _real_trainer(runner):  # its agents may run on other machines: only warn
        for name, problem in base_model_problems(spec).items():
            say(f"warning: base model {name} cannot be loaded on this machine: {problem}")
        for missing in missing_inputs(spec):
            say(f"warning: input file {missing} does not exist on this machine")
    url = resolve_url(storage)
    engine = SweepEngine.create(
        spec, url, config_path.read_text(encoding="utf-8"), str(config_path.resolve())
    )
    write_sweep_id(config_path, engine.sweep_id)
    say(f"created sweep {engine.sweep_id} in {display_url(url)} (sweep_id written to {config_path})")
    say(f"  more agents: lex-dpr sweep agent {engine.sweep_id}" + _storage_flag(storage))
    say(f"  progress:    lex-dpr sweep status {engine.sweep_id}" + _storage_flag(storage))
    if run_agent:
        _run_agent(engine.sweep_id, url, options or AgentOptions(), runner, say)
    return engine.sweep_id


def agent(
    target: str | None = None,
    *,
    config_path: Path | None = None,
    storage: str | None = None,
    options: AgentOptions | None = None,
    heartbeat: Heartbeat | None = None,
    runner: TrialRunner | None = None,
    clock: Any = None,
    console: Console | None = None,
) -> AgentReport:
    """Run trials of an existing sweep (`target`: a sweep id or sweep file; or `config_path`; with neither,
    the preset's file `configs/sweep.yaml`) as `options` say. `clock` replaces the wall clock of
    `options.time_zone` (tests fix the time of day)."""
    say = _say(console)
    if target and config_path:
        raise ConfigError("give either a sweep id or --config FILE, not both")
    if not target and not config_path:
        if not DEFAULT_OUTPUT.is_file():
            raise ConfigError(
                f"which sweep? give its id (lex-dpr sweep agent SWEEP_ID) or --config FILE "
                f"(without either, the agent reads {DEFAULT_OUTPUT}, which does not exist here)"
            )
        config_path = DEFAULT_OUTPUT
    url = resolve_url(storage)
    sweep_id, file_spec, source = _resolve_target(target, config_path)
    stored = SweepEngine.open(sweep_id, url).spec
    if file_spec is not None:
        _check_unchanged(source, file_spec, stored)
    if _real_trainer(runner):
        require_inputs(stored, source if file_spec is not None else None)
        require_loadable_base_models(stored, source if file_spec is not None else None)
    return _run_agent(sweep_id, url, options or AgentOptions(), runner, say, heartbeat=heartbeat, clock=clock)


def status(sweep: str, *, storage: str | None = None, console: Console | None = None) -> list[TrialRow]:
    """Print the sweep's trials (state, objective, parameters, duration; the best marked) and return them."""
    url = resolve_url(storage)
    sweep_id, _, _ = _resolve_target(sweep, None)
    engine = SweepEngine.open(sweep_id, url)
    rows = trial_rows(engine.spec, engine.trials(), datetime.now())
    out = console or Console(highlight=False)
    out.print(summary_line(sweep_id, engine.spec, rows), markup=False, soft_wrap=True)
    if rows:
        out.print(status_table(engine.spec, rows))
    return rows


def best(
    sweep: str, *, storage: str | None = None, export: Path | None = None, console: Console | None = None
) -> TrialRow:
    """Print the best trial's parameters and checkpoint; with `export`, write it as a merged model folder."""
    url = resolve_url(storage)
    sweep_id, _, _ = _resolve_target(sweep, None)
    engine = SweepEngine.open(sweep_id, url)
    rows = trial_rows(engine.spec, engine.trials())
    row = best_row(rows, engine.spec)
    if row is None:
        raise LexDprError(
            f"sweep {sweep_id} has no completed trial yet (see `lex-dpr sweep status {sweep_id}`)"
        )
    console = console or Console(highlight=False)

    def out(line: str) -> None:
        console.print(line, markup=False, soft_wrap=True)

    out(
        f"best trial of sweep {sweep_id}: trial {row.number}, {engine.spec.metric.name} = {row.objective:.6g}"
    )
    for key, value in row.values.items():
        out(f"  {key}: {value!r}" if isinstance(value, float) else f"  {key}: {value}")
    out(f"checkpoint: {row.best_checkpoint or '(none recorded)'}")
    if row.run_folder:
        out(f"run folder: {row.run_folder}")
    overrides = " ".join(shlex.quote(f"{k}={v}") for k, v in engine.spec.train_values(row.values).items())
    out(f"train it again: lex-dpr train {overrides}")
    if export is not None:
        out(f"exported the merged model to {_export(row, Path(export))}")
    return row


# --- helpers ------------------------------------------------------------------------------------------


def _run_agent(
    sweep_id: str,
    url: str,
    options: AgentOptions,
    runner: TrialRunner | None,
    say: Any,
    *,
    heartbeat: Heartbeat | None = None,
    clock: Any = None,
) -> AgentReport:
    engine = SweepEngine.open(sweep_id, url, heartbeat or Heartbeat())
    clock = clock or zone_clock(options.time_zone)
    count, window = options.count, options.window
    zone = clock().tzname() if window else None
    say(
        f"agent for sweep {sweep_id}"
        + (f", --count {count}" if count else "")
        + (f", window {window}" if window else "")
        + (f" ({zone})" if zone else "")
    )
    report = Agent(engine, runner or SubprocessTrialRunner(), options, clock=clock, say=say).run()
    if report.signum is not None:
        handed_on = bool(report.trials) and report.trials[-1][1] == "interrupted"
        detail = (
            f"; its trial {report.trials[-1][0]} is queued and resumes with the next agent "
            f"(lex-dpr sweep agent {sweep_id})"
            if handed_on
            else ""
        )
        raise AgentStopped(report.signum, f"agent {report.stopped_because}{detail}")
    say(f"agent done: {report.stopped_because}")
    return report


def _resolve_target(target: str | None, config_path: Path | None) -> tuple[str, SweepSpec | None, str]:
    """A sweep id, or a sweep file holding one → (sweep id, the file's spec if a file, its name)."""
    path = Path(config_path) if config_path else (Path(target) if target and Path(target).is_file() else None)
    if path is None:
        return str(target), None, str(target)
    spec = load_sweep_file(path)
    if not spec.sweep_id:
        raise ConfigError(
            f"{path} has no sweep_id yet: create the sweep first with `lex-dpr sweep --config {path}`"
        )
    return spec.sweep_id, spec, str(path)


def _check_unchanged(source: str, file_spec: SweepSpec, stored: SweepSpec) -> None:
    """An agent runs the sweep as created; a file edited since would silently not apply, so say so."""
    mine, theirs = file_spec.definition(), stored.definition()
    if mine == theirs:
        return
    changed = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
    for section in ("parameters", "fixed"):
        if section in changed:
            a, b = mine.get(section, {}), theirs.get(section, {})
            changed.remove(section)
            changed += [f"{section}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    raise ConfigError(
        f"{source} differs from sweep {stored.sweep_id} as it was created ({', '.join(changed)}); a sweep keeps "
        f"its definition. To sweep the edited file, delete its sweep_id line and run `lex-dpr sweep --config {source}`"
    )


def _export(row: TrialRow, target: Path) -> Path:
    if not row.best_checkpoint:
        raise LexDprError(f"trial {row.number} recorded no checkpoint to export")
    checkpoint = Path(row.best_checkpoint)
    if not checkpoint.is_dir():
        where = f" (it ran on {row.host})" if row.host else ""
        raise LexDprError(
            f"the best checkpoint {checkpoint} is not on this machine{where}; run `best --export` there"
        )
    from lexdpr.training.export import export_merged

    return export_merged(checkpoint, target)


def _real_trainer(runner: TrialRunner | None) -> bool:
    """Whether the trials run `lex-dpr train` (tests plug in fake trainers, whose models are made up)."""
    return runner is None or getattr(runner, "trial_module", None) == TRIAL_MODULE


def _storage_flag(storage: str | None) -> str:
    return f" --storage {display_url(storage)}" if storage else ""


def _say(console: Console | None) -> Any:
    target = console or stderr_console()
    return lambda message: target.print(message, markup=False, highlight=False)


__all__ = ["AgentStopped", "agent", "best", "create", "preset", "status"]
