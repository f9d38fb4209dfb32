"""Would a KFP backend driver apply a compiled pipeline's Kubernetes settings? The rule of `driver_fields`.

`check_platform_spec(compiled_ir, kfp_version)` walks `platforms.kubernetes.deploymentSpec.executors` of a
compiled pipeline and returns one line per setting that the driver of that backend release would refuse,
drop, or read as empty (no line: every setting reaches the pod). See `driver_fields` for what was read
upstream, where, and at which tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tests.pipeline.upstream.driver_fields import DRIVERS, DriverFields

#: What an executor-config list or object holds, by its top-level field.
_MESSAGES = {
    "secretAsEnv": "SecretAsEnv",
    "secretAsVolume": "SecretAsVolume",
    "pvcMount": "PvcMount",
    "nodeSelector": "NodeSelector",
    "tolerations": "Toleration",
}
#: What the pod gets when none of the fields the driver reads is set.
_WHEN_MISSING = {
    "SecretAsEnv": "an empty Secret name (the pod is invalid) or a driver error",
    "SecretAsVolume": "an empty Secret name (the pod is invalid) or a driver error",
    "PvcMount": "no PVC name (the driver fails the task)",
    "NodeSelector": "no node selector at all",
    "Toleration": "an empty toleration instead of the one meant",
}
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


def rules_for(kfp_version: str) -> DriverFields:
    """The table row for a backend version: the highest tag read with the same major.minor, not above it."""
    match = _VERSION.match(kfp_version.strip())
    if not match:
        raise ValueError(f"{kfp_version!r} is not a KFP backend version like 2.4.1")
    wanted = tuple(int(x or 0) for x in match.groups())
    rows = [
        (version, row)
        for tag, row in DRIVERS.items()
        if (version := tuple(int(x) for x in tag.split("."))) <= wanted and version[:2] == wanted[:2]
    ]
    if not rows:
        raise ValueError(f"KFP backend {kfp_version} is not in the table; known: {', '.join(DRIVERS)}")
    return max(rows)[1]


def check_platform_spec(
    compiled_ir: Mapping[str, Any] | Iterable[Mapping[str, Any]], kfp_version: str
) -> list[str]:
    """Every Kubernetes setting of `compiled_ir` that the `kfp_version` driver would refuse, drop or misread.

    `compiled_ir` is the compiled pipeline: the list of its YAML documents (pipeline spec, platform spec),
    or the platform-spec document alone (a mapping with `platforms`).
    """
    rules = rules_for(kfp_version)
    docs = [compiled_ir] if isinstance(compiled_ir, Mapping) else list(compiled_ir)
    platform = next((d for d in docs if "platforms" in d), {})
    executors = (
        platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    )
    inputs = _input_parameters(docs)
    problems: list[str] = []
    for label, config in sorted(executors.items()):
        problems += _check_config(label, config, rules, inputs)
    return problems


def _input_parameters(docs: list[Mapping[str, Any]]) -> set[str] | None:
    """Input parameter names a `componentInputParameter` may name (the root's and every DAG's), if known."""
    spec = next((d for d in docs if "root" in d), None)
    if spec is None:
        return None
    dags = [spec["root"], *(c for c in spec.get("components", {}).values() if "dag" in c)]
    return {name for dag in dags for name in dag.get("inputDefinitions", {}).get("parameters", {})}


def _check_config(
    label: str, config: Mapping[str, Any], rules: DriverFields, inputs: set[str] | None
) -> list[str]:
    problems = []
    for field, value in config.items():
        path = f"{label}.{field}"
        if field not in rules.fields["KubernetesExecutorConfig"]:
            problems.append(_unknown(path, rules))
            continue
        if field not in rules.applied:
            problems.append(
                f"{path}: the {rules.tag} backend knows this field but never applies it to the pod"
            )
            continue
        message = _MESSAGES.get(field)
        if message is None:
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            where = f"{path}[{i}]" if isinstance(value, list) else path
            problems += _check_message(where, message, item, rules, inputs)
            for j, entry in enumerate(item.get("keyToEnv", []) if message == "SecretAsEnv" else []):
                problems += [
                    _unknown(f"{where}.keyToEnv[{j}].{k}", rules)
                    for k in entry
                    if k not in rules.fields["SecretKeyToEnvMap"]
                ]
    return problems


def _check_message(
    path: str, message: str, item: Mapping[str, Any], rules: DriverFields, inputs: set[str] | None
) -> list[str]:
    problems = []
    known = rules.fields[message]
    for field in item:
        if field in known:
            continue
        if rules.unknown_fields == "drop" and item[field] == _literal_as_parameter(message, item):
            continue  # dropped, but it only repeated what the literal fields the driver reads say
        problems.append(_unknown(f"{path}.{field}", rules))
    used = next((f for f in rules.reads[message] if f in known and _is_set(item.get(f))), None)
    if used is None:
        problems.append(
            f"{path}: sets none of the fields the {rules.tag} driver reads "
            f"({', '.join(f for f in rules.reads[message] if f in known)}); the pod gets {_WHEN_MISSING[message]}"
        )
    else:
        name = _component_input(item[used]) if used != "componentInputParameter" else item[used]
        if name is not None and inputs is not None and name not in inputs:
            problems.append(
                f"{path}.{used}: names the input parameter {name!r}, which no DAG of the pipeline has"
            )
    if message == "PvcMount" and not item.get("mountPath"):
        problems.append(f"{path}: no mountPath; the {rules.tag} driver fails the task")
    return problems


def _unknown(path: str, rules: DriverFields) -> str:
    if rules.unknown_fields == "fail":
        return (
            f"{path}: unknown to the {rules.tag} driver ({rules.proto}), which refuses unknown fields: "
            "the task fails before its pod exists"
        )
    return (
        f"{path}: unknown to the {rules.tag} driver ({rules.proto}), which drops it: the setting is ignored"
    )


def _is_set(value: Any) -> bool:
    return value not in (None, "", {}, [])


def _component_input(value: Any) -> str | None:
    return value.get("componentInputParameter") if isinstance(value, Mapping) else None


def _literal_as_parameter(message: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
    """The input parameter spec that says what the literal (pre-2.5) fields of `item` say, if they say anything."""
    if message == "PvcMount":
        if _is_set(item.get("constant")):
            return {"runtimeValue": {"constant": item["constant"]}}
        if _is_set(item.get("componentInputParameter")):
            return {"componentInputParameter": item["componentInputParameter"]}
        if _is_set(item.get("taskOutputParameter")):
            return {"taskOutputParameter": item["taskOutputParameter"]}
        return None
    if message in ("SecretAsEnv", "SecretAsVolume"):
        literal = item.get("secretName")
    elif message == "NodeSelector":
        literal = item.get("labels")
    else:  # Toleration
        literal = {
            k: item[k] for k in ("key", "operator", "value", "effect", "tolerationSeconds") if k in item
        }
    return {"runtimeValue": {"constant": literal}} if _is_set(literal) else None
