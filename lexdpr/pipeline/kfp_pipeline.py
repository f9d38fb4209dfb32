"""The Kubeflow Pipelines v2 pipeline, built from the stage graph (`lexdpr.pipeline.stages`).

Every stage becomes a container component whose command is the stage's argv with KFP placeholders bound
in; the pipeline wires the components by artifact name. What only Kubernetes needs is added here and
nowhere else:

- images: `lexdpr.images.image_name(tag)` (`ghcr.io/lexdpr/lexdpr:<tag>`, CPU) and its `-cuda` variant for
  the training stage and the Katib trials (`trial_image`), written in full when the pipeline is built
  (`build_pipeline(image_tag=…, image_repository=…)`), never from a run parameter: the 2.4–2.15 drivers
  (`resolvePodSpecInputRuntimeParameter`) replace an image that names a parameter anywhere by the parameter's
  value alone, the 2.3 driver resolves none, and the launcher may leave a placeholder inside a constant;
- S3 credentials from the Secret `s3_secret` as the standard `AWS_*` variables, on every stage;
- the workspace PVC at `/workspace` (the layout Katib trials use, `lexdpr.kube.trial_job`) for tune,
  train-best and evaluate: sweep state, W&B runs, the base-model cache;
- a GPU, the node selector and the tolerations on train-best;
- caching off for tune and train-best, retries on the data stages.

The Kubernetes settings are written in the one form that every supported KFP backend (2.3 to 2.15) reads:
the fields the 2.3–2.4 drivers know (`secretName`, `nodeSelector.labels`, the toleration's own fields, the
PVC's `componentInputParameter`), which the 2.5+ drivers still honour, and none of the newer ones
(`secretNameParameter`, `pvcNameParameter`, `nodeSelectorJson`, `tolerationJson`): the 2.3.0 and 2.4.0
drivers refuse a config with a field they do not know, and 2.4.1 drops it (so a Secret name given only there
is empty). Those drivers read the Secret name, the node selector and the tolerations only as literals, so
these three are fixed when the pipeline is built (`build_pipeline(s3_secret=…, node_selector=…,
tolerations=…)`, `lexdpr.pipeline.commands.compile_pipeline(…)`), not run parameters; the PVC stays a run parameter (`pvc_name`),
which every driver resolves. `tests/pipeline/upstream/` holds the per-version rule this is checked against.

Artifacts (`Dataset`, `Model`, `Metrics`) live under the pipeline root, which must be an `s3://` URI on the
same object store the Secret opens (the Katib trials read the pairs and the corpus from there).
"""

# No `from __future__ import annotations`: KFP reads the pipeline's annotations as types at run time.

import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kfp import dsl, kubernetes

from lexdpr import images
from lexdpr.pipeline.stages import EXECUTOR_INPUT, PARAMS, STAGES, WORKSPACE_MOUNT, Stage, in_order, render

IMAGE_REPOSITORY = images.IMAGE_REPOSITORY
DEFAULT_IMAGE_TAG = images.DEFAULT_TAG
PIPELINE_NAME = "lexdpr"
#: Keys the S3 Secret must hold; each becomes the environment variable of the same name.
S3_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")
MODEL_CACHE = f"{WORKSPACE_MOUNT}/models"
GPU_RESOURCE = "nvidia.com/gpu"
TRAIN_CPU_REQUEST = "4"
TRAIN_MEMORY_REQUEST = "16Gi"
DEFAULT_S3_SECRET = PARAMS["s3_secret"].default
#: The fields of a Kubernetes toleration that every supported KFP driver reads.
TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")
#: The PVC-name fields of a `pvcMount` that every supported KFP driver reads.
_LEGACY_PVC_REFERENCES = ("constant", "componentInputParameter", "taskOutputParameter")
_KINDS: dict[str, type] = {
    "Dataset": dsl.Dataset,
    "Model": dsl.Model,
    "Metrics": dsl.Metrics,
    "Artifact": dsl.Artifact,
}


