"""Every Experiment we ship, through the upstream Katib rules of every supported version.

The artefacts: `manifests/katib-experiment.yaml`, the chart's Experiment in each `helm/lexdpr/ci/*` scenario
(directly or inside the window agent's ConfigMap), and what `lex-dpr sweep --backend katib --dry-run` prints,
for the preset and for a sweep file with early stopping and `scale_with`. The rules are those of
`tests/kube/upstream/katib.py` (Katib's admission webhooks with the trial Job round trip, at v0.17.0, v0.18.0,
v0.19.0); the metric lines are those of `tests/kube/test_trial_local.py`, parsed with the same port.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lexdpr.kube.commands import render_experiment
from lexdpr.kube.trial_job import TrialOptions
from lexdpr.sweep.preset import PRESET_YAML
from tests.kube.conftest import CHART, SCENARIOS, Helm
from tests.kube.test_chart import SCENARIO_IDS, experiments_in
from tests.kube.upstream.katib import KATIB_VERSIONS, validate_experiment
from tests.kube.upstream.training_operator import katib_pytorchjob_trial_errors, pod_env, retries_exit_code

REPO = Path(__file__).resolve().parents[2]
PROFILE_LABELS = {"katib.kubeflow.org/metrics-collector-injection": "enabled"}
OWN_SWEEP = """\
method: random
metric: {name: eval/ndcg_at_10, goal: maximize}
parameters:
  trainer.lr: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-4}
  model.peft.r: {values: [4, 8]}
  model.peft.alpha: {scale_with: model.peft.r, values: [1, 2]}
fixed: {trainer.epochs: 2, trainer.k_values: [1, 5, 10]}
early_terminate: {type: median, min_iter: 2}
"""


def _accepted(experiment: dict) -> None:
    for version in KATIB_VERSIONS:
        assert validate_experiment(experiment, version, namespace_labels=PROFILE_LABELS) == [], version


def test_the_manifest_is_accepted_by_every_katib_version() -> None:
    text = (REPO / "manifests" / "katib-experiment.yaml").read_text(encoding="utf-8")
    _accepted(yaml.safe_load(text))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_every_chart_scenario_is_accepted_by_every_katib_version(chart: Helm, scenario: Path) -> None:
    experiments = experiments_in(chart.template("-f", str(scenario)))
    if scenario.name.startswith("05-katib-off"):
        assert experiments == []
    for experiment in experiments:
        _accepted(experiment)


@pytest.mark.parametrize("sweep", [PRESET_YAML, OWN_SWEEP], ids=["preset", "own-sweep"])
@pytest.mark.parametrize("gpus", [0, 2])
def test_the_cli_dry_run_is_accepted_by_every_katib_version(tmp_path: Path, sweep: str, gpus: int) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(sweep, encoding="utf-8")
    experiment = yaml.safe_load(render_experiment(path, namespace="team-ml", gpus=gpus))
    _accepted(experiment)
    container = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == TrialOptions(gpus=gpus).resolved_image
    assert container["image"].endswith("-cuda") == (gpus > 0)


def test_the_old_failjob_rule_is_what_katib_018_and_019_refused() -> None:
    """The defect this suite missed: `onPodConditions: []` in the exit-code rule of the podFailurePolicy."""
    experiment = yaml.safe_load((REPO / "manifests" / "katib-experiment.yaml").read_text(encoding="utf-8"))
    rules = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["podFailurePolicy"]["rules"]
    assert "onPodConditions" not in rules[1]
    rules[1]["onPodConditions"] = []
    assert validate_experiment(experiment, "0.17") == []
    for version in ("0.18", "0.19"):
        (problem,) = validate_experiment(experiment, version)
        assert "unable to convert" in problem and "onPodConditions" in problem


def test_chart_files_are_the_renderers() -> None:
    """The chart's structure is generated: files/experiment.yaml is the manifest's Experiment."""
    chart_file = yaml.safe_load((CHART / "files" / "experiment.yaml").read_text(encoding="utf-8"))
    manifest = yaml.safe_load((REPO / "manifests" / "katib-experiment.yaml").read_text(encoding="utf-8"))
    assert chart_file == manifest


#: (Katib, Training Operator) as Kubeflow ships them: 1.9 → 0.17 + v1.8, 1.10 → 0.18 + v1.9, 1.11 → 0.19 + the
#: v1 operator installed separately (Kubeflow 1.11 installs Trainer v2 by default; docs/kubernetes.md).
KUBEFLOW_PAIRS = [
    ("0.17", "1.8.0"),
    ("0.17", "1.8.1"),
    ("0.18", "1.9.1"),
    ("0.18", "1.9.2"),
    ("0.19", "1.9.2"),
]


def _multinode_experiments(chart: Helm, tmp_path: Path) -> list[dict]:
    path = tmp_path / "sweep.yaml"
    path.write_text(PRESET_YAML, encoding="utf-8")
    cli = yaml.safe_load(render_experiment(path, namespace="team-ml", gpus=4, nodes=3))
    (scenario,) = experiments_in(chart.template("-f", str(CHART / "ci" / "06-multinode-values.yaml")))
    return [cli, scenario]


@pytest.mark.parametrize(("katib", "operator"), KUBEFLOW_PAIRS)
def test_multi_node_trials_pass_katib_and_the_training_operator(
    chart: Helm, tmp_path: Path, katib: str, operator: str
) -> None:
    for experiment in _multinode_experiments(chart, tmp_path):
        assert experiment["spec"]["trialTemplate"]["trialSpec"]["kind"] == "PyTorchJob"
        assert validate_experiment(experiment, katib, namespace_labels=PROFILE_LABELS) == []
        assert katib_pytorchjob_trial_errors(experiment, katib, operator) == []


def test_a_pytorchjob_pod_gets_what_torchrun_needs(chart: Helm, tmp_path: Path) -> None:
    """The operator's environment for a worker pod: torchrun's PET_* options, and our trial's names."""
    experiment, _ = _multinode_experiments(chart, tmp_path)
    job = experiment["spec"]["trialTemplate"]["trialSpec"]
    job = {**job, "metadata": {**job.get("metadata", {}), "name": "lexdpr-sweep-abcd1234"}}
    env = pod_env(job, "Worker", 1, "1.9.2")
    assert env["PET_NNODES"] == "3" and env["PET_NPROC_PER_NODE"] == "4" and env["PET_NODE_RANK"] == "2"
    assert env["PET_MASTER_ADDR"] == "lexdpr-sweep-abcd1234-master-0"
    policy = job["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"]
    assert not retries_exit_code(2, policy)  # a config error fails the trial
    assert retries_exit_code(143, policy)  # SIGTERM (preempted, suspended): the pod comes back and resumes
