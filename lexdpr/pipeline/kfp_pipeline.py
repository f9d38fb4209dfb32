"""The Kubeflow Pipelines v2 pipeline, built from the stage graph (`lexdpr.pipeline.stages`).

Every stage becomes a container component whose command is the stage's argv with KFP placeholders bound
in; the pipeline wires the components by artifact name. What only Kubernetes needs is added here and
nowhere else:

- images: `ghcr.io/lexdpr/lexdpr:{image_tag}` (CPU) and `…:{image_tag}-cuda` for the training stage;
- S3 credentials from the Secret `s3_secret` as the standard `AWS_*` variables, on every stage;
- the workspace PVC at `/workspace` (the layout Katib trials use, `lexdpr.kube.trial_job`) for tune,
  train-best and evaluate: sweep state, W&B runs, the base-model cache;
- a GPU, the node selector and the tolerations on train-best;
- caching off for tune and train-best, retries on the data stages.

Artifacts (`Dataset`, `Model`, `Metrics`) live under the pipeline root, which must be an `s3://` URI on the
same object store the Secret opens (the Katib trials read the pairs and the corpus from there).
"""

# No `from __future__ import annotations`: KFP reads the pipeline's annotations as types at run time.

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from kfp import dsl, kubernetes

from lexdpr import __version__
from lexdpr.pipeline.stages import EXECUTOR_INPUT, PARAMS, STAGES, WORKSPACE_MOUNT, Stage, in_order, render

IMAGE_REPOSITORY = "ghcr.io/lexdpr/lexdpr"
DEFAULT_IMAGE_TAG = __version__
PIPELINE_NAME = "lexdpr"
#: Keys the S3 Secret must hold; each becomes the environment variable of the same name.
S3_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")
MODEL_CACHE = f"{WORKSPACE_MOUNT}/models"
GPU_RESOURCE = "nvidia.com/gpu"
TRAIN_CPU_REQUEST = "4"
TRAIN_MEMORY_REQUEST = "16Gi"
_KINDS: dict[str, type] = {
    "Dataset": dsl.Dataset,
    "Model": dsl.Model,
    "Metrics": dsl.Metrics,
    "Artifact": dsl.Artifact,
}


def image(tag: str, variant: str = "cpu") -> str:
    """The stage image for a tag: the CPU variant, or `-cuda` for GPU stages (see images/)."""
    return f"{IMAGE_REPOSITORY}:{tag}" + ("-cuda" if variant == "cuda" else "")


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """The program (`lex-dpr data pairs`, `python -m lexdpr.pipeline.tune`) and its arguments."""
    n = 0
    while n < len(argv) and not (argv[n].startswith("--") or "{" in argv[n] or "=" in argv[n]):
        n += 1
    return argv[:n], argv[n:]


def container_component(s: Stage, image_tag: str = DEFAULT_IMAGE_TAG) -> Any:
    """The KFP container component of one stage.

    Its inputs are the stage's parameters and input artifacts, its outputs the stage's artifacts; its
    command is `s.argv` with `{x}` → the input's value or the artifact's local path, `{x.uri}` → the
    artifact's URI, `{executor_input}` → `{{$}}`.
    """
    param_names = s.params
    inputs = [i.name for i in s.inputs]
    outputs = [o.name for o in s.outputs]
    # Artifacts first: parameters have defaults, and Python wants those last.
    signature = inspect.Signature(
        [_positional(i.name, dsl.Input[_input_kind(i.name)]) for i in s.inputs]  # type: ignore[misc]
        + [_positional(o.name, dsl.Output[_KINDS[o.kind]]) for o in s.outputs]  # type: ignore[misc]
        + [_positional(p, PARAMS[p].type, _component_default(p)) for p in param_names]
    )

    def body(*placeholders: Any) -> dsl.ContainerSpec:
        bound = dict(zip(signature.parameters, placeholders, strict=True))
        values = {name: str(bound[name]) for name in param_names}
        values.update({name: str(bound[name].path) for name in [*inputs, *outputs]})
        values[EXECUTOR_INPUT] = "{{$}}"
        uris = {name: str(bound[name].uri) for name in inputs}
        command, args = split_command([render(token, values, uris) for token in s.argv])
        return dsl.ContainerSpec(image=image(image_tag, s.image), command=command, args=args)

    body.__signature__ = signature  # type: ignore[attr-defined]
    body.__name__ = s.name.replace("-", "_")
    body.__qualname__ = body.__name__
    body.__doc__ = s.help
    body.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return dsl.container_component(body)


def _input_kind(name: str) -> type:
    for s in STAGES:
        for out in s.outputs:
            if out.name == name:
                return _KINDS[out.kind]
    raise KeyError(name)


def _positional(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default
    )


def _component_default(name: str) -> Any:
    """A component input's default: what the pipeline passes on Kubernetes (so a component runs alone too)."""
    p = PARAMS[name]
    if p.kfp_constant is not None:
        return p.kfp_constant
    if name == "trial_image":
        return image(DEFAULT_IMAGE_TAG, "cuda")
    return p.default


def components(image_tag: str = DEFAULT_IMAGE_TAG) -> dict[str, Any]:
    """Stage name → its container component."""
    return {s.name: container_component(s, image_tag) for s in STAGES}


