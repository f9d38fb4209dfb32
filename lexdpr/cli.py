"""The `lex-dpr` command: parses arguments and dispatches to the stage modules, nothing else.

Data-stage verbs forward their arguments untouched to the stage module's own parser
(`lex-dpr data pairs --help` == `python -m lexdpr.data_processing.make_pairs --help`), so each flag is
defined in exactly one place.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lexdpr.errors import LexDprError
from lexdpr.kube.experiment import ExperimentOptions
from lexdpr.stage_cli import stderr_console
from lexdpr.sweep.preset import DEFAULT_OUTPUT
from lexdpr.sweep.storage import DEFAULT_OUT_ROOT, STORAGE_ENV

if TYPE_CHECKING:
    from lexdpr.sweep.agent import AgentOptions  # imported when used: it loads optuna

# Help pages are plain click text (rich_markup_mode=None): rich's boxed tables cut option names and
# defaults to fit 80 columns (`--exit-outside-w…`); click wraps the help text instead.
_PLAIN_HELP = {"rich_markup_mode": None}

app = typer.Typer(
    name="lex-dpr",
    help="Fine-tune and evaluate bi-encoder retrievers on Korean legal text (law.go.kr).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    **_PLAIN_HELP,
)
data_app = typer.Typer(
    help="The data stages: raw JSON → passages → pairs → corpus.", no_args_is_help=True, **_PLAIN_HELP
)
app.add_typer(data_app, name="data")

_FORWARD = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
_STAGE_MODULES = {
    "passages": "lexdpr.data_processing.preprocess_auto",
    "pairs": "lexdpr.data_processing.make_pairs",
    "corpus": "lexdpr.data_processing.merge_corpus",
    "negatives": "lexdpr.evaluation.dense_negatives",
}


def _forward(stage: str, ctx: typer.Context) -> None:
    """Run the stage module's `main` under this command's name: its usage line says `lex-dpr data STAGE`,
    not `python -m lexdpr.data_processing.…` (the module's parser, renamed for this call)."""
    module = importlib.import_module(_STAGE_MODULES[stage])
    build_parser = module.build_parser

    def named_parser():
        parser = build_parser()
        parser.prog = f"lex-dpr data {stage}"
        return parser

    module.build_parser = named_parser
    try:
        code = module.main(list(ctx.args))
    finally:
        module.build_parser = build_parser
    raise typer.Exit(code)


@data_app.command("passages", context_settings=_FORWARD)
def data_passages(ctx: typer.Context) -> None:
    """Laws and admin rules → passage JSONL (flags of preprocess_auto; try --help)."""
    _forward("passages", ctx)


@data_app.command("pairs", context_settings=_FORWARD)
def data_pairs(ctx: typer.Context) -> None:
    """Precedents → query–passage pairs with hard negatives (flags of make_pairs; try --help)."""
    _forward("pairs", ctx)


@data_app.command("corpus", context_settings=_FORWARD)
def data_corpus(ctx: typer.Context) -> None:
    """Passage files → merged corpus (flags of merge_corpus; try --help)."""
    _forward("corpus", ctx)


@data_app.command("negatives", context_settings=_FORWARD)
def data_negatives(ctx: typer.Context) -> None:
    """Pairs → the same pairs with hard negatives mined by a dense model (ANCE-style; try --help)."""
    _forward("negatives", ctx)


@app.command("eval", context_settings=_FORWARD)
def evaluate(ctx: typer.Context) -> None:
    """Retrieval metrics (NDCG/Recall@k, MRR@10) of a model or BM25 on eval pairs over the corpus (try --help)."""
    from lexdpr.evaluation import eval_cli

    raise typer.Exit(eval_cli.main(list(ctx.args)))


def _config_keys_epilog() -> str:
    """Every dotted config key with its default and help, for `lex-dpr train --help`."""
    import textwrap

    from lexdpr.training.config import TrainConfig, all_dotted_keys, config_to_dict, field_help, flatten

    defaults = flatten(config_to_dict(TrainConfig()))
    lines = []
    for key in all_dotted_keys():
        value = defaults.get(key)
        shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"  {key}={shown}")
        lines += textwrap.wrap(field_help(key), width=72, initial_indent="      ", subsequent_indent="      ")
    # "\b" keeps click from re-wrapping the block into one paragraph
    return "Config keys (KEY=VALUE overrides; shown with their defaults):\n\n\b\n" + "\n".join(lines)


