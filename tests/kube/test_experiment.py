"""The rendered Experiment: the checked-in manifests equal the render, it passes the Katib check, and the check
catches what Katib's webhook (or a trial at run time) would reject."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lexdpr.errors import ConfigError
from lexdpr.kube.experiment import ExperimentOptions, build_experiment, experiment_yaml
from lexdpr.kube.manifests import generated, preset_experiment
from lexdpr.kube.metrics import KATIB_DEFAULT_FORMAT
from lexdpr.sweep.preset import preset_spec
from lexdpr.training.config import load_config
from tests.kube.emulate import primary_container, render_trial
from tests.kube.katib_check import experiment_errors, update_errors
from tests.kube.schemas import SUPPORTED_VERSIONS, KubernetesSchemas

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted(str(p) for p in generated(REPO)))
def test_generated_files_are_up_to_date(path: str) -> None:
    expected = generated(REPO)[Path(path)]
    assert (REPO / path).read_text(encoding="utf-8") == expected, (
        f"{path} is out of date: run `python -m lexdpr.kube.manifests`"
    )


def test_checked_in_experiment_is_the_preset(schemas: KubernetesSchemas) -> None:
    on_disk = yaml.safe_load((REPO / "manifests" / "katib-experiment.yaml").read_text(encoding="utf-8"))
    assert on_disk == preset_experiment()
    assert experiment_errors(on_disk, schemas, SUPPORTED_VERSIONS) == []


def test_config_map_holds_a_loadable_base_config(tmp_path: Path) -> None:
    config_map = yaml.safe_load((REPO / "manifests" / "config.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"], encoding="utf-8")
    assert load_config(str(path)).out_dir == "checkpoint/lexdpr"


def test_static_manifests_pass_the_kubernetes_schemas(schemas: KubernetesSchemas) -> None:
    documents = []
    for path in [*(REPO / "manifests").glob("*.yaml"), REPO / "manifests" / "s3-secret.yaml.example"]:
        documents += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    kinds = {d["kind"] for d in documents}
    assert {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "PersistentVolumeClaim",
        "ConfigMap",
        "Secret",
        "Pod",
        "Experiment",
    } <= kinds
    assert schemas.check_all(documents) == []


def test_yaml_quotes_what_kubectl_would_read_as_numbers() -> None:
    text = experiment_yaml(preset_experiment())
    assert "min: '5e-07'" in text  # plain 5e-07 is a float to YAML 1.2 readers; Katib wants a string


def test_trial_job_is_valid_for_every_kubernetes_version(schemas: KubernetesSchemas) -> None:
    experiment = preset_experiment()
    assignments = {
        p["name"]: (p["feasibleSpace"].get("list") or [p["feasibleSpace"]["min"]])[0]
        for p in experiment["spec"]["parameters"]
    }
    job = render_trial(experiment, assignments, "lexdpr-sweep-x7k2m9qd", "team-ml")
    assert schemas.check_all([job]) == []
    container = primary_container(job, "training-container")
    # no shell in the YAML: `lex-dpr sweep trial` with plain words; who it is comes from the environment
    assert container["command"] == ["lex-dpr"]
    assert container["args"][:4] == ["sweep", "trial", "--config", "/etc/lexdpr/config.yaml"]
    assert "trainer.warmup_ratio=0e-4" in container["args"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["LEXDPR_EXPERIMENT"] == "lexdpr-sweep" and env["LEXDPR_TRIAL"] == "lexdpr-sweep-x7k2m9qd"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["lex-dpr", "sweep", "trial", "--stop"]
    assert container["image"].endswith("-cuda")  # it requests a GPU
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert job["spec"]["activeDeadlineSeconds"] > 0


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def change(experiment: dict) -> None:
        *parents, leaf = path.split(".")
        target: Any = experiment
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[leaf]
        else:
            target[int(leaf) if leaf.isdigit() else leaf] = value

    return change


_DELETE = object()

# (name, change, expected error text)
BROKEN = [
    ("unknown field", _set("spec.parameters.0.feasibleSpace.distrbution", "uniform"), "unknown field"),
    ("numeric bound", _set("spec.parameters.0.feasibleSpace.min", 5e-7), "must be a string"),
    (
        "bayes double at zero",
        _set(
            "spec.parameters.3",
            {
                "name": "trainer.warmup_ratio",
                "parameterType": "double",
                "feasibleSpace": {"min": "0.0", "max": "0.2"},
            },
        ),
        "bayesianoptimization samples every double log-uniformly",
    ),
    ("parameter type enum", _set("spec.parameters.0.parameterType", "float"), "is not one of"),
    (
        "distribution enum",
        _set("spec.parameters.0.feasibleSpace.distribution", "loguniform"),
        "is not one of",
    ),
    ("algorithm enum", _set("spec.algorithm.algorithmName", "bayes"), "is not one of"),
    ("objective enum", _set("spec.objective.type", "max"), "is not one of"),
    ("resume policy enum", _set("spec.resumePolicy", "Always"), "is not one of"),
    ("empty range", _set("spec.parameters.1.feasibleSpace.max", "100"), "must be smaller than max"),
    ("duplicate list value", _set("spec.parameters.4.feasibleSpace.list", ["16", "16"]), "twice"),
    (
        "text in a discrete list",
        _set("spec.parameters.4.feasibleSpace.list", ["16", "big"]),
        "must be numbers",
    ),
    (
        "default StdOut regex rejects '/'",
        _set("spec.metricsCollectorSpec.source.filter.metricsFormat", [KATIB_DEFAULT_FORMAT]),
        "does not parse the trainer's line",
    ),
    ("parallel above max", _set("spec.parallelTrialCount", 50), "parallelTrialCount"),
    ("max failed above max", _set("spec.maxFailedTrialCount", 50), "maxFailedTrialCount"),
    ("name too long", _set("metadata.name", "a" * 41), "metadata.name"),
    (
        "undeclared placeholder",
        lambda e: _append_arg(e, "data.seed=${trialParameters.typo}"),
        "is not declared in trialParameters",
    ),
    (
        "unused trial parameter",
        lambda e: e["spec"]["trialTemplate"]["trialParameters"].append(
            {"name": "unused", "reference": "trainer.lr"}
        ),
        "referenced twice",
    ),
    (
        "reference to nothing",
        _set("spec.trialTemplate.trialParameters.0.reference", "trainer.learning_rate"),
        "is not in spec.parameters",
    ),
    (
        "parameter that never reaches the trial",
        lambda e: e["spec"]["parameters"].append(
            {"name": "trainer.seed", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "9"}}
        ),
        "never reaches the trial",
    ),
    ("job name set", _set("spec.trialTemplate.trialSpec.metadata.name", "x"), "must be omitted"),
    (
        "primary container missing",
        _set("spec.trialTemplate.primaryContainerName", "main"),
        "no container named",
    ),
    ("kubelet would expand $(...)", lambda e: _append_arg(e, "$(HOME)"), "kubelet"),
    ("shell word", lambda e: _append_arg(e, "data.pairs='my pairs.jsonl'"), "plain word"),
    ("invalid Job field", _set("spec.trialTemplate.trialSpec.spec.backoffLimit", "three"), "Kubernetes"),
]


def _append_arg(experiment: dict, word: str) -> None:
    containers = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"]
    containers[0]["args"].append(word)


@pytest.mark.parametrize(("name", "change", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_katib_check_catches(
    name: str, change: Callable[[dict], None], expected: str, schemas: KubernetesSchemas
) -> None:
    experiment = copy.deepcopy(preset_experiment())
    change(experiment)
    problems = experiment_errors(experiment, schemas)
    assert any(expected in p for p in problems), problems


def _finished(experiment: dict, reason: str, trials: int) -> dict:
    done = copy.deepcopy(experiment)
    done["status"] = {
        "trials": trials,
        "conditions": [{"type": "Succeeded", "status": "True", "reason": reason}],
    }
    return done


# (name, change of the spec, reason the old one finished or None if running, trials, expected error or "")
UPDATES = [
    ("raise the budget of a finished sweep", {"maxTrialCount": 50}, "ExperimentMaxTrialsReached", 40, ""),
    ("lower the budget to what exists", {"maxTrialCount": 12}, None, 12, "greater than status.trials"),
    (
        "restart after the goal was reached",
        {"maxTrialCount": 50},
        "ExperimentGoalReached",
        40,
        "restarted only",
    ),
    ("change anything else", {"resumePolicy": "FromVolume"}, None, 3, "only spec.parallelTrialCount"),
    (
        "parallel above the budget",
        {"maxTrialCount": 4, "parallelTrialCount": 5},
        None,
        3,
        "parallelTrialCount",
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "reason", "trials", "expected"), UPDATES, ids=[u[0] for u in UPDATES]
)
def test_update_rules_of_katibs_webhook(
    name: str, change: dict, reason: str | None, trials: int, expected: str
) -> None:
    old = preset_experiment()
    old = (
        _finished(old, reason, trials) if reason else {**old, "status": {"trials": trials, "conditions": []}}
    )
    new = copy.deepcopy(old)
    new["spec"].update(change)
    problems = update_errors(old, new)
    if expected:
        assert any(expected in p for p in problems), problems
    else:
        assert problems == []


def test_options_that_katib_would_reject_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="experiment name"):
        build_experiment(preset_spec(), ExperimentOptions(name="Lexdpr_Sweep"))
    with pytest.raises(ConfigError, match="resume policy"):
        build_experiment(preset_spec(), ExperimentOptions(resume_policy="Sometimes"))


def test_parallel_and_failures_never_exceed_the_budget() -> None:
    experiment = build_experiment(
        preset_spec(), ExperimentOptions(max_trials=3, parallel_trials=4, max_failed_trials=10)
    )
    assert (
        experiment["spec"]["maxTrialCount"],
        experiment["spec"]["parallelTrialCount"],
        experiment["spec"]["maxFailedTrialCount"],
    ) == (3, 3, 3)
    assert experiment["metadata"]["annotations"]["lexdpr.io/parallel-trial-count"] == "4"
