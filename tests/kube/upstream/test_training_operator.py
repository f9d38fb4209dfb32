"""training_operator: PyTorchJob (kubeflow.org/v1) webhook, defaults, pod env and restart rules per shipped
training-operator version, and the Katib side of PyTorchJob trials.  All jobs here are hand-written."""

from __future__ import annotations

import copy

import pytest

from tests.kube.upstream import katib
from tests.kube.upstream.sample_experiments import random_search
from tests.kube.upstream.training_operator import (
    KUBEFLOW_RELEASES,
    TRAINING_OPERATOR_TAGS,
    TRAINING_OPERATOR_VERSIONS,
    UpstreamPanic,
    katib_pytorchjob_trial_errors,
    pod_env,
    pod_labels,
    pod_restart_policy,
    pytorchjob_warnings,
    retries_exit_code,
    set_pytorchjob_defaults,
    validate_pytorchjob,
)

V18 = ("1.8.0", "1.8.1")
V19 = ("1.9.1", "1.9.2")
ALL = TRAINING_OPERATOR_VERSIONS
R = "spec.pytorchReplicaSpecs"
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def replica(replicas: int | None = 1, *, name: str = "pytorch", image: str | None = "reg.example/trainer:1"):
    container: dict = {"name": name, "command": ["torchrun", "train.py"]}
    if image is not None:
        container["image"] = image
    spec: dict = {"template": {"spec": {"containers": [container]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return spec


def job(workers: int | None = 2, *, master: bool = True, name: str = "dpr-trial", **spec_extra) -> dict:
    rspecs = {}
    if master:
        rspecs["Master"] = replica(1)
    if workers is not None:
        rspecs["Worker"] = replica(workers)
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name},
        "spec": {"pytorchReplicaSpecs": rspecs, **spec_extra},
    }


# --------------------------------------------------------------------------- versions


def test_versions_and_kubeflow_releases():
    assert TRAINING_OPERATOR_VERSIONS == ("1.8.0", "1.8.1", "1.9.1", "1.9.2")
    assert TRAINING_OPERATOR_TAGS["1.9.2"] == "v1.9.2"
    assert {k: (r["katib"], r["training_operator"]) for k, r in KUBEFLOW_RELEASES.items()} == {
        "1.9.0": ("0.17", "1.8.0"),
        "1.9.1": ("0.17", "1.8.1"),
        "1.10.0": ("0.18", "1.9.1"),
        "1.10.1": ("0.18", "1.9.2"),
        "1.10.2": ("0.18", "1.9.2"),
        "1.11.0": ("0.19", "1.9.2"),
    }
    assert KUBEFLOW_RELEASES["1.11.0"]["trainer"] == "2.1.0"
    assert KUBEFLOW_RELEASES["1.11.0"]["training_operator_in_default_install"] is False


def test_unknown_version_refused():
    with pytest.raises(ValueError, match="unsupported training-operator version"):
        validate_pytorchjob(job(), "1.7.0")


# --------------------------------------------------------------------------- webhook: accepted


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    "pj",
    [
        job(2),
        job(None),  # Master only
        job(3, master=False),  # Worker only
        job(2, nprocPerNode="4"),
        job(2, elasticPolicy={"minReplicas": 1, "maxReplicas": 3}),
        job(2, elasticPolicy={"nProcPerNode": 2}),  # deprecated field alone: a warning only
    ],
    ids=["master+workers", "master-only", "worker-only", "nproc", "elastic", "elastic-nproc"],
)
def test_valid_jobs_accepted(pj, version):
    assert validate_pytorchjob(pj, version) == []


@pytest.mark.parametrize("version", ALL)
def test_restart_policy_is_not_validated(version):
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"] = "Sometimes"
    assert validate_pytorchjob(pj, version) == []


@pytest.mark.parametrize("version", ALL)
def test_deprecated_elastic_nproc_warns(version):
    assert pytorchjob_warnings(job(2, elasticPolicy={"nProcPerNode": 2}), version) == [
        "spec.elasticPolicy.nProcPerNode is deprecated, use spec.nprocPerNode instead"
    ]
    assert pytorchjob_warnings(job(2), version) == []


