"""The per-version driver rule (`driver_fields`, `checker`) on hand-made platform specs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pipeline.upstream.checker import check_platform_spec, rules_for
from tests.pipeline.upstream.driver_fields import DRIVERS, SUPPORTED

OLD = ("2.3.0", "2.4.0", "2.4.1")
NEW = ("2.5.0", "2.14.0", "2.14.3", "2.14.4", "2.15.0")
KEYS = [{"envVar": "AWS_ACCESS_KEY_ID", "secretKey": "AWS_ACCESS_KEY_ID"}]


def platform(**executors: dict[str, Any]) -> dict[str, Any]:
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def pipeline_spec(*inputs: str) -> dict[str, Any]:
    return {
        "root": {"inputDefinitions": {"parameters": {name: {"parameterType": "STRING"} for name in inputs}}}
    }


#: What kfp-kubernetes 1.5 writes for run-time values (the form lexdpr compiled to before): 2.5+ only.
PARAMETER_FORM = platform(
    **{
        "exec-train": {
            "secretAsEnv": [
                {"keyToEnv": KEYS, "secretNameParameter": {"componentInputParameter": "s3_secret"}}
            ],
            "pvcMount": [
                {
                    "componentInputParameter": "pvc_name",
                    "mountPath": "/workspace",
                    "pvcNameParameter": {"componentInputParameter": "pvc_name"},
                }
            ],
            "nodeSelector": {"nodeSelectorJson": {"componentInputParameter": "node_selector"}},
            "tolerations": [{"tolerationJson": {"componentInputParameter": "tolerations"}}],
        }
    }
)

#: The same settings in the literal form of the proto the 2.3–2.4 drivers are built against.
LITERAL_FORM = platform(
    **{
        "exec-train": {
            "secretAsEnv": [{"keyToEnv": KEYS, "secretName": "lexdpr-s3"}],
            "pvcMount": [{"componentInputParameter": "pvc_name", "mountPath": "/workspace"}],
            "nodeSelector": {"labels": {"nvidia.com/gpu.present": "true"}},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        }
    }
)


def test_the_table_covers_kubeflow_1_9_to_1_11_and_names_its_sources() -> None:
    assert SUPPORTED[0] == "2.3.0" and SUPPORTED[-1] == "2.15.0"
    assert {tag.rsplit(".", 1)[0] for tag in SUPPORTED} == {"2.3", "2.4", "2.5", "2.14", "2.15"}
    for tag, row in DRIVERS.items():
        assert row.tag == tag
        assert "go.mod" in row.sources and "backend/src/v2/cmd/driver/main.go" in row.sources
        assert ("d911c8b73b49" in row.proto) is (tag in OLD)


@pytest.mark.parametrize("version", ["2.3.0", "2.4.0"])
def test_strict_drivers_refuse_the_parameter_form(version: str) -> None:
    problems = check_platform_spec(PARAMETER_FORM, version)
    text = "\n".join(problems)
    for field in ("secretNameParameter", "pvcNameParameter", "nodeSelectorJson", "tolerationJson"):
        assert f".{field}: unknown to the {version} driver" in text
    assert "refuses unknown fields" in text
    # and even parsed, the Secret name, the selector and the toleration would be empty
    assert any(
        p.startswith("exec-train.secretAsEnv[0]: sets none of") and "secretName" in p for p in problems
    )
    assert any(p.startswith("exec-train.nodeSelector: sets none of") for p in problems)
    assert any(p.startswith("exec-train.tolerations[0]: sets none of") for p in problems)


def test_2_4_1_drops_the_parameter_form_so_the_secret_name_is_empty() -> None:
    problems = check_platform_spec(PARAMETER_FORM, "2.4.1")
    assert "exec-train.secretAsEnv[0].secretNameParameter: unknown to the 2.4.1 driver" in problems[0]
    assert "drops it" in problems[0]
    assert any("empty Secret name" in p for p in problems)
    assert any(p.startswith("exec-train.nodeSelector:") and "no node selector" in p for p in problems)
    # the PVC is fine: the dropped pvcNameParameter says what componentInputParameter says
    assert not any("pvcMount" in p for p in problems)


@pytest.mark.parametrize("version", NEW)
def test_newer_drivers_read_the_parameter_form(version: str) -> None:
    assert check_platform_spec(PARAMETER_FORM, version) == []


@pytest.mark.parametrize("version", SUPPORTED)
def test_every_driver_reads_the_literal_form(version: str) -> None:
    assert check_platform_spec([pipeline_spec("pvc_name"), LITERAL_FORM], version) == []


def test_a_run_time_secret_name_next_to_a_literal_one_is_lost_on_2_4_1_and_fatal_on_2_4_0() -> None:
    both = platform(
        e={
            "secretAsEnv": [
                {
                    "keyToEnv": KEYS,
                    "secretName": "lexdpr-s3",
                    "secretNameParameter": {"componentInputParameter": "s3_secret"},
                }
            ]
        }
    )
    assert check_platform_spec(both, "2.5.0") == []
    (dropped,) = check_platform_spec(both, "2.4.1")
    assert dropped.startswith("e.secretAsEnv[0].secretNameParameter:") and "ignored" in dropped
    (refused,) = check_platform_spec(both, "2.4.0")
    assert "refuses unknown fields" in refused


def test_a_constant_repeated_in_the_parameter_field_is_harmless_where_unknown_fields_are_dropped() -> None:
    # what kfp-kubernetes writes for use_secret_as_env(task, secret_name="lexdpr-s3")
    repeated = platform(
        e={
            "secretAsEnv": [
                {
                    "keyToEnv": KEYS,
                    "secretName": "lexdpr-s3",
                    "secretNameParameter": {"runtimeValue": {"constant": "lexdpr-s3"}},
                }
            ]
        }
    )
    assert check_platform_spec(repeated, "2.4.1") == []
    assert check_platform_spec(repeated, "2.14.4") == []
    assert len(check_platform_spec(repeated, "2.4.0")) == 1


@pytest.mark.parametrize("version", SUPPORTED)
def test_a_secret_or_a_toleration_with_nothing_the_driver_reads_is_reported(version: str) -> None:
    empty = platform(
        e={"secretAsEnv": [{"keyToEnv": KEYS}], "tolerations": [{}], "pvcMount": [{"constant": "w"}]}
    )
    problems = check_platform_spec(empty, version)
    assert sorted(p.split(":")[0] for p in problems) == [
        "e.pvcMount[0]",  # no mountPath
        "e.secretAsEnv[0]",
        "e.tolerations[0]",
    ]


def test_a_component_input_the_pipeline_does_not_have_is_reported() -> None:
    (problem,) = check_platform_spec([pipeline_spec("workspace_pvc"), LITERAL_FORM], "2.4.1")
    assert problem.startswith(
        "exec-train.pvcMount[0].componentInputParameter: names the input parameter 'pvc_name'"
    )


def test_fields_the_backend_knows_but_never_applies_are_reported() -> None:
    affinity = platform(e={"nodeAffinity": [{"matchExpressions": []}]})
    assert "never applies it" in check_platform_spec(affinity, "2.5.0")[0]
    assert check_platform_spec(affinity, "2.14.0") == []


@pytest.mark.parametrize(
    ("asked", "row"),
    [("2.4", "2.4.0"), ("v2.4.1", "2.4.1"), ("2.14.2", "2.14.0"), ("2.14.5", "2.14.4"), ("2.15.1", "2.15.0")],
)
def test_a_version_takes_the_row_of_the_highest_tag_read_not_above_it(asked: str, row: str) -> None:
    assert rules_for(asked).tag == row


@pytest.mark.parametrize("version", ["2.2.0", "2.13.0", "2.16.0", "3.0", "latest"])
def test_versions_outside_the_table_are_refused(version: str) -> None:
    with pytest.raises(ValueError, match="KFP backend"):
        rules_for(version)
