"""KFP 2.3 (Kubeflow 1.9): the 2.3.0 backend's pipeline-spec rule, and `lex-dpr pipeline compile --kfp-version 2.3`."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from lexdpr import cli
from lexdpr.errors import ConfigError
from lexdpr.images import image_name
from lexdpr.pipeline import kfp_compat
from lexdpr.pipeline.commands import compile_pipeline
from lexdpr.pipeline.kfp_pipeline import DEFAULT_IMAGE_TAG
from tests.pipeline.upstream import api_fields_2_3
from tests.pipeline.upstream.checker import check_platform_spec
from tests.pipeline.upstream.driver_fields import SUPPORTED
from tests.pipeline.upstream.spec_checker import check_pipeline_spec, driver_image

ROOT = Path(__file__).resolve().parents[3]
PIPELINE_YAML = ROOT / "pipelines" / "lexdpr_pipeline.yaml"
GPU_NODES = {"nvidia.com/gpu.present": "true"}
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def _documents(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def default_form(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("default") / "lexdpr_pipeline.yaml"
    compile_pipeline(
        str(out),
        None,
        s3_secret="team-s3",
        node_selector=GPU_NODES,
        tolerations=GPU_TOLERATIONS,
        image_tag="0.9.1",
    )
    return _documents(out)


@pytest.fixture(scope="module")
def form_2_3(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("kfp23") / "lexdpr_pipeline.yaml"
    compile_pipeline(
        str(out),
        None,
        s3_secret="team-s3",
        node_selector=GPU_NODES,
        tolerations=GPU_TOLERATIONS,
        kfp_version="2.3",
        image_tag="0.9.1",
        train_gpus=2,
    )
    return _documents(out)


def _executors(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return docs[0]["deploymentSpec"]["executors"]


# --- the rule -------------------------------------------------------------------------------------------------


def test_the_field_table_is_the_2023_proto() -> None:
    resources = api_fields_2_3.MESSAGES["PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec"]
    assert set(resources) == {"cpuLimit", "memoryLimit", "cpuRequest", "memoryRequest", "accelerator"}
    accelerator = api_fields_2_3.MESSAGES[
        "PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec.AcceleratorConfig"
    ]
    assert accelerator == {"type": "string", "count": "int64"}
    assert (
        api_fields_2_3.MESSAGES["PipelineSpec"]["deploymentSpec"] == "json"
    )  # a Struct: read only at run time
    assert "cacheKey" not in api_fields_2_3.MESSAGES["PipelineTaskSpec.CachingOptions"]


def test_every_field_of_the_table_is_a_field_of_kfps_newer_proto() -> None:
    """kfp-pipeline-spec's proto only added fields since: the table's names are real proto JSON names."""
    for message, fields in api_fields_2_3.MESSAGES.items():
        descriptor = pipeline_spec_pb2.DESCRIPTOR.message_types_by_name[message.split(".")[0]]
        for part in message.split(".")[1:]:
            descriptor = descriptor.nested_types_by_name[part]
        assert set(fields) <= {f.json_name for f in descriptor.fields}, message


def test_the_default_form_is_refused_by_the_2_3_rule() -> None:
    """kfp 2.13's own YAML: GPUs from a parameter, the new resource fields (the images are literal in both)."""
    problems = check_pipeline_spec(_documents(PIPELINE_YAML), "2.3.0")
    text = "\n".join(problems)
    assert "exec-train-best.container.resources.accelerator.resourceCount: unknown field" in text
    assert "exec-train-best.container.resources.resourceCpuRequest: unknown field" in text
    assert "exec-train-best.container.resources.accelerator: the 2.3.0 driver requests a GPU only" in text
    assert ".image:" not in text and "uses the image as written" not in text
    assert "trial_image" not in text


def test_the_default_form_of_a_fresh_compile_is_refused_too(default_form: list[dict[str, Any]]) -> None:
    assert check_pipeline_spec(default_form, "2.3") != []


def _spec() -> dict[str, Any]:
    return copy.deepcopy(_documents(PIPELINE_YAML)[0])


def test_the_rule_says_what_happens_to_each_kind_of_field() -> None:
    spec = _spec()
    spec["root"]["dag"]["tasks"]["passages"]["cachingOptions"]["cacheKey"] = "k"
    container = spec["deploymentSpec"]["executors"]["exec-passages"]["container"]
    container["image"] = "ghcr.io/lexdpr/lexdpr:1.0"
    container["resources"] = {"cpuLimit": "lots", "accelerator": {"type": "nvidia.com/gpu", "count": "two"}}
    problems = [p for p in check_pipeline_spec(spec, "2.3.0") if "passages" in p]
    assert problems[0].startswith("root.dag.tasks.passages.cachingOptions.cacheKey: unknown field")
    assert "refuses the upload" in problems[0]
    assert any(
        "resources.cpuLimit: 'lots' is not a valid double" in p and "fails the run" in p for p in problems
    )
    assert any("accelerator.count: 'two' is not a valid int64" in p for p in problems)
    assert not any("container.image" in p for p in problems)


