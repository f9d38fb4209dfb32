"""The compiled pipeline in the form a KFP backend version runs: kfp 2.13's own (2.4+) or the 2.3 form.

The KFP 2.3 backend (Kubeflow 1.9) is built against the `pipeline_spec.proto` of October 2023
(kubeflow/pipelines `api` @ 58ce09e07d03, pinned in its `go.mod`). It takes kfp 2.13's YAML at upload, but when a
run is created it drops the container fields that proto lacks (`resourceCpuRequest`, `resourceMemoryRequest`,
`resourceCpuLimit`, `resourceMemoryLimit`, `accelerator.resourceType`, `accelerator.resourceCount`), its driver
uses the image as written (no `{{$.inputs.parameters[…]}}` resolved; every form has literal images, fixed when
the pipeline is built) and asks for a GPU only with `accelerator.type` and a literal `accelerator.count`. So the
2.3 form, made from the compiled YAML:

- fixes train-best's GPU count when compiling: every `pipelinechannel--train_gpus` placeholder becomes the
  value, and `train_gpus` is no longer a run parameter (a run that passes it is refused instead of silently
  ignoring it);
- writes the resources only with the fields that proto knows: `cpuLimit`, `memoryLimit` (GB), `cpuRequest`,
  `memoryRequest` (GB), `accelerator.type` and `accelerator.count` (no accelerator with 0 GPUs).

`tests/pipeline/upstream/spec_checker.py` holds the 2.3.0 rule this is checked against.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lexdpr.errors import ConfigError

#: The forms `lex-dpr pipeline compile --kfp-version` writes: kfp's own (backends 2.4 to 2.15) and 2.3's.
DEFAULT_KFP_VERSION = "2.4"
LEGACY_KFP_VERSION = "2.3"
#: The run parameters that the 2.3 form fixes when compiling (the images are fixed in every form).
FIXED_IN_2_3 = ("train_gpus",)
#: New resource field → the field of the 2.3 proto, and how its quantity becomes that field's number.
_RESOURCES = {
    "resourceCpuLimit": ("cpuLimit", "cpu"),
    "resourceCpuRequest": ("cpuRequest", "cpu"),
    "resourceMemoryLimit": ("memoryLimit", "memory"),
    "resourceMemoryRequest": ("memoryRequest", "memory"),
}
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIX = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def kfp_form(kfp_version: str) -> str:
    """`--kfp-version` (`2.3`, `2.3.0`, `2.4.1`, `2.15`) → the form to write: "2.3" or "2.4" (2.4 and newer)."""
    match = _VERSION.match(kfp_version.strip())
    if not match or int(match.group(1)) != 2 or int(match.group(2)) < 3:
        raise ConfigError(
            f"--kfp-version {kfp_version!r}: give the Kubeflow Pipelines backend version, 2.3 to 2.15 "
            "(2.3 for Kubeflow 1.9; 2.4 and newer take the default form)"
        )
    return LEGACY_KFP_VERSION if int(match.group(2)) == 3 else DEFAULT_KFP_VERSION


def placeholder(parameter: str) -> str:
    """How a pipeline parameter `x` appears inside a task's fields: `{{$.inputs.parameters['pipelinechannel--x']}}`."""
    return "{{$.inputs.parameters['pipelinechannel--" + parameter + "']}}"


def to_kfp_2_3(docs: Sequence[Mapping[str, Any]], *, train_gpus: int) -> list[dict[str, Any]]:
    """The compiled pipeline's YAML documents (pipeline spec, platform spec) in the 2.3 form (module docstring)."""
    if isinstance(train_gpus, bool) or not isinstance(train_gpus, int) or train_gpus < 0:
        raise ConfigError(f"--train-gpus {train_gpus!r}: a number of GPUs, 0 or more")
    out = [copy.deepcopy(dict(d)) for d in docs]
    spec = next(d for d in out if "root" in d)
    values = {placeholder("train_gpus"): str(train_gpus)}
    _replace_strings(spec, values)
    for name in FIXED_IN_2_3:
        spec["root"].get("inputDefinitions", {}).get("parameters", {}).pop(name, None)
    for component in [spec["root"], *spec.get("components", {}).values()]:
        for task in component.get("dag", {}).get("tasks", {}).values():
            parameters = task.get("inputs", {}).get("parameters", {})
            for key in [k for k, v in parameters.items() if v.get("componentInputParameter") in FIXED_IN_2_3]:
                del parameters[key]
    for label, executor in spec.get("deploymentSpec", {}).get("executors", {}).items():
        container = executor.get("container")
        if container and container.get("resources"):
            container["resources"] = _legacy_resources(label, container["resources"])
            if not container["resources"]:
                del container["resources"]
    left = [s for name in FIXED_IN_2_3 for s in _strings_with(spec, f"pipelinechannel--{name}")]
    if left:
        raise ValueError(f"the 2.3 form still names {' or '.join(FIXED_IN_2_3)}: {left}")
    executors = spec.get("deploymentSpec", {}).get("executors", {}).values()
    images = [e.get("container", {}).get("image", "") for e in executors]
    if any("{{" in str(image) for image in images):
        raise ValueError(f"an image with a placeholder, which the 2.3 driver uses as written: {images}")
    return out


def _legacy_resources(label: str, resources: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in resources.items() if k not in _RESOURCES and k != "accelerator"}
    for new, (old, unit) in _RESOURCES.items():
        if new in resources and old not in resources:
            out[old] = _number(label, new, resources[new], unit)
        elif old in resources:
            out[old] = resources[old]
    accelerator = resources.get("accelerator")
    if accelerator:
        kind = accelerator.get("resourceType") or accelerator.get("type")
        count = accelerator.get("resourceCount", accelerator.get("count", 0))
        if not isinstance(count, int) and not (isinstance(count, str) and count.isdigit()):
            raise ConfigError(f"{label}: the 2.3 form needs a literal GPU count, not {count!r}")
        if kind and int(count) > 0:
            out["accelerator"] = {"type": kind, "count": int(count)}
    return out


def _number(label: str, field: str, value: Any, unit: str) -> float:
    """A Kubernetes quantity → the 2.3 proto's number: CPUs, or memory in GB (the driver writes `%vG`)."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ConfigError(f"{label}: {field} {value!r} is not a literal quantity the 2.3 form can write")
    number = float(match.group(1)) * _SUFFIX[match.group(2)]
    return number / 1e9 if unit == "memory" else number


def _replace_strings(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        for key, item in node.items():
            node[key] = _replace_strings(item, values)
    elif isinstance(node, list):
        node[:] = [_replace_strings(item, values) for item in node]
    elif isinstance(node, str):
        for old, new in values.items():
            node = node.replace(old, new)
    return node


def _strings_with(node: Any, text: str) -> list[str]:
    if isinstance(node, dict):
        return [s for item in node.values() for s in _strings_with(item, text)]
    if isinstance(node, list):
        return [s for item in node for s in _strings_with(item, text)]
    return [node] if isinstance(node, str) and text in node else []
