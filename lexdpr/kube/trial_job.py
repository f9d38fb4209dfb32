"""The batch/v1 Job each Katib trial runs: `lex-dpr train` on a GPU, writing to a per-trial folder on a PVC.

Layout on the workspace PVC (mounted at `/workspace`, the container's working directory, so the relative
paths of a sweep file — `data/processed/pairs_train.jsonl` — mean the same as in a local project folder):

    /workspace/data/…                                   inputs (or s3:// URIs, with credentials from a Secret)
    /workspace/sweeps/{experiment}/{trial}/             out_dir: bi_encoder/checkpoint-{step}/, training_config.json
    /workspace/sweeps/{experiment}/{trial}/wandb/       run_dir: the offline W&B run folder (docs/design.md)
    /workspace/.cache/huggingface/                      HF_HOME: hub downloads, once, shared by trials
    /workspace/.cache/lexdpr/models/                    LEXDPR_MODEL_CACHE: the trainer's base-model cache

This is the local sweep's layout (`<out-root>/<sweep_id>/trial-<n>/`, run folders inside) with
out-root = `sweeps`, the sweep id = the Experiment name and the trial folder = the Trial name.

Resuming: a trial's folder is named after the Trial, which outlives its pods. A pod that is preempted,
evicted or suspended (the time-window agent does that at the window's end) is stopped through its preStop
hook (`lex-dpr sweep trial --stop`, see `lexdpr.kube.trial_run` for why a hook); the trainer saves a
checkpoint and exits; the Job's next pod runs the same command and the trainer resumes from the newest
checkpoint in out_dir. Preemptions do not count against `backoffLimit` (podFailurePolicy ignores
`DisruptionTarget`), and exit codes that mean "this trial cannot work" (1: an exception such as CUDA out of
memory, 2: a config error or a diverged loss) fail the Job at once instead of retrying it.

The container runs `lex-dpr sweep trial` with the search space's `key=value` words as its arguments and the
Experiment and Trial names in its environment: no shell script, so the same words run under Katib's StdOut
collector (which joins them into an `sh -c` line) and without it. Katib's webhook converts the trial spec to a
typed batch/v1 Job and back and refuses the Experiment when that round trip changes it, so the Job holds no
field a supported Kubernetes API version would drop: notably the exit-code rule of the podFailurePolicy has
no `onPodConditions` at all (an empty list vanishes where the field is `omitempty`, k8s.io/api ≥ v0.31;
an absent one comes back as `null`, which the webhook's JSON-patch comparison accepts as a removal).

Security: non-root uid 1000, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, and a
read-only root filesystem; writable are only the PVC, `/tmp` (HOME and caches) and `/dev/shm`. Katib's
metrics-collector sidecar runs under the same pod-level user.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from lexdpr.errors import ConfigError
from lexdpr.images import image_name

PRIMARY_CONTAINER = "training-container"
#: The Training Operator requires this container name in every PyTorchJob replica.
PYTORCH_CONTAINER = "pytorch"
PYTORCHJOB_API_VERSION = "kubeflow.org/v1"
MASTER_ROLE_LABEL = "training.kubeflow.org/job-role"
WORKSPACE = "/workspace"
CONFIG_DIR = "/etc/lexdpr"
CONFIG_FILE = f"{CONFIG_DIR}/config.yaml"
SWEEPS_DIR = "sweeps"
#: Exit codes of `lex-dpr train` that mean the trial itself is wrong, so retrying the pod is pointless.
NON_RETRIABLE_EXIT_CODES = (1, 2)
UID = 1000
#: The trial command reads who it is from these (`lexdpr.kube.trial_run`); the Trial's name is substituted by Katib.
EXPERIMENT_ENV = "LEXDPR_EXPERIMENT"
TRIAL_ENV = "LEXDPR_TRIAL"
RUNS_S3_ENV = "LEXDPR_RUNS_S3"
PROCESSES_ENV = "LEXDPR_PROCESSES"


@dataclass(frozen=True)
class TrialOptions:
    """Where and how trials run: everything of the trial Job that is not the search space."""

    #: None = the project's image of this version: its `-cuda` variant when the trial requests GPUs.
    image: str | None = None
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()
    pvc: str = "lexdpr-workspace"
    config_map: str = "lexdpr-config"
    s3_secret: str | None = "lexdpr-s3"
    service_account: str = "lexdpr-trial"
    #: GPUs per node; with more than one, the trainer runs as that many DDP processes (torchrun).
    gpus: int = 1
    #: Nodes per trial; more than one makes the trial a Training Operator PyTorchJob (1 master + workers).
    nodes: int = 1
    gpu_resource: str = "nvidia.com/gpu"
    cpu_request: str = "4"
    memory_request: str = "16Gi"
    cpu_limit: str | None = None
    memory_limit: str = "32Gi"
    shm_size: str = "2Gi"
    tmp_size: str = "10Gi"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    active_deadline_s: int = 6 * 3600
    backoff_limit: int = 3
    termination_grace_s: int = 300
    hf_offline: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Copy each trial's run folders here after it ends (s3://bucket/prefix); None = they stay on the PVC only.
    runs_s3: str | None = None

    @property
    def resolved_image(self) -> str:
        return self.image or image_name(cuda=self.gpus > 0)

    @property
    def distributed(self) -> bool:
        """A PyTorchJob (several nodes) rather than a batch/v1 Job."""
        return self.nodes > 1

    @property
    def container_name(self) -> str:
        return PYTORCH_CONTAINER if self.distributed else PRIMARY_CONTAINER


def trial_out_dir(experiment: str, trial: str) -> str:
    """The trial's out_dir relative to the workspace PVC (its run folders are in `<out_dir>/wandb`)."""
    return f"{SWEEPS_DIR}/{experiment}/{trial}"


