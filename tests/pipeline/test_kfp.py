"""The compiled pipeline: golden files, kfp's own protobuf schema, and what each task gets on Kubernetes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from lexdpr.images import image_name
from lexdpr.pipeline.commands import compile_pipeline
from lexdpr.pipeline.kfp_pipeline import (
    DEFAULT_IMAGE_TAG,
    DEFAULT_S3_SECRET,
    KFP_BUILD_TIME_PARAMS,
    KFP_DERIVED_PARAMS,
    KFP_ONLY_PARAMS,
    S3_SECRET_KEYS,
    pipeline_parameters,
    split_command,
)
from lexdpr.pipeline.stages import EXECUTOR_INPUT, PARAMS, STAGES, WORKSPACE_MOUNT, Stage, render_argv

ROOT = Path(__file__).resolve().parents[2]
PIPELINE_YAML = ROOT / "pipelines" / "lexdpr_pipeline.yaml"
COMPONENTS = ROOT / "components"
REGENERATE = "regenerate with `python pipelines/lexdpr_pipeline.py` (or `lex-dpr pipeline compile`)"


def _without_sdk_version(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("sdkVersion:")]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compiled")
    compile_pipeline(str(out / "lexdpr_pipeline.yaml"), str(out / "components"))
    return out


def test_the_checked_in_pipeline_is_what_the_code_compiles_to(compiled: Path) -> None:
    fresh = (compiled / "lexdpr_pipeline.yaml").read_text(encoding="utf-8")
    assert _without_sdk_version(fresh) == _without_sdk_version(PIPELINE_YAML.read_text(encoding="utf-8")), (
        REGENERATE
    )


def test_the_checked_in_components_are_what_the_code_compiles_to(compiled: Path) -> None:
    fresh = {p.name: p.read_text(encoding="utf-8") for p in (compiled / "components").glob("*.yaml")}
    checked_in = {p.name: p.read_text(encoding="utf-8") for p in COMPONENTS.glob("*.yaml")}
    assert sorted(fresh) == sorted(checked_in) == sorted(f"{s.name}.yaml" for s in STAGES), REGENERATE
    for name, text in fresh.items():
        assert _without_sdk_version(text) == _without_sdk_version(checked_in[name]), f"{name}: {REGENERATE}"


def _documents(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return _documents(PIPELINE_YAML)[0]


@pytest.fixture(scope="module")
def platform() -> dict[str, Any]:
    return _documents(PIPELINE_YAML)[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def test_the_pipeline_parses_into_kfps_own_protobufs() -> None:
    pipeline_doc, platform_doc = _documents(PIPELINE_YAML)
    parsed = json_format.ParseDict(pipeline_doc, pipeline_spec_pb2.PipelineSpec())  # rejects unknown fields
    assert set(parsed.root.dag.tasks) == {s.name for s in STAGES}
    platform_spec = json_format.ParseDict(platform_doc, pipeline_spec_pb2.PlatformSpec())
    assert "kubernetes" in platform_spec.platforms


@pytest.mark.parametrize("name", [s.name for s in STAGES])
def test_each_component_parses_into_kfps_own_protobuf(name: str) -> None:
    docs = _documents(COMPONENTS / f"{name}.yaml")
    json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())


def test_the_pipeline_parameters_are_the_stage_parameters_plus_the_kubernetes_ones() -> None:
    params = pipeline_parameters()
    expected = {
        name
        for name, p in PARAMS.items()
        if p.kfp_constant is None and name not in KFP_DERIVED_PARAMS + KFP_BUILD_TIME_PARAMS
    } | set(KFP_ONLY_PARAMS)
    assert set(params) == expected
    for name in set(params) & set(PARAMS):
        assert params[name] == PARAMS[name].default, name


def _executor(spec: dict[str, Any], task: str) -> dict[str, Any]:
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def _kfp_argv(s: Stage) -> list[str]:
    values = {name: f"{{{{$.inputs.parameters['{name}']}}}}" for name in s.params}
    values.update({i.name: f"{{{{$.inputs.artifacts['{i.name}'].path}}}}" for i in s.inputs})
    values.update({o.name: f"{{{{$.outputs.artifacts['{o.name}'].path}}}}" for o in s.outputs})
    values[EXECUTOR_INPUT] = "{{$}}"
    uris = {i.name: f"{{{{$.inputs.artifacts['{i.name}'].uri}}}}" for i in s.inputs}
    return render_argv(s, values, uris)


@pytest.mark.parametrize("s", STAGES, ids=lambda s: s.name)
def test_each_task_runs_its_stage_command(spec: dict[str, Any], s: Stage) -> None:
    container = _executor(spec, s.name)
    command, args = split_command(_kfp_argv(s))
    assert container["command"] == command
    assert container["args"] == args


@pytest.mark.parametrize("s", STAGES, ids=lambda s: s.name)
def test_each_task_gets_what_kubernetes_needs(
    spec: dict[str, Any], platform: dict[str, Any], s: Stage
) -> None:
    task = spec["root"]["dag"]["tasks"][s.name]
    container = _executor(spec, s.name)
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    k8s = platform[label]
    # caching off for the sweep and the training, retries on the data stages
    assert task["cachingOptions"].get("enableCache", False) is s.cache
    assert s.cache is (s.name not in ("tune", "train-best"))
    assert ("retryPolicy" in task) is (s.name in ("passages", "pairs", "corpus"))
    # S3 credentials from the Secret, as the standard variables, on every task
    # (in the literal form every KFP driver 2.3–2.15 reads: tests/pipeline/upstream)
    (secret,) = k8s["secretAsEnv"]
    assert set(secret) == {"secretName", "keyToEnv"}
    assert secret["secretName"] == DEFAULT_S3_SECRET
    assert {e["envVar"] for e in secret["keyToEnv"]} == set(S3_SECRET_KEYS)
    # the workspace PVC for the sweep, the training and the evaluation (run folders)
    mounts = k8s.get("pvcMount", [])
    assert bool(mounts) is (s.name in ("tune", "train-best", "evaluate"))
    for mount in mounts:
        assert mount == {"componentInputParameter": "pvc_name", "mountPath": WORKSPACE_MOUNT}
    # a GPU, the node selector and the tolerations on the training only
    accelerator = container.get("resources", {}).get("accelerator")
    assert bool(accelerator) is (s.name == "train-best")
    # none by default: the node selector and the tolerations are fixed when compiling (test below)
    assert "nodeSelector" not in k8s and "tolerations" not in k8s
    if accelerator:
        assert accelerator["resourceType"] == "nvidia.com/gpu"
        assert accelerator["resourceCount"] == "{{$.inputs.parameters['pipelinechannel--train_gpus']}}"
    # the image is written in full when compiling (no KFP driver resolves a parameter inside it);
    # the CUDA variant for the training
    assert container["image"] == image_name(DEFAULT_IMAGE_TAG, cuda=s.image == "cuda")


def test_the_tune_task_drives_katib_with_the_pipelines_image_and_workspace(spec: dict[str, Any]) -> None:
    inputs = spec["root"]["dag"]["tasks"]["tune"]["inputs"]["parameters"]
    assert inputs["sweep_backend"] == {"runtimeValue": {"constant": "katib"}}
    assert inputs["workspace"] == {"runtimeValue": {"constant": WORKSPACE_MOUNT}}
    assert inputs["pvc_name"] == {"componentInputParameter": "pvc_name"}
    # the trials' Secret is the one the pipeline's own pods get
    assert inputs["s3_secret"] == {"runtimeValue": {"constant": DEFAULT_S3_SECRET}}
    # the trials' image is a literal too: nothing for the launcher to substitute (or leave unsubstituted)
    image = inputs["trial_image"]["runtimeValue"]["constant"]
    assert (
        image == image_name(DEFAULT_IMAGE_TAG, cuda=True) == f"ghcr.io/lexdpr/lexdpr:{DEFAULT_IMAGE_TAG}-cuda"
    )


def test_artifacts_have_the_kfp_types_the_ui_understands(spec: dict[str, Any]) -> None:
    outputs = {
        name: out["artifactType"]["schemaTitle"]
        for component in spec["components"].values()
        for name, out in component.get("outputDefinitions", {}).get("artifacts", {}).items()
    }
    assert outputs == {
        "passages": "system.Dataset",
        "pairs": "system.Dataset",
        "corpus": "system.Dataset",
        "best_params": "system.Artifact",
        "checkpoints": "system.Model",
        "report": "system.Artifact",
        "metrics": "system.Metrics",
        "model": "system.Model",
    }
