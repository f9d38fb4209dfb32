"""Offline checks of a Katib Experiment: what Katib's webhook and controllers would reject, and more.

Katib's CRD accepts any object (validation is in its admission webhook), and the SDK's models drop unknown
fields silently, so neither tells you that a chart renders `feasibleSpace.distrbution`. `experiment_errors`
checks, with the paths the webhook would report:

- shape: every field known to the Katib API (the SDK's OpenAPI types, walked recursively; the trial Job is
  checked against the Kubernetes schemas instead), and every scalar of the right type — a feasible-space
  bound rendered as a YAML number instead of a string is an error Katib only reports when a trial is created;
- enums: objective type, algorithm and early-stopping names of Katib's default config, parameterType,
  distribution, resumePolicy, collector kind, metric strategies;
- feasible spaces: min < max (integers for int), lists non-empty and unique, discrete lists numeric,
  `logUniform` only above 0, grid doubles with a step, and **no double at or below 0 for
  `bayesianoptimization`**, which samples every double log-uniformly;
- the trial template: trialParameters unique and each used, every `${trialParameters.x}` declared, every
  reference a parameter or trial metadata, every search parameter reaching the trial, no name/namespace on the
  Job, the primary container present, success/failure conditions set;
- the trial as it will run: with each parameter at its ends and list values substituted the way Katib does
  (`emulate`), the Job passes the Kubernetes schemas, the substituted JSON stays valid, and the command
  survives the kubelet's `$(…)`/`$$` expansion unchanged;
- metrics: the StdOut regex compiles, has two top groups, and parses `name=0.5` back for the objective and
  every additional metric (Katib's own parser, ported in `metrics`);
- counts: maxTrialCount ≥ parallelTrialCount ≥ 1, maxFailedTrialCount ≤ maxTrialCount, the name's format.

This is our own, stricter check (the upstream rules themselves are ported per version in
`tests/kube/upstream/`). `update_errors(old, new)` adds the webhook's rules for edits of a live Experiment (what the time-window agent
does): only the three counts may change, maxTrialCount must exceed `status.trials`, and a completed Experiment
can only be restarted if it stopped at its trial budget with a resume policy other than Never.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from lexdpr.kube.search_space import param_ref
from tests.kube.emulate import kubelet_expand, primary_container, render_trial, unresolved_references
from tests.kube.schemas import SUPPORTED_VERSIONS, KubernetesSchemas, SchemaUnavailable
from tests.kube.upstream.katib import parse_metrics

ALGORITHMS = (
    "random",
    "tpe",
    "grid",
    "hyperband",
    "bayesianoptimization",
    "cmaes",
    "sobol",
    "multivariate-tpe",
    "enas",
    "darts",
    "pbt",
)
EARLY_STOPPING_ALGORITHMS = ("medianstop",)
PARAMETER_TYPES = ("int", "double", "categorical", "discrete")
DISTRIBUTIONS = ("uniform", "logUniform", "normal", "logNormal")
RESUME_POLICIES = ("Never", "LongRunning", "FromVolume")
OBJECTIVE_TYPES = ("minimize", "maximize")
STRATEGIES = ("min", "max", "latest")
COLLECTOR_KINDS = ("StdOut", "File", "TensorFlowEvent", "PrometheusMetric", "Custom", "None", "Push")
META_KEYS = ("Name", "Namespace", "Kind", "APIVersion")
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PARAM_REF = re.compile(r"\$\{trialParameters\.(.+?)\}")
_META_REF = re.compile(r"^\$\{trialSpec\.(.+?)\}$")
#: What means the same to `sh` as to exec: no quotes, spaces, globs, `$`, redirections or separators.
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_.,:+=@%/-]+$")
_TWO_GROUPS = re.compile(r".*\(.*\).*\(.*\).*")


def experiment_errors(
    experiment: Mapping[str, Any],
    schemas: KubernetesSchemas | None = None,
    versions: tuple[str, ...] = (SUPPORTED_VERSIONS[0], SUPPORTED_VERSIONS[-1]),
) -> list[str]:
    """Every problem found, as `path: message`; empty when the Experiment is fine."""
    errors: list[str] = []
    if experiment.get("apiVersion") != "kubeflow.org/v1beta1" or experiment.get("kind") != "Experiment":
        return ["(root): not a kubeflow.org/v1beta1 Experiment"]
    _shape(experiment, "V1beta1Experiment", "", errors)
    spec = experiment.get("spec") or {}
    name = (experiment.get("metadata") or {}).get("name", "")
    if not _NAME.match(str(name)) or len(str(name)) > 40:
        errors.append(f"metadata.name: {name!r} must match {_NAME.pattern} and be at most 40 characters")
    _counts(spec, errors)
    _enums(spec, errors)
    _parameters(spec, errors)
    _metrics(spec, errors)
    if not errors:  # the trial checks assume a sound spec
        _trial_template(experiment, errors, schemas or KubernetesSchemas(), versions)
    return errors


def update_errors(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Katib's webhook rules for an update of `old` (with its status) to `new`."""
    errors = []
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    editable = ("maxTrialCount", "parallelTrialCount", "maxFailedTrialCount")
    if {k: v for k, v in old_spec.items() if k not in editable} != {
        k: v for k, v in new_spec.items() if k not in editable
    }:
        errors.append(
            "spec: only spec.parallelTrialCount, spec.maxTrialCount and spec.maxFailedTrialCount are editable"
        )
    if old_spec == new_spec:
        return errors
    status = old.get("status") or {}
    conditions = _true_conditions(status)
    completed = conditions & {"Succeeded", "Failed"}
    if completed:
        restartable = (
            "Succeeded" in conditions
            and _condition_reason(status, "Succeeded") == "ExperimentMaxTrialsReached"
            and new_spec.get("resumePolicy") in ("LongRunning", "FromVolume")
        )
        if not restartable:
            errors.append(
                "spec.resumePolicy: a completed Experiment can be restarted only if it succeeded by reaching "
                "max trials and spec.resumePolicy is LongRunning or FromVolume"
            )
    max_trials = new_spec.get("maxTrialCount")
    if max_trials is not None and max_trials <= status.get("trials", 0):
        errors.append(
            f"spec.maxTrialCount: {max_trials} must be greater than status.trials count "
            f"({status.get('trials', 0)})"
        )
    _counts(new_spec, errors)
    return errors