# --------------------------------------------------------------------------- webhook: refused


@pytest.mark.parametrize("version", ALL)
def test_name_must_be_dns1035(version):
    assert validate_pytorchjob(job(name="1-trial"), version) == [
        f'metadata.name: Invalid value: "1-trial": should match: {DNS1035}'
    ]
    long = "a" * 64
    assert validate_pytorchjob(job(name=long), version) == [
        f'metadata.name: Invalid value: "{long}": should match: must be no more than 63 characters'
    ]
    assert validate_pytorchjob(job(name="a" * 63), version) == []
    assert validate_pytorchjob(job(name="Trial_1"), version) == [
        f'metadata.name: Invalid value: "Trial_1": should match: {DNS1035}'
    ]


@pytest.mark.parametrize("version", ALL)
def test_only_master_and_worker(version):
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Chief"] = replica(1)
    assert validate_pytorchjob(pj, version) == [
        f'{R}[Chief]: Unsupported value: "Chief": supported values: "Master", "Worker"'
    ]


@pytest.mark.parametrize("version", ALL)
def test_replica_type_case_matters_before_defaulting(version):
    pj = job(None, master=False)
    pj["spec"]["pytorchReplicaSpecs"] = {"master": replica(1), "worker": replica(2)}
    assert validate_pytorchjob(pj, version) == [
        f'{R}[master]: Unsupported value: "master": supported values: "Master", "Worker"',
        f'{R}[worker]: Unsupported value: "worker": supported values: "Master", "Worker"',
    ]


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("replicas", [None, 0, 2])
def test_master_replicas_must_be_exactly_one(version, replicas):
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Master"] = replica(replicas)
    assert validate_pytorchjob(pj, version) == [f"{R}[Master].replicas: Forbidden: must be 1"]


def test_worker_replicas_at_least_one_from_1_9():
    pj = job(0)
    for v in V18:
        assert validate_pytorchjob(pj, v) == []
    for v in V19:
        assert validate_pytorchjob(pj, v) == [f"{R}[Worker].replicas: Forbidden: must be at least 1"]


@pytest.mark.parametrize("version", ALL)
def test_container_named_pytorch_required(version):
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Worker"] = replica(2, name="training-container")
    assert validate_pytorchjob(pj, version) == [
        f"{R}[Worker].template.spec.containers: Required value: must have at least one container with name pytorch"
    ]


@pytest.mark.parametrize("version", ALL)
def test_image_required(version):
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Master"] = replica(1, image=None)
    assert validate_pytorchjob(pj, version) == [
        f"{R}[Master].template.spec.containers[0].image: Required value: must be required"
    ]
    pj["spec"]["pytorchReplicaSpecs"]["Master"] = replica(1, image="")
    assert validate_pytorchjob(pj, version) == [
        f"{R}[Master].template.spec.containers[0].image: Required value: must be required"
    ]


@pytest.mark.parametrize("version", ALL)
def test_containers_required(version):
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Worker"] = {"replicas": 2}  # no template: passes the CRD schema
    expected = [
        f"{R}[Worker].template.spec.containers: Required value: must be specified",
        f"{R}[Worker].template.spec.containers: Required value: must have at least one container with name pytorch",
    ]
    assert validate_pytorchjob(pj, version) == expected
    pj["spec"]["pytorchReplicaSpecs"]["Worker"] = {"replicas": 2, "template": {"spec": {"containers": []}}}
    assert validate_pytorchjob(pj, version) == expected