def add_stages(args: Mapping[str, Any]) -> dict[str, Any]:
    """Add every stage as a task, wired by artifact name; `args` are the pipeline's parameters."""
    comps = components()
    tasks: dict[str, Any] = {}
    made_by = {out.name: s.name for s in STAGES for out in s.outputs}
    for s in in_order():
        kwargs: dict[str, Any] = {}
        for name in s.params:
            kwargs[name] = _kfp_value(name, args)
        for i in s.inputs:
            kwargs[i.name] = tasks[made_by[i.name]].outputs[i.name]
        task = comps[s.name](**kwargs)
        task.set_display_name(s.name)
        task.set_container_image(image(args["image_tag"], s.image))
        task.set_caching_options(s.cache)
        if s.retries:
            task.set_retry(num_retries=s.retries, backoff_duration="30s", backoff_factor=2.0)
        for name in s.after:
            task.after(tasks[name])
        kubernetes.use_secret_as_env(
            task, secret_name=args["s3_secret"], secret_key_to_env={key: key for key in S3_SECRET_KEYS}
        )
        if s.workspace:
            kubernetes.mount_pvc(task, pvc_name=args["pvc_name"], mount_path=WORKSPACE_MOUNT)
            task.set_env_variable("LEXDPR_MODEL_CACHE", MODEL_CACHE)
        if s.gpu:
            task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(args["train_gpus"])
            task.set_cpu_request(TRAIN_CPU_REQUEST).set_memory_request(TRAIN_MEMORY_REQUEST)
            kubernetes.add_node_selector_json(task, args["node_selector"])
            kubernetes.add_toleration_json(task, args["tolerations"])
        tasks[s.name] = task
    return tasks


def _kfp_value(name: str, args: Mapping[str, Any]) -> Any:
    """What a stage parameter is on KFP: a constant, a value derived from the image tag, or the parameter."""
    if PARAMS[name].kfp_constant is not None:
        return PARAMS[name].kfp_constant
    if name == "trial_image":  # KFP_DERIVED_PARAMS
        return image(args["image_tag"], "cuda")
    return args[name]


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="law.go.kr JSON → passages → pairs → corpus → sweep → train the best → evaluate → export",
)
def lexdpr_pipeline(
    raw_data: str = PARAMS["raw_data"].default,
    sweep_file: str = PARAMS["sweep_file"].default,
    trial_budget: int = PARAMS["trial_budget"].default,
    parallelism: int = PARAMS["parallelism"].default,
    base_model: str = PARAMS["base_model"].default,
    hn_per_q: int = PARAMS["hn_per_q"].default,
    image_tag: str = DEFAULT_IMAGE_TAG,
    pvc_name: str = PARAMS["pvc_name"].default,
    s3_secret: str = PARAMS["s3_secret"].default,
    train_gpus: int = 1,
    node_selector: dict = {},  # noqa: B006 - KFP reads the default from the signature; never mutated
    tolerations: list = [],  # noqa: B006
) -> None:
    """The lexdpr main job on Kubeflow Pipelines.

    Args:
        raw_data: s3:// prefix with laws/, admin_rules/ and precedents/ (law.go.kr JSON).
        sweep_file: the sweep file (a path in the image, e.g. /app/configs/sweep.yaml, or an s3:// URI).
        trial_budget: how many Katib trials the sweep runs.
        parallelism: how many trials run at once.
        base_model: the base model alias, folder or hub id.
        hn_per_q: BM25 hard negatives per query.
        image_tag: tag of ghcr.io/lexdpr/lexdpr (`-cuda` is appended for the training stage).
        pvc_name: the workspace PersistentVolumeClaim (mounted at /workspace).
        s3_secret: Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL.
        train_gpus: GPUs for train-best.
        node_selector: node labels for train-best, e.g. {"nvidia.com/gpu.present": "true"}.
        tolerations: tolerations for train-best, e.g. [{"key": "nvidia.com/gpu", "operator": "Exists",
            "effect": "NoSchedule"}].
    """
    add_stages(
        {
            "raw_data": raw_data,
            "sweep_file": sweep_file,
            "trial_budget": trial_budget,
            "parallelism": parallelism,
            "base_model": base_model,
            "hn_per_q": hn_per_q,
            "image_tag": image_tag,
            "pvc_name": pvc_name,
            "s3_secret": s3_secret,
            "train_gpus": train_gpus,
            "node_selector": node_selector,
            "tolerations": tolerations,
        }
    )


#: Pipeline parameters that only Kubernetes has (the others are the stage parameters of `PARAMS`).
KFP_ONLY_PARAMS = ("image_tag", "train_gpus", "node_selector", "tolerations")
#: Stage parameters that the pipeline derives from its own parameters instead of taking them.
KFP_DERIVED_PARAMS = ("trial_image",)


def pipeline_parameters() -> dict[str, Any]:
    """The pipeline's parameters and their defaults, read from its signature (for `submit` and tests)."""
    return {
        name: p.default for name, p in inspect.signature(lexdpr_pipeline.pipeline_func).parameters.items()
    }


def compile_to(path: str, pipeline: Callable[..., Any] | None = None) -> None:
    from kfp import compiler

    compiler.Compiler().compile(pipeline or lexdpr_pipeline, path)