def _true_conditions(status: Mapping[str, Any]) -> set[str]:
    return {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}


def _condition_reason(status: Mapping[str, Any], kind: str) -> str | None:
    for c in status.get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            return c.get("reason")
    return None


# --- shape: known fields and scalar types, from the Katib SDK's OpenAPI models -------------------------


def _shape(value: Any, type_name: str, path: str, errors: list[str]) -> None:
    if value is None:
        return
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path or '(root)'}: expected a list")
            return
        for i, item in enumerate(value):
            _shape(item, type_name[5:-1], f"{path}[{i}]", errors)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, Mapping):
            errors.append(f"{path}: expected a mapping")
            return
        item_type = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            _shape(item, item_type, f"{path}.{key}", errors)
        return
    scalar = {"str": str, "int": int, "bool": bool, "float": (int, float), "datetime": str}
    if type_name in scalar:
        ok = isinstance(value, scalar[type_name]) and not (type_name == "int" and isinstance(value, bool))
        if not ok:
            errors.append(
                f"{path}: {value!r} must be {'a string' if type_name == 'str' else 'of type ' + type_name}"
            )
        return
    if type_name == "object":
        return  # the trial Job: checked against the Kubernetes schemas
    model = _model(type_name)
    if model is None:
        return
    if not isinstance(value, Mapping):
        errors.append(f"{path}: expected a mapping ({type_name})")
        return
    fields = {json_name: model.openapi_types[attr] for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            errors.append(f"{where}: unknown field (known: {', '.join(sorted(fields))})")
            continue
        _shape(item, fields[key], where, errors)


def _model(type_name: str) -> Any:
    if type_name.startswith("V1beta1"):
        from kubeflow.katib import models

        return getattr(models, type_name, None)
    if type_name.startswith("V1"):
        from kubernetes.client import models as k8s_models

        return getattr(k8s_models, type_name, None)
    return None


# --- spec rules ---------------------------------------------------------------------------------------


def _counts(spec: Mapping[str, Any], errors: list[str]) -> None:
    max_trials, parallel = spec.get("maxTrialCount"), spec.get("parallelTrialCount")
    max_failed = spec.get("maxFailedTrialCount")
    if isinstance(max_trials, int) and max_trials <= 0:
        errors.append(f"spec.maxTrialCount: {max_trials} must be greater than 0")
    if isinstance(parallel, int) and parallel <= 0:
        errors.append(f"spec.parallelTrialCount: {parallel} must be greater than 0")
    if isinstance(max_failed, int) and max_failed < 0:
        errors.append(f"spec.maxFailedTrialCount: {max_failed} should not be less than 0")
    if isinstance(max_trials, int) and isinstance(parallel, int) and parallel > max_trials:
        errors.append(
            f"spec.parallelTrialCount: {parallel} should be less than or equal to spec.maxTrialCount"
        )
    if isinstance(max_trials, int) and isinstance(max_failed, int) and max_failed > max_trials:
        errors.append(
            f"spec.maxFailedTrialCount: {max_failed} should be less than or equal to spec.maxTrialCount"
        )


def _enums(spec: Mapping[str, Any], errors: list[str]) -> None:
    objective = spec.get("objective") or {}
    _one_of(objective.get("type"), OBJECTIVE_TYPES, "spec.objective.type", errors)
    if not objective.get("objectiveMetricName"):
        errors.append("spec.objective.objectiveMetricName: must be specified")
    if objective.get("objectiveMetricName") in (objective.get("additionalMetricNames") or []):
        errors.append(
            "spec.objective.additionalMetricNames: should not contain spec.objective.objectiveMetricName"
        )
    names = {objective.get("objectiveMetricName"), *(objective.get("additionalMetricNames") or [])}
    for i, strategy in enumerate(objective.get("metricStrategies") or []):
        _one_of(strategy.get("value"), STRATEGIES, f"spec.objective.metricStrategies[{i}].value", errors)
        if strategy.get("name") not in names:
            errors.append(
                f"spec.objective.metricStrategies[{i}].name: {strategy.get('name')!r} is not a metric of "
                "the objective"
            )
    algorithm = spec.get("algorithm") or {}
    _one_of(algorithm.get("algorithmName"), ALGORITHMS, "spec.algorithm.algorithmName", errors)
    if spec.get("earlyStopping"):
        _one_of(
            spec["earlyStopping"].get("algorithmName"),
            EARLY_STOPPING_ALGORITHMS,
            "spec.earlyStopping.algorithmName",
            errors,
        )
    if spec.get("resumePolicy") not in (None, ""):
        _one_of(spec.get("resumePolicy"), RESUME_POLICIES, "spec.resumePolicy", errors)
    kind = ((spec.get("metricsCollectorSpec") or {}).get("collector") or {}).get("kind", "StdOut")
    _one_of(kind, COLLECTOR_KINDS, "spec.metricsCollectorSpec.collector.kind", errors)


def _parameters(spec: Mapping[str, Any], errors: list[str]) -> None:
    parameters = spec.get("parameters") or []
    algorithm = (spec.get("algorithm") or {}).get("algorithmName")
    if not parameters:
        errors.append("spec: spec.parameters or spec.nasConfig must be specified")
    seen: set[str] = set()
    for i, p in enumerate(parameters):
        where = f"spec.parameters[{i}]"
        name, kind, space = p.get("name"), p.get("parameterType"), p.get("feasibleSpace") or {}
        if not name:
            errors.append(f"{where}.name: must be specified")
        elif name in seen:
            errors.append(f"{where}.name: {name!r} is defined twice")
        seen.add(str(name))
        _one_of(kind, PARAMETER_TYPES, f"{where}.parameterType", errors)
        if space.get("distribution"):
            _one_of(space["distribution"], DISTRIBUTIONS, f"{where}.feasibleSpace.distribution", errors)
        if not space:
            errors.append(f"{where}.feasibleSpace: must be specified")
            continue
        if kind in ("int", "double"):
            _range(space, kind, algorithm, f"{where}.feasibleSpace", errors)
        elif kind in ("categorical", "discrete"):
            if any(space.get(k) not in (None, "") for k in ("min", "max", "step")):
                errors.append(f"{where}.feasibleSpace: .max, .min and .step are not supported for {kind}")
            values = space.get("list") or []
            if not values:
                errors.append(f"{where}.feasibleSpace.list: must not be empty for {kind}")
            if len(set(values)) != len(values):
                errors.append(f"{where}.feasibleSpace.list: lists a value twice")
            if kind == "discrete" and not all(_float(v) is not None for v in values):
                errors.append(f"{where}.feasibleSpace.list: discrete values must be numbers")


def _range(space: Mapping[str, Any], kind: str, algorithm: str | None, where: str, errors: list[str]) -> None:
    if space.get("list"):
        errors.append(f"{where}.list: not supported for parameterType {kind}")
    low, high = _float(space.get("min")), _float(space.get("max"))
    if low is None or high is None:
        errors.append(f"{where}: min and max must be numbers given as strings for {kind}")
        return
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        errors.append(f"{where}: min and max must be integers for int")
    if low >= high:
        errors.append(f"{where}: min ({space.get('min')}) must be smaller than max ({space.get('max')})")
    step = space.get("step")
    if step not in (None, "") and not ((_float(step) or 0) > 0):
        errors.append(f"{where}.step: {step!r} must be a positive number")
    if space.get("distribution") in ("logUniform", "logNormal") and low <= 0:
        errors.append(f"{where}: a {space['distribution']} range needs min > 0 (got {space.get('min')})")
    if algorithm == "bayesianoptimization" and kind == "double" and low <= 0:
        errors.append(
            f"{where}: bayesianoptimization samples every double log-uniformly, so min must be > 0 "
            f"(got {space.get('min')}); search it as a fixed-point int instead"
        )
    if algorithm == "grid" and kind == "double" and step in (None, ""):
        errors.append(f"{where}.step: grid needs a step for double parameters")


def _metrics(spec: Mapping[str, Any], errors: list[str]) -> None:
    collector = spec.get("metricsCollectorSpec") or {}
    kind = (collector.get("collector") or {}).get("kind", "StdOut")
    if kind not in ("StdOut", "File"):
        return
    filters = ((collector.get("source") or {}).get("filter") or {}).get("metricsFormat") or []
    for i, pattern in enumerate(filters):
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.append(
                f"spec.metricsCollectorSpec.source.filter.metricsFormat[{i}]: invalid regex ({exc})"
            )
            return
        if not _TWO_GROUPS.match(pattern):
            errors.append(
                f"spec.metricsCollectorSpec.source.filter.metricsFormat[{i}]: two top subexpressions "
                "are required"
            )
            return
    objective = spec.get("objective") or {}
    names = [objective.get("objectiveMetricName"), *(objective.get("additionalMetricNames") or [])]
    for name in filter(None, names):
        logs = parse_metrics([f"2026-01-01T00:00:00.000001Z {name}=0.5"], [name], filters, "0.19")
        if [(log.name, log.value) for log in logs] != [(name, "0.5")]:
            errors.append(
                f"spec.metricsCollectorSpec.source.filter: the collector's regex does not parse the "
                f"trainer's line {name}=0.5 (Katib's default has no '/'; set metricsFormat)"
            )


# --- the trial template, substituted --------------------------------------------------------------------


def _trial_template(
    experiment: Mapping[str, Any], errors: list[str], schemas: KubernetesSchemas, versions: tuple[str, ...]
) -> None:
    spec = experiment["spec"]
    template = spec.get("trialTemplate") or {}
    where = "spec.trialTemplate"
    for key in ("primaryContainerName", "successCondition", "failureCondition"):
        if not template.get(key):
            errors.append(f"{where}.{key}: must be specified")
    job = template.get("trialSpec")
    if not isinstance(job, Mapping) or template.get("configMap"):
        errors.append(f"{where}: give trialSpec (a Job), not a configMap template, so it can be checked")
        return
    if not job.get("apiVersion") or not job.get("kind"):
        errors.append(f"{where}.trialSpec: APIVersion and Kind must be specified")
    if (job.get("metadata") or {}).get("name") or (job.get("metadata") or {}).get("namespace"):
        errors.append(f"{where}.trialSpec: metadata.name and metadata.namespace must be omitted")
    parameter_names = {p["name"] for p in spec.get("parameters") or []}
    text = json.dumps(job)
    declared: dict[str, str] = {}
    references: set[str] = set()
    for i, tp in enumerate(template.get("trialParameters") or []):
        name, reference = tp.get("name"), tp.get("reference")
        at = f"{where}.trialParameters[{i}]"
        if not name or not reference or "{" in name or "}" in name:
            errors.append(
                f"{at}: name and reference must be specified and name must not contain '{{' or '}}'"
            )
            continue
        if name in declared:
            errors.append(f"{at}.name: {name!r} is declared twice")
        if reference in references:
            errors.append(f"{at}.reference: {reference!r} is referenced twice")
        declared[name], _ = reference, references.add(reference)
        meta = _META_REF.match(reference)
        if meta:
            key = re.sub(r"\[.+]$", "", meta.group(1))
            if key not in (*META_KEYS, "Labels", "Annotations"):
                errors.append(f"{at}.reference: {reference!r} is not trial metadata Katib knows")
        elif reference not in parameter_names:
            errors.append(f"{at}.reference: {reference!r} is not in spec.parameters")
        if param_ref(name) not in text:
            errors.append(f"{at}.name: {name!r} is not used in spec.trialTemplate.trialSpec")
    used = set(_PARAM_REF.findall(text))
    for name in sorted(used - set(declared)):
        errors.append(f"{where}.trialSpec: ${{trialParameters.{name}}} is not declared in trialParameters")
    for name in sorted(parameter_names - references):
        errors.append(
            f"{where}.trialParameters: search parameter {name!r} never reaches the trial "
            "(no trialParameter references it)"
        )
    if errors:
        return
    for label, assignments in _sample_assignments(spec).items():
        _check_rendered(experiment, assignments, label, errors, schemas, versions)
        if errors:
            return


def _sample_assignments(spec: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Assignments that put every parameter at each end of its range and on each list value."""
    samples: dict[str, dict[str, str]] = {"low": {}, "high": {}}
    lists: dict[str, list[str]] = {}
    for p in spec.get("parameters") or []:
        space = p.get("feasibleSpace") or {}
        if p.get("parameterType") in ("int", "double"):
            samples["low"][p["name"]], samples["high"][p["name"]] = space["min"], space["max"]
        else:
            values = list(space.get("list") or [])
            samples["low"][p["name"]], samples["high"][p["name"]] = values[0], values[-1]
            lists[p["name"]] = values
    for name, values in lists.items():
        for value in values[1:-1]:
            samples[f"{name}={value}"] = {**samples["low"], name: value}
    return samples


def _check_rendered(
    experiment: Mapping[str, Any],
    assignments: dict[str, str],
    label: str,
    errors: list[str],
    schemas: KubernetesSchemas,
    versions: tuple[str, ...],
) -> None:
    template = experiment["spec"]["trialTemplate"]
    where = f"spec.trialTemplate (trial with {label} values)"
    try:
        job = render_trial(experiment, assignments, f"{experiment['metadata']['name']}-abcd1234", "sample-ns")
    except (ValueError, KeyError) as exc:
        errors.append(f"{where}: substituting the values breaks the template ({exc})")
        return
    left = unresolved_references(job)
    if left:
        errors.append(f"{where}: unresolved {', '.join(left)}")
    for version in versions:
        try:
            errors += [f"{where} @ Kubernetes {version}: {e}" for e in schemas.errors(job, version)]
        except SchemaUnavailable:
            break  # kubernetes-validate is missing: the Katib rules above still apply

    try:
        container = primary_container(job, template["primaryContainerName"])
    except Exception as exc:
        errors.append(f"{where}: {exc}")
        return
    env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or [] if "name" in e}
    for i, arg in enumerate([*container.get("command", []), *container.get("args", [])]):
        if kubelet_expand(arg, env) != arg:
            errors.append(
                f"{where}: command/args[{i}] is changed by the kubelet's $(VAR)/$$ expansion; "
                "write $$ as $$$$ or avoid it"
            )
        elif not _PLAIN_WORD.match(arg):
            errors.append(
                f"{where}: command/args[{i}] {arg!r} is not a plain word: Katib's StdOut collector joins the "
                "command into an `sh -c` line, which would split or expand it"
            )


def _one_of(value: Any, allowed: tuple[str, ...], where: str, errors: list[str]) -> None:
    if value not in allowed:
        errors.append(f"{where}: {value!r} is not one of {', '.join(allowed)}")


def _float(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