@pytest.mark.parametrize("version", ALL)
def test_crd_schema_required_fields(version):
    assert validate_pytorchjob({"metadata": {"name": "x"}, "spec": {}}, version) == [
        "spec.pytorchReplicaSpecs: Required value"
    ]
    # ``required`` lives inside spec: without spec the webhook answers
    assert validate_pytorchjob({"metadata": {"name": "x"}}, version) == [
        "spec.pytorchReplicaSpecs: Required value: must be required"
    ]
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"] = {"restartPolicy": "Never"}
    assert validate_pytorchjob(pj, version) == [f"{R}.Worker.template.spec.containers: Required value"]
    pj = job(2)
    del pj["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["name"]
    assert validate_pytorchjob(pj, version) == [
        f"{R}.Worker.template.spec.containers[0].name: Required value"
    ]


@pytest.mark.parametrize("version", ALL)
def test_nulls_are_pruned_before_the_webhook(version):
    assert validate_pytorchjob(
        {"metadata": {"name": "x"}, "spec": {"pytorchReplicaSpecs": None}}, version
    ) == ["spec.pytorchReplicaSpecs: Required value"]
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Master"] = None  # dropped: a Worker-only job remains
    assert validate_pytorchjob(pj, version) == []


def test_elastic_policy_needs_worker_from_1_9():
    pj = job(None, elasticPolicy={"minReplicas": 1, "maxReplicas": 2})
    for v in V18:
        assert validate_pytorchjob(pj, v) == []
    for v in V19:
        assert validate_pytorchjob(pj, v) == [
            f"{R}[Worker]: Required value: must be configured if elastic policy is used"
        ]


@pytest.mark.parametrize("version", ALL)
def test_elastic_nproc_and_nproc_forbidden_together(version):
    pj = job(2, nprocPerNode="2", elasticPolicy={"nProcPerNode": 2})
    assert validate_pytorchjob(pj, version) == [
        "spec.elasticPolicy.nProcPerNode: Forbidden: must not be used with spec.nprocPerNode"
    ]


def test_managed_by_from_1_9():
    pj = job(2, runPolicy={"managedBy": "example.com/other"})
    for v in V18:  # no such field at v1.8: the API server prunes it
        assert validate_pytorchjob(pj, v) == []
    for v in V19:
        assert validate_pytorchjob(pj, v) == [
            'spec.runPolicy.managedBy: Unsupported value: "example.com/other": supported values: '
            '"kueue.x-k8s.io/multikueue", "kubeflow.org/training-operator"'
        ]
        ok = job(2, runPolicy={"managedBy": "kubeflow.org/training-operator"})
        assert validate_pytorchjob(ok, v) == []


@pytest.mark.parametrize("version", ALL)
def test_several_errors_reported_together(version):
    pj = job(2, name="Bad")
    pj["spec"]["pytorchReplicaSpecs"]["Master"] = replica(None, name="main", image=None)
    assert validate_pytorchjob(pj, version) == [
        f'metadata.name: Invalid value: "Bad": should match: {DNS1035}',
        f"{R}[Master].template.spec.containers[0].image: Required value: must be required",
        f"{R}[Master].template.spec.containers: Required value: must have at least one container with name pytorch",
        f"{R}[Master].replicas: Forbidden: must be 1",
    ]


# --------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("version", ALL)
def test_defaults(version):
    pj = job(None, master=False)
    pj["spec"]["pytorchReplicaSpecs"] = {"MASTER": replica(None), "worker": replica(None)}
    out = set_pytorchjob_defaults(pj, version)
    assert pj["spec"]["pytorchReplicaSpecs"].keys() == {"MASTER", "worker"}  # input untouched
    spec = out["spec"]
    assert spec["runPolicy"] == {"cleanPodPolicy": "None"}
    assert spec["nprocPerNode"] == "auto"
    assert set(spec["pytorchReplicaSpecs"]) == {"Master", "Worker"}
    for r in spec["pytorchReplicaSpecs"].values():
        assert r["replicas"] == 1
        assert r["restartPolicy"] == "OnFailure"
        assert r["template"]["spec"]["containers"][0]["ports"] == [
            {"name": "pytorchjob-port", "containerPort": 23456}
        ]


@pytest.mark.parametrize("version", ALL)
def test_default_port_by_name_only(version):
    pj = job(1)
    master = pj["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    master["ports"] = [{"name": "pytorchjob-port", "containerPort": 29500}]
    worker = pj["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    worker["ports"] = [{"name": "metrics", "containerPort": 23456}]
    spec = set_pytorchjob_defaults(pj, version)["spec"]["pytorchReplicaSpecs"]
    assert spec["Master"]["template"]["spec"]["containers"][0]["ports"] == [
        {"name": "pytorchjob-port", "containerPort": 29500}
    ]
    assert spec["Worker"]["template"]["spec"]["containers"][0]["ports"] == [
        {"name": "metrics", "containerPort": 23456},
        {"name": "pytorchjob-port", "containerPort": 23456},
    ]


@pytest.mark.parametrize("version", ALL)
def test_default_port_goes_to_pytorch_container(version):
    pj = job(1)
    containers = pj["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"]
    containers.insert(0, {"name": "sidecar", "image": "busybox"})
    out = set_pytorchjob_defaults(pj, version)["spec"]["pytorchReplicaSpecs"]["Worker"]
    sidecar, main = out["template"]["spec"]["containers"]
    assert "ports" not in sidecar
    assert main["ports"] == [{"name": "pytorchjob-port", "containerPort": 23456}]


@pytest.mark.parametrize("version", ALL)
def test_user_restart_policy_kept(version):
    pj = job(2)
    pj["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"] = "ExitCode"
    out = set_pytorchjob_defaults(pj, version)["spec"]["pytorchReplicaSpecs"]
    assert out["Worker"]["restartPolicy"] == "ExitCode"
    assert out["Master"]["restartPolicy"] == "OnFailure"


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(
    ("elastic", "expected"),
    [
        ({}, (3, 3)),
        ({"minReplicas": 2}, (2, 2)),
        ({"maxReplicas": 4}, (4, 4)),
        ({"minReplicas": 1, "maxReplicas": 4}, (1, 4)),
    ],
)
def test_elastic_defaults(version, elastic, expected):
    out = set_pytorchjob_defaults(job(3, elasticPolicy=dict(elastic)), version)["spec"]
    assert (out["elasticPolicy"]["minReplicas"], out["elasticPolicy"]["maxReplicas"]) == expected
    assert out["nprocPerNode"] == "auto"


@pytest.mark.parametrize("version", ALL)
def test_no_nproc_default_with_deprecated_elastic_nproc(version):
    out = set_pytorchjob_defaults(job(2, elasticPolicy={"nProcPerNode": 2}), version)["spec"]
    assert "nprocPerNode" not in out


def test_elastic_without_worker_admitted_by_1_8_then_defaulting_panics():
    pj = job(None, elasticPolicy={})
    assert validate_pytorchjob(pj, "1.8.1") == []
    with pytest.raises(UpstreamPanic):
        set_pytorchjob_defaults(pj, "1.8.1")
    assert validate_pytorchjob(pj, "1.9.2") != []


# --------------------------------------------------------------------------- pods


@pytest.mark.parametrize("version", ALL)
def test_pod_env_master_and_workers(version):
    pj = job(2, name="t1", nprocPerNode="4")
    master = pod_env(pj, "Master", 0, version)
    assert master == {
        "PYTHONUNBUFFERED": "1",
        "MASTER_PORT": "23456",
        "PET_MASTER_PORT": "23456",
        "MASTER_ADDR": "t1-master-0",
        "PET_MASTER_ADDR": "t1-master-0",
        "WORLD_SIZE": "12",
        "RANK": "0",
        "PET_NODE_RANK": "0",
        "PET_NPROC_PER_NODE": "4",
        "PET_NNODES": "3",
    }
    w1 = pod_env(pj, "Worker", 1, version)
    assert (w1["RANK"], w1["PET_NODE_RANK"], w1["MASTER_ADDR"]) == ("2", "2", "t1-master-0")


@pytest.mark.parametrize("version", ALL)
def test_pod_env_auto_nproc_counts_one_per_node(version):
    env = pod_env(job(2), "Worker", 0, version)
    assert (env["PET_NPROC_PER_NODE"], env["WORLD_SIZE"], env["RANK"]) == ("auto", "3", "1")


@pytest.mark.parametrize("version", ALL)
def test_pod_env_master_port_from_master_template(version):
    pj = job(1)
    c = pj["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    c["ports"] = [{"name": "pytorchjob-port", "containerPort": 29500}]
    assert pod_env(pj, "Worker", 0, version)["MASTER_PORT"] == "29500"


@pytest.mark.parametrize("version", ALL)
def test_every_node_gets_what_torchrun_needs(version):
    """torchrun reads PET_<OPTION> for its options: static rendezvous needs nnodes, node_rank, master
    address/port and nproc_per_node, with node ranks 0..nnodes-1 and one shared master."""
    pj = job(3, name="sweep-x1", nprocPerNode="2")
    envs = [pod_env(pj, "Master", 0, version)] + [pod_env(pj, "Worker", i, version) for i in range(3)]
    needed = {"PET_NNODES", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT", "PET_NPROC_PER_NODE"}
    for env in envs:
        assert needed <= env.keys()
    assert sorted(int(e["PET_NODE_RANK"]) for e in envs) == [0, 1, 2, 3]
    assert {e["PET_NNODES"] for e in envs} == {"4"}
    assert {(e["PET_MASTER_ADDR"], e["PET_MASTER_PORT"]) for e in envs} == {("sweep-x1-master-0", "23456")}


@pytest.mark.parametrize("version", ALL)
def test_worker_only_job_gets_no_master_env(version):
    env = pod_env(job(3, master=False), "Worker", 1, version)
    assert env == {"PYTHONUNBUFFERED": "1", "PET_NPROC_PER_NODE": "auto", "PET_NNODES": "3"}


@pytest.mark.parametrize("version", ALL)
def test_pod_env_elastic(version):
    pj = job(
        3,
        master=False,
        name="el",
        elasticPolicy={
            "minReplicas": 1,
            "maxReplicas": 3,
            "maxRestarts": 5,
            "rdzvId": "abc",
            "rdzvConf": [{"key": "timeout", "value": "900"}, {"key": "x", "value": "y"}],
        },
    )
    assert pod_env(pj, "Worker", 2, version) == {
        "PYTHONUNBUFFERED": "1",
        "PET_NPROC_PER_NODE": "auto",
        "PET_RDZV_ENDPOINT": "el-worker-0:23456",
        "PET_RDZV_BACKEND": "c10d",
        "PET_NNODES": "1:3",
        "PET_MAX_RESTARTS": "5",
        "PET_RDZV_ID": "abc",
        "PET_RDZV_CONF": "timeout=900,x=y",
    }
    pj["spec"]["elasticPolicy"].update(rdzvHost="etcd", rdzvPort=2379, rdzvBackend="etcd-v2", standalone=True)
    env = pod_env(pj, "Worker", 0, version)
    assert (env["PET_RDZV_ENDPOINT"], env["PET_RDZV_BACKEND"], env["PET_STANDALONE"]) == (
        "etcd:2379",
        "etcd-v2",
        "",
    )


@pytest.mark.parametrize("version", ALL)
def test_pod_labels_job_role(version):
    pj = job(2, name="t2")
    assert pod_labels(pj, "Master", 0, version) == {
        "training.kubeflow.org/operator-name": "pytorchjob-controller",
        "training.kubeflow.org/job-name": "t2",
        "training.kubeflow.org/replica-type": "master",
        "training.kubeflow.org/replica-index": "0",
        "training.kubeflow.org/job-role": "master",
    }
    assert "training.kubeflow.org/job-role" not in pod_labels(pj, "Worker", 0, version)
    worker_only = job(2, master=False)
    assert pod_labels(worker_only, "Worker", 0, version)["training.kubeflow.org/job-role"] == "master"
    assert "training.kubeflow.org/job-role" not in pod_labels(worker_only, "Worker", 1, version)


# --------------------------------------------------------------------------- restarts


def test_pod_restart_policy():
    assert pod_restart_policy("ExitCode") == "Never"
    for p in ("Always", "OnFailure", "Never"):
        assert pod_restart_policy(p) == p


@pytest.mark.parametrize(
    ("code", "policy", "retried"),
    [
        (0, "ExitCode", False),
        (1, "ExitCode", False),
        (2, "ExitCode", False),
        (127, "ExitCode", False),
        (128, "ExitCode", True),
        (137, "ExitCode", True),
        (143, "ExitCode", True),
        (255, "ExitCode", True),
        (0, "OnFailure", False),
        (1, "OnFailure", True),
        (137, "OnFailure", True),
        (1, "", True),
        (0, "Always", True),
        (1, "Always", True),
        (1, "Never", False),
        (137, "Never", False),
    ],
)
def test_retries_exit_code(code, policy, retried):
    assert retries_exit_code(code, policy) is retried


def test_retries_exit_code_unknown_policy():
    with pytest.raises(ValueError, match="unknown restart policy"):
        retries_exit_code(1, "Sometimes")


# --------------------------------------------------------------------------- Katib side


def pytorch_experiment(name: str = "dpr-sweep", *, primary_container: str = "pytorch") -> dict:
    """random_search() with its trial turned into a Master + 1 Worker PyTorchJob."""
    exp = random_search()
    exp["metadata"]["name"] = name
    tt = exp["spec"]["trialTemplate"]
    tt["primaryContainerName"] = primary_container
    container = copy.deepcopy(tt["trialSpec"]["spec"]["template"]["spec"]["containers"][0])
    container["name"] = "pytorch"
    container["command"] = ["torchrun", *container["command"][1:]]

    def rs(n):
        return {
            "replicas": n,
            "restartPolicy": "OnFailure",
            "template": {"spec": {"containers": [container]}},
        }

    tt["trialSpec"] = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "spec": {"nprocPerNode": "1", "pytorchReplicaSpecs": {"Master": rs(1), "Worker": rs(1)}},
    }
    return exp


SHIPPED = [(r["katib"], r["training_operator"]) for r in KUBEFLOW_RELEASES.values()]


@pytest.mark.parametrize(("katib_version", "to_version"), SHIPPED)
def test_katib_accepts_pytorchjob_trial(katib_version, to_version):
    exp = pytorch_experiment()
    assert katib.validate_experiment(exp, katib_version) == []
    tt = katib.set_experiment_defaults(exp, katib_version)["spec"]["trialTemplate"]
    assert tt["successCondition"] == 'status.conditions.#(type=="Succeeded")#|#(status=="True")#'
    assert tt["failureCondition"] == 'status.conditions.#(type=="Failed")#|#(status=="True")#'
    assert tt["primaryPodLabels"] == {"training.kubeflow.org/job-role": "master"}
    assert katib_pytorchjob_trial_errors(exp, katib_version, to_version) == []


@pytest.mark.parametrize("katib_version", katib.KATIB_VERSIONS)
def test_katib_webhook_does_not_look_inside_pytorchjob(katib_version):
    exp = pytorch_experiment()
    exp["spec"]["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"]["Master"]["replicas"] = 3
    assert katib.validate_experiment(exp, katib_version) == []
    errs = katib_pytorchjob_trial_errors(exp, katib_version, "1.9.2")
    assert errs == [f"PyTorchJob dpr-sweep-abcd1234: {R}[Master].replicas: Forbidden: must be 1"]


@pytest.mark.parametrize("katib_version", katib.KATIB_VERSIONS)
def test_katib_requires_primary_container_name(katib_version):
    exp = pytorch_experiment(primary_container="")
    errs = katib.validate_experiment(exp, katib_version)
    assert errs and "primaryContainerName" in errs[0]


@pytest.mark.parametrize("katib_version", katib.KATIB_VERSIONS)
def test_trial_resources(katib_version):
    pytorch = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob"}
    assert katib.trial_resource_watched(pytorch, katib_version)
    assert katib.trial_resource_watched({"apiVersion": "batch/v1", "kind": "Job"}, katib_version)
    mx = {"apiVersion": "kubeflow.org/v1", "kind": "MXJob"}
    assert katib.trial_resource_watched(mx, katib_version) is (katib_version == "0.17")
    train = {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob"}
    assert katib.trial_resource_watched(train, katib_version) is (katib_version == "0.19")
    assert not katib.trial_resource_watched(pytorch, katib_version, ["Job.v1.batch"])
    assert not katib.trial_resource_watched(pytorch, katib_version, [])  # empty -> ["Job.v1.batch"]
    with pytest.raises(ValueError, match="invalid GroupVersionKinds"):
        katib.trial_resource_watched(pytorch, katib_version, ["PyTorchJob"])
    errs = katib_pytorchjob_trial_errors(
        pytorch_experiment(), katib_version, "1.9.2", trial_resources=["Job.v1.batch"]
    )
    assert errs == [
        "katib-config trialResources does not list PyTorchJob.v1.kubeflow.org: "
        "katib-controller does not watch the trial job"
    ]


def test_pytorchjob_crd_missing():
    errs = katib_pytorchjob_trial_errors(pytorch_experiment(), "0.19", "1.9.2", crd_installed=False)
    assert errs == ['no matches for kind "PyTorchJob" in version "kubeflow.org/v1": the CRD is not installed']


def test_primary_container_must_be_pytorch_in_every_pod_from_0_18():
    """The operator requires a container named pytorch; Katib's pod webhook needs primaryContainerName in
    the primary pod (0.17) or in every trial pod (0.18+, mutatePodEnv)."""
    exp = pytorch_experiment(primary_container="training-container")
    for v in katib.KATIB_VERSIONS:
        assert katib.validate_experiment(exp, v) == []
    shown = "[{pytorch ...}]"
    assert katib_pytorchjob_trial_errors(exp, "0.17", "1.8.1") == [
        f"pod dpr-sweep-abcd1234-master-0: Unable to find primary container training-container in mutated pod "
        f"containers {shown}"
    ]
    for kv in ("0.18", "0.19"):
        assert katib_pytorchjob_trial_errors(exp, kv, "1.9.2") == [
            f"pod dpr-sweep-abcd1234-{role}-0: Unable to find primary container training-container in mutated "
            f"pod containers {shown}"
            for role in ("master", "worker")
        ]


def test_pod_webhook_primary_labels_and_push():
    tt = {"primaryContainerName": "main", "primaryPodLabels": {"training.kubeflow.org/job-role": "master"}}
    worker = {"training.kubeflow.org/replica-type": "worker"}
    master = {"training.kubeflow.org/job-role": "master"}
    pytorch_only = [{"name": "pytorch"}]
    assert katib.pod_webhook_errors(tt, worker, pytorch_only, "0.17") == []
    assert katib.pod_webhook_errors(tt, master, pytorch_only, "0.17", "Custom") == []
    assert katib.pod_webhook_errors(tt, master, pytorch_only, "0.19", "Push") != []  # mutatePodEnv first
    assert katib.pod_webhook_errors(tt, master, [{"name": "main"}], "0.19") == []


def test_long_experiment_name_breaks_trial_at_0_17_only():
    """Katib 0.18+ caps experiment names at 40 characters; 0.17 does not, and the trial's PyTorchJob
    (``<experiment>-<8 chars>``) and its Services (``<job>-worker-0``) must be DNS-1035 labels."""
    name = "d" * 50
    exp = pytorch_experiment(name)
    assert katib.validate_experiment(exp, "0.18") != []
    assert katib.validate_experiment(exp, "0.17") == []
    errs = katib_pytorchjob_trial_errors(exp, "0.17", "1.8.1")
    assert errs == [
        f"Service {name}-abcd1234-{role}-0: must be no more than 63 characters"
        for role in ("master", "worker")
    ]
    exp = pytorch_experiment("e" * 56)
    assert katib_pytorchjob_trial_errors(exp, "0.17", "1.8.1")[0].startswith(
        f"PyTorchJob {'e' * 56}-abcd1234: metadata.name: Invalid value"
    )


def test_wrong_primary_pod_labels_mean_no_collector():
    exp = pytorch_experiment()
    exp["spec"]["trialTemplate"]["primaryPodLabels"] = {"training.kubeflow.org/job-role": "leader"}
    assert katib_pytorchjob_trial_errors(exp, "0.19", "1.9.2") == [
        "no pod matches spec.trialTemplate.primaryPodLabels {'training.kubeflow.org/job-role': 'leader'}: "
        "no metrics collector is injected"
    ]
