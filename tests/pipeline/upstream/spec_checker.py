"""Would the KFP 2.3 backend accept a compiled pipeline spec, and run each step as written? The rule of 2.3.0.

`check_pipeline_spec(compiled_ir, kfp_version)` returns one line per thing the KFP 2.3.x backend would refuse,
drop or misread in the pipeline spec (the Kubernetes platform settings are `checker.check_platform_spec`'s).
Only 2.3.x has a row: from 2.4.0 on the backend is built against a `pipeline_spec.proto` with the fields kfp
2.13 writes (see `api_fields_2_3`). Read from kubeflow/pipelines at the tag 2.3.0:

- upload (`backend/src/apiserver/template/template.go` `isPipelineSpec`, `v2_template.go` `NewV2SpecTemplate`):
  each YAML document is parsed with `protojson.Unmarshal` into `PipelineSpec` or `PlatformSpec` of the proto
  pinned in `go.mod` (`api_fields_2_3.PROTO`), which refuses a field it does not know; a pipeline-spec document
  that does not parse is not taken for one ("no pipeline spec is provided"). `deploymentSpec` and the
  platform's `executors` are `google.protobuf.Struct`s there, so their contents pass unread;
- run (`backend/src/v2/compiler/visitor.go` `GetDeploymentConfig`): `deploymentSpec` is parsed into
  `PipelineDeploymentConfig` with `jsonpb.Unmarshaler{AllowUnknownFields: true}`: an unknown field is dropped
  (a wrongly typed one still fails the run), and the container spec the driver gets (`--container`,
  `argocompiler/container.go`, `saveComponentImpl`) is that parsed message, so the dropped field is gone;
- driver (`backend/src/v2/driver/driver.go` `initPodSpecPatch`, `resolveInputs`): the image is used as written
  (no placeholder is resolved); a GPU is requested only when `accelerator.type` is set and `accelerator.count`
  is above 0; CPU and memory only from `cpuLimit`, `memoryLimit`, `cpuRequest`, `memoryRequest`; a task input's
  `runtimeValue.constant` is passed as it is, so a `{{$.inputs.parameters[…]}}` inside it reaches the command
  unresolved (the launcher, `backend/src/v2/component/launcher_v2.go`, substitutes placeholders in one pass over
  a Go map, so whether a placeholder inside a substituted value is replaced depends on the map's order).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tests.pipeline.upstream import api_fields_2_3

_VERSION = re.compile(r"^v?2\.3(?:\.\d+)?$")
_PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
_INTEGER = re.compile(r"^-?\d+$")


def check_pipeline_spec(
    compiled_ir: Mapping[str, Any] | Iterable[Mapping[str, Any]], kfp_version: str
) -> list[str]:
    """Every field or value of `compiled_ir` that the `kfp_version` (2.3.x) backend refuses, drops or misreads.

    `compiled_ir`: the compiled pipeline's YAML documents (pipeline spec, then the platform spec if any), or the
    pipeline-spec document alone.
    """
    if not _VERSION.match(kfp_version.strip()):
        raise ValueError(f"only KFP 2.3.x has a pipeline-spec rule here, not {kfp_version!r}")
    docs = [compiled_ir] if isinstance(compiled_ir, Mapping) else list(compiled_ir)
    problems: list[str] = []
    spec = next((d for d in docs if "root" in d), None)
    if spec is None:
        return [
            "no pipeline-spec document (with `root`): the 2.3.0 API server says 'no pipeline spec is provided'"
        ]
    problems += _walk(spec, "PipelineSpec", "", _refused)
    for doc in docs:
        if "platforms" in doc:
            problems += _walk(doc, "PlatformSpec", "platforms-document", _refused)
    for label, executor in sorted(spec.get("deploymentSpec", {}).get("executors", {}).items()):
        path = f"deploymentSpec.executors.{label}"
        problems += _walk(executor, "PipelineDeploymentConfig.ExecutorSpec", path, _dropped)
        container = executor.get("container")
        if isinstance(container, Mapping):
            problems += _driver(path + ".container", container)
    problems += _constants(spec)
    return problems


def _refused(path: str, what: str) -> str:
    return f"{path}: {what}; the 2.3.0 API server refuses the upload ({api_fields_2_3.PROTO}, protojson)"


def _dropped(path: str, what: str) -> str:
    if what.startswith("unknown field"):
        return (
            f"{path}: {what}; the 2.3.0 backend drops it when the run is created "
            "(GetDeploymentConfig parses with AllowUnknownFields): the setting is ignored"
        )
    return f"{path}: {what}; the 2.3.0 backend fails the run when it is created (GetDeploymentConfig)"


def _walk(value: Any, message: str, path: str, verdict: Any) -> list[str]:
    fields = api_fields_2_3.MESSAGES[message]
    if not isinstance(value, Mapping):
        return [verdict(path, f"a {message} must be a JSON object, not {value!r}")]
    problems = []
    for name, item in value.items():
        where = f"{path}.{name}" if path else name
        kind = fields.get(name)
        if kind is None:
            problems.append(verdict(where, f"unknown field of {message}"))
            continue
        problems += _value(item, kind, where, verdict)
    return problems


def _value(item: Any, kind: str, path: str, verdict: Any) -> list[str]:
    if item is None:
        return []  # protojson: null is the default value
    if kind.startswith("repeated:"):
        if not isinstance(item, list):
            return [verdict(path, f"a list is expected, not {item!r}")]
        return [p for i, x in enumerate(item) for p in _value(x, kind[9:], f"{path}[{i}]", verdict)]
    if kind.startswith("map:"):
        if not isinstance(item, Mapping):
            return [verdict(path, f"a map is expected, not {item!r}")]
        return [p for k, x in item.items() for p in _value(x, kind[4:], f"{path}.{k}", verdict)]
    if kind in api_fields_2_3.MESSAGES:
        return _walk(item, kind, path, verdict)
    if kind.startswith("enum:"):
        values = api_fields_2_3.ENUMS[kind[5:]]
        ok = item in values or (isinstance(item, int) and not isinstance(item, bool))
        return [] if ok else [verdict(path, f"{item!r} is not one of {', '.join(values)}")]
    ok = _scalar_ok(item, kind)
    return [] if ok else [verdict(path, f"{item!r} is not a valid {kind}")]


def _scalar_ok(item: Any, kind: str) -> bool:
    if kind in ("json",):
        return True
    if kind in ("string", "bytes", "duration"):
        return isinstance(item, str)
    if kind == "bool":
        return isinstance(item, bool)
    if kind in ("int32", "int64", "uint32", "uint64"):
        if isinstance(item, bool):
            return False
        if isinstance(item, int):
            return True
        if isinstance(item, float):
            return item.is_integer()
        return isinstance(item, str) and bool(_INTEGER.match(item))
    if kind in ("double", "float"):
        if isinstance(item, bool):
            return False
        if isinstance(item, int | float):
            return True
        try:
            float(item)
        except (TypeError, ValueError):
            return False
        return True
    return isinstance(item, Mapping)  # another package's message (none in this table)


def _driver(path: str, container: Mapping[str, Any]) -> list[str]:
    problems = []
    image = container.get("image", "")
    if "{{" in str(image):
        problems.append(
            f"{path}.image: {image!r} has a placeholder; the 2.3.0 driver uses the image as written, "
            "so the pod's image is invalid"
        )
    accelerator = (container.get("resources") or {}).get("accelerator") or {}
    if accelerator:
        count = accelerator.get("count")
        count_ok = isinstance(count, int | str) and _scalar_ok(count, "int64") and int(count) > 0
        if not accelerator.get("type") or not count_ok:
            problems.append(
                f"{path}.resources.accelerator: the 2.3.0 driver requests a GPU only with `type` and a `count` "
                f"above 0 (literal), here type={accelerator.get('type')!r}, count={count!r}: the pod gets no GPU"
            )
    return problems


def _constants(spec: Mapping[str, Any]) -> list[str]:
    """Task inputs whose constant holds a placeholder and that the step's command uses: 2.3.0 resolves none.

    (kfp also adds constants no backend reads, `base_image` and `accelerator_count`; those are left alone.)
    """
    components = spec.get("components", {})
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    dags = {"root": spec.get("root", {})}
    dags.update({name: c for name, c in components.items() if "dag" in c})
    problems = []
    for dag_name, component in sorted(dags.items()):
        for task_name, task in sorted(component.get("dag", {}).get("tasks", {}).items()):
            called = components.get(task.get("componentRef", {}).get("name", ""), {})
            container = executors.get(called.get("executorLabel", ""), {}).get("container", {})
            command = " ".join(str(x) for x in [*container.get("command", []), *container.get("args", [])])
            for name, param in sorted(task.get("inputs", {}).get("parameters", {}).items()):
                constant = (param.get("runtimeValue") or {}).get("constant")
                used = "{{$.inputs.parameters['" + name + "']}}" in command
                if used and isinstance(constant, str) and _PLACEHOLDER.search(constant):
                    problems.append(
                        f"{dag_name}.dag.tasks.{task_name}.inputs.parameters.{name}: the constant {constant!r} "
                        "holds a placeholder that the 2.3.0 driver passes on unresolved"
                    )
    return problems


#: `inputPipelineChannelPattern` of `backend/src/v2/driver/util.go` (2.4.0 to 2.15.0): not anchored.
_CHANNEL = re.compile(r"\$.inputs.parameters\['(.+?)'\]")


def driver_image(image: str, parameter_values: Mapping[str, str], kfp_version: str) -> str:
    """The image the driver of `kfp_version` puts in the pod for a container spec's `image`.

    2.3.x uses it as written. 2.4.0 to 2.15.0 call `resolvePodSpecInputRuntimeParameter(container.Image, …)`
    (`backend/src/v2/driver/util.go`, from 2.15.0 `resolve.go`): if the unanchored `_CHANNEL` matches anywhere,
    the image is the named input parameter's value alone; otherwise it is used as written.
    """
    if _VERSION.match(kfp_version.strip()):
        return image
    match = _CHANNEL.search(image)
    if match is None:
        return image
    if match.group(1) not in parameter_values:
        raise KeyError(f"executorInput did not contain container Image input parameter {match.group(1)!r}")
    return parameter_values[match.group(1)]
