"""The Helm chart with the real helm binary: lint and template every ci/ scenario, validate every document
against the Kubernetes schemas of 1.27 … 1.37 (strict) and every Experiment with the Katib check, compare the
chart's Experiment with the Python renderer's, and prove values.schema.json rejects wrong values.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lexdpr.kube.experiment import ExperimentOptions, build_experiment
from lexdpr.kube.trial_job import TrialOptions
from lexdpr.sweep.preset import preset_spec
from lexdpr.sweep.time_window import TimeWindow
from lexdpr.training.config import load_config
from tests.kube.conftest import CHART, SCENARIOS, Helm
from tests.kube.katib_check import experiment_errors
from tests.kube.schemas import SUPPORTED_VERSIONS, KubernetesSchemas

SCENARIO_IDS = [p.name.removesuffix("-values.yaml") for p in SCENARIOS]


def by_kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d["kind"] == kind]


def experiments_in(documents: list[dict]) -> list[dict]:
    """Experiments rendered directly, and the one the window agent creates from its ConfigMap."""
    found = by_kind(documents, "Experiment")
    for config_map in by_kind(documents, "ConfigMap"):
        text = (config_map.get("data") or {}).get("experiment.yaml")
        if text:
            found.append(yaml.safe_load(text))
    return found


def test_there_are_the_five_scenarios() -> None:
    assert SCENARIO_IDS == [
        "01-defaults",
        "02-gpu",
        "03-existing-pvc",
        "04-window-midnight",
        "05-katib-off",
        "06-multinode",
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_helm_lint(chart: Helm, scenario: Path) -> None:
    result = chart.run("lint", str(CHART), "--strict", "-f", str(scenario))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_every_document_passes_the_kubernetes_schemas(
    chart: Helm, scenario: Path, schemas: KubernetesSchemas
) -> None:
    documents = chart.template("-f", str(scenario))
    assert schemas.check_all(documents, SUPPORTED_VERSIONS) == []
    for document in documents:
        assert document["metadata"]["labels"]["app.kubernetes.io/instance"] == "lexdpr"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_every_experiment_passes_the_katib_check(
    chart: Helm, scenario: Path, schemas: KubernetesSchemas
) -> None:
    for experiment in experiments_in(chart.template("-f", str(scenario))):
        assert experiment_errors(experiment, schemas) == []


def _comparable(experiment: dict) -> dict:
    annotations = {
        k: v for k, v in experiment["metadata"]["annotations"].items() if k.startswith("lexdpr.io/")
    }
    return {"name": experiment["metadata"]["name"], "annotations": annotations, "spec": experiment["spec"]}


def test_the_charts_experiment_is_the_python_render(chart: Helm) -> None:
    (experiment,) = by_kind(chart.template("-f", str(CHART / "ci" / "01-defaults-values.yaml")), "Experiment")
    python = build_experiment(preset_spec(), ExperimentOptions(namespace="team-ml"))
    assert _comparable(experiment) == _comparable(python)


def test_the_gpu_scenario_is_the_python_render_with_the_same_options(chart: Helm) -> None:
    (experiment,) = by_kind(chart.template("-f", str(CHART / "ci" / "02-gpu-values.yaml")), "Experiment")
    options = ExperimentOptions(
        name="lexdpr-a100",
        namespace="team-ml",
        max_trials=60,
        parallel_trials=4,
        max_failed_trials=6,
        resume_policy="FromVolume",
        trial=TrialOptions(
            image="registry.example.com/ml/lexdpr:0.1.0-cuda",
            image_pull_secrets=("ghcr-credentials",),
            gpus=2,
            cpu_request="16",
            memory_request="96Gi",
            cpu_limit="32",
            memory_limit="160Gi",
            shm_size="16Gi",
            node_selector={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
            tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            active_deadline_s=43200,
            hf_offline=True,
            runs_s3="s3://lexdpr-runs/sweeps/",
            extra_env={"NCCL_DEBUG": "WARN", "HF_HUB_ENABLE_HF_TRANSFER": "0"},
        ),
    )
    assert _comparable(experiment) == _comparable(build_experiment(preset_spec(), options))


def test_the_multinode_scenario_is_the_python_render_with_the_same_options(chart: Helm) -> None:
    (experiment,) = by_kind(
        chart.template("-f", str(CHART / "ci" / "06-multinode-values.yaml")), "Experiment"
    )
    options = ExperimentOptions(
        name="lexdpr-multinode",
        namespace="team-ml",
        max_trials=20,
        parallel_trials=1,
        max_failed_trials=4,
        trial=TrialOptions(
            gpus=4,
            nodes=2,
            cpu_request="32",
            memory_request="256Gi",
            memory_limit="320Gi",
            shm_size="32Gi",
            node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        ),
    )
    assert _comparable(experiment) == _comparable(build_experiment(preset_spec(), options))
    job = experiment["spec"]["trialTemplate"]["trialSpec"]
    assert job["kind"] == "PyTorchJob" and job["spec"]["nprocPerNode"] == "4"
    assert job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1


def test_existing_pvc_and_own_base_config(chart: Helm) -> None:
    documents = chart.template("-f", str(CHART / "ci" / "03-existing-pvc-values.yaml"))
    assert by_kind(documents, "PersistentVolumeClaim") == []
    (experiment,) = by_kind(documents, "Experiment")
    pod = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "team-ml-workspace"
    assert pod["containers"][0]["envFrom"][0]["secretRef"]["name"] == "team-s3-credentials"
    (config_map,) = [c for c in by_kind(documents, "ConfigMap") if c["metadata"]["name"] == "lexdpr-config"]
    assert "s3://lexdpr-data/processed/pairs_train.jsonl" in config_map["data"]["config.yaml"]


def test_default_base_config_loads(chart: Helm, tmp_path: Path) -> None:
    (config_map,) = by_kind(chart.template(), "ConfigMap")
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"], encoding="utf-8")
    assert load_config(str(path)).run_dir == "wandb"


def test_window_across_midnight(chart: Helm) -> None:
    documents = chart.template("-f", str(CHART / "ci" / "04-window-midnight-values.yaml"))
    assert by_kind(documents, "Experiment") == []  # created by the agent at the first opening
    (cron,) = by_kind(documents, "CronJob")
    spec = cron["spec"]
    window = TimeWindow.parse("22:30-6")
    assert spec["schedule"] == cron_schedule(window) == "30 22 * * *"
    assert spec["timeZone"] == "Europe/Berlin"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 3600
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    flags = dict(zip(args[2::2], args[3::2], strict=True))
    assert args[:2] == ["sweep", "agent"]
    assert TimeWindow.parse(flags["--time-window"]) == window
    assert flags["--count"] == "6" and flags["--grace-minutes"] == "45" and flags["--backend"] == "katib"
    (experiment,) = experiments_in(documents)
    assert flags["--name"] == experiment["metadata"]["name"]
    roles = by_kind(documents, "Role")
    assert {r["resources"][0] for role in roles for r in role["rules"]} == {
        "experiments",
        "trials",
        "jobs",
        "pytorchjobs",
    }
    (secret,) = by_kind(documents, "Secret")
    assert secret["stringData"]["AWS_ENDPOINT_URL"] == "https://s3.example.internal"


def cron_schedule(window: TimeWindow) -> str:
    """The schedule that starts the agent when `window` opens: minute and hour of its start, every day."""
    return f"{window.start % 60} {window.start // 60} * * *"


@pytest.mark.parametrize(
    ("window", "schedule"),
    [
        ("1-8", "0 1 * * *"),
        ("0-24", "0 0 * * *"),
        ("22-6", "0 22 * * *"),
        ("1:30-7:45", "30 1 * * *"),
        ("23:05-0", "5 23 * * *"),
        # zero-padded hours and minutes: Sprig's `int` read "08"/"09" as octal and opened at midnight
        ("09-17", "0 9 * * *"),
        ("08:09-17", "9 8 * * *"),
        ("22:08-6", "8 22 * * *"),
        ("01-08", "0 1 * * *"),
    ],
)
def test_schedule_matches_the_window_arithmetic(chart: Helm, window: str, schedule: str) -> None:
    documents = chart.template("--set", "window.enabled=true", "--set-string", f"window.timeWindow={window}")
    (cron,) = by_kind(documents, "CronJob")
    assert cron["spec"]["schedule"] == cron_schedule(TimeWindow.parse(window)) == schedule


def test_katib_off_renders_only_the_pipeline_side(chart: Helm) -> None:
    documents = chart.template("-f", str(CHART / "ci" / "05-katib-off-values.yaml"))
    assert experiments_in(documents) == [] and by_kind(documents, "CronJob") == []
    (job,) = by_kind(documents, "Job")
    pod = job["spec"]["template"]["spec"]
    compile_args = pod["initContainers"][0]["args"]
    assert compile_args[:2] == ["pipeline", "compile"]
    # the compiled pipeline's steps read the chart's S3 Secret (fixed when compiling)
    secret = pod["containers"][0]["envFrom"][0]["secretRef"]["name"]
    assert compile_args[compile_args.index("--s3-secret") + 1] == secret
    args = pod["containers"][0]["args"]
    assert args[:2] == ["pipeline", "submit"] and args[-2:] == [
        "trial_budget=20",
        "raw_data=s3://lexdpr-data/raw",
    ]
    flags = dict(zip(args[2:-2:2], args[3:-2:2], strict=True))
    assert flags["--experiment"] == "lexdpr-nightly" and flags["--namespace"] == "team-ml"
    assert flags["--file"] == "/tmp/pipeline/lexdpr_pipeline.yaml"
    token = pod["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "pipelines.kubeflow.org"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_pipeline_params_of_every_scenario_are_run_parameters_of_the_pipeline(
    chart: Helm, scenario: Path
) -> None:
    pipeline = CHART.parents[1] / "pipelines" / "lexdpr_pipeline.yaml"
    compiled = next(yaml.safe_load_all(pipeline.read_text(encoding="utf-8")))
    known = set(compiled["root"]["inputDefinitions"]["parameters"])
    for job in by_kind(chart.template("-f", str(scenario)), "Job"):
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        given = [a.split("=", 1)[0] for a in args if "=" in a and not a.startswith("-")]
        assert set(given) <= known, set(given) - known


# (name, helm arguments, text of the error)
WRONG_VALUES = [
    ("time window hour 25", ["--set-string", "window.timeWindow=25-8"], "window.timeWindow"),
    ("time window words", ["--set-string", "window.timeWindow=night"], "window.timeWindow"),
    ("negative GPUs", ["--set", "katib.trial.gpus=-1"], "katib.trial.gpus"),
    ("resume policy Never", ["--set", "katib.experiment.resumePolicy=Never"], "resumePolicy"),
    ("no trials", ["--set", "katib.experiment.maxTrialCount=0"], "maxTrialCount"),
    ("experiment name too long", ["--set", "katib.experiment.name=" + "a" * 41], "katib.experiment.name"),
    ("experiment name with capitals", ["--set", "katib.experiment.name=LexDPR"], "katib.experiment.name"),
    ("typo in a key", ["--set", "katib.trial.gpu=1"], "gpu"),
    ("unknown top-level key", ["--set", "windows.enabled=true"], "windows"),
    ("memory not a quantity", ["--set", "katib.trial.resources.limits.memory=lots"], "memory"),
    ("count as text", ["--set-string", "window.count=four"], "window.count"),
    ("pull policy", ["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    ("access mode", ["--set", "workspace.accessModes[0]=ReadWriteAll"], "accessModes"),
    ("time zone that does not exist", ["--set", "window.timeZone=Mars/Phobos"], "window.timeZone"),
    (
        "empty time window",
        ["--set", "window.enabled=true", "--set-string", "window.timeWindow=1-1"],
        "opens and closes at the same time",
    ),
    (
        "more parallel trials than trials",
        ["--set", "katib.experiment.maxTrialCount=3", "--set", "katib.experiment.parallelTrialCount=4"],
        "parallelTrialCount (4) must not exceed katib.experiment.maxTrialCount (3)",
    ),
    (
        "more failures allowed than trials",
        ["--set", "katib.experiment.maxTrialCount=5"],
        "maxFailedTrialCount (10) must not exceed katib.experiment.maxTrialCount (5)",
    ),
    ("S3 keys missing", ["--set", "s3.create=true"], "s3.accessKeyId is required"),
    (
        "window without Katib",
        ["--set", "window.enabled=true", "--set", "katib.enabled=false"],
        "window.enabled needs katib.enabled",
    ),
]


@pytest.mark.parametrize(("name", "args", "expected"), WRONG_VALUES, ids=[w[0] for w in WRONG_VALUES])
def test_wrong_values_are_rejected(chart: Helm, name: str, args: list[str], expected: str) -> None:
    result = chart.run("template", "lexdpr", str(CHART), *args)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def _keys(node: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            out.append(path)
            if key not in ("searchSpace", "requests", "limits") and isinstance(value, dict):
                out += _keys(value, path + ".")
    return out


def test_every_values_key_is_in_the_schema() -> None:
    import json

    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    for key in _keys(values):
        node = schema
        for part in key.split("."):
            node = node.get("properties", {}).get(part) or (node.get("additionalProperties") or {})
        assert node, f"{key} is not in values.schema.json"


def test_every_values_key_is_documented() -> None:
    """Every setting has a comment right above it, or sits in a block whose key has one (helm-docs style).

    Block keys that only group settings (`image:`, `katib:`) need none; their settings do.
    """
    lines = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    keys = []  # (line number, indentation, key, documented, opens a block)
    for n, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):(.*)$", line)
        if match and not line.lstrip().startswith("#"):
            documented = n > 0 and lines[n - 1].lstrip().startswith("#")
            keys.append((n, len(match.group(1)), match.group(2), documented, match.group(3).strip() == ""))
    undocumented = []
    for index, (n, indent, key, documented, block) in enumerate(keys):
        following = keys[index + 1] if index + 1 < len(keys) else None
        is_group = block and following is not None and following[1] > indent
        ancestors = [k for k in keys[:index] if k[1] < indent]
        open_blocks = {}
        for a in ancestors:
            open_blocks = {i: d for i, d in open_blocks.items() if i < a[1]}
            open_blocks[a[1]] = a[3]
        if not is_group and not documented and not any(open_blocks.values()):
            undocumented.append(f"line {n + 1}: {key}")
    assert undocumented == []


def test_notes_tell_the_next_commands(helm: str, tmp_path: Path) -> None:
    """NOTES.txt rendered through `helm template` (install --dry-run needs a cluster): a copy of the chart with
    the notes as a template."""
    copy = tmp_path / "lexdpr"
    shutil.copytree(CHART, copy)
    (copy / "notes.src").write_text((CHART / "templates" / "NOTES.txt").read_text(encoding="utf-8"))
    (copy / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
        '{{- tpl (.Files.Get "notes.src") . | nindent 4 }}\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            helm,
            "template",
            "lexdpr",
            str(copy),
            "-n",
            "team-ml",
            "-f",
            str(CHART / "ci" / "04-window-midnight-values.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    notes = next(d for d in yaml.safe_load_all(result.stdout) if d and d["metadata"]["name"] == "notes")
    text = notes["data"]["notes"]
    assert "kubectl -n team-ml create job --from=cronjob/lexdpr-window" in text
    assert "lex-dpr sweep status lexdpr-sweep --backend katib -n team-ml" in text
    assert "Time window 22:30-6 (Europe/Berlin)" in text


def test_own_sweep_file_through_generated_values(chart: Helm, tmp_path: Path) -> None:
    """`python -m lexdpr.kube.manifests --search-space FILE` → values → the same Experiment as the CLI renders."""
    from lexdpr.kube.manifests import search_space_values
    from lexdpr.sweep.sweep_file import load_sweep_file

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "method: random\n"
        "metric: {name: eval/ndcg_at_10, goal: maximize}\n"
        "parameters:\n"
        "  trainer.lr: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-4}\n"
        "  trainer.warmup_ratio: {distribution: uniform, min: 0.0, max: 0.2}\n"
        "  model.peft.r: {values: [4, 8]}\n"
        "  model.peft.alpha: {scale_with: model.peft.r, values: [1, 2]}\n"
        "fixed: {trainer.epochs: 2, trainer.k_values: [1, 5, 10]}\n"
        "early_terminate: {type: median, min_iter: 2}\n",
        encoding="utf-8",
    )
    spec = load_sweep_file(sweep)
    values = tmp_path / "values.yaml"
    values.write_text(search_space_values(spec, str(sweep)), encoding="utf-8")
    (experiment,) = by_kind(chart.template("-f", str(values)), "Experiment")
    python = build_experiment(spec, ExperimentOptions(namespace="team-ml"))
    assert _comparable(experiment) == _comparable(python)
    assert experiment["spec"]["earlyStopping"]["algorithmName"] == "medianstop"
    assert experiment_errors(experiment) == []


def test_service_accounts_and_workspace_defaults(chart: Helm) -> None:
    documents = chart.template()
    (trial_account,) = by_kind(documents, "ServiceAccount")  # no agent without the window
    assert trial_account["metadata"]["name"] == "lexdpr-trial"
    assert trial_account["automountServiceAccountToken"] is False
    (pvc,) = by_kind(documents, "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert by_kind(documents, "Role") == [] and by_kind(documents, "Secret") == []


def _pipeline_job_args(chart: Helm, *args: str) -> tuple[list[str], list[str]]:
    """The pipeline Job's `lex-dpr pipeline compile` and `lex-dpr pipeline submit` arguments."""
    (job,) = by_kind(chart.template("-f", str(CHART / "ci" / "05-katib-off-values.yaml"), *args), "Job")
    pod = job["spec"]["template"]["spec"]
    return pod["initContainers"][0]["args"], pod["containers"][0]["args"]


