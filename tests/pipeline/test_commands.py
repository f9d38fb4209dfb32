"""`lex-dpr pipeline compile|submit|run` as plain functions (no cluster: `submit` gets a recording client)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import pytest
from rich.console import Console

from lexdpr.errors import ConfigError
from lexdpr.pipeline import commands

ROOT = Path(__file__).resolve().parents[2]


class RecordingClient:
    """Stands in for `kfp.Client`: records the constructor and `create_run_from_pipeline_package` calls."""

    instances: ClassVar[list[RecordingClient]] = []

    def __init__(self, **kwargs: Any):
        self.kwargs = kwargs
        self.runs: list[dict[str, Any]] = []
        RecordingClient.instances.append(self)

    def create_run_from_pipeline_package(self, package: str, **kwargs: Any) -> Any:
        self.runs.append({"package": package, **kwargs})

        class Result:
            run_id = "run-123"

        return Result()


def test_submit_sends_the_compiled_package_with_typed_arguments() -> None:
    RecordingClient.instances.clear()
    run_id = commands.submit(
        "http://kfp.example:8888",
        str(ROOT / "pipelines" / "lexdpr_pipeline.yaml"),
        "nightly",
        "lexdpr",
        [
            "trial_budget=40",
            "raw_data=s3://data/raw",
            "train_gpus=2",
            "base_model=0.2",
        ],
        pipeline_root="s3://bucket/root",
        client_factory=RecordingClient,
        console=Console(file=io.StringIO()),
    )
    assert run_id == "run-123"
    (client,) = RecordingClient.instances
    assert client.kwargs == {"host": "http://kfp.example:8888"}
    (run,) = client.runs
    assert run["arguments"] == {
        "trial_budget": 40,
        "raw_data": "s3://data/raw",
        "train_gpus": 2,
        "base_model": "0.2",  # a string parameter stays a string even when it looks like a number
    }
    assert run["run_name"] == "nightly" and run["experiment_name"] == "lexdpr"
    assert run["pipeline_root"] == "s3://bucket/root"


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("nope=1", "unknown pipeline parameter 'nope'"),
        ("trial_budget=many", "trial_budget must be int"),
        ("trial_budget", "is not key=value"),
        ("train_gpus=[1]", "train_gpus must be int"),
        # fixed when compiling (KFP 2.3–2.4 read them only as literals), so no run parameters
        ("s3_secret=other", "unknown pipeline parameter 's3_secret'"),
        ('tolerations=[{"key": "gpu"}]', "unknown pipeline parameter 'tolerations'"),
        # the images too, on every KFP version (no driver resolves a parameter inside an image name)
        (
            "image_tag=0.2",
            "unknown pipeline parameter 'image_tag': it is fixed when the pipeline is compiled.*--image-tag",
        ),
        ("trial_image=x:1", "unknown pipeline parameter 'trial_image'.*--image-tag/--image-repository"),
        ("image_repository=r/x", "--image-repository"),
    ],
)
def test_bad_pipeline_arguments_are_refused(item: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        commands.parse_params([item])


def test_submit_needs_a_compiled_package(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lex-dpr pipeline compile"):
        commands.submit("http://x", str(tmp_path / "none.yaml"), client_factory=RecordingClient)


def test_compile_writes_the_pipeline_and_one_component_per_stage(tmp_path: Path) -> None:
    written = commands.compile_pipeline(str(tmp_path / "p.yaml"), str(tmp_path / "components"))
    assert written[0] == str(tmp_path / "p.yaml")
    assert sorted(Path(p).name for p in written[1:]) == sorted(
        p.name for p in (ROOT / "components").glob("*.yaml")
    )


def test_run_is_local_only_and_needs_raw_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pipeline submit"):
        commands.run(local=False)
    with pytest.raises(ConfigError, match="--sample"):
        commands.run(local=True, raw_data=str(tmp_path / "missing"), storage=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="not both"):
        commands.run(local=True, raw_data="data", sample=True)


def test_the_sample_data_ships_with_the_package() -> None:
    folder = commands.sample_data_dir()
    assert {p.name for p in folder.iterdir() if p.is_dir()} >= {"laws", "admin_rules", "precedents"}


def test_the_workspace_is_local_even_when_the_storage_is_s3() -> None:
    assert commands.default_workspace("out/demo") == str(Path("out/demo/workspace"))
    assert commands.default_workspace("s3://bucket/run") == commands.LOCAL_WORKSPACE


def test_print_stages_lists_every_stage() -> None:
    out = io.StringIO()
    commands.print_stages(Console(file=out, width=400))
    text = out.getvalue()
    for name in ("passages", "pairs", "corpus", "tune", "train-best", "evaluate", "export"):
        assert name in text


def test_submit_without_a_package_compiles_the_installed_pipeline() -> None:
    RecordingClient.instances.clear()
    commands.submit("http://kfp", client_factory=RecordingClient, console=Console(file=io.StringIO()))
    (run,) = RecordingClient.instances[0].runs
    assert Path(run["package"]).name == "lexdpr_pipeline.yaml"
    assert run["arguments"] == {} and run["run_name"].startswith("lexdpr-")


def test_submit_compiles_with_the_kfp_version_and_the_images_given() -> None:
    import yaml

    seen: list[list[dict[str, Any]]] = []

    class Reading(RecordingClient):
        def create_run_from_pipeline_package(self, package: str, **kwargs: Any) -> Any:
            seen.append(list(yaml.safe_load_all(Path(package).read_text(encoding="utf-8"))))
            return super().create_run_from_pipeline_package(package, **kwargs)

    RecordingClient.instances.clear()
    quiet = Console(file=io.StringIO())
    commands.submit(
        "http://kfp",
        params=["train_gpus=2", "trial_budget=3"],
        client_factory=Reading,
        console=quiet,
        image_tag="1.2.3",
        image_repository="registry.example.com/lexdpr",
    )
    commands.submit(
        "http://kfp",
        params=["train_gpus=2", "trial_budget=3"],
        client_factory=Reading,
        console=quiet,
        kfp_version="2.3",
    )
    default, legacy = seen
    images = {e["container"]["image"] for e in default[0]["deploymentSpec"]["executors"].values()}
    assert images == {"registry.example.com/lexdpr:1.2.3", "registry.example.com/lexdpr:1.2.3-cuda"}
    first, second = (c.runs[0] for c in RecordingClient.instances)
    assert first["arguments"] == {"train_gpus": 2, "trial_budget": 3}
    # the 2.3 form fixes train_gpus when compiling: it goes into the YAML, not the run's arguments
    assert second["arguments"] == {"trial_budget": 3}
    train = legacy[0]["deploymentSpec"]["executors"]["exec-train-best"]["container"]
    assert train["resources"]["accelerator"] == {"type": "nvidia.com/gpu", "count": 2}
    assert "train_gpus" not in legacy[0]["root"]["inputDefinitions"]["parameters"]


def test_submit_with_a_file_takes_no_compile_options_and_only_its_run_parameters(tmp_path: Path) -> None:
    package = str(ROOT / "pipelines" / "lexdpr_pipeline.yaml")
    with pytest.raises(ConfigError, match="apply when submit compiles"):
        commands.submit("http://kfp", package, client_factory=RecordingClient, image_tag="1.0")
    legacy = tmp_path / "kfp23.yaml"
    commands.compile_pipeline(str(legacy), None, kfp_version="2.3")
    with pytest.raises(ConfigError, match="has no run parameter 'train_gpus'"):
        commands.submit("http://kfp", str(legacy), params=["train_gpus=2"], client_factory=RecordingClient)
