"""Kubeflow Training Operator (v1 API, ``kubeflow.org/v1`` ``PyTorchJob``) rules ported from upstream, per
shipped version, for Katib trials whose ``trialSpec`` is a PyTorchJob.

This is a test-support library like ``katib.py``: it answers "would the training operator of version X
accept this PyTorchJob, what would it default, and what environment would its pods get?" without a cluster.
Each function names the upstream file and tag it ports.  Rules are re-written in Python; no upstream file
is copied.

Versions and where they ship (kubeflow/manifests ``README.md`` component table at each tag)
------------------------------------------------------------------------------------------
=================  ===========  ===================================  ==========================
Kubeflow           Katib        training-operator (v1 API)           trainer (v2 API)
=================  ===========  ===================================  ==========================
1.9.0              v0.17.0      v1.8.0                               --
1.9.1              v0.17.0      v1.8.1                               --
1.10.0             v0.18.0      v1.9.1                               --
1.10.1, 1.10.2     v0.18.0      v1.9.2                               --
1.11.0             v0.19.0      v1.9.2 (listed, *not* installed by   v2.1.0 (installed by
                                ``example/kustomization.yaml``)      ``example/``)
=================  ===========  ===================================  ==========================

The repository kubeflow/training-operator was renamed kubeflow/trainer; the v1.9.x tags live there.
Trainer v2.1.0's CRDs are only ``trainer.kubeflow.org`` ``TrainJob``/``TrainingRuntime``/
``ClusterTrainingRuntime``: it does **not** serve ``kubeflow.org/v1`` ``PyTorchJob``.  On Kubeflow 1.11 the
v1 API exists only if ``applications/training-operator/upstream/overlays/kubeflow`` is applied as well
(the README keeps that line commented out); and katib-controller must be (re)started after that CRD
exists, or it never watches PyTorchJobs (see ``katib.trial_resource_watched``).

The rules of the webhook, defaults, env vars and restart handling are identical at v1.8.0 and v1.8.1 and
identical at v1.9.0 - v1.9.4 (``git diff`` of the files named below; v1.9.4 only changes how the webhook
is registered); v1.8 -> v1.9 differences are noted
where they apply.  Training-operator v1.8.x builds against apimachinery v0.29.3, v1.9.x against v0.31.3;
``field.Error`` formatting is the same in both.

Public API
----------
``TRAINING_OPERATOR_VERSIONS`` / ``TRAINING_OPERATOR_TAGS`` / ``KUBEFLOW_RELEASES``
``validate_pytorchjob(job, version) -> list[str]``
    CRD structural-schema ``required`` checks, then the validating webhook on CREATE.  Empty = accepted.
``pytorchjob_warnings(job, version) -> list[str]``
    The admission warnings the webhook returns with an accepted job.
``set_pytorchjob_defaults(job, version) -> dict``
    ``SetDefaults_PyTorchJob`` as the controller applies it (after admission).
``pod_labels(job, replica_type, index, version) -> dict``, ``pod_env(job, replica_type, index, version)``
    Labels and injected env vars of the pod the controller creates for one replica.
``pod_restart_policy(replica_restart_policy) -> str``, ``retries_exit_code(code, restart_policy) -> bool``
``katib_pytorchjob_trial_errors(experiment, katib_version, to_version, ...) -> list[str]``
    End to end: Katib admission, trialResources watch, the operator webhook on the trial's job, and
    Katib's pod webhook on each replica's pod.

Not ported: the UPDATE path (``managedBy`` immutability, which at v1.9.x compares the new object with
itself -- ``oldJob := newObj`` -- so it never fires), scheduling/gang/HPA, and the CRD schema beyond
``required`` (types, ``x-kubernetes`` rules).  Go map iteration order makes the order of the webhook's
per-replica errors random upstream; here replica types are visited in sorted order.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from tests.kube.upstream.gojson import go_json_dumps

TRAINING_OPERATOR_VERSIONS = ("1.8.0", "1.8.1", "1.9.1", "1.9.2")
TRAINING_OPERATOR_TAGS = {v: "v" + v for v in TRAINING_OPERATOR_VERSIONS}

#: kubeflow/manifests README component table at each tag (see module docstring)
KUBEFLOW_RELEASES: dict[str, dict[str, Any]] = {
    "1.9.0": {"katib": "0.17", "training_operator": "1.8.0", "trainer": None},
    "1.9.1": {"katib": "0.17", "training_operator": "1.8.1", "trainer": None},
    "1.10.0": {"katib": "0.18", "training_operator": "1.9.1", "trainer": None},
    "1.10.1": {"katib": "0.18", "training_operator": "1.9.2", "trainer": None},
    "1.10.2": {"katib": "0.18", "training_operator": "1.9.2", "trainer": None},
    # example/kustomization.yaml at v1.11.0 comments the training-operator out and installs trainer v2
    "1.11.0": {
        "katib": "0.19",
        "training_operator": "1.9.2",
        "trainer": "2.1.0",
        "training_operator_in_default_install": False,
    },
}

__all__ = [
    "KUBEFLOW_RELEASES",
    "PYTORCH_DEFAULT_CONTAINER_NAME",
    "PYTORCH_DEFAULT_PORT",
    "PYTORCH_DEFAULT_PORT_NAME",
    "PYTORCH_DEFAULT_RESTART_POLICY",
    "RESTART_POLICIES",
    "TRAINING_OPERATOR_TAGS",
    "TRAINING_OPERATOR_VERSIONS",
    "UpstreamPanic",
    "katib_pytorchjob_trial_errors",
    "pod_env",
    "pod_labels",
    "pod_restart_policy",
    "pytorchjob_warnings",
    "retries_exit_code",
    "set_pytorchjob_defaults",
    "validate_pytorchjob",
]

# pkg/apis/kubeflow.org/v1/pytorch_types.go (same at v1.8.0 - v1.9.4)
PYTORCH_DEFAULT_PORT_NAME = "pytorchjob-port"
PYTORCH_DEFAULT_CONTAINER_NAME = "pytorch"
PYTORCH_DEFAULT_PORT = 23456
PYTORCH_DEFAULT_RESTART_POLICY = "OnFailure"
MASTER, WORKER = "Master", "Worker"
_VALID_REPLICA_TYPES = (MASTER, WORKER)
DEFAULT_NPROC_PER_NODE = "auto"
#: pkg/apis/kubeflow.org/v1/common_types.go RestartPolicy values
RESTART_POLICIES = ("Always", "OnFailure", "Never", "ExitCode")
#: pkg/common/util/webhooks.go supportedJobControllers (v1.9.x; a Go set, listed unsorted upstream)
_SUPPORTED_MANAGED_BY = ("kueue.x-k8s.io/multikueue", "kubeflow.org/training-operator")
_CONTROLLER_NAME = "pytorchjob-controller"

_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile(_DNS1035_FMT)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{_DNS1035_FMT}')"
)


class UpstreamPanic(RuntimeError):
    """Upstream Go code dereferences nil / indexes out of range here (it would panic)."""


def _check_version(version: str) -> None:
    if version not in TRAINING_OPERATOR_VERSIONS:
        raise ValueError(
            f"unsupported training-operator version {version!r}; supported: {TRAINING_OPERATOR_VERSIONS}"
        )


def _v19(version: str) -> bool:
    return version.startswith("1.9.")


# --------------------------------------------------------------------------- field.Error formatting


def _q(s: str) -> str:
    """Go ``%q`` for the strings that occur here."""
    return json.dumps(s, ensure_ascii=False)


def _required(path: str, detail: str = "") -> str:
    return f"{path}: Required value" + (f": {detail}" if detail else "")


def _forbidden(path: str, detail: str) -> str:
    return f"{path}: Forbidden: {detail}"


def _invalid(path: str, value: str, detail: str) -> str:
    return f"{path}: Invalid value: {_q(value)}: {detail}"


def _not_supported(path: str, value: str, valid: tuple[str, ...] | list[str]) -> str:
    return f"{path}: Unsupported value: {_q(value)}: supported values: " + ", ".join(_q(v) for v in valid)


def is_dns1035_label(value: str) -> list[str]:
    """``IsDNS1035Label`` (apimachinery pkg/util/validation/validation.go @ v0.29.3 / v0.31.3): the error
    strings, empty when valid.  Note upstream's double space in ``'my-name',  or``."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_RE.fullmatch(value):
        errs.append(_DNS1035_MSG)
    return errs