def trial_args(arguments: list[str]) -> list[str]:
    """The container's arguments after `lex-dpr`: the trial command, the base config, the search space's words."""
    return ["sweep", "trial", "--config", CONFIG_FILE, *arguments]


def trial_job(experiment: str, arguments: list[str], options: TrialOptions, trial_ref: str) -> dict[str, Any]:
    """The trial's manifest (no name: Katib names it after the trial): a batch/v1 Job on one node, a
    Training Operator PyTorchJob on several."""
    if options.nodes < 1 or options.gpus < 0:
        raise ConfigError(
            f"trial nodes must be at least 1 and GPUs at least 0 (nodes={options.nodes}, gpus={options.gpus})"
        )
    template = _pod_template(experiment, arguments, options, trial_ref)
    if options.distributed:
        return _pytorch_job(template, options)
    return _batch_job(template, options)


def _pod_template(
    experiment: str, arguments: list[str], options: TrialOptions, trial_ref: str
) -> dict[str, Any]:
    o = options
    resources: dict[str, Any] = {
        "requests": {"cpu": o.cpu_request, "memory": o.memory_request},
        "limits": {"memory": o.memory_limit},
    }
    if o.cpu_limit:
        resources["limits"]["cpu"] = o.cpu_limit
    if o.gpus:
        resources["requests"][o.gpu_resource] = o.gpus
        resources["limits"][o.gpu_resource] = o.gpus
    env = [
        {"name": "HOME", "value": "/tmp"},
        {"name": "TMPDIR", "value": "/tmp"},
        {"name": "XDG_CACHE_HOME", "value": "/tmp/.cache"},
        {"name": "MPLCONFIGDIR", "value": "/tmp/.config/matplotlib"},
        {"name": "HF_HOME", "value": f"{WORKSPACE}/.cache/huggingface"},
        # The image points the base-model cache into its read-only home; trials share one on the PVC.
        {"name": "LEXDPR_MODEL_CACHE", "value": f"{WORKSPACE}/.cache/lexdpr/models"},
        {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "WANDB_MODE", "value": "offline"},
        {"name": "WANDB_CACHE_DIR", "value": "/tmp/.cache/wandb"},
        {"name": "WANDB_CONFIG_DIR", "value": "/tmp/.config/wandb"},
        {"name": "WANDB_DATA_DIR", "value": "/tmp/.cache/wandb-data"},
    ]
    # Deployment settings come last, in this order: the chart appends them to the same list.
    env += [{"name": EXPERIMENT_ENV, "value": experiment}, {"name": TRIAL_ENV, "value": trial_ref}]
    if o.gpus > 1:
        env.append({"name": PROCESSES_ENV, "value": str(o.gpus)})
    if o.hf_offline:
        env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
    if o.runs_s3:
        env.append({"name": RUNS_S3_ENV, "value": o.runs_s3.rstrip("/")})
    env += [{"name": k, "value": v} for k, v in sorted(o.extra_env.items())]
    container: dict[str, Any] = {
        "name": o.container_name,
        "image": o.resolved_image,
        "imagePullPolicy": o.image_pull_policy,
        "workingDir": WORKSPACE,
        "command": ["lex-dpr"],
        "args": trial_args(arguments),
        "env": env,
        "lifecycle": {"preStop": {"exec": {"command": ["lex-dpr", "sweep", "trial", "--stop"]}}},
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE},
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
    }
    if o.s3_secret:
        container["envFrom"] = [{"secretRef": {"name": o.s3_secret, "optional": True}}]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": o.service_account,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": o.termination_grace_s,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "workspace", "persistentVolumeClaim": {"claimName": o.pvc}},
            {"name": "config", "configMap": {"name": o.config_map}},
            {"name": "tmp", "emptyDir": {"sizeLimit": o.tmp_size}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": o.shm_size}},
        ],
    }
    if o.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in o.image_pull_secrets]
    if o.node_selector:
        pod_spec["nodeSelector"] = dict(o.node_selector)
    if o.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in o.tolerations]
    if o.distributed:
        del pod_spec["restartPolicy"]  # the replica's restartPolicy decides (ExitCode, below)
    return {
        "metadata": {
            "labels": {"app.kubernetes.io/name": "lexdpr", "app.kubernetes.io/component": "trial"},
            "annotations": {"sidecar.istio.io/inject": "false"},
        },
        "spec": pod_spec,
    }


