"""lexdpr's compiled pipeline against every supported KFP backend driver (2.3–2.15) and kfp-kubernetes' proto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s_pb

from lexdpr.pipeline.commands import compile_pipeline
from lexdpr.pipeline.kfp_pipeline import build_pipeline
from tests.pipeline.upstream.checker import check_platform_spec
from tests.pipeline.upstream.driver_fields import SUPPORTED

ROOT = Path(__file__).resolve().parents[3]
PIPELINE_YAML = ROOT / "pipelines" / "lexdpr_pipeline.yaml"
GPU_NODES = {"nvidia.com/gpu.present": "true", "pool": "a100"}
GPU_TOLERATIONS = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "spot", "operator": "Equal", "value": "yes", "effect": "NoExecute", "tolerationSeconds": 60},
]


def _documents(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("fresh") / "lexdpr_pipeline.yaml"
    compile_pipeline(str(out), None)
    return _documents(out)


@pytest.fixture(scope="module")
def gpu(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Compiled with a Secret, a node selector and tolerations of one's own."""
    out = tmp_path_factory.mktemp("gpu") / "lexdpr_pipeline.yaml"
    compile_pipeline(
        str(out), None, s3_secret="team-s3", node_selector=GPU_NODES, tolerations=GPU_TOLERATIONS
    )
    return _documents(out)


def _executors(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


@pytest.mark.parametrize("version", SUPPORTED)
def test_every_driver_applies_the_checked_in_pipelines_kubernetes_settings(version: str) -> None:
    assert check_platform_spec(_documents(PIPELINE_YAML), version) == []


@pytest.mark.parametrize("version", SUPPORTED)
def test_every_driver_applies_a_fresh_compiles_kubernetes_settings(
    fresh: list[dict[str, Any]], gpu: list[dict[str, Any]], version: str
) -> None:
    assert check_platform_spec(fresh, version) == []
    assert check_platform_spec(gpu, version) == []


@pytest.mark.parametrize("name", ["checked-in", "fresh", "gpu"])
def test_each_executor_config_parses_into_kfp_kubernetes_proto(
    fresh: list[dict[str, Any]], gpu: list[dict[str, Any]], name: str
) -> None:
    docs = {"checked-in": _documents(PIPELINE_YAML), "fresh": fresh, "gpu": gpu}[name]
    executors = _executors(docs)
    assert executors
    for label, config in executors.items():
        parsed = json_format.ParseDict(config, k8s_pb.KubernetesExecutorConfig())  # rejects unknown fields
        assert len(parsed.secret_as_env) == 1, label


def test_the_build_time_settings_land_where_every_driver_reads_them(gpu: list[dict[str, Any]]) -> None:
    executors = _executors(gpu)
    for config in executors.values():
        (secret,) = config["secretAsEnv"]
        assert secret["secretName"] == "team-s3" and "secretNameParameter" not in secret
    train = executors["exec-train-best"]
    assert train["nodeSelector"] == {"labels": GPU_NODES}
    # (an int64 is a JSON string in protobuf's JSON form; Go's jsonpb/protojson read both)
    assert train["tolerations"] == [
        {**t, "tolerationSeconds": str(t["tolerationSeconds"])} if "tolerationSeconds" in t else t
        for t in GPU_TOLERATIONS
    ]
    assert not any(
        "nodeSelector" in c or "tolerations" in c for e, c in executors.items() if e != "exec-train-best"
    )
    # the Katib trials of the sweep get the same Secret
    tune = gpu[0]["root"]["dag"]["tasks"]["tune"]["inputs"]["parameters"]
    assert tune["s3_secret"] == {"runtimeValue": {"constant": "team-s3"}}


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"node_selector": {"pool": 1}}, "node_selector must be a dict of label"),
        ({"tolerations": [{"key": "gpu", "tolerationsSeconds": 5}]}, "a toleration is a dict of"),
        ({"tolerations": [{"key": "gpu", "tolerationSeconds": "5"}]}, "tolerationSeconds must be an integer"),
        ({"tolerations": [{}]}, "a toleration is a dict of"),
        ({"s3_secret": ""}, "s3_secret must be a Secret name"),
    ],
)
def test_settings_no_driver_could_apply_are_refused_when_building(
    settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(TypeError, match=problem):
        build_pipeline(**settings)
