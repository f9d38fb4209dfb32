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
# `lex-dpr pipeline run --local`'s defaults: the pipeline parameters' own (`PARAMS`, local values)
DEFAULT_SWEEP_FILE = PARAMS["sweep_file"].local_value
DEFAULT_TRIALS = PARAMS["trial_budget"].local_value
DEFAULT_PARALLELISM = PARAMS["parallelism"].local_value
DEFAULT_BASE_MODEL = PARAMS["base_model"].local_value
DEFAULT_HN_PER_Q = PARAMS["hn_per_q"].local_value
DEFAULT_RAW_DATA = PARAMS["raw_data"].local_value
LOCAL_WORKSPACE = PARAMS["workspace"].local_value
DEFAULT_PIPELINE_YAML = "pipelines/lexdpr_pipeline.yaml"
DEFAULT_COMPONENTS_DIR = "components"
DEFAULT_EXPERIMENT = "lexdpr"
DEFAULT_KFP_VERSION = "2.4"  # kfp's own form, for KFP backends 2.4 to 2.15 (lexdpr.pipeline.kfp_compat)


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
    parallelism: int = DEFAULT_PARALLELISM,
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
    output: str = DEFAULT_PIPELINE_YAML,
    components_dir: str | None = DEFAULT_COMPONENTS_DIR,
    *,
    s3_secret: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, Any]] = (),
    kfp_version: str = DEFAULT_KFP_VERSION,
    image_tag: str | None = None,
    image_repository: str | None = None,
    train_gpus: int | None = None,
) -> list[str]:
    """Write the pipeline YAML (and one component YAML per stage); returns the files written.

    `s3_secret`, `node_selector` and `tolerations` are fixed in the YAML (KFP 2.3–2.4 read them only as
    literals; see `lexdpr.pipeline.kfp_pipeline`); by default the Secret `lexdpr-s3`, no selector, no tolerations.
    So are the images, for every KFP version: `<image_repository>:<image_tag>` and its `-cuda` variant
    (`lexdpr.images.image_name`; by default this lexdpr's version in ghcr.io/lexdpr/lexdpr), since no KFP driver
    resolves a run parameter inside an image name correctly.
    `kfp_version` "2.3" (Kubeflow 1.9) writes the 2.3 form (`lexdpr.pipeline.kfp_compat`), which also fixes
    `train_gpus` (default 1); any later version, kfp's own form, where `train_gpus` is a run parameter.
    """
    from kfp import compiler

    from lexdpr.pipeline import kfp_compat
    from lexdpr.pipeline.kfp_pipeline import (
        DEFAULT_IMAGE_TAG,
        DEFAULT_S3_SECRET,
        IMAGE_REPOSITORY,
        build_pipeline,
        check_image_setting,
        components,
    )

    form = kfp_compat.kfp_form(kfp_version)
    if form != kfp_compat.LEGACY_KFP_VERSION and train_gpus is not None:
        raise ConfigError(
            "--train-gpus fixes train-best's GPUs when compiling for KFP 2.3 (--kfp-version 2.3); on 2.4 and "
            "newer they are the run parameter train_gpus (e.g. `lex-dpr pipeline submit … train_gpus=2`)"
        )
    tag = DEFAULT_IMAGE_TAG if image_tag is None else image_tag.strip()
    repository = IMAGE_REPOSITORY if image_repository is None else image_repository.strip().rstrip("/")
    try:
        check_image_setting(tag, repository)
    except ValueError as exc:
        flag = "--image-tag" if str(exc).startswith("image tag") else "--image-repository"
        raise ConfigError(f"{flag}: {exc}") from None
    check_graph()
    pipeline = build_pipeline(
        s3_secret or DEFAULT_S3_SECRET, node_selector, tolerations, image_tag=tag, image_repository=repository
    )
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    if form == kfp_compat.LEGACY_KFP_VERSION:
        _compile_2_3(pipeline, output, 1 if train_gpus is None else train_gpus)
    else:
        compiler.Compiler().compile(pipeline, output)
    written = [output]
    if components_dir:
        Path(components_dir).mkdir(parents=True, exist_ok=True)
        for name, component in components(tag, repository).items():
            path = str(Path(components_dir) / f"{name}.yaml")
            compiler.Compiler().compile(component, path)
            written.append(path)
    return written


#: What Kubernetes accepts in a toleration (an empty effect: every effect).
_TOLERATION_OPERATORS = ("Exists", "Equal")
_TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute", "")


def parse_node_selector(items: Sequence[str]) -> dict[str, str]:
    """`--node-selector KEY=VALUE` flags → node labels (a later flag for the same key wins)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--node-selector {item!r}: give a node label as KEY=VALUE, e.g. pool=a100")
        out[key.strip()] = value.strip()
    return out


def parse_tolerations(items: Sequence[str]) -> list[dict[str, Any]]:
    """`--toleration JSON` flags → Kubernetes tolerations, each a JSON object of the toleration's fields."""
    import json

    from lexdpr.pipeline.kfp_pipeline import TOLERATION_FIELDS, _literal_toleration

    out: list[dict[str, Any]] = []
    for item in items:
        example = '{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}'
        try:
            value = json.loads(item)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"--toleration {item!r}: not a JSON object ({exc.msg}); e.g. --toleration '{example}'"
            ) from None
        if not isinstance(value, dict):
            raise ConfigError(f"--toleration {item!r}: not a JSON object; e.g. --toleration '{example}'")
        unknown = sorted(set(value) - set(TOLERATION_FIELDS))
        if unknown:
            raise ConfigError(
                f"--toleration {item!r}: unknown field(s) {', '.join(unknown)}; "
                f"a toleration has {', '.join(TOLERATION_FIELDS)}"
            )
        try:
            _literal_toleration(value)
        except TypeError as exc:
            raise ConfigError(f"--toleration {item!r}: {exc}") from None
        for field, allowed in (("operator", _TOLERATION_OPERATORS), ("effect", _TOLERATION_EFFECTS)):
            if field in value and value[field] not in allowed:
                raise ConfigError(f"--toleration {item!r}: {field} must be one of {', '.join(allowed)}")
        out.append(value)
    return out