def test_the_rule_is_for_2_3_only() -> None:
    assert check_pipeline_spec(_spec(), "v2.3") != []
    with pytest.raises(ValueError, match=r"only KFP 2\.3\.x"):
        check_pipeline_spec(_spec(), "2.4.0")


# --- the 2.3 form -------------------------------------------------------------------------------------------


def test_the_2_3_form_passes_the_2_3_rule_and_every_driver(form_2_3: list[dict[str, Any]]) -> None:
    assert check_pipeline_spec(form_2_3, "2.3.0") == []
    for version in SUPPORTED:
        assert check_platform_spec(form_2_3, version) == [], version


def test_the_2_3_form_still_parses_into_kfps_own_protobuf(form_2_3: list[dict[str, Any]]) -> None:
    json_format.ParseDict(form_2_3[0], pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(form_2_3[1], pipeline_spec_pb2.PlatformSpec())


def test_the_2_3_form_fixes_the_image_tag_and_the_gpus(form_2_3: list[dict[str, Any]]) -> None:
    executors = _executors(form_2_3)
    assert executors["exec-passages"]["container"]["image"] == "ghcr.io/lexdpr/lexdpr:0.9.1"
    train = executors["exec-train-best"]["container"]
    assert train["image"] == "ghcr.io/lexdpr/lexdpr:0.9.1-cuda"
    assert train["resources"] == {
        "accelerator": {"type": "nvidia.com/gpu", "count": 2},
        "cpuRequest": 4.0,
        "memoryRequest": 16 * 2**30 / 1e9,
    }
    tune = form_2_3[0]["root"]["dag"]["tasks"]["tune"]["inputs"]["parameters"]
    assert tune["trial_image"] == {"runtimeValue": {"constant": "ghcr.io/lexdpr/lexdpr:0.9.1-cuda"}}
    text = yaml.safe_dump(form_2_3[0])
    assert (
        "image_tag" not in text
        and "train_gpus" not in text
        and "{{$.inputs.parameters['pipelinechannel" not in text
    )


def test_the_2_3_form_differs_from_the_default_only_there(
    default_form: list[dict[str, Any]], form_2_3: list[dict[str, Any]]
) -> None:
    assert form_2_3[1] == default_form[1]  # the Kubernetes settings
    new, old = form_2_3[0], default_form[0]
    parameters = [set(d["root"]["inputDefinitions"]["parameters"]) for d in (old, new)]
    assert parameters[0] - parameters[1] == {"train_gpus"} and parameters[1] <= parameters[0]
    for label, executor in _executors(default_form).items():
        container = _executors(form_2_3)[label]["container"]
        for key in ("image", "command", "args", "env"):
            assert container.get(key) == executor["container"].get(key), (label, key)
    assert new["components"] == old["components"]


def test_no_gpus_means_no_accelerator(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    compile_pipeline(str(out), None, kfp_version="2.3.0", train_gpus=0)
    docs = _documents(out)
    assert "accelerator" not in _executors(docs)["exec-train-best"]["container"]["resources"]
    assert (
        _executors(docs)["exec-train-best"]["container"]["image"]
        == f"ghcr.io/lexdpr/lexdpr:{DEFAULT_IMAGE_TAG}-cuda"
    )
    assert check_pipeline_spec(docs, "2.3.0") == []


def test_later_versions_get_the_default_form(tmp_path: Path) -> None:
    compile_pipeline(str(tmp_path / "a.yaml"), None)
    compile_pipeline(str(tmp_path / "b.yaml"), None, kfp_version="2.15.0")
    assert _documents(tmp_path / "a.yaml") == _documents(tmp_path / "b.yaml")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"kfp_version": "1.8"}, "give the Kubeflow Pipelines backend version"),
        ({"kfp_version": "2.2"}, "give the Kubeflow Pipelines backend version"),
        ({"kfp_version": "latest"}, "give the Kubeflow Pipelines backend version"),
        ({"train_gpus": 2}, "--train-gpus fixes .* for KFP 2.3"),
        ({"kfp_version": "2.4", "train_gpus": 2}, "run parameter train_gpus"),
        ({"kfp_version": "2.3", "image_tag": "a b"}, "--image-tag: .*not an image tag"),
        ({"image_tag": "{{$.inputs.parameters['pipelinechannel--image_tag']}}"}, "not an image tag"),
        ({"image_tag": ""}, "not an image tag"),
        (
            {"kfp_version": "2.15", "image_repository": "ghcr.io/x/y:1.0"},
            "--image-repository: .*without a tag",
        ),
        ({"image_repository": "ghcr.io/{{x}}"}, "--image-repository"),
        ({"image_repository": "registry.example.com/lexdpr:2"}, "--image-repository: .*without a tag"),
        ({"kfp_version": "2.3", "train_gpus": -1}, "0 or more"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        compile_pipeline(str(tmp_path / "p.yaml"), None, **kwargs)


def test_the_cli_writes_the_2_3_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.yaml"
    argv = ["lex-dpr", "pipeline", "compile", "-o", str(out), "--components", "", "--kfp-version", "2.3"]
    monkeypatch.setattr(sys, "argv", [*argv, "--image-tag", "0.9.1", "--train-gpus", "1"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code in (0, None)
    docs = _documents(out)
    assert check_pipeline_spec(docs, "2.3.0") == [] and check_platform_spec(docs, "2.3.0") == []
    assert out.read_text(encoding="utf-8").count("# KFP 2.3 form") == 1

    monkeypatch.setattr(sys, "argv", [*argv[:-2], "--kfp-version", "2.2"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: --kfp-version '2.2'") and "Traceback" not in err


def test_kfp_form() -> None:
    assert [kfp_compat.kfp_form(v) for v in ("2.3", "2.3.0", "v2.3.1", "2.4", "2.4.1", "2.5.0", "2.15")] == [
        "2.3",
        "2.3",
        "2.3",
        "2.4",
        "2.4",
        "2.4",
        "2.4",
    ]


@pytest.mark.parametrize("version", ["2.3.0", "2.4.0", "2.15.0"])
def test_the_2_3_forms_images_are_what_every_driver_pulls(
    form_2_3: list[dict[str, Any]], version: str
) -> None:
    images = {label: e["container"]["image"] for label, e in _executors(form_2_3).items()}
    for label, image in images.items():
        suffix = "-cuda" if label == "exec-train-best" else ""
        assert driver_image(image, {}, version) == f"ghcr.io/lexdpr/lexdpr:0.9.1{suffix}"


@pytest.mark.parametrize("version", ["2.4.0", "2.15.0"])
def test_the_default_forms_images_are_what_the_2_4_plus_drivers_pull(version: str) -> None:
    """The 2.4–2.15 drivers replace an image naming a parameter by the value alone: ours name none.

    The run's parameter values are those of the compiled defaults; the images come out whole either way.
    """
    docs = _documents(PIPELINE_YAML)
    defaults = {
        f"pipelinechannel--{name}": str(p.get("defaultValue"))
        for name, p in docs[0]["root"]["inputDefinitions"]["parameters"].items()
    }
    for label, executor in _executors(docs).items():
        image = executor["container"]["image"]
        cuda = label == "exec-train-best"
        pulled = driver_image(image, defaults, version)
        assert pulled == image_name(DEFAULT_IMAGE_TAG, cuda=cuda), label
        assert pulled == f"ghcr.io/lexdpr/lexdpr:{DEFAULT_IMAGE_TAG}{'-cuda' if cuda else ''}", label


@pytest.mark.parametrize("kfp_version", ["2.3", "2.4", "2.15"])
def test_every_form_fixes_the_images_it_is_compiled_with(tmp_path: Path, kfp_version: str) -> None:
    out = tmp_path / "p.yaml"
    compile_pipeline(
        str(out),
        None,
        kfp_version=kfp_version,
        image_tag="2.0.1",
        image_repository="registry.example.com:5000/ml/lexdpr/",
    )
    docs = _documents(out)
    assert "image_tag" not in docs[0]["root"]["inputDefinitions"]["parameters"]
    for label, executor in _executors(docs).items():
        expected = image_name(
            "2.0.1", cuda=label == "exec-train-best", repository="registry.example.com:5000/ml/lexdpr"
        )
        for version in ("2.3.0", "2.4.0", "2.15.0"):
            assert driver_image(executor["container"]["image"], {}, version) == expected, (label, version)
    tune = docs[0]["root"]["dag"]["tasks"]["tune"]["inputs"]["parameters"]
    assert tune["trial_image"] == {
        "runtimeValue": {"constant": "registry.example.com:5000/ml/lexdpr:2.0.1-cuda"}
    }


def test_no_constant_holds_a_placeholder() -> None:
    """The launcher substitutes placeholders in one pass in Go map order: a constant must not need a second pass."""
    spec = _documents(PIPELINE_YAML)[0]
    constants = [
        (task_name, name, p["runtimeValue"]["constant"])
        for component in [spec["root"], *spec["components"].values()]
        for task_name, task in component.get("dag", {}).get("tasks", {}).items()
        for name, p in task.get("inputs", {}).get("parameters", {}).items()
        # kfp's own bookkeeping constants, which no backend reads (see spec_checker._constants)
        if "runtimeValue" in p and name not in ("base_image", "accelerator_count")
    ]
    assert any(name == "trial_image" for _, name, _ in constants)
    assert [c for c in constants if "{{" in str(c[2])] == []