@app.command("train", epilog=_config_keys_epilog())
def train(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="KEY=VALUE overrides of dotted config keys (listed below), e.g. trainer.lr=3e-5 "
            "data.batch_size=64"
        ),
    ] = None,
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="YAML config (e.g. configs/base.yaml)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """Train (or resume, when out_dir holds checkpoints) a LoRA bi-encoder on query–passage pairs."""
    from lexdpr.training.config import load_config
    from lexdpr.training.trainer import train as run_training

    result = run_training(load_config(config, list(overrides or [])), quiet=quiet)
    if os.environ.get("RANK", "0") == "0":  # under torchrun every process returns; rank 0 wrote the folder
        typer.echo(f"run folder: {result.run_folder}", err=True)


@app.command("export")
def export(
    model: str = typer.Option(..., "--model", help="training out_dir or checkpoint folder"),
    out: str = typer.Option(
        ..., "--out", help="folder for the merged model (loads in sentence-transformers)"
    ),
    fusion: str | None = typer.Option(
        None,
        "--fusion",
        help="the --out JSON of `lex-dpr eval --hybrid` for this checkpoint: ships its BM25 fusion "
        "(lexdpr_fusion.json)",
    ),
) -> None:
    """Merge the LoRA adapter into the base model and write a plain sentence-transformers folder."""
    from lexdpr.training.export import export_merged

    typer.echo(str(export_merged(model, out, fusion)))


@app.command("encode")
def encode(
    model: str = typer.Option(..., "--model", help="a trained or exported model, or a base-model alias"),
    input_path: str = typer.Option(
        ..., "--input", help="JSONL of passages (id, text) or queries (query_id, query_text)"
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="embeddings file stem: writes STEM.npy and STEM.ids.json"
    ),
    kind: str = typer.Option(
        "auto", "--kind", help="auto | query | passage (prefixes and max length differ)"
    ),
    precision: str = typer.Option(
        "auto", "--precision", help="auto (bf16 on a GPU or a CPU with native bf16, else fp32) | fp32 | bf16"
    ),
    dtype: str = typer.Option("float32", "--dtype", help="float32 | float16 (half the file size)"),
    chunk_size: int = typer.Option(
        8192, "--chunk-size", help="records per chunk; a killed run started again reuses finished chunks"
    ),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Embed queries or passages with a model, for putting it into a RAG system."""
    from lexdpr.training.encode import encode_texts

    if kind not in {"auto", "query", "passage"}:
        raise LexDprError(f"--kind must be auto, query or passage, got {kind!r}")
    if precision not in {"auto", "fp32", "bf16"}:
        raise LexDprError(f"--precision must be auto, fp32 or bf16, got {precision!r}")
    if dtype not in {"float32", "float16"}:
        raise LexDprError(f"--dtype must be float32 or float16, got {dtype!r}")
    if chunk_size < 1:
        raise LexDprError(f"--chunk-size must be at least 1, got {chunk_size}")
    result = encode_texts(
        model, input_path, output, kind, precision=precision, quiet=quiet, chunk_size=chunk_size, dtype=dtype
    )  # type: ignore[arg-type]
    typer.echo(
        f"{result.count} {result.kind} embeddings of dimension {result.dimension}: {result.embeddings}"
    )


# --- sweeps -------------------------------------------------------------------------------------------------
sweep_app = typer.Typer(
    help="Hyperparameter sweeps that run offline (optuna; SQLite or PostgreSQL) or on Katib.", **_PLAIN_HELP
)
app.add_typer(sweep_app, name="sweep")