def image(tag: str, variant: str = "cpu", repository: str = IMAGE_REPOSITORY) -> str:
    """The stage image for a tag: the CPU variant, or `-cuda` for GPU stages (`lexdpr.images.image_name`)."""
    if variant not in ("cpu", "cuda"):
        raise ValueError(f"image variant {variant!r}: cpu or cuda")
    return images.image_name(tag, cuda=variant == "cuda", repository=repository)


#: An image tag (Docker's rule) and a repository (`host[:port]/path`, no tag, no digest, no placeholder).
_IMAGE_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_IMAGE_REPOSITORY = re.compile(r"^[^\s:@{}/]+(:[0-9]+)?(/[^\s:@{}/]+)*$")


def check_image_setting(image_tag: Any, image_repository: Any) -> tuple[str, str]:
    """The image tag and repository as literal strings, or `ValueError` (they are fixed when building)."""
    if not isinstance(image_tag, str) or not _IMAGE_TAG.match(image_tag):
        raise ValueError(
            f"image tag {image_tag!r}: not an image tag (letters, digits, '_', '.', '-'; fixed when the "
            "pipeline is built, not a run parameter)"
        )
    if not isinstance(image_repository, str) or not _IMAGE_REPOSITORY.match(image_repository):
        raise ValueError(
            f"image repository {image_repository!r}: give host[:port]/path without a tag, e.g. "
            f"{IMAGE_REPOSITORY}"
        )
    return image_tag, image_repository


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """The program (`lex-dpr data pairs`, `python -m lexdpr.pipeline.tune`) and its arguments."""
    n = 0
    while n < len(argv) and not (argv[n].startswith("--") or "{" in argv[n] or "=" in argv[n]):
        n += 1
    return argv[:n], argv[n:]


def container_component(
    s: Stage, image_tag: str = DEFAULT_IMAGE_TAG, image_repository: str = IMAGE_REPOSITORY
) -> Any:
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
        + [
            _positional(p, PARAMS[p].type, _component_default(p, image_tag, image_repository))
            for p in param_names
        ]
    )

    def body(*placeholders: Any) -> dsl.ContainerSpec:
        bound = dict(zip(signature.parameters, placeholders, strict=True))
        values = {name: str(bound[name]) for name in param_names}
        values.update({name: str(bound[name].path) for name in [*inputs, *outputs]})
        values[EXECUTOR_INPUT] = "{{$}}"
        uris = {name: str(bound[name].uri) for name in inputs}
        command, args = split_command([render(token, values, uris) for token in s.argv])
        return dsl.ContainerSpec(
            image=image(image_tag, s.image, image_repository), command=command, args=args
        )

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


def _component_default(name: str, image_tag: str, image_repository: str) -> Any:
    """A component input's default: what the pipeline passes on Kubernetes (so a component runs alone too)."""
    p = PARAMS[name]
    if p.kfp_constant is not None:
        return p.kfp_constant
    if name == "trial_image":
        return image(image_tag, "cuda", image_repository)
    return p.default


def components(
    image_tag: str = DEFAULT_IMAGE_TAG, image_repository: str = IMAGE_REPOSITORY
) -> dict[str, Any]:
    """Stage name → its container component, with the images of `image_tag` in `image_repository`."""
    image_tag, image_repository = check_image_setting(image_tag, image_repository)
    return {s.name: container_component(s, image_tag, image_repository) for s in STAGES}


