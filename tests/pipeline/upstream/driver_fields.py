"""Which `KubernetesExecutorConfig` fields each Kubeflow Pipelines backend driver reads, per release.

Read from the kubeflow/pipelines repository at each release tag listed in `DRIVERS` (the `sources` of a row
name the files). The KFP v2 backend hands the per-executor Kubernetes config of the compiled pipeline
(`platforms.kubernetes.deploymentSpec.executors.<exec>`) as JSON to the driver (`--kubernetes_config`,
written by `backend/src/v2/compiler/argocompiler/container.go`); the driver parses it into the Go type
generated from `kubernetes_platform/proto/kubernetes_executor_config.proto` and builds the pod spec patch
from it (`extendPodSpecPatch` / `makeVolumeMountPatch`). Three things decide whether a setting reaches the
pod, and this table records all three:

- which proto the driver is built against (`proto`): 2.3.0–2.4.1 pin
  `github.com/kubeflow/pipelines/kubernetes_platform v0.0.0-20240725205754-d911c8b73b49` in `go.mod`, a proto
  that has none of the `*_parameter` / `*_json` fields; from 2.5.0 on, `go.mod` replaces the module with the
  in-tree `./kubernetes_platform`, which has them;
- what the parser does with a field the proto lacks (`unknown_fields`): 2.3.0 and 2.4.0 parse with
  `github.com/golang/protobuf/jsonpb.UnmarshalString` (`backend/src/v2/cmd/driver/main.go`), which refuses
  unknown fields, so the driver fails before the pod exists ("fail"); 2.4.1 switched to
  `util.UnmarshalString` (`backend/src/common/util/json.go`: `AllowUnknownFields: true`), and from 2.14.0 it is
  `protojson` with `DiscardUnknown: true`, so unknown fields silently vanish ("drop");
- where the driver takes each value from (`reads`), in the order it looks: before 2.5.0 only the literal
  fields (`secretName`, `labels`, the toleration's `key`/`operator`/…, the PVC's
  `constant`/`taskOutputParameter`/`componentInputParameter`); from 2.5.0 the `*Parameter` / `*Json` field
  first, then (documented upstream as "deprecated", still honoured) the literal ones.

Field names are the proto JSON names, as they appear in the compiled YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

#: The executor-config fields of the proto pinned by 2.3.0–2.4.1 (kubernetes_platform @ d911c8b73b49) and of
#: the in-tree proto at 2.5.0–2.15.0: the same 17 top-level fields throughout.
_TOP_LEVEL = frozenset(
    {
        "secretAsVolume",
        "secretAsEnv",
        "pvcMount",
        "nodeSelector",
        "podMetadata",
        "imagePullSecret",
        "imagePullPolicy",
        "configMapAsVolume",
        "configMapAsEnv",
        "activeDeadlineSeconds",
        "fieldPathAsEnv",
        "tolerations",
        "genericEphemeralVolume",
        "nodeAffinity",
        "podAffinity",
        "enabledSharedMemory",
        "emptyDirMounts",
    }
)

_TOLERATION_LITERALS = ("key", "operator", "value", "effect", "tolerationSeconds")
_PVC_LITERALS = ("constant", "taskOutputParameter", "componentInputParameter")

#: Message → field JSON names, proto @ d911c8b73b49 (what 2.3.0–2.4.1 know).
_LEGACY_PROTO = MappingProxyType(
    {
        "KubernetesExecutorConfig": _TOP_LEVEL,
        "SecretAsEnv": frozenset({"secretName", "keyToEnv"}),
        "SecretKeyToEnvMap": frozenset({"secretKey", "envVar"}),
        "SecretAsVolume": frozenset({"secretName", "mountPath", "optional"}),
        "PvcMount": frozenset({*_PVC_LITERALS, "mountPath"}),
        "NodeSelector": frozenset({"labels"}),
        "Toleration": frozenset(_TOLERATION_LITERALS),
    }
)

#: The in-tree proto at 2.5.0, 2.14.0, 2.14.3 and 2.14.4.
_PARAMETER_PROTO = MappingProxyType(
    {
        **_LEGACY_PROTO,
        "SecretAsEnv": frozenset({"secretName", "keyToEnv", "secretNameParameter"}),
        "SecretAsVolume": frozenset({"secretName", "mountPath", "optional", "secretNameParameter"}),
        "PvcMount": frozenset({*_PVC_LITERALS, "mountPath", "pvcNameParameter"}),
        "NodeSelector": frozenset({"labels", "nodeSelectorJson"}),
        "Toleration": frozenset({*_TOLERATION_LITERALS, "tolerationJson"}),
    }
)

#: The in-tree proto at 2.15.0: `SecretAsEnv` gained `optional`.
_PROTO_2_15 = MappingProxyType(
    {
        **_PARAMETER_PROTO,
        "SecretAsEnv": frozenset({"secretName", "keyToEnv", "secretNameParameter", "optional"}),
    }
)

#: Where the driver takes each setting's value from, in the order it looks (the first one present wins).
_LEGACY_READS = MappingProxyType(
    {
        "SecretAsEnv": ("secretName",),
        "SecretAsVolume": ("secretName",),
        "PvcMount": _PVC_LITERALS,
        "NodeSelector": ("labels",),
        "Toleration": _TOLERATION_LITERALS,
    }
)
_PARAMETER_READS = MappingProxyType(
    {
        "SecretAsEnv": ("secretNameParameter", "secretName"),
        "SecretAsVolume": ("secretNameParameter", "secretName"),
        "PvcMount": ("pvcNameParameter", *_PVC_LITERALS),
        "NodeSelector": ("nodeSelectorJson", "labels"),
        "Toleration": ("tolerationJson", *_TOLERATION_LITERALS),
    }
)

#: Top-level fields some code of the backend applies to the pod (the driver's `extendPodSpecPatch`, and
#: `podMetadata` in the Argo compiler's `extendPodMetadata`). Known-but-unread ones are ignored.
_APPLIED_BEFORE_2_14 = frozenset(_TOP_LEVEL - {"nodeAffinity", "podAffinity", "enabledSharedMemory"})
_APPLIED_FROM_2_14 = _APPLIED_BEFORE_2_14 | {"nodeAffinity"}

_PINNED_PROTO = "kubernetes_platform/proto/kubernetes_executor_config.proto @ d911c8b73b49 (pinned in go.mod)"
_IN_TREE_PROTO = "kubernetes_platform/proto/kubernetes_executor_config.proto @ {tag} (go.mod: replace => ./)"
_DRIVER_GO = "backend/src/v2/driver/driver.go"
_K8S_GO = "backend/src/v2/driver/k8s.go"
_MAIN_GO = "backend/src/v2/cmd/driver/main.go"
_JSON_GO = "backend/src/common/util/json.go"


@dataclass(frozen=True)
class DriverFields:
    """What the driver of one backend release does with a `KubernetesExecutorConfig`."""

    tag: str
    sources: tuple[str, ...]
    proto: str
    unknown_fields: Literal["fail", "drop"]
    fields: MappingProxyType[str, frozenset[str]]
    reads: MappingProxyType[str, tuple[str, ...]]
    applied: frozenset[str]


def _row(
    tag: str,
    *,
    new_layout: bool,
    unknown_fields: Literal["fail", "drop"],
    parameters: bool,
    fields: MappingProxyType[str, frozenset[str]] | None = None,
) -> DriverFields:
    driver = (_K8S_GO, _DRIVER_GO) if new_layout else (_DRIVER_GO,)
    parser = (_MAIN_GO, _JSON_GO) if unknown_fields == "drop" else (_MAIN_GO,)
    return DriverFields(
        tag=tag,
        sources=(*driver, *parser, "go.mod"),
        proto=_IN_TREE_PROTO.format(tag=tag) if parameters else _PINNED_PROTO,
        unknown_fields=unknown_fields,
        fields=fields or (_PARAMETER_PROTO if parameters else _LEGACY_PROTO),
        reads=_PARAMETER_READS if parameters else _LEGACY_READS,
        applied=_APPLIED_FROM_2_14 if new_layout else _APPLIED_BEFORE_2_14,
    )


#: One row per backend release tag read. kubeflow/pipelines has no backend releases 2.6–2.13 (after 2.5.0 the
#: backend jumped to 2.14.0 to line up with the SDK); 2.14.1 and 2.14.2 were not among the tags read, and a
#: version between two rows takes the rules of the lower one (2.14.0 and 2.14.3 read the same fields).
DRIVERS: MappingProxyType[str, DriverFields] = MappingProxyType(
    {
        "2.3.0": _row("2.3.0", new_layout=False, unknown_fields="fail", parameters=False),
        "2.4.0": _row("2.4.0", new_layout=False, unknown_fields="fail", parameters=False),
        "2.4.1": _row("2.4.1", new_layout=False, unknown_fields="drop", parameters=False),
        "2.5.0": _row("2.5.0", new_layout=False, unknown_fields="drop", parameters=True),
        "2.14.0": _row("2.14.0", new_layout=True, unknown_fields="drop", parameters=True),
        "2.14.3": _row("2.14.3", new_layout=True, unknown_fields="drop", parameters=True),
        "2.14.4": _row("2.14.4", new_layout=True, unknown_fields="drop", parameters=True),
        "2.15.0": _row("2.15.0", new_layout=True, unknown_fields="drop", parameters=True, fields=_PROTO_2_15),
    }
)

#: The backend releases lexdpr supports: Kubeflow 1.9 (KFP 2.3), 1.10 (KFP 2.4), 1.11 (KFP 2.14/2.15).
SUPPORTED = tuple(DRIVERS)