def _compile_2_3(pipeline: Any, output: str, train_gpus: int) -> None:
    """Compile, then rewrite the YAML in the KFP 2.3 form (`lexdpr.pipeline.kfp_compat.to_kfp_2_3`)."""
    from kfp import compiler
    from kfp.compiler.pipeline_spec_builder import extract_comments_from_pipeline_spec

    from lexdpr.pipeline.kfp_compat import to_kfp_2_3

    with tempfile.TemporaryDirectory(prefix="lexdpr-pipeline-") as tmp:
        path = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(pipeline, str(path))
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    docs = to_kfp_2_3(docs, train_gpus=train_gpus)
    spec = docs[0]
    header = extract_comments_from_pipeline_spec(spec, spec.get("pipelineInfo", {}).get("description", ""))
    header += (
        f"# KFP 2.3 form (lex-dpr pipeline compile --kfp-version 2.3): {train_gpus} GPU(s) for train-best "
        "are fixed here\n"
    )
    with open(output, "w", encoding="utf-8") as out:
        out.write(header)
        yaml.safe_dump_all(docs, out, sort_keys=True, allow_unicode=True)


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """`key=value` pipeline arguments; values are YAML (`trial_budget=40`, `tolerations=[{…}]`)."""
    from lexdpr.pipeline.kfp_pipeline import BUILD_TIME_FLAGS, pipeline_parameters

    known = pipeline_parameters()
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"pipeline argument {item!r} is not key=value")
        if key in BUILD_TIME_FLAGS and key not in known:
            raise ConfigError(
                f"unknown pipeline parameter {key!r}: it is fixed when the pipeline is compiled, not at run "
                f"time; give {BUILD_TIME_FLAGS[key]} to `lex-dpr pipeline compile` (or to `lex-dpr pipeline "
                "submit` without --file)"
            )
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
    kfp_version: str | None = None,
    image_tag: str | None = None,
    image_repository: str | None = None,
) -> str:
    """Submit a compiled pipeline to a KFP API server (`kfp.Client`); returns the run id.

    Without `package`, the pipeline of this installation is compiled into a temporary file first, so the
    image's own `lex-dpr pipeline submit` (the Helm chart's Job) always submits the pipeline it carries; it is
    compiled for `kfp_version` with the images of `image_tag` in `image_repository` (`compile_pipeline`), and
    for KFP 2.3 a `train_gpus` argument is fixed in the compiled pipeline instead of passed to the run.
    """
    arguments = dict(params) if isinstance(params, Mapping) else parse_params(params)
    if package is None:
        compile_args: dict[str, Any] = {
            "kfp_version": kfp_version or DEFAULT_KFP_VERSION,
            "image_tag": image_tag,
            "image_repository": image_repository,
        }
        from lexdpr.pipeline import kfp_compat

        if kfp_compat.kfp_form(compile_args["kfp_version"]) == kfp_compat.LEGACY_KFP_VERSION:
            for name in kfp_compat.FIXED_IN_2_3:
                if name in arguments:
                    compile_args[name] = arguments.pop(name)
        with tempfile.TemporaryDirectory(prefix="lexdpr-pipeline-") as tmp:
            path = compile_pipeline(str(Path(tmp) / "lexdpr_pipeline.yaml"), None, **compile_args)[0]
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
    if kfp_version is not None or image_tag is not None or image_repository is not None:
        raise ConfigError(
            "--kfp-version, --image-tag and --image-repository apply when submit compiles the pipeline; "
            f"with --file, give them to `lex-dpr pipeline compile` that wrote {package}"
        )
    if not Path(package).is_file():
        raise ConfigError(f"{package}: no compiled pipeline; write it with `lex-dpr pipeline compile`")
    _check_arguments_against(package, arguments)
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


def _check_arguments_against(package: str, arguments: Mapping[str, Any]) -> None:
    """Refuse an argument the compiled pipeline has no run parameter for (e.g. `train_gpus` of the 2.3 form)."""
    try:
        docs = list(yaml.safe_load_all(Path(package).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # not ours to judge: kfp.Client reports what it cannot read
    spec = next((d for d in docs if isinstance(d, dict) and "root" in d), None)
    if spec is None:
        return
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    unknown = sorted(set(arguments) - set(declared))
    if unknown:
        raise ConfigError(
            f"{package} has no run parameter {', '.join(map(repr, unknown))}: it was fixed when that file was "
            "compiled (e.g. train_gpus by `lex-dpr pipeline compile --kfp-version 2.3 --train-gpus N`); "
            "recompile it with the value instead"
        )


def print_stages(console: Console | None = None) -> None:
    """The stage graph: each stage, what it needs and the command it runs (`{x}` = parameter or artifact)."""
    table = Table(title="lexdpr pipeline stages", title_justify="left")
    for column in ("stage", "needs", "writes", "command"):
        table.add_column(column)
    for row in describe(STAGES):
        table.add_row(row["stage"], ", ".join(row["needs"]), ", ".join(row["writes"]), row["command"])
    (console or Console()).print(table)