# --------------------------------------------------------------------------- validation


def _replica_specs(job: dict) -> dict | None:
    return ((job.get("spec") or {}) if isinstance(job.get("spec"), dict) else {}).get("pytorchReplicaSpecs")


def _prune_nulls(value: Any) -> Any:
    """``PruneNonNullableNullsWithoutDefaults`` (apiextensions-apiserver schema/defaulting): the PyTorchJob
    CRD has no ``nullable: true`` field, so every ``null`` below ``spec`` is dropped (map values too)."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


def _schema_errors(job: dict) -> list[str]:
    """The ``required`` lists of manifests/base/crds/kubeflow.org_pytorchjobs.yaml (@ v1.8.0 .. v1.9.2)
    that the API server enforces before any admission webhook: ``spec.pytorchReplicaSpecs``,
    ``template.spec.containers`` (when ``template.spec`` is given) and each container's ``name``.
    ``job`` must already be null-pruned."""
    errs: list[str] = []
    spec = job.get("spec")
    if not isinstance(spec, dict):
        return []  # ``required`` sits inside ``spec``: a job without spec reaches the webhook
    if "pytorchReplicaSpecs" not in spec:
        return [_required("spec.pytorchReplicaSpecs")]
    for rtype, rspec in spec["pytorchReplicaSpecs"].items():
        base = f"spec.pytorchReplicaSpecs.{rtype}"
        pod_spec = (rspec.get("template") or {}).get("spec")
        if pod_spec is None:
            continue
        if "containers" not in pod_spec:
            errs.append(_required(f"{base}.template.spec.containers"))
            continue
        for i, c in enumerate(pod_spec.get("containers") or []):
            if not (c or {}).get("name"):
                errs.append(_required(f"{base}.template.spec.containers[{i}].name"))
    return errs


def validate_pytorchjob(job: dict, version: str) -> list[str]:
    """Would the API server accept this PyTorchJob on CREATE?  Empty list = accepted.

    Ports ``validatePyTorchJob`` / ``validateSpec`` / ``validatePyTorchReplicaSpecs`` of
    ``pkg/webhooks/pytorch/pytorchjob_webhook.go`` at v1.8.0 / v1.8.1 / v1.9.1 / v1.9.2 (kubeflow/training-
    operator, renamed kubeflow/trainer), with ``ValidateRunPolicy`` of ``pkg/common/util/webhooks.go``
    (v1.9.x only), preceded by what the API server does first: ``null`` pruning and the CRD schema
    ``required`` checks (``_schema_errors``).

    The webhook sees the object **before** any defaulting (there is no mutating webhook;
    ``SetDefaults_PyTorchJob`` runs later, in the controller), so:

    * replica types are case-sensitive here (``master`` is refused although the defaulter would fix it);
    * ``Master.replicas`` must be given and be exactly 1 (omitted -> "must be 1");
    * every replica template needs a container named ``pytorch`` and every container an image;
    * v1.9: ``Worker.replicas`` if given must be >= 1; ``elasticPolicy`` requires a ``Worker`` replica
      spec; ``runPolicy.managedBy`` must be ``kubeflow.org/training-operator`` or
      ``kueue.x-k8s.io/multikueue`` (the latter is accepted but then not reconciled by the operator);
    * ``elasticPolicy.nProcPerNode`` together with ``spec.nprocPerNode`` is forbidden (both versions);
    * ``restartPolicy`` is **not** validated (no enum in the CRD either): a bad value is accepted and only
      fails when the pod is created.

    Messages are ``field.Error.Error()`` strings, deduplicated like ``ErrorList.ToAggregate``.
    """
    _check_version(version)
    if isinstance(job.get("spec"), dict):
        job = {**job, "spec": _prune_nulls(job["spec"])}
    schema = _schema_errors(job)
    if schema:
        return schema
    errs: list[str] = []
    name = (job.get("metadata") or {}).get("name", "") or ""
    dns = is_dns1035_label(name)
    if dns:
        errs.append(_invalid("metadata.name", name, "should match: " + ",".join(dns)))
    spec = job.get("spec") or {}
    if _v19(version):
        managed_by = (spec.get("runPolicy") or {}).get("managedBy")
        if managed_by is not None and managed_by not in _SUPPORTED_MANAGED_BY:
            errs.append(_not_supported("spec.runPolicy.managedBy", managed_by, _SUPPORTED_MANAGED_BY))
    rspecs = spec.get("pytorchReplicaSpecs")
    elastic = spec.get("elasticPolicy")
    if elastic is not None:
        if _v19(version) and WORKER not in (rspecs or {}):
            errs.append(
                _required(
                    f"spec.pytorchReplicaSpecs[{WORKER}]", "must be configured if elastic policy is used"
                )
            )
        if elastic.get("nProcPerNode") is not None and spec.get("nprocPerNode") is not None:
            errs.append(
                _forbidden("spec.elasticPolicy.nProcPerNode", "must not be used with spec.nprocPerNode")
            )
    errs.extend(_validate_replica_specs(rspecs, version))
    return list(dict.fromkeys(errs))


def _validate_replica_specs(rspecs: dict | None, version: str) -> list[str]:
    """``validatePyTorchReplicaSpecs`` (pkg/webhooks/pytorch/pytorchjob_webhook.go @ v1.8.0 .. v1.9.2)."""
    errs: list[str] = []
    if rspecs is None:
        return [_required("spec.pytorchReplicaSpecs", "must be required")]
    for rtype in sorted(rspecs):
        rspec = rspecs[rtype]
        role = f"spec.pytorchReplicaSpecs[{rtype}]"
        cpath = f"{role}.template.spec.containers"
        if rtype not in _VALID_REPLICA_TYPES:
            errs.append(_not_supported(role, rtype, _VALID_REPLICA_TYPES))
        containers = (((rspec or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        if rspec is None or not containers:
            errs.append(_required(cpath, "must be specified"))
        if rspec is None:
            raise UpstreamPanic(f"{role} is null: the webhook dereferences rSpec.Template after reporting it")
        has_default = False
        for idx, c in enumerate(containers):
            if not c.get("image"):
                errs.append(_required(f"{cpath}[{idx}].image", "must be required"))
            if c.get("name") == PYTORCH_DEFAULT_CONTAINER_NAME:
                has_default = True
        if not has_default:
            errs.append(
                _required(
                    cpath, f"must have at least one container with name {PYTORCH_DEFAULT_CONTAINER_NAME}"
                )
            )
        replicas = rspec.get("replicas")
        if rtype == MASTER:
            if replicas is None or int(replicas) != 1:
                errs.append(_forbidden(f"{role}.replicas", "must be 1"))
        elif _v19(version) and replicas is not None and int(replicas) < 1:
            errs.append(_forbidden(f"{role}.replicas", "must be at least 1"))
    return errs


def pytorchjob_warnings(job: dict, version: str) -> list[str]:
    """Admission warnings of ``validateSpec`` (pkg/webhooks/pytorch/pytorchjob_webhook.go @ v1.8.0 .. v1.9.2):
    ``elasticPolicy.nProcPerNode`` is deprecated."""
    _check_version(version)
    elastic = (job.get("spec") or {}).get("elasticPolicy")
    if elastic is not None and elastic.get("nProcPerNode") is not None:
        return ["spec.elasticPolicy.nProcPerNode is deprecated, use spec.nprocPerNode instead"]
    return []


# --------------------------------------------------------------------------- defaults


def set_pytorchjob_defaults(job: dict, version: str) -> dict:
    """``SetDefaults_PyTorchJob`` (pkg/apis/kubeflow.org/v1/pytorch_defaults.go with defaulting_utils.go,
    identical at v1.8.0 .. v1.9.2).  Returns a defaulted deep copy.

    The controller applies it (``r.Scheme.Default``) when it sees the job, i.e. after admission; the stored
    object is not changed by a webhook.  In order:

    * ``runPolicy.cleanPodPolicy`` -> ``None``;
    * replica-type keys are re-cased (``master`` -> ``Master``, ``WORKER`` -> ``Worker``);
    * per replica: ``replicas`` -> 1, ``restartPolicy`` -> ``OnFailure`` (not ``Never`` as the
      ReplicaSpec comment says, nor ``Always`` as the RestartPolicy comment says), and a container port
      ``{name: pytorchjob-port, containerPort: 23456}`` appended to the ``pytorch`` container (to
      container 0 when none is named ``pytorch``) unless a port with that *name* exists;
    * ``elasticPolicy`` min/max replicas filled from each other, else from ``Worker.replicas``;
    * ``spec.nprocPerNode`` -> ``"auto"`` unless ``elasticPolicy.nProcPerNode`` is set.

    Raises ``UpstreamPanic`` for an ``elasticPolicy`` without min/max and without a Worker (v1.8 admits
    such a job; its defaulting then dereferences nil) and for a replica without containers.
    """
    _check_version(version)
    out = copy.deepcopy(job)
    spec = out.setdefault("spec", {})
    run_policy = spec.get("runPolicy")
    if run_policy is None:
        run_policy = spec["runPolicy"] = {}
    if run_policy.get("cleanPodPolicy") is None:
        run_policy["cleanPodPolicy"] = "None"
    rspecs = spec.get("pytorchReplicaSpecs")
    if rspecs is None:
        rspecs = {}
    for typ in _VALID_REPLICA_TYPES:  # setTypeNameToCamelCase: first case-insensitive match only
        for key in list(rspecs):
            if key.lower() == typ.lower() and key != typ:
                rspecs[typ] = rspecs.pop(key)
                break
    for rspec in rspecs.values():
        if rspec is None:
            continue
        if rspec.get("replicas") is None:
            rspec["replicas"] = 1
        if not rspec.get("restartPolicy"):
            rspec["restartPolicy"] = PYTORCH_DEFAULT_RESTART_POLICY
        pod_spec = rspec.setdefault("template", {}).setdefault("spec", {})
        containers = pod_spec.get("containers") or []
        if not containers:
            raise UpstreamPanic("setPyTorchDefaultPort indexes Containers[0] of a replica without containers")
        index = next(
            (i for i, c in enumerate(containers) if c.get("name") == PYTORCH_DEFAULT_CONTAINER_NAME), 0
        )
        ports = containers[index].get("ports") or []
        if not any(p.get("name") == PYTORCH_DEFAULT_PORT_NAME for p in ports):
            containers[index]["ports"] = [
                *ports,
                {"name": PYTORCH_DEFAULT_PORT_NAME, "containerPort": PYTORCH_DEFAULT_PORT},
            ]
    elastic = spec.get("elasticPolicy")
    if elastic is not None:
        lo, hi = elastic.get("minReplicas"), elastic.get("maxReplicas")
        if lo is not None and hi is not None:
            pass
        elif hi is not None:
            elastic["minReplicas"] = hi
        elif lo is not None:
            elastic["maxReplicas"] = lo
        else:
            worker = rspecs.get(WORKER)
            if worker is None:
                raise UpstreamPanic(
                    "setElasticPolicy reads PyTorchReplicaSpecs[Worker].Replicas of a nil Worker"
                )
            elastic["maxReplicas"] = elastic["minReplicas"] = worker.get("replicas")
    if (elastic is None or elastic.get("nProcPerNode") is None) and spec.get("nprocPerNode") is None:
        spec["nprocPerNode"] = DEFAULT_NPROC_PER_NODE
    return out


# --------------------------------------------------------------------------- pods


def _canonical_type(replica_type: str) -> str:
    for t in _VALID_REPLICA_TYPES:
        if t.lower() == replica_type.lower():
            return t
    raise ValueError(f"replica type must be one of {_VALID_REPLICA_TYPES}, got {replica_type!r}")


def _is_master_role(rspecs: dict, rtype: str, index: int) -> bool:
    """``IsMasterRole`` (pkg/controller.v1/pytorch/pytorchjob_controller.go @ v1.8.0 .. v1.9.2)."""
    if MASTER in rspecs:
        return rtype == MASTER
    return rtype == WORKER and index == 0


def pod_labels(job: dict, replica_type: str, index: int, version: str) -> dict[str, str]:
    """Labels the controller adds to a replica's pod: ``GenLabels`` (pkg/controller.v1/common/
    job_controller.go), ``SetReplicaType``/``SetReplicaIndex``/``SetJobRole`` (pkg/util/labels/labels.go)
    and ``createNewPod`` (pkg/controller.v1/common/pod.go), same at v1.8.0 .. v1.9.2.  The replica type
    is lower-cased; ``job-role: master`` goes to the Master pod, or to Worker 0 when there is no Master --
    which is what Katib's default ``primaryPodLabels`` select.  Template labels come first; these win."""
    _check_version(version)
    defaulted = set_pytorchjob_defaults(job, version)
    rspecs = defaulted["spec"]["pytorchReplicaSpecs"]
    rtype = _canonical_type(replica_type)
    name = (job.get("metadata") or {}).get("name", "").replace("/", "-")
    labels = dict(
        (((rspecs.get(rtype) or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    )
    labels.update(
        {
            "training.kubeflow.org/operator-name": _CONTROLLER_NAME,
            "training.kubeflow.org/job-name": name,
            "training.kubeflow.org/replica-type": rtype.lower(),
            "training.kubeflow.org/replica-index": str(index),
        }
    )
    if _is_master_role(rspecs, rtype, index):
        labels["training.kubeflow.org/job-role"] = "master"
    return labels


def _port_of(rspecs: dict, rtype: str) -> int:
    """``getPortFromPyTorchJob`` (pkg/controller.v1/pytorch/envvar.go)."""
    for c in ((rspecs[rtype].get("template") or {}).get("spec") or {}).get("containers") or []:
        if c.get("name") == PYTORCH_DEFAULT_CONTAINER_NAME:
            for p in c.get("ports") or []:
                if p.get("name") == PYTORCH_DEFAULT_PORT_NAME:
                    return int(p.get("containerPort"))
    raise ValueError("port not found")


def pod_env(job: dict, replica_type: str, index: int, version: str) -> dict[str, str]:
    """The env vars the operator appends to **every** container of replica ``replica_type`` #``index``
    (after the template's own env, so they win over duplicates).

    Port of ``setPodEnv`` (pkg/controller.v1/pytorch/envvar.go), ``MasterEnvVarGenerator``
    (pkg/controller.v1/pytorch/master.go) and ``ElasticEnvVarGenerator`` (pkg/controller.v1/pytorch/
    elastic.go), identical at v1.8.0 .. v1.9.2 apart from nil-vs-empty slices.  ``job`` is taken as
    submitted; the controller's defaults (``set_pytorchjob_defaults``) are applied first, as upstream.

    * always ``PYTHONUNBUFFERED=1``;
    * only when a ``Master`` replica exists: ``MASTER_PORT``/``PET_MASTER_PORT`` (the Master's
      ``pytorchjob-port``, default 23456), ``MASTER_ADDR``/``PET_MASTER_ADDR`` (``<job>-master-0``, the
      Master's headless Service), ``WORLD_SIZE`` (= total replicas x ``nprocPerNode`` when that is an
      integer, else x 1), ``RANK`` and ``PET_NODE_RANK`` (both the *node* rank: Master 0, Worker i -> i+1);
    * ``PET_NPROC_PER_NODE`` from ``spec.nprocPerNode`` (default ``auto``);
    * without ``elasticPolicy``: ``PET_NNODES`` = total replicas; with it: ``PET_RDZV_ENDPOINT``
      (``rdzvHost`` or ``<job>-worker-0``, ``rdzvPort`` or the Worker's ``pytorchjob-port``),
      ``PET_RDZV_BACKEND`` (default ``c10d``), ``PET_NNODES`` (``min:max``), and if set
      ``PET_MAX_RESTARTS``, ``PET_NPROC_PER_NODE`` (deprecated ``elasticPolicy.nProcPerNode``),
      ``PET_RDZV_ID``, ``PET_RDZV_CONF`` (``k=v,...``), ``PET_STANDALONE`` (empty).

    A Worker-only job (no Master, no elasticPolicy) gets no MASTER_*/RANK/WORLD_SIZE/PET_NODE_RANK at all:
    ``torchrun`` then falls back to ``--master-addr 127.0.0.1`` and node rank 0 on every pod.
    Raises ``ValueError("port not found")`` where upstream fails pod creation the same way.
    """
    _check_version(version)
    spec = set_pytorchjob_defaults(job, version)["spec"]
    rspecs = spec["pytorchReplicaSpecs"]
    rtype = _canonical_type(replica_type)
    if rtype not in rspecs:
        raise ValueError(f"the job has no {rtype} replica spec")
    name = (job.get("metadata") or {}).get("name", "")
    env: list[tuple[str, str]] = [("PYTHONUNBUFFERED", "1")]
    total = sum(int(r.get("replicas")) for r in rspecs.values())
    nproc = spec.get("nprocPerNode")
    nproc_int = int(nproc) if isinstance(nproc, str) and re.fullmatch(r"[+-]?\d+", nproc) else 1
    if rspecs.get(MASTER) is not None:
        port = _port_of(rspecs, MASTER)
        addr = f"{name}-master-0".replace("/", "-")
        env += [
            ("MASTER_PORT", str(port)),
            ("PET_MASTER_PORT", str(port)),
            ("MASTER_ADDR", addr),
            ("PET_MASTER_ADDR", addr),
        ]
        rank = index + 1 if rtype == WORKER else index
        env += [("WORLD_SIZE", str(total * nproc_int)), ("RANK", str(rank)), ("PET_NODE_RANK", str(rank))]
    if nproc is not None:
        env.append(("PET_NPROC_PER_NODE", nproc))
    elastic = spec.get("elasticPolicy")
    if elastic is not None:
        host = elastic["rdzvHost"] if elastic.get("rdzvHost") is not None else f"{name}-worker-0"
        rdzv_port = elastic.get("rdzvPort")
        if rdzv_port is None:
            rdzv_port = _port_of(rspecs, WORKER)
        env.append(("PET_RDZV_ENDPOINT", f"{host}:{rdzv_port}"))
        env.append(("PET_RDZV_BACKEND", elastic.get("rdzvBackend") or "c10d"))
        lo, hi = elastic.get("minReplicas"), elastic.get("maxReplicas")
        env.append(("PET_NNODES", f"{lo}:{hi}"))
        if elastic.get("maxRestarts") is not None:
            env.append(("PET_MAX_RESTARTS", str(elastic["maxRestarts"])))
        if elastic.get("nProcPerNode") is not None:
            env.append(("PET_NPROC_PER_NODE", str(elastic["nProcPerNode"])))
        if elastic.get("rdzvId") is not None:
            env.append(("PET_RDZV_ID", elastic["rdzvId"]))
        if elastic.get("rdzvConf") is not None:
            conf = ",".join(f"{c.get('key', '')}={c.get('value', '')}" for c in elastic["rdzvConf"])
            if not elastic["rdzvConf"]:
                raise UpstreamPanic("generateEnvRDZVConf slices val[:len(val)-1] of an empty rdzvConf")
            env.append(("PET_RDZV_CONF", conf))
        if elastic.get("standalone"):
            env.append(("PET_STANDALONE", ""))
    else:
        env.append(("PET_NNODES", str(total)))
    out: dict[str, str] = {}
    for k, v in env:  # Kubernetes: a later duplicate wins
        out.pop(k, None)
        out[k] = v
    return out


# --------------------------------------------------------------------------- restarts


def pod_restart_policy(replica_restart_policy: str) -> str:
    """``SetRestartPolicy`` (pkg/core/pod.go @ v1.8.0 .. v1.9.2): the pod's ``restartPolicy`` is the
    replica's, except ``ExitCode`` -> ``Never`` (the operator then decides).  Whatever the pod template
    says is overwritten (with a warning event)."""
    return "Never" if replica_restart_policy == "ExitCode" else replica_restart_policy


def retries_exit_code(code: int, restart_policy: str) -> bool:
    """Is a ``pytorch`` container that exited with ``code`` run again?

    ``ExitCode``: the pod runs with ``restartPolicy: Never``; when it fails, ``ReconcilePods``
    (pkg/controller.v1/common/pod.go) deletes and recreates it if ``IsRetryableExitCode`` (pkg/util/train/
    train_util.go: ``code >= 128``, i.e. killed by a signal: 137 OOM/SIGKILL, 143 SIGTERM), and marks the
    job ``Failed`` for 1-127.  Exit code 0 succeeds.  (Upstream reads the code of the container named
    ``pytorch``; if none terminated it uses 0xbeef, which counts as retryable.)
    ``OnFailure``: the kubelet restarts the container in place for any non-zero code (and the operator
    recreates a pod that still ends ``Failed``).  ``Always``: restarted whatever the code, 0 included.
    ``Never``: never.  ``""`` is treated as the PyTorchJob default, ``OnFailure``.
    Same at v1.8.0 .. v1.9.2.

    Bounds: ``runPolicy.backoffLimit`` (``PastBackoffLimit``, pkg/core/job.go) sums the container
    ``restartCount`` of *Running* pods of OnFailure/Always/ExitCode replicas.  That counts in-place
    (OnFailure/Always) restarts, but an ExitCode retry is a new pod with ``restartCount`` 0, so exit codes
    >= 128 are retried without limit unless ``runPolicy.activeDeadlineSeconds`` is set.  Without a
    backoffLimit an OnFailure trial that keeps crashing never reaches ``Failed`` either.
    """
    policy = restart_policy or PYTORCH_DEFAULT_RESTART_POLICY
    if policy not in RESTART_POLICIES:
        raise ValueError(f"unknown restart policy {restart_policy!r}; one of {RESTART_POLICIES}")
    if code == 0:
        return policy == "Always"
    if policy == "ExitCode":
        return code >= 128
    return policy in ("OnFailure", "Always")


# --------------------------------------------------------------------------- Katib + operator, end to end


def katib_pytorchjob_trial_errors(
    experiment: dict,
    katib_version: str,
    to_version: str,
    *,
    crd_installed: bool = True,
    trial_resources: list[str] | tuple[str, ...] | None = None,
    trial_suffix: str = "abcd1234",
) -> list[str]:
    """Everything that stops a Katib Experiment with a ``kubeflow.org/v1`` PyTorchJob trial from running,
    in the order it would bite.  Empty list = the trials' PyTorchJobs are created, their pods admitted and
    watched.

    1. Katib's Experiment webhooks (``katib.validate_experiment``, validator.go @ v0.17.0/v0.18.0/v0.19.0):
       they never look inside a non-``batch/v1 Job`` trial spec; they require primaryContainerName and
       (after defaulting) success/failure conditions.
    2. The CRD must exist when katib-controller starts and the kind be in katib-config
       ``trialResources`` (``katib.trial_resource_watched``); otherwise the Trial's job cannot be created
       or is never watched.
    3. The trial's PyTorchJob (named ``<experiment>-<8 random chars>``) must pass
       ``validate_pytorchjob``; a refusal leaves the Trial retrying job creation forever.
    4. Each replica's pod must pass Katib's pod webhook (``katib.pod_webhook_errors``), and at least one
       pod must match ``primaryPodLabels`` or no metrics collector is injected.
    5. The Services ``<job>-master-0`` / ``<job>-worker-<i>`` must be DNS-1035 labels (<= 63 chars):
       Kubernetes Service name validation, not a webhook.

    Trial parameters are substituted with a placeholder value before steps 3-5.
    """
    from tests.kube.upstream import katib

    errs = list(katib.validate_experiment(experiment, katib_version))
    if errs:
        return errs
    exp = katib.set_experiment_defaults(experiment, katib_version)
    tt = exp["spec"]["trialTemplate"]
    trial_spec = tt.get("trialSpec") or {}
    if not crd_installed:
        return [
            f"no matches for kind {_q(trial_spec.get('kind', ''))} in version "
            f"{_q(trial_spec.get('apiVersion', ''))}: the CRD is not installed"
        ]
    if not katib.trial_resource_watched(trial_spec, katib_version, trial_resources):
        group, _, ver = (trial_spec.get("apiVersion", "") or "").rpartition("/")
        gvk = f"{trial_spec.get('kind')}.{ver}.{group}"
        return [
            f"katib-config trialResources does not list {gvk}: katib-controller does not watch the trial job"
        ]
    if trial_spec.get("apiVersion") != "kubeflow.org/v1" or trial_spec.get("kind") != "PyTorchJob":
        raise ValueError("trialSpec is not a kubeflow.org/v1 PyTorchJob")
    text = go_json_dumps(trial_spec)
    text = re.sub(r"\$\{trialParameters\.[^}]+\}", "1", text)
    text = re.sub(r"\$\{trialSpec\.[^}]+\}", "x", text)
    job = json.loads(text)
    trial_name = f"{(exp.get('metadata') or {}).get('name', '')}-{trial_suffix}"
    job.setdefault("metadata", {})["name"] = trial_name
    errs = validate_pytorchjob(job, to_version)
    if errs:
        return [f"PyTorchJob {trial_name}: {e}" for e in errs]
    defaulted = set_pytorchjob_defaults(job, to_version)
    rspecs = defaulted["spec"]["pytorchReplicaSpecs"]
    any_primary = False
    collector = ((exp["spec"].get("metricsCollectorSpec") or {}).get("collector") or {}).get("kind", "StdOut")
    for rtype in sorted(rspecs):
        for i in range(int(rspecs[rtype]["replicas"])):
            labels = pod_labels(job, rtype, i, to_version)
            containers = rspecs[rtype]["template"]["spec"]["containers"]
            pod_errs = katib.pod_webhook_errors(tt, labels, containers, katib_version, collector)
            errs += [f"pod {trial_name}-{rtype.lower()}-{i}: {e}" for e in pod_errs]
            prim = tt.get("primaryPodLabels")
            if prim is None or all(labels.get(k) == v for k, v in prim.items()):
                any_primary = True
            svc = f"{trial_name}-{rtype.lower()}-{i}"
            if is_dns1035_label(svc):
                errs.append(f"Service {svc}: " + ",".join(is_dns1035_label(svc)))
    if not any_primary:
        errs.append(
            f"no pod matches spec.trialTemplate.primaryPodLabels {tt.get('primaryPodLabels')}: "
            "no metrics collector is injected"
        )
    return errs
