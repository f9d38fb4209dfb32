"""The webhook's typed batch/v1 Job round trip (validateTrialJob / validatePatchJob), per Katib version."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.kube.upstream.katib import (
    KATIB_VERSIONS,
    ConversionError,
    trial_job_patch_errors,
    trial_job_round_trip,
)

#: The FailJob rule of manifests/katib-experiment.yaml as committed (HEAD 92ebedf), copied inline on purpose.
FAIL_JOB_RULE = {
    "action": "FailJob",
    "onPodConditions": [],
    "onExitCodes": {"containerName": "training-container", "operator": "In", "values": [1, 2]},
}
IGNORE_RULE = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}


def job_with_rules(*rules: dict) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"labels": {"app.kubernetes.io/component": "trial"}},
        "spec": {
            "backoffLimit": 3,
            "podFailurePolicy": {"rules": [copy.deepcopy(r) for r in rules]},
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "training-container", "image": "ghcr.io/lexdpr/lexdpr:0.1.0"}],
                }
            },
        },
    }


def rule_after(job: dict, version: str, index: int = 0) -> dict:
    return trial_job_round_trip(job, version)["spec"]["podFailurePolicy"]["rules"][index]


# --------------------------------------------------------------------------- onPodConditions


def test_empty_on_pod_conditions_per_version():
    job = job_with_rules(FAIL_JOB_RULE)
    # 0.17 (k8s.io/api v0.29.3): `json:"onPodConditions"` -> [] survives, accepted
    assert rule_after(job, "0.17")["onPodConditions"] == []
    assert trial_job_patch_errors(job, "0.17") == []
    # 0.18 / 0.19 (v0.31.3 / v0.34.0): `json:"onPodConditions,omitempty"` -> [] vanishes -> "add" -> rejected
    for v in ("0.18", "0.19"):
        assert "onPodConditions" not in rule_after(job, v)
        assert trial_job_patch_errors(job, v) == ["add /spec/podFailurePolicy/rules/0/onPodConditions []"]


def test_absent_on_pod_conditions_is_accepted_by_all_versions():
    rule = {k: v for k, v in FAIL_JOB_RULE.items() if k != "onPodConditions"}
    job = job_with_rules(IGNORE_RULE, rule)
    # 0.17 emits null for the nil non-omitempty slice: a "remove", which the webhook allows
    assert rule_after(job, "0.17", 1)["onPodConditions"] is None
    for v in ("0.18", "0.19"):
        assert "onPodConditions" not in rule_after(job, v, 1)
    for v in KATIB_VERSIONS:
        assert trial_job_patch_errors(job, v) == [], v
        assert rule_after(job, v, 0)["onPodConditions"] == IGNORE_RULE["onPodConditions"]


def test_null_on_pod_conditions_is_rejected_by_018_and_019():
    job = job_with_rules({**FAIL_JOB_RULE, "onPodConditions": None})
    assert trial_job_patch_errors(job, "0.17") == []
    for v in ("0.18", "0.19"):
        assert trial_job_patch_errors(job, v) == ["add /spec/podFailurePolicy/rules/0/onPodConditions null"]


# --------------------------------------------------------------------------- upstream TestValidateTrialJob

# validator_test.go TestValidateTrialJob @ v0.17.0/v0.18.0/v0.19.0 (same four cases)
UPSTREAM_TRIAL_JOB_CASES = [
    (
        "invalid Batch Job parameter",
        """
apiVersion: batch/v1
kind: Job
spec:
  template:
    spec:
      containers:
        name: container-must-be-list
""",
        "conversion",
    ),
    (
        "invalid Batch Job structure",
        """
apiVersion: batch/v1
kind: Job
spec:
  template:
    invalidSpec: not-job-format
    spec:
      containers:
        - name: invalid-list
""",
        ['add /spec/template/invalidSpec "not-job-format"'],
    ),
    (
        "nvidia.com/gpu resource",
        """
apiVersion: batch/v1
kind: Job
spec:
  template:
    spec:
      containers:
        - resources:
            limits:
              nvidia.com/gpu: 1
            requests:
              nvidia.com/gpu: 1
