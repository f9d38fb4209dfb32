"""A sweep file + where trials run → a `kubeflow.org/v1beta1` Experiment (a dict, and YAML for people).

Choices that are not Katib's defaults, and why:

- `resumePolicy: LongRunning` (default `Never` would make an Experiment that reached `maxTrialCount` final):
  raising `maxTrialCount` later restarts it, which is how a sweep is extended and how the time-window agent
  adds each night's trials. `FromVolume` also works (the suggestion's state is kept on a PVC Katib creates
  with the cluster's default StorageClass, and its pod does not run between nights); choose it with
  `resume_policy`. No objective `goal` is set: an Experiment that reached its goal can never be restarted.
- `maxFailedTrialCount`: failed trials (an exception, OOM, a diverged loss, metrics unavailable) are counted;
  after that many the Experiment fails instead of burning GPU hours on a broken setup.
- The metrics collector is StdOut with a `metricsFormat` that accepts `/` (see `metrics`).
- Annotations record what Katib cannot: how to read parameter values back (fixed-point scales), the sweep's
  definition, and the intended total trial budget, parallelism and failure budget. The time-window agent
  manages `maxTrialCount` night by night and must sometimes lower the other two (Katib requires
  parallelTrialCount and maxFailedTrialCount ≤ maxTrialCount); the annotations keep the intent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from lexdpr.errors import ConfigError
from lexdpr.kube.metrics import metrics_collector_spec
from lexdpr.kube.search_space import (
    TRIAL_NAME_PARAMETER,
    TRIAL_NAME_REFERENCE,
    SearchSpace,
    katib_search_space,
    param_ref,
)
from lexdpr.kube.trial_job import MASTER_ROLE_LABEL, TrialOptions, trial_job
from lexdpr.sweep.sweep_file import SweepSpec

API_VERSION = "kubeflow.org/v1beta1"
ANNOTATION_PREFIX = "lexdpr.io/"
PARAMETERS_ANNOTATION = ANNOTATION_PREFIX + "parameters"
SWEEP_ANNOTATION = ANNOTATION_PREFIX + "sweep"
PARALLEL_ANNOTATION = ANNOTATION_PREFIX + "parallel-trial-count"
MAX_FAILED_ANNOTATION = ANNOTATION_PREFIX + "max-failed-trial-count"
MAX_TRIALS_ANNOTATION = ANNOTATION_PREFIX + "max-trial-count"
RESUME_POLICIES = ("LongRunning", "FromVolume", "Never")
#: Katib's webhook: lower-case alphanumerics and '-', starting with a letter, at most 40 characters.
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
JOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
JOB_FAILURE_CONDITION = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
#: The Training Operator's job conditions (a PyTorchJob is Succeeded, not Complete).
PYTORCHJOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Succeeded")#|#(status=="True")#'


@dataclass(frozen=True)
class ExperimentOptions:
    """The Experiment's own settings; the trial Job's are in `trial`."""

    name: str = "lexdpr-sweep"
    namespace: str | None = None
    max_trials: int = 40
    parallel_trials: int = 2
    max_failed_trials: int = 10
    resume_policy: str = "LongRunning"
    labels: dict[str, str] = field(default_factory=dict)
    trial: TrialOptions = field(default_factory=TrialOptions)

    def with_trial(self, **changes: Any) -> ExperimentOptions:
        return replace(self, trial=replace(self.trial, **changes))


def check_name(name: str) -> None:
    if not _NAME.match(name or "") or len(name) > 40:
        raise ConfigError(
            f"experiment name {name!r}: Katib needs lower-case letters, digits and '-', starting with a letter "
            "and ending with a letter or digit, at most 40 characters (e.g. lexdpr-sweep)"
        )


def build_experiment(spec: SweepSpec, options: ExperimentOptions) -> dict[str, Any]:
    """The Experiment for `spec`; raises ConfigError for settings Katib would reject."""
    o = options
    check_name(o.name)
    if o.resume_policy not in RESUME_POLICIES:
        raise ConfigError(f"resume policy {o.resume_policy!r}: use one of {', '.join(RESUME_POLICIES)}")
    if o.parallel_trials < 1 or o.max_trials < 1 or o.max_failed_trials < 0:
        raise ConfigError("max trials and parallel trials must be at least 1, max failed trials at least 0")
    space = katib_search_space(spec)
    max_trials = o.max_trials
    parallel = min(o.parallel_trials, max_trials)
    max_failed = min(o.max_failed_trials, max_trials)
    trial_ref = param_ref(TRIAL_NAME_PARAMETER)
    job = trial_job(o.name, space.arguments, o.trial, trial_ref)
    metadata: dict[str, Any] = {"name": o.name}
    if o.namespace:
        metadata["namespace"] = o.namespace
    metadata |= {
        "labels": {"app.kubernetes.io/name": "lexdpr", "app.kubernetes.io/component": "sweep", **o.labels},
        "annotations": {
            PARAMETERS_ANNOTATION: json.dumps(space.decode_table(), sort_keys=True),
            SWEEP_ANNOTATION: json.dumps(spec.definition(), sort_keys=True, ensure_ascii=False),
            MAX_TRIALS_ANNOTATION: str(o.max_trials),
            PARALLEL_ANNOTATION: str(o.parallel_trials),
            MAX_FAILED_ANNOTATION: str(o.max_failed_trials),
        },
    }
    experiment_spec: dict[str, Any] = {
        "objective": space.objective,
        "algorithm": space.algorithm,
    }
    if space.early_stopping:
        experiment_spec["earlyStopping"] = space.early_stopping
    experiment_spec.update(
        {
            "parallelTrialCount": parallel,
            "maxTrialCount": max_trials,
            "maxFailedTrialCount": max_failed,
            "resumePolicy": o.resume_policy,
            "metricsCollectorSpec": metrics_collector_spec(),
            "parameters": [p.spec() for p in space.parameters],
            "trialTemplate": _trial_template(space, job, o.trial),
        }
    )
    return {"apiVersion": API_VERSION, "kind": "Experiment", "metadata": metadata, "spec": experiment_spec}


def _trial_template(space: SearchSpace, job: dict[str, Any], trial: TrialOptions) -> dict[str, Any]:
    trial_parameters = [p.trial_parameter() for p in space.parameters]
    trial_parameters.append(
        {
            "name": TRIAL_NAME_PARAMETER,
            "description": "the Trial's name: its folder on the PVC, so a restarted pod resumes",
            "reference": TRIAL_NAME_REFERENCE,
        }
    )
    template: dict[str, Any] = {"primaryContainerName": trial.container_name}
    if trial.distributed:
        # Katib collects metrics from the master's pod only: rank 0 prints them.
        template["primaryPodLabels"] = {MASTER_ROLE_LABEL: "master"}
        template["successCondition"] = PYTORCHJOB_SUCCESS_CONDITION
    else:
        template["successCondition"] = JOB_SUCCESS_CONDITION
    template |= {
        "failureCondition": JOB_FAILURE_CONDITION,
        "retain": False,
        "trialParameters": trial_parameters,
        "trialSpec": job,
    }
    return template


def experiment_yaml(experiment: dict[str, Any], header: str = "") -> str:
    """Readable, stable YAML: block scalars for the trial script, keys in the order they were built."""
    text = yaml.dump(experiment, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return header + text


def parse_experiment(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or data.get("kind") != "Experiment":
        raise ConfigError("not an Experiment manifest (kind: Experiment)")
    return data


_LOOKS_NUMERIC = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks so the trial script reads like a script."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _LOOKS_NUMERIC.match(value):
        # PyYAML (YAML 1.1) would leave `5e-07` plain, but kubectl's YAML 1.2 parser reads it as a number, and
        # Katib's feasibleSpace fields are strings: quote everything a YAML 1.2 reader could take for a number.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)