_KATIB = ExperimentOptions()  # the Katib flags' defaults
Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar=STORAGE_ENV,
        help="SQLAlchemy URL, e.g. postgresql://user@host/db; default: sqlite:///.lexdpr/sweeps.db here",
    ),
]
Count = Annotated[int | None, typer.Option("--count", min=1, help="Run this many trials, then exit.")]
Window = Annotated[
    str | None,
    typer.Option(
        "--time-window", help='Start trials only in these hours of --time-zone, e.g. "1-8" or "22-6".'
    ),
]
ExitOutside = Annotated[
    bool, typer.Option("--exit-outside-window", help="Exit instead of waiting for the window.")
]
OutRoot = Annotated[Path, typer.Option("--out-root", help="Trials write to OUT_ROOT/<sweep_id>/trial-<n>/.")]
SweepConfig = Annotated[Path | None, typer.Option("--config", "-c", help="A sweep file.")]
TimeZone = Annotated[
    str | None,
    typer.Option(
        "--time-zone",
        help="IANA zone of the --time-window hours, e.g. Asia/Seoul (default: this machine's zone)",
    ),
]
RunAgent = Annotated[bool, typer.Option("--run-agent/--no-run-agent", help="Run an agent once created.")]
SweepArg = Annotated[
    str, typer.Argument(help="Sweep id (katib: Experiment name), or the sweep file that holds it.")
]
Backend = Annotated[str, typer.Option("--backend", help="local (optuna, this machine) | katib (Kubernetes)")]
Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace", "-n", help="katib: the namespace (default: the kubeconfig context's, or the pod's)"
    ),
]
KatibName = Annotated[str | None, typer.Option("--name", help="katib: the Experiment name")]


def _agent_options(
    count: int | None, time_window: str | None, exit_outside: bool, out_root: Path, time_zone: str | None
) -> AgentOptions:
    """The local agent's five flags as one `AgentOptions`, checked before anything is created."""
    from lexdpr.sweep.agent import AgentOptions

    return AgentOptions.from_flags(
        count=count,
        time_window=time_window,
        exit_outside_window=exit_outside,
        out_root=out_root,
        time_zone=time_zone,
    )


def _check_backend(backend: str) -> None:
    if backend not in {"local", "katib"}:
        raise LexDprError(f"--backend must be local or katib, got {backend!r}")


@sweep_app.callback(invoke_without_command=True)
def sweep(
    ctx: typer.Context,
    config: SweepConfig = None,
    run_agent: RunAgent = True,
    storage: Storage = None,
    count: Count = None,
    time_window: Window = None,
    exit_outside_window: ExitOutside = False,
    out_root: OutRoot = DEFAULT_OUT_ROOT,
    time_zone: TimeZone = None,
    backend: Backend = "local",
    namespace: Namespace = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="katib: print the Experiment YAML only")] = False,
    name: KatibName = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="katib: trial image (default: the -cuda image when --gpus > 0)"),
    ] = None,
    pvc: Annotated[str | None, typer.Option("--pvc", help="katib: workspace PVC")] = None,
    max_trials: Annotated[
        int, typer.Option("--max-trials", min=1, help="katib: trial budget")
    ] = _KATIB.max_trials,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="katib: trials at once")
    ] = _KATIB.parallel_trials,
    max_failed: Annotated[
        int, typer.Option("--max-failed", min=0, help="katib: failed trials tolerated")
    ] = _KATIB.max_failed_trials,
    gpus: Annotated[
        int, typer.Option("--gpus", min=0, help="katib: GPUs per trial node")
    ] = _KATIB.trial.gpus,
    nodes: Annotated[
        int, typer.Option("--nodes", min=1, help="katib: nodes per trial (>1: a PyTorchJob)")
    ] = _KATIB.trial.nodes,
    resume_policy: Annotated[
        str, typer.Option("--resume-policy", help="katib: LongRunning | Never")
    ] = _KATIB.resume_policy,
) -> None:
    """Create a sweep from a sweep file (--config) and run an agent; or one of the commands below."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    _check_backend(backend)
    if backend == "katib":
        from lexdpr.kube import commands as kube

        kube.create_experiment(
            config,
            namespace,
            image,
            pvc or kube.DEFAULT_PVC,
            dry_run=dry_run,
            name=name,
            max_trials=max_trials,
            parallel=parallel,
            max_failed=max_failed,
            gpus=gpus,
            nodes=nodes,
            resume_policy=resume_policy,
        )
        return
    from lexdpr.sweep import commands

    options = _agent_options(count, time_window, exit_outside_window, out_root, time_zone)
    commands.create(config, storage=storage, run_agent=run_agent, options=options)


@sweep_app.command("preset")
def sweep_preset(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the preset.")
    ] = DEFAULT_OUTPUT,
    run: Annotated[bool, typer.Option("--run/--no-run", help="--no-run: only write the file.")] = True,
    run_agent: RunAgent = True,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    storage: Storage = None,
    count: Count = None,
    time_window: Window = None,
    exit_outside_window: ExitOutside = False,
    out_root: OutRoot = DEFAULT_OUT_ROOT,
    time_zone: TimeZone = None,
) -> None:
    """Write the guide's preset sweep file, create the sweep, run an agent."""
    from lexdpr.sweep import commands

    options = _agent_options(count, time_window, exit_outside_window, out_root, time_zone)
    commands.preset(output, run=run, run_agent=run_agent, force=force, storage=storage, options=options)