""",
        [],
    ),
]


@pytest.mark.parametrize("version", KATIB_VERSIONS)
@pytest.mark.parametrize(
    ("desc", "manifest", "expected"), UPSTREAM_TRIAL_JOB_CASES, ids=[c[0] for c in UPSTREAM_TRIAL_JOB_CASES]
)
def test_upstream_trial_job_cases(version, desc, manifest, expected):
    job = yaml.safe_load(manifest)
    if expected == "conversion":
        with pytest.raises(ConversionError, match="cannot restore slice from map"):
            trial_job_round_trip(job, version)
    else:
        assert trial_job_patch_errors(job, version) == expected


def test_resources_are_canonicalised_but_exempt():
    job = job_with_rules()
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": "0.5", "memory": "1024Mi", "nvidia.com/gpu": 1}
    }
    for v in KATIB_VERSIONS:
        limits = trial_job_round_trip(job, v)["spec"]["template"]["spec"]["containers"][0]["resources"][
            "limits"
        ]
        assert limits == {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}
        assert trial_job_patch_errors(job, v) == []


def test_empty_limits_map_is_rejected():
    """``limits: {}`` is dropped (omitempty map); the "add" is at .../resources/limits, outside the exemption."""
    job = job_with_rules()
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {}}
    for v in KATIB_VERSIONS:
        assert trial_job_patch_errors(job, v) == ["add /spec/template/spec/containers/0/resources/limits {}"]


def test_quantity_outside_resources_is_not_exempt():
    job = job_with_rules()
    job["spec"]["template"]["spec"]["volumes"] = [
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2048Mi"}}
    ]
    for v in KATIB_VERSIONS:
        assert trial_job_patch_errors(job, v) == [
            'replace /spec/template/spec/volumes/0/emptyDir/sizeLimit "2048Mi"'
        ]
    job["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["sizeLimit"] = "2Gi"
    for v in KATIB_VERSIONS:
        assert trial_job_patch_errors(job, v) == []


def test_creation_timestamp_null_is_rejected_only_by_019():
    """metav1.ObjectMeta.creationTimestamp is ``omitempty,omitzero`` at apimachinery v0.34.0 and Katib
    v0.19.0 needs Go >= 1.24, whose encoding/json honours omitzero: the null disappears -> "add"."""
    job = job_with_rules()
    job["spec"]["template"]["metadata"] = {"creationTimestamp": None}
    assert trial_job_patch_errors(job, "0.17") == []
    assert trial_job_patch_errors(job, "0.18") == []
    assert trial_job_patch_errors(job, "0.19") == ["add /spec/template/metadata/creationTimestamp null"]
    assert trial_job_round_trip(job, "0.18")["metadata"] == {
        "creationTimestamp": None,
        "labels": {"app.kubernetes.io/component": "trial"},
    }


def test_null_for_omitempty_pointer_is_rejected():
    job = job_with_rules()
    job["spec"]["activeDeadlineSeconds"] = None
    for v in KATIB_VERSIONS:
        assert trial_job_patch_errors(job, v) == ["add /spec/activeDeadlineSeconds null"]


def test_zero_and_false_of_omitempty_scalars_are_rejected():
    job = job_with_rules()
    pod = job["spec"]["template"]["spec"]
    pod["automountServiceAccountToken"] = False  # *bool: false kept
    pod["hostNetwork"] = False  # bool,omitempty: dropped -> add
    for v in KATIB_VERSIONS:
        assert trial_job_patch_errors(job, v) == ["add /spec/template/spec/hostNetwork false"]


def test_unknown_fields_are_dropped_and_rejected():
    job = job_with_rules()
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "IfNotPresent"
    for v in KATIB_VERSIONS:
        assert trial_job_patch_errors(job, v) == [
            'add /spec/template/spec/containers/0/imagePullPolicyy "IfNotPresent"'
        ]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("spec", "backoffLimit"), "3", "unrecognized type: int32"),
        (("spec", "backoffLimit"), 2.5, "cannot convert float64 to int32"),
        (("spec", "template", "spec", "restartPolicy"), 1, "cannot convert int64 to v1.RestartPolicy"),
        (("spec", "template", "spec", "containers"), {"name": "x"}, "cannot restore slice from map"),
        (("spec", "template"), "x", "cannot restore struct from: string"),
    ],
)
def test_type_errors_fail_conversion(path, value, message):
    job = job_with_rules()
    node = job
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    for v in KATIB_VERSIONS:
        with pytest.raises(ConversionError, match=message):
            trial_job_round_trip(job, v)


def test_integral_float_converts_to_int():
    job = job_with_rules()
    job["spec"]["backoffLimit"] = 3.0
    for v in KATIB_VERSIONS:
        assert trial_job_round_trip(job, v)["spec"]["backoffLimit"] == 3
        assert trial_job_patch_errors(job, v) == []


def test_non_omitempty_fields_appear():
    out = trial_job_round_trip(job_with_rules(), "0.18")
    assert out["status"] == {}
    assert out["spec"]["template"]["metadata"] == {"creationTimestamp": None}
    # PodFailurePolicy.rules is not omitempty: an empty list stays []
    assert out["spec"]["podFailurePolicy"] == {"rules": []}
    container = out["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "training-container",
        "image": "ghcr.io/lexdpr/lexdpr:0.1.0",
        "resources": {},
    }
