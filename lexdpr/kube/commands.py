"""What the CLI calls for Katib sweeps: render, create, status, best, and the time-window agent.

lexdpr/cli.py calls these from the `--backend katib` branches of the `sweep` commands.

All functions raise `LexDprError`s (ConfigError for bad input, KatibApiError for the cluster) with complete
messages, and accept an `api` (a `KatibApi`) so tests need no cluster.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.table import Table

from lexdpr.errors import ConfigError
from lexdpr.kube.api import KatibApi, KubernetesKatibApi
from lexdpr.kube.experiment import (
    ExperimentOptions,
    build_experiment,
    check_name,
    experiment_yaml,
    parse_experiment,
)
from lexdpr.kube.status import ExperimentSummary, TrialRow, summarize
from lexdpr.kube.trial_job import TrialOptions
from lexdpr.kube.window_agent import AgentReport, AgentSettings, run_agent
from lexdpr.sweep.sweep_file import SweepSpec, load_sweep_file
from lexdpr.sweep.time_window import TimeWindow

_DEFAULTS = ExperimentOptions()  # every default below is the options' own
DEFAULT_PVC = _DEFAULTS.trial.pvc
DEFAULT_NAME = _DEFAULTS.name


def experiment_options(
    spec: SweepSpec,
    *,
    name: str | None = None,
    namespace: str | None = None,
    image: str | None = None,
    pvc: str = DEFAULT_PVC,
    max_trials: int = _DEFAULTS.max_trials,
    parallel: int = _DEFAULTS.parallel_trials,
    max_failed: int = _DEFAULTS.max_failed_trials,
    gpus: int = _DEFAULTS.trial.gpus,
    resume_policy: str = _DEFAULTS.resume_policy,
    **trial: Any,
) -> ExperimentOptions:
    """CLI flags → options; `trial` takes any other `TrialOptions` field (config_map, s3_secret, …)."""
    return ExperimentOptions(
        name=name or default_name(spec),
        namespace=namespace,
        max_trials=max_trials,
        parallel_trials=parallel,
        max_failed_trials=max_failed,
        resume_policy=resume_policy,
        trial=TrialOptions(image=image, pvc=pvc, gpus=gpus, **trial),
    )


def default_name(spec: SweepSpec) -> str:
    """The sweep file's `name:` as a Katib name (lower case, '-'), else `lexdpr-sweep`."""
    if not spec.name:
        return DEFAULT_NAME
    slug = re.sub(r"[^a-z0-9-]+", "-", spec.name.lower()).strip("-")[:40].strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"sweep-{slug}".strip("-")[:40].strip("-")
    return slug


def experiment_name(sweep: str | Path) -> str:
    """The Experiment a CLI argument means: a name, or a sweep file (its sweep_id, else its default name)."""
    if Path(sweep).is_file():
        spec = load_sweep_file(sweep)
        return spec.sweep_id or default_name(spec)
    return str(sweep)


def render_experiment(
    sweep_file: str | Path,
    namespace: str | None = None,
    image: str | None = None,
    pvc: str = DEFAULT_PVC,
    **options: Any,
) -> str:
    """The Experiment for a sweep file, as YAML (what `--dry-run` prints); checked before it is returned."""
    spec = load_sweep_file(sweep_file)
    experiment = build_experiment(
        spec, experiment_options(spec, namespace=namespace, image=image, pvc=pvc, **options)
    )
    return experiment_yaml(experiment, header=f"# lex-dpr sweep --config {sweep_file} --backend katib\n")