@sweep_app.command("agent")
def sweep_agent(
    sweep: Annotated[
        str | None,
        typer.Argument(
            help="Sweep id or sweep file (katib: Experiment name); default: --config, else configs/sweep.yaml"
        ),
    ] = None,
    config: SweepConfig = None,
    storage: Storage = None,
    count: Count = None,
    time_window: Window = None,
    exit_outside_window: ExitOutside = False,
    out_root: OutRoot = DEFAULT_OUT_ROOT,
    backend: Backend = "local",
    namespace: Namespace = None,
    name: KatibName = None,
    time_zone: TimeZone = None,
    grace_minutes: Annotated[
        float, typer.Option("--grace-minutes", min=0, help="katib: in-flight grace")
    ] = 30,
    parallel: Annotated[int | None, typer.Option("--parallel", min=1, help="katib: trials at once")] = None,
    experiment_file: Annotated[
        Path | None,
        typer.Option(
            "--experiment-file", help="katib: create the Experiment from this manifest at the first opening"
        ),
    ] = None,
) -> None:
    """Run trials of a sweep (any number of agents may share one --storage; katib: the time-window agent)."""
    _check_backend(backend)
    if backend == "katib":
        from lexdpr.kube import commands as kube

        target = name or sweep or (str(config) if config else None)
        if target is None:
            raise LexDprError("katib: give the Experiment name (--name or the SWEEP argument)")
        raise typer.Exit(
            kube.window_agent(
                kube.experiment_name(target),
                namespace,
                time_window,
                count,
                parallel=parallel,
                grace_minutes=grace_minutes,
                experiment_file=experiment_file,
                time_zone=time_zone,
            )
        )
    from lexdpr.sweep import commands

    options = _agent_options(count, time_window, exit_outside_window, out_root, time_zone)
    commands.agent(sweep, config_path=config, storage=storage, options=options)


@sweep_app.command("status")
def sweep_status(
    sweep: SweepArg, storage: Storage = None, backend: Backend = "local", namespace: Namespace = None
) -> None:
    """Every trial: state, objective, parameters, duration; the best is marked."""
    _check_backend(backend)
    if backend == "katib":
        from lexdpr.kube import commands as kube

        kube.katib_status(kube.experiment_name(sweep), namespace)
        return
    from lexdpr.sweep import commands

    commands.status(sweep, storage=storage)


@sweep_app.command("best")
def sweep_best(
    sweep: SweepArg,
    storage: Storage = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Also write the best model, merged, here.")
    ] = None,
    backend: Backend = "local",
    namespace: Namespace = None,
) -> None:
    """The best trial's parameters and checkpoint; --export writes it as a merged model folder."""
    _check_backend(backend)
    if backend == "katib":
        from lexdpr.kube import commands as kube

        kube.katib_best(kube.experiment_name(sweep), namespace)
        return
    from lexdpr.sweep import commands

    commands.best(sweep, storage=storage, export=export)