def add_stages(args: Mapping[str, Any]) -> dict[str, Any]:
    """Add every stage as a task, wired by artifact name.

    `args` are the pipeline's parameters, plus its build-time settings: `s3_secret` (a name), `node_selector`
    (label → value), `tolerations` (Kubernetes tolerations), `image_tag` and `image_repository`, all literal
    values.
    """
    node_selector = _literal_node_selector(args["node_selector"])
    tolerations = [_literal_toleration(t) for t in _literal_list(args["tolerations"], "tolerations")]
    if not isinstance(args["s3_secret"], str) or not args["s3_secret"]:
        raise TypeError(
            f"s3_secret must be a Secret name fixed when the pipeline is built, not {args['s3_secret']!r}"
        )
    try:
        image_tag, repository = check_image_setting(args["image_tag"], args["image_repository"])
    except ValueError as exc:
        raise TypeError(str(exc)) from None
    comps = components(image_tag, repository)
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
        task.set_container_image(image(image_tag, s.image, repository))
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
            for label, value in node_selector.items():
                kubernetes.add_node_selector(task, label_key=label, label_value=value)
            for toleration in tolerations:
                kubernetes.add_toleration(task, **toleration)
        _keep_fields_every_driver_reads(task)
        tasks[s.name] = task
    return tasks


def _literal_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"{what} must be a list fixed when the pipeline is built, not {value!r}")
    return list(value)


def _literal_node_selector(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in [*value, *value.values()]):
        raise TypeError(
            f"node_selector must be a dict of label → value fixed when the pipeline is built, not {value!r}"
        )
    return dict(value)


def _literal_toleration(value: Any) -> dict[str, Any]:
    """A Kubernetes toleration (`key`, `operator`, `value`, `effect`, `tolerationSeconds`) → `add_toleration` kwargs."""
    if not isinstance(value, Mapping) or not value or set(value) - set(TOLERATION_FIELDS):
        raise TypeError(f"a toleration is a dict of {', '.join(TOLERATION_FIELDS)}, not {value!r}")
    seconds = value.get("tolerationSeconds")
    if seconds is not None and (not isinstance(seconds, int) or isinstance(seconds, bool)):
        raise TypeError(f"tolerationSeconds must be an integer, not {seconds!r}")
    kwargs: dict[str, Any] = {k: str(value[k]) for k in ("key", "operator", "value", "effect") if k in value}
    if seconds is not None:
        kwargs["toleration_seconds"] = seconds
    return kwargs


def _keep_fields_every_driver_reads(task: Any) -> None:
    """Drop what kfp-kubernetes adds in the 2.5+ form next to the literal fields, after checking they are there.

    kfp-kubernetes writes `secretNameParameter` and `pvcNameParameter` besides the literal `secretName` and
    `componentInputParameter`; the 2.3.0/2.4.0 drivers fail on the unknown field, and the 2.5+ drivers take the
    literal field when the parameter one is absent, to the same value.
    """
    config = task.platform_config.get("kubernetes", {})
    for secret in config.get("secretAsEnv", []):
        if not secret.get("secretName"):
            raise TypeError(f"{task.name}: a Secret mount without a literal Secret name: {secret}")
        secret.pop("secretNameParameter", None)
    for mount in config.get("pvcMount", []):
        if not any(mount.get(k) for k in _LEGACY_PVC_REFERENCES):
            raise TypeError(f"{task.name}: a PVC mount the 2.3/2.4 drivers cannot name: {mount}")
        mount.pop("pvcNameParameter", None)


def _kfp_value(name: str, args: Mapping[str, Any]) -> Any:
    """What a stage parameter is on KFP: a constant, a value derived from the image settings, or the parameter."""
    if PARAMS[name].kfp_constant is not None:
        return PARAMS[name].kfp_constant
    if name == "trial_image":  # KFP_DERIVED_PARAMS: a literal, so no launcher has a placeholder to resolve
        return image(args["image_tag"], "cuda", args["image_repository"])
    return args[name]