def create_experiment(
    sweep_file: str | Path,
    namespace: str | None = None,
    image: str | None = None,
    pvc: str = DEFAULT_PVC,
    *,
    dry_run: bool = False,
    api: KatibApi | None = None,
    console: Console | None = None,
    **options: Any,
) -> str:
    """Create the Experiment (or print it with `dry_run`); returns its name and records it as the file's sweep_id."""
    console = console or Console()
    spec = load_sweep_file(sweep_file)
    opts = experiment_options(spec, namespace=namespace, image=image, pvc=pvc, **options)
    if dry_run:
        console.print(
            render_experiment(sweep_file, namespace, image, pvc, **options),
            end="",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return opts.name
    api = api or KubernetesKatibApi(namespace)
    experiment = build_experiment(spec, opts)
    experiment["metadata"]["namespace"] = api.namespace
    if api.get_experiment(opts.name) is not None:
        raise ConfigError(
            f"Experiment {opts.name} already exists in {api.namespace}; follow it with `lex-dpr sweep status "
            f"{opts.name} --backend katib`, extend it by raising spec.maxTrialCount, or pass --name for a new one"
        )
    api.create_experiment(experiment)
    console.print(
        f"created Experiment [bold]{opts.name}[/bold] in namespace {api.namespace}: "
        f"{experiment['spec']['maxTrialCount']} trials, {experiment['spec']['parallelTrialCount']} at a time"
    )
    console.print(f"follow it with: lex-dpr sweep status {opts.name} --backend katib -n {api.namespace}")
    if spec.sweep_id in (None, opts.name):
        from lexdpr.sweep.write_back import write_sweep_id

        write_sweep_id(Path(sweep_file), opts.name)
    else:
        console.print(
            f"note: {sweep_file} keeps its sweep_id {spec.sweep_id} (a local sweep); the Katib sweep is "
            f"{opts.name}"
        )
    return opts.name


def katib_status(
    name: str, namespace: str | None = None, *, api: KatibApi | None = None, console: Console | None = None
) -> ExperimentSummary:
    """Print the Experiment's state and one row per trial (config values, metrics, folder on the PVC)."""
    summary = _summary(name, namespace, api)
    print_status(summary, console or Console())
    return summary


def katib_best(
    name: str, namespace: str | None = None, *, api: KatibApi | None = None, console: Console | None = None
) -> TrialRow:
    """Print the best trial: its objective, its config values as `key=value` and where its checkpoints are."""
    summary = _summary(name, namespace, api)
    best = summary.best
    if best is None:
        raise ConfigError(f"Experiment {name} has no succeeded trial with {summary.objective} yet")
    console = console or Console()
    console.print(
        f"best trial of {summary.name}: [bold]{best.name}[/bold] "
        f"{summary.objective}={_fmt(best.metrics.get(summary.objective))}"
    )
    for metric, value in best.metrics.items():
        if metric != summary.objective:
            console.print(f"  {metric}={_fmt(value)}")
    console.print("config: " + " ".join(f"{k}={v}" for k, v in best.parameters.items()), markup=False)
    console.print(
        f"folder on the workspace PVC: {best.out_dir}/ (checkpoints in bi_encoder/, run folder in wandb/)",
        markup=False,
    )
    return best


def window_agent(
    name: str,
    namespace: str | None,
    time_window: str,
    count: int,
    *,
    parallel: int | None = None,
    grace_minutes: float = 30,
    poll_seconds: float = 60,
    experiment_file: str | Path | None = None,
    time_zone: str | None = None,
    api: KatibApi | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """The CronJob's entry point: run tonight's part of the Katib sweep inside the window; 0 when done.

    Without a time window the agent grants `count` trials as slots free up (an always-open window) and exits.
    """
    check_name(name)
    if count is None:
        raise ConfigError("--count is required with --backend katib: the new trials to start in this window")
    window = TimeWindow.parse(time_window or "0-24")
    template = None
    if experiment_file:
        template = parse_experiment(Path(experiment_file).read_text(encoding="utf-8"))
        if template["metadata"].get("name") != name:
            raise ConfigError(
                f"{experiment_file} describes Experiment {template['metadata'].get('name')}, not {name}"
            )
    settings = AgentSettings(
        name=name,
        window=window,
        count=count,
        parallel=parallel,
        grace_s=grace_minutes * 60,
        poll_s=poll_seconds,
        template=template,
    )
    zone = _zone(time_zone)
    report: AgentReport = run_agent(
        settings,
        api or KubernetesKatibApi(namespace),
        clock or (lambda: datetime.now(zone).astimezone(zone)),
        sleep or time.sleep,
        say,
    )
    say(
        f"granted {report.granted} new trial(s), resumed {len(report.resumed)}, suspended {len(report.suspended)}"
    )
    return 0


# --- helpers ------------------------------------------------------------------------------------------


def print_status(summary: ExperimentSummary, console: Console) -> None:
    s = summary
    reason = f" ({s.reason})" if s.reason else ""
    console.print(f"Experiment [bold]{s.name}[/bold] in {s.namespace}: {s.state}{reason}")
    console.print(
        f"trials: {s.created} created of max {s.max_trials}, {s.parallel_trials} at a time; "
        f"{s.counts['trialsSucceeded']} succeeded, {s.counts['trialsRunning']} running, "
        f"{s.counts['trialsPending']} pending, {s.counts['trialsFailed']} failed "
        f"(max {s.max_failed_trials}), {s.counts['trialMetricsUnavailable']} without metrics, "
        f"{s.counts['trialsKilled']} killed, {s.counts['trialsEarlyStopped']} stopped early"
    )
    table = Table(show_lines=False)
    table.add_column("trial", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column(s.objective, justify="right", no_wrap=True)
    table.add_column("minutes", justify="right", no_wrap=True)
    table.add_column("values")
    short = _short_names(sorted({k for r in s.trials for k in r.parameters}))
    for row in s.trials:
        mark = " *" if s.best is not None and row.name == s.best.name else ""
        minutes = f"{row.duration_s / 60:.0f}" if row.duration_s else ""
        values = " ".join(f"{short[k]}={v}" for k, v in row.parameters.items())
        table.add_row(row.name + mark, row.state, _fmt(row.metrics.get(s.objective)), minutes, values)
    console.print(table)
    if s.trials:
        console.print(
            f"trial folders: {s.trials[0].out_dir.rsplit('/', 1)[0]}/<trial>/ on the workspace PVC "
            "(* = best)",
            markup=False,
        )


def _short_names(keys: list[str]) -> dict[str, str]:
    """`trainer.warmup_ratio` → `warmup_ratio` where the last part is unique, so a row fits on a screen."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (t if last.count(t) == 1 else k) for k, t in zip(keys, last, strict=True)}


def _summary(name: str, namespace: str | None, api: KatibApi | None) -> ExperimentSummary:
    api = api or KubernetesKatibApi(namespace)
    experiment = api.get_experiment(name)
    if experiment is None:
        raise ConfigError(
            f"no Experiment {name} in namespace {api.namespace} (kubectl get experiments -n {api.namespace})"
        )
    return summarize(experiment, api.list_trials(name))


def _zone(name: str | None) -> Any:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"time zone {name!r} is unknown (use an IANA name such as Asia/Seoul)") from None


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