@sweep_app.command("trial")
def sweep_trial(
    overrides: Annotated[
        list[str] | None, typer.Argument(help="dotted config keys, e.g. trainer.lr=3e-5")
    ] = None,
    config: Annotated[str | None, typer.Option("--config", "-c", help="the trainer's base config")] = None,
    product: Annotated[
        list[str] | None, typer.Option("--product", help="KEY=AxB: the key gets A×B (scale_with)")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", envvar="LEXDPR_EXPERIMENT", help="the Experiment's name")
    ] = None,
    trial: Annotated[
        str | None, typer.Option("--trial", envvar="LEXDPR_TRIAL", help="the Trial's name")
    ] = None,
    runs_s3: Annotated[
        str | None,
        typer.Option("--runs-s3", envvar="LEXDPR_RUNS_S3", help="copy run folders here at the end"),
    ] = None,
    processes: Annotated[
        int,
        typer.Option("--processes", envvar="LEXDPR_PROCESSES", min=1, help="training processes (GPUs) here"),
    ] = 1,
    stop: Annotated[
        bool, typer.Option("--stop", help="preStop hook: stop the running trial, wait for it")
    ] = False,
) -> None:
    """Run one Katib trial in its pod (the container's command; katib backend only, see docs/kubernetes.md)."""
    from lexdpr.kube.trial_run import TrialRun, run_trial, stop_trial

    if stop:
        raise typer.Exit(stop_trial())
    run = TrialRun(
        experiment or "",
        trial or "",
        config=config,
        overrides=tuple(overrides or ()),
        products=tuple(product or ()),
        runs_s3=runs_s3 or None,
        processes=processes,
    )
    raise typer.Exit(run_trial(run))


# --- reading runs -------------------------------------------------------------------------------------------
runs_app = typer.Typer(
    help="Judge trainings from their run folders: tables, charts, verdicts.",
    no_args_is_help=True,
    **_PLAIN_HELP,
)
app.add_typer(runs_app, name="runs")

Root = Annotated[
    str | None,
    typer.Option(
        "--root",
        help="Folder, mounted volume or s3:// prefix with run folders "
        "(default: wandb/ and checkpoint/sweeps/, where training and sweep trials write them).",
    ),
]
Bm25 = Annotated[
    str | None,
    typer.Option("--bm25", help="Metrics JSON of `lex-dpr eval --bm25 --out` on the same test set."),
]
Font = Annotated[
    str | None, typer.Option("--font", envvar="LEXDPR_HANGUL_FONT", help="A .ttf/.otf with Hangul.")
]
Threshold = Annotated[
    list[str] | None,
    typer.Option("--threshold", "-t", help="Verdict threshold KEY=VALUE (see docs/runs.md)."),
]
Runs = Annotated[
    list[str], typer.Argument(help="`latest`, run ids (or unique prefixes), run folder names or paths.")
]
Metric = Annotated[str, typer.Option("--metric", help="The metric that ranks runs.")]


@runs_app.command("list")
def runs_list(
    root: Root = None,
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="Only this sweep's trials: its id or its sweep file.")
    ] = None,
) -> None:
    """A table of runs: id, start, state, steps, best eval/ndcg_at_10, checkpoint."""
    from lexdpr.runs import commands

    raise typer.Exit(commands.list_runs(root, sweep))


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="`latest`, a run id or folder")] = "latest",
    root: Root = None,
    bm25: Bm25 = None,
    threshold: Threshold = None,
) -> None:
    """Config, final and best metrics, checkpoints and the verdict of one run."""
    from lexdpr.runs import commands

    raise typer.Exit(commands.show(root, run, bm25=bm25, thresholds=threshold or []))


@runs_app.command("plot")
def runs_plot(
    runs: Runs,
    root: Root = None,
    out: Annotated[
        str, typer.Option("--out", "-o", help=".html, .png or .svg (local or s3://)")
    ] = "runs-report.html",
    bm25: Bm25 = None,
    font: Font = None,
    threshold: Threshold = None,
) -> None:
    """Line charts (train/valid loss, every eval/* metric, learning rate), several runs overlaid."""
    from lexdpr.runs import commands

    raise typer.Exit(commands.plot(root, runs, out, bm25=bm25, font=font, thresholds=threshold or []))


@runs_app.command("check")
def runs_check(runs: Runs, root: Root = None, threshold: Threshold = None, bm25: Bm25 = None) -> None:
    """The success criteria as a verdict with reasons; exit code 0 when every run passes, else 1."""
    from lexdpr.runs import commands

    raise typer.Exit(commands.check(root, runs, thresholds=threshold or [], bm25=bm25))


@runs_app.command("compare")
def runs_compare(
    runs: Runs, root: Root = None, metric: Metric = "eval/ndcg_at_10", bm25: Bm25 = None
) -> None:
    """Metrics side by side; refuses runs evaluated on different test sets (eval/fingerprint)."""
    from lexdpr.runs import commands

    raise typer.Exit(commands.compare(root, runs, metric=metric, bm25=bm25))