def build_pipeline(
    s3_secret: str = DEFAULT_S3_SECRET,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, Any]] = (),
    *,
    image_tag: str = DEFAULT_IMAGE_TAG,
    image_repository: str = IMAGE_REPOSITORY,
) -> Any:
    """The pipeline, with the settings that are fixed when it is built (see the module docstring).

    Args:
        s3_secret: the Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ENDPOINT_URL, for every
            stage and for the Katib trials.
        node_selector: node labels for train-best, e.g. {"nvidia.com/gpu.present": "true"}.
        tolerations: Kubernetes tolerations for train-best, e.g. [{"key": "nvidia.com/gpu", "operator":
            "Exists", "effect": "NoSchedule"}].
        image_tag: the tag of every step's image: `<image_repository>:<tag>` for the CPU steps,
            `<image_repository>:<tag>-cuda` for train-best and the Katib trials (default: this lexdpr's version).
        image_repository: where the images are (default ghcr.io/lexdpr/lexdpr; images/build.sh builds them).
    """
    settings = {
        "s3_secret": s3_secret,
        "node_selector": dict(node_selector or {}),
        "tolerations": [dict(t) for t in tolerations],
        "image_tag": image_tag,
        "image_repository": image_repository,
    }
    # Fail here, not halfway through a compile.
    check_image_setting(image_tag, image_repository)
    _literal_node_selector(settings["node_selector"])
    for t in settings["tolerations"]:
        _literal_toleration(t)

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
        pvc_name: str = PARAMS["pvc_name"].default,
        train_gpus: int = 1,
    ) -> None:
        """The lexdpr main job on Kubeflow Pipelines.

        Args:
            raw_data: s3:// prefix with laws/, admin_rules/ and precedents/ (law.go.kr JSON).
            sweep_file: the sweep file (a path in the image, e.g. /app/configs/sweep.yaml, or an s3:// URI).
            trial_budget: how many Katib trials the sweep runs.
            parallelism: how many trials run at once.
            base_model: the base model alias, folder or hub id.
            hn_per_q: BM25 hard negatives per query.
            pvc_name: the workspace PersistentVolumeClaim (mounted at /workspace).
            train_gpus: GPUs for train-best.
        """
        add_stages(
            {
                "raw_data": raw_data,
                "sweep_file": sweep_file,
                "trial_budget": trial_budget,
                "parallelism": parallelism,
                "base_model": base_model,
                "hn_per_q": hn_per_q,
                "pvc_name": pvc_name,
                "train_gpus": train_gpus,
                **settings,
            }
        )

    return lexdpr_pipeline


#: The pipeline with the default settings (Secret `lexdpr-s3`, no node selector, no tolerations, the images of
#: this lexdpr's version in ghcr.io/lexdpr/lexdpr).
lexdpr_pipeline = build_pipeline()

#: Pipeline parameters that only Kubernetes has (the others are the stage parameters of `PARAMS`).
KFP_ONLY_PARAMS = ("train_gpus",)
#: Stage parameters that the pipeline derives from its build-time settings instead of taking them.
KFP_DERIVED_PARAMS = ("trial_image",)
#: Stage parameters fixed when the pipeline is built (`build_pipeline`), because KFP 2.3–2.4 drivers read
#: the Secret name only as a literal.
KFP_BUILD_TIME_PARAMS = ("s3_secret",)
#: Settings fixed when the pipeline is built that are not stage parameters.
KFP_BUILD_TIME_SETTINGS = ("node_selector", "tolerations", "image_tag", "image_repository")
#: Each value fixed when the pipeline is built → the `lex-dpr pipeline compile` (and `submit`) flag that sets it.
BUILD_TIME_FLAGS = {
    "s3_secret": "--s3-secret",
    "node_selector": "--node-selector",
    "tolerations": "--toleration",
    "image_tag": "--image-tag",
    "image_repository": "--image-repository",
    "trial_image": "--image-tag/--image-repository",
}


def pipeline_parameters() -> dict[str, Any]:
    """The pipeline's parameters and their defaults, read from its signature (for `submit` and tests)."""
    return {
        name: p.default for name, p in inspect.signature(lexdpr_pipeline.pipeline_func).parameters.items()
    }