def _labels() -> dict[str, Any]:
    return {"labels": {"app.kubernetes.io/name": "lexdpr", "app.kubernetes.io/component": "trial"}}


def _batch_job(template: dict[str, Any], o: TrialOptions) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _labels(),
        "spec": {
            "activeDeadlineSeconds": o.active_deadline_s,
            "backoffLimit": o.backoff_limit,
            "podFailurePolicy": {
                "rules": [
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": PRIMARY_CONTAINER,
                            "operator": "In",
                            "values": list(NON_RETRIABLE_EXIT_CODES),
                        },
                    },
                ]
            },
            "template": template,
        },
    }


def _pytorch_job(template: dict[str, Any], o: TrialOptions) -> dict[str, Any]:
    """One master and `nodes - 1` workers, each running torchrun with `gpus` processes.

    `restartPolicy: ExitCode` is the Training Operator's counterpart of the Job's podFailurePolicy: exit codes
    1–127 (an exception, a config error, a diverged loss) fail the trial, 128 and above (killed by a signal:
    preempted, evicted, suspended after its checkpoint) restart the pod, which resumes from the checkpoint.
    """

    def replica(count: int) -> dict[str, Any]:
        return {"replicas": count, "restartPolicy": "ExitCode", "template": copy.deepcopy(template)}

    return {
        "apiVersion": PYTORCHJOB_API_VERSION,
        "kind": "PyTorchJob",
        "metadata": _labels(),
        "spec": {
            "runPolicy": {
                "activeDeadlineSeconds": o.active_deadline_s,
                "backoffLimit": o.backoff_limit,
                "cleanPodPolicy": "None",
            },
            "nprocPerNode": str(max(o.gpus, 1)),
            "pytorchReplicaSpecs": {"Master": replica(1), "Worker": replica(o.nodes - 1)},
        },
    }