@sweep_app.command("report")
def sweep_report(
    sweep: SweepArg,
    root: Root = None,
    out: Annotated[
        str | None, typer.Option("--out", "-o", help=".html/.png report; default: a table only")
    ] = None,
    metric: Metric = "eval/ndcg_at_10",
    goal: Annotated[str, typer.Option("--goal", help="maximize | minimize")] = "maximize",
    bm25: Bm25 = None,
    font: Font = None,
) -> None:
    """Trials side by side, best-so-far over trials, each parameter against the objective."""
    from lexdpr.runs import commands

    raise typer.Exit(commands.sweep_report(root, sweep, out, metric=metric, goal=goal, bm25=bm25, font=font))


# --- the main job -------------------------------------------------------------------------------------------
pipeline_app = typer.Typer(
    help="The main job: every stage in order, on this machine or on Kubeflow.",
    no_args_is_help=True,
    **_PLAIN_HELP,
)
app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command("run")
def pipeline_run(
    local: Annotated[
        bool, typer.Option("--local", help="Run every stage on this machine (required).")
    ] = False,
    storage: Annotated[
        str | None, typer.Option("--storage", help="Folder or s3://bucket/prefix for the stages' hand-offs.")
    ] = None,
    raw_data: Annotated[
        str | None,
        typer.Option("--raw-data", help="Folder or s3:// prefix with laws/, admin_rules/, precedents/."),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Use the sample data bundled with lexdpr.")
    ] = False,
    sweep_file: Annotated[
        str | None, typer.Option("--sweep-file", help="Sweep file of the tune stage.")
    ] = None,
    trials: Annotated[int | None, typer.Option("--trials", min=1, help="Trial budget.")] = None,
    parallelism: Annotated[int | None, typer.Option("--parallelism", min=1, help="Trials at once.")] = None,
    base_model: Annotated[
        str | None, typer.Option("--base-model", help="Base model alias or folder.")
    ] = None,
    hn_per_q: Annotated[
        int | None, typer.Option("--hn-per-q", min=0, help="Hard negatives per query.")
    ] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="Local folder for sweep state and W&B runs.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Stop after this stage.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Run every stage, even unchanged ones.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the stages' own output.")] = False,
) -> None:
    """Run the pipeline's stages in order here; unchanged stages are skipped (content hashes)."""
    from lexdpr.pipeline import commands as pipeline

    raise typer.Exit(
        pipeline.run(
            local=local,
            storage=storage or pipeline.DEFAULT_STORAGE,
            raw_data=raw_data,
            sample=sample,
            sweep_file=sweep_file or pipeline.DEFAULT_SWEEP_FILE,
            trials=trials or pipeline.DEFAULT_TRIALS,
            parallelism=parallelism or pipeline.DEFAULT_PARALLELISM,
            base_model=base_model or pipeline.DEFAULT_BASE_MODEL,
            hn_per_q=pipeline.DEFAULT_HN_PER_Q if hn_per_q is None else hn_per_q,
            workspace=workspace,
            until=until,
            force=force,
            verbose=verbose,
        )
    )


