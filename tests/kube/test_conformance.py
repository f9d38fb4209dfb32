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
