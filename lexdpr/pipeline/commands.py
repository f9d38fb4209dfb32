"""`lex-dpr pipeline …`: plain functions for the CLI.

The CLI (lexdpr/cli.py) only parses flags and calls these; every default lives here.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

import lexdpr
from lexdpr import storage
from lexdpr.errors import ConfigError
from lexdpr.pipeline.stages import PARAMS, STAGES, check_graph, describe

DEFAULT_STORAGE = "out/pipeline"
DEFAULT_SWEEP_FILE = "configs/sweep-demo.yaml"
DEFAULT_TRIALS = 2
DEFAULT_BASE_MODEL = PARAMS["base_model"].default
DEFAULT_HN_PER_Q = PARAMS["hn_per_q"].default
DEFAULT_RAW_DATA = "data"
DEFAULT_PIPELINE_YAML = "pipelines/lexdpr_pipeline.yaml"
DEFAULT_COMPONENTS_DIR = "components"
DEFAULT_EXPERIMENT = "lexdpr"
LOCAL_WORKSPACE = ".lexdpr/workspace"


def sample_data_dir() -> Path:
    """The sample data shipped inside the package (laws/, admin_rules/, precedents/)."""
    return Path(lexdpr.__file__).resolve().parent / "sample_data"


def default_workspace(storage_root: str) -> str:
    """`STORAGE/workspace` for local storage; for S3, a local folder (the workspace must be local)."""
    return LOCAL_WORKSPACE if storage.is_s3(storage_root) else str(Path(storage_root) / "workspace")


def run(
    *,
    local: bool,
    storage: str = DEFAULT_STORAGE,
    raw_data: str | None = None,
    sample: bool = False,
    sweep_file: str = DEFAULT_SWEEP_FILE,
    trials: int = DEFAULT_TRIALS,
    parallelism: int = 1,
    base_model: str = DEFAULT_BASE_MODEL,
    hn_per_q: int = DEFAULT_HN_PER_Q,
    workspace: str | None = None,
    until: str | None = None,
    force: bool = False,
    verbose: bool = False,
    console: Console | None = None,
) -> int:
    """`lex-dpr pipeline run --local`: the whole main job on this machine, then its summary. Returns 0."""
    from lexdpr.pipeline.local_runner import print_summary, run_local

    if not local:
        raise ConfigError(
            "only --local runs here; to run on Kubeflow, `lex-dpr pipeline submit --host URL` (see docs/pipeline.md)"
        )
    if sample and raw_data:
        raise ConfigError("give --raw-data or --sample, not both")
    source = str(sample_data_dir()) if sample else (raw_data or DEFAULT_RAW_DATA)
    if not storage_exists(source):
        raise ConfigError(
            f"{source}: no raw data there (laws/, admin_rules/, precedents/); "
            "pass --raw-data DIR, or --sample for the bundled sample"
        )
    console = console or Console(stderr=True, highlight=False)
    params = {
        "raw_data": source,
        "sweep_file": sweep_file,
        "trial_budget": trials,
        "parallelism": parallelism,
        "base_model": base_model,
        "hn_per_q": hn_per_q,
        "sweep_backend": "local",
        "workspace": workspace or default_workspace(storage),
    }
    result = run_local(storage, params, until=until, force=force, verbose=verbose, console=console)
    print_summary(result, console)
    return 0


def storage_exists(uri: str) -> bool:
    if storage.is_s3(uri):
        return bool(storage.list_files(uri, "**/*.json"))
    return Path(uri).is_dir()


def compile_pipeline(
    output: str = DEFAULT_PIPELINE_YAML, components_dir: str | None = DEFAULT_COMPONENTS_DIR
) -> list[str]:
    """Write the pipeline YAML (and one component YAML per stage); returns the files written."""
    from kfp import compiler

    from lexdpr.pipeline.kfp_pipeline import components, lexdpr_pipeline

    check_graph()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(lexdpr_pipeline, output)
    written = [output]
    if components_dir:
        Path(components_dir).mkdir(parents=True, exist_ok=True)
        for name, component in components().items():
            path = str(Path(components_dir) / f"{name}.yaml")
            compiler.Compiler().compile(component, path)
            written.append(path)
    return written


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """`key=value` pipeline arguments; values are YAML (`trial_budget=40`, `tolerations=[{…}]`)."""
    from lexdpr.pipeline.kfp_pipeline import pipeline_parameters

    known = pipeline_parameters()
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"pipeline argument {item!r} is not key=value")
        if key not in known:
            raise ConfigError(f"unknown pipeline parameter {key!r}; known: {', '.join(known)}")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"{key}: not a valid value ({exc})") from None
        expected = type(known[key])
        if expected is str:
            value = text
        elif not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(f"{key} must be {expected.__name__}, got {text!r}")
        out[key] = value
    return out


def submit(
    host: str,
    package: str | None = None,
    run_name: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    params: Sequence[str] | Mapping[str, Any] = (),
    *,
    pipeline_root: str | None = None,
    namespace: str | None = None,
    client_factory: Callable[..., Any] | None = None,
    console: Console | None = None,
) -> str:
    """Submit a compiled pipeline to a KFP API server (`kfp.Client`); returns the run id.

    Without `package`, the pipeline of this installation is compiled into a temporary file first, so the
    image's own `lex-dpr pipeline submit` (the Helm chart's Job) always submits the pipeline it carries.
    """
    arguments = dict(params) if isinstance(params, Mapping) else parse_params(params)
    if package is None:
        with tempfile.TemporaryDirectory(prefix="lexdpr-pipeline-") as tmp:
            path = compile_pipeline(str(Path(tmp) / "lexdpr_pipeline.yaml"), None)[0]
            return submit(
                host,
                path,
                run_name,
                experiment,
                arguments,
                pipeline_root=pipeline_root,
                namespace=namespace,
                client_factory=client_factory,
                console=console,
            )
    if not Path(package).is_file():
        raise ConfigError(f"{package}: no compiled pipeline; write it with `lex-dpr pipeline compile`")
    if client_factory is None:
        import kfp

        client_factory = kfp.Client
    client = client_factory(host=host, namespace=namespace) if namespace else client_factory(host=host)
    name = run_name or f"lexdpr-{time.strftime('%Y%m%d-%H%M%S')}"
    result = client.create_run_from_pipeline_package(
        package,
        arguments=arguments,
        run_name=name,
        experiment_name=experiment,
        namespace=namespace,
        pipeline_root=pipeline_root,
    )
    (console or Console(stderr=True)).print(
        f"submitted run {name} ({result.run_id}) to {host}, experiment {experiment}"
    )
    return str(result.run_id)


def print_stages(console: Console | None = None) -> None:
    """The stage graph: each stage, what it needs and the command it runs (`{x}` = parameter or artifact)."""
    table = Table(title="lexdpr pipeline stages", title_justify="left")
    for column in ("stage", "needs", "writes", "command"):
        table.add_column(column)
    for row in describe(STAGES):
        table.add_row(row["stage"], ", ".join(row["needs"]), ", ".join(row["writes"]), row["command"])
    (console or Console()).print(table)