@pipeline_app.command("compile")
def pipeline_compile(
    output: Annotated[str | None, typer.Option("--output", "-o", help="Pipeline YAML to write.")] = None,
    components: Annotated[
        str | None,
        typer.Option("--components", help="Also write one component YAML per stage here ('' = no)."),
    ] = None,
    s3_secret: Annotated[
        str | None,
        typer.Option(
            "--s3-secret",
            help="Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL (default lexdpr-s3).",
        ),
    ] = None,
    node_selector: Annotated[
        list[str] | None,
        typer.Option("--node-selector", metavar="KEY=VALUE", help="Node label for train-best (repeatable)."),
    ] = None,
    toleration: Annotated[
        list[str] | None,
        typer.Option(
            "--toleration",
            metavar="JSON",
            help="Toleration for train-best as a JSON object of key, operator, value, effect, "
            'tolerationSeconds (repeatable), e.g. \'{"key":"nvidia.com/gpu","operator":"Exists",'
            '"effect":"NoSchedule"}\'.',
        ),
    ] = None,
    kfp_version: Annotated[
        str | None,
        typer.Option(
            "--kfp-version",
            help="KFP backend the YAML is for: 2.4 (default) to 2.15, or 2.3 (Kubeflow 1.9), which also fixes "
            "train-best's GPUs when compiling.",
        ),
    ] = None,
    image_tag: Annotated[
        str | None,
        typer.Option(
            "--image-tag",
            help="Tag of the steps' images, REPO:TAG (CPU) and REPO:TAG-cuda (train-best, Katib trials), fixed "
            "in the YAML (default: this lexdpr's version).",
        ),
    ] = None,
    image_repository: Annotated[
        str | None,
        typer.Option(
            "--image-repository",
            help="Repository of the steps' images (default ghcr.io/lexdpr/lexdpr; images/build.sh builds them).",
        ),
    ] = None,
    train_gpus: Annotated[
        int | None,
        typer.Option("--train-gpus", min=0, help="With --kfp-version 2.3: GPUs for train-best (default 1)."),
    ] = None,
) -> None:
    """Regenerate the compiled KFP pipeline (and component) YAML.

    The S3 Secret's name, the node selector, the tolerations and the images are fixed in the YAML (KFP
    drivers read them only as literals).
    """
    from lexdpr.pipeline import commands as pipeline

    if s3_secret is not None and not s3_secret.strip():
        raise LexDprError("--s3-secret: give the Secret's name")
    pipeline.compile_pipeline(
        output or pipeline.DEFAULT_PIPELINE_YAML,
        pipeline.DEFAULT_COMPONENTS_DIR if components is None else (components or None),
        s3_secret=s3_secret.strip() if s3_secret else None,
        node_selector=pipeline.parse_node_selector(node_selector or []),
        tolerations=pipeline.parse_tolerations(toleration or []),
        kfp_version=kfp_version or pipeline.DEFAULT_KFP_VERSION,
        image_tag=image_tag,
        image_repository=image_repository,
        train_gpus=train_gpus,
    )


@pipeline_app.command("submit")
def pipeline_submit(
    host: Annotated[str, typer.Option("--host", envvar="KF_PIPELINES_ENDPOINT", help="KFP API endpoint.")],
    params: Annotated[
        list[str] | None, typer.Argument(help="Pipeline parameters as key=value (YAML values).")
    ] = None,
    package: Annotated[str | None, typer.Option("--file", "-f", help="Compiled pipeline YAML.")] = None,
    run_name: Annotated[str | None, typer.Option("--run-name", "-r")] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
    pipeline_root: Annotated[str | None, typer.Option("--pipeline-root", help="s3://bucket/prefix")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    kfp_version: Annotated[
        str | None,
        typer.Option(
            "--kfp-version",
            help="Without --file: the KFP backend to compile for, 2.4 (default) to 2.15, or 2.3 (Kubeflow 1.9; "
            "a train_gpus argument is then fixed in the compiled pipeline).",
        ),
    ] = None,
    image_tag: Annotated[
        str | None,
        typer.Option(
            "--image-tag",
            help="Without --file: the tag of the steps' images (default: this lexdpr's version).",
        ),
    ] = None,
    image_repository: Annotated[
        str | None,
        typer.Option(
            "--image-repository",
            help="Without --file: the repository of the steps' images (default ghcr.io/lexdpr/lexdpr).",
        ),
    ] = None,
) -> None:
    """Submit the pipeline to a Kubeflow Pipelines server (kfp.Client); without --file, compile it first."""
    from lexdpr.pipeline import commands as pipeline

    pipeline.submit(
        host,
        package,
        run_name,
        experiment or pipeline.DEFAULT_EXPERIMENT,
        params or [],
        pipeline_root=pipeline_root,
        namespace=namespace,
        kfp_version=kfp_version,
        image_tag=image_tag,
        image_repository=image_repository,
    )


@pipeline_app.command("stages")
def pipeline_stages() -> None:
    """The stages, their commands and hand-offs."""
    from lexdpr.pipeline import commands as pipeline

    pipeline.print_stages()


def main() -> None:
    try:
        app()
    except LexDprError as exc:
        from rich.markup import escape

        stderr_console().print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