def _flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_the_pipeline_is_compiled_for_the_kfp_version_with_the_charts_images(chart: Helm) -> None:
    compile_args, submit_args = _pipeline_job_args(chart)
    assert _flag(compile_args, "--kfp-version") == "2.4"
    assert _flag(compile_args, "--image-repository") == "ghcr.io/lexdpr/lexdpr"
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["appVersion"]
    assert _flag(compile_args, "--image-tag") == app_version
    assert "--train-gpus" not in compile_args and not any(a.startswith("image_tag=") for a in submit_args)
    # pipeline.imageTag defaults to image.tag, and wins over it
    compile_args, _ = _pipeline_job_args(chart, "--set-string", "image.tag=1.2.3")
    assert _flag(compile_args, "--image-tag") == "1.2.3"
    compile_args, _ = _pipeline_job_args(
        chart, "--set-string", "image.tag=1.2.3", "--set-string", "pipeline.imageTag=1.3.0"
    )
    assert _flag(compile_args, "--image-tag") == "1.3.0"


def test_for_kfp_2_3_train_gpus_goes_to_the_compile(chart: Helm) -> None:
    params = ["--set", "pipeline.params={trial_budget=3,train_gpus=2}"]
    compile_args, submit_args = _pipeline_job_args(chart, *params, "--set-string", "pipeline.kfpVersion=2.3")
    assert _flag(compile_args, "--kfp-version") == "2.3" and _flag(compile_args, "--train-gpus") == "2"
    assert submit_args[-1] == "trial_budget=3" and "train_gpus=2" not in submit_args
    # 2.4 and newer: a run parameter
    compile_args, submit_args = _pipeline_job_args(chart, *params, "--set-string", "pipeline.kfpVersion=2.15")
    assert "--train-gpus" not in compile_args and submit_args[-2:] == ["trial_budget=3", "train_gpus=2"]


@pytest.mark.parametrize(
    "args",
    [
        ["--set-string", "pipeline.kfpVersion=2.2"],
        ["--set-string", "pipeline.kfpVersion=2.16"],
        ["--set-string", "pipeline.kfpVersion=latest"],
        ["--set-json", "pipeline.kfpVersion=2.10"],  # a number (YAML's 2.10 is 2.1), not the version
        ["--set-string", "pipeline.imageTag=a:b"],
    ],
)
def test_wrong_pipeline_compile_values_are_rejected(chart: Helm, args: list[str]) -> None:
    result = chart.run("template", "lexdpr", str(CHART), *args)
    assert result.returncode != 0
    assert "pipeline." in result.stderr, result.stderr
