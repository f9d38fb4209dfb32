"""Katib acceptance rules ported from upstream kubeflow/katib, per supported Katib version.

This is a test-support library: it answers "would the real Katib controllers
of version X accept / parse this?" without a cluster.  Each function names
the upstream file and tag it ports.  Katib tags: ``v0.17.0``, ``v0.18.0``,
``v0.19.0`` (Kubeflow 1.9 - 1.11).  ``validator.go`` is identical at v0.18.0
and v0.19.0; v0.17.0 returns the first error only and differs in a few rules
(noted where they apply).

Public API
----------
``KATIB_VERSIONS``
    ``("0.17", "0.18", "0.19")``.
``validate_experiment(experiment, katib_version, *, namespace_labels=None,
apply_defaults=True) -> list[str]``
    The Experiment admission webhooks on CREATE: the mutating webhook's
    ``SetDefault`` then ``ValidateExperiment``.  Empty list = accepted.  For
    0.17 at most one message (upstream returns the first error); for 0.18/0.19
    one message per ``field.Error`` formatted like ``field.Error.Error()``.
``trial_job_round_trip(job, katib_version) -> dict``
    What the webhook's typed round trip (``FromUnstructured`` into
    ``batch/v1.Job`` then ``json.Marshal``) makes of a Job manifest.  Raises
    ``ConversionError`` where ``FromUnstructured`` fails.
``trial_job_patch_errors(job, katib_version) -> list[str]``
    The JSON-patch comparison of ``validatePatchJob``: every operation that
    upstream would reject (upstream reports only one, chosen by Go map order).
``parse_metrics(lines, metric_names, metrics_formats, katib_version) -> list[Observation]``
    TEXT-format metrics collector parsing (StdOut and File collectors).
``trial_resource_watched(trial_spec, katib_version, trial_resources=None) -> bool``
    Whether katib-controller watches the trial's kind (katib-config ``trialResources``; not a webhook
    rule).  ``DEFAULT_TRIAL_RESOURCES`` holds the lists Kubeflow installs.
``pod_webhook_errors(trial_template, pod_labels, containers, katib_version, collector_kind) -> list[str]``
    The primary-container look-ups of the pod mutating webhook (every trial pod from v0.18.0).
``objective_value(observations, metric_name, strategy) -> float | None``
    The trial controller's ``getMetrics`` after the DB's ``ORDER BY time``.
    Returns ``None`` where upstream records ``"unavailable"``; raises
    ``AmbiguousMetricError`` for ``"latest"`` when the newest timestamp is
    shared by observations with different values (upstream's answer then
    depends on the database's unspecified order of tied rows).

Not ported (cannot decide acceptance of an Experiment we create, or need
cluster state): the update path (``oldInst``: restart / editable fields),
ConfigMap trial templates (need the ConfigMap; pass ``trialSpec``), the
``FromVolume`` PersistentVolume existence check, and the katib-config image
checks (the default katib-config of each tag is assumed; pass
``katib_config`` to override the algorithm lists).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime

from tests.kube.upstream.gojson import (
    ZERO_TIME_RFC3339,
    ConversionError,
    create_patch,
    from_unstructured,
    go_fmt_v,
    go_json_dumps,
    marshal,
    parse_rfc3339,
)

KATIB_VERSIONS = ("0.17", "0.18", "0.19")
KATIB_TAGS = {"0.17": "v0.17.0", "0.18": "v0.18.0", "0.19": "v0.19.0"}

__all__ = [
    "DEFAULT_TRIAL_RESOURCES",
    "KATIB_TAGS",
    "KATIB_VERSIONS",
    "UNAVAILABLE_METRIC_VALUE",
    "AmbiguousMetricError",
    "ConversionError",
    "Observation",
    "objective_value",
    "parse_metrics",
    "pod_webhook_errors",
    "set_experiment_defaults",
    "trial_job_patch_errors",
    "trial_job_round_trip",
    "trial_resource_watched",
    "validate_experiment",
]


def _check_version(katib_version: str) -> None:
    if katib_version not in KATIB_VERSIONS:
        raise ValueError(f"unsupported Katib version {katib_version!r}; supported: {KATIB_VERSIONS}")


# =========================================================================== defaults

#: ``manifests/v1beta1/installs/katib-standalone/katib-config.yaml`` (identical lists at the three tags)
DEFAULT_KATIB_CONFIG = {
    "suggestions": [
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
    ],
    "earlyStoppings": ["medianstop"],
    "metricsCollectors": ["StdOut", "File", "TensorFlowEvent"],
}

#: ``trialResources`` of the katib-config Kubeflow installs (manifests/v1beta1/installs/katib-cert-manager/
#: katib-config.yaml, used by installs/katib-with-kubeflow; the same list is in katib-standalone except
#: that v0.19.0's katib-external-db/-leader-election/-openshift/-standalone-postgres lack TrainJob).
#: Katib's own default when the list is empty is ``["Job.v1.batch"]`` (pkg/apis/config/v1beta1/defaults.go).
DEFAULT_TRIAL_RESOURCES = {
    "0.17": (
        "Job.v1.batch",
        "TFJob.v1.kubeflow.org",
        "PyTorchJob.v1.kubeflow.org",
        "MPIJob.v1.kubeflow.org",
        "XGBoostJob.v1.kubeflow.org",
        "MXJob.v1.kubeflow.org",
    ),
    "0.18": (
        "Job.v1.batch",
        "TFJob.v1.kubeflow.org",
        "PyTorchJob.v1.kubeflow.org",
        "MPIJob.v1.kubeflow.org",
        "XGBoostJob.v1.kubeflow.org",
    ),
    "0.19": (
        "TrainJob.v1alpha1.trainer.kubeflow.org",
        "Job.v1.batch",
        "TFJob.v1.kubeflow.org",
        "PyTorchJob.v1.kubeflow.org",
        "MPIJob.v1.kubeflow.org",
        "XGBoostJob.v1.kubeflow.org",
    ),
}


def trial_resource_watched(
    trial_spec: dict, katib_version: str, trial_resources: list[str] | tuple[str, ...] | None = None
) -> bool:
    """Does katib-controller watch the trial's job kind?

    Not a webhook rule: the Experiment webhook (validator.go @ v0.17.0/v0.18.0/v0.19.0) accepts any
    apiVersion/kind and only round-trips ``batch/v1`` Jobs.  ``trialResources`` is read at start-up
    (cmd/katib-controller/v1beta1/main.go, ``TrialResourcesToGVKs`` in pkg/util/v1beta1/katibconfig/config.go
    with apimachinery ``schema.ParseKindArg``: ``Kind.version.group``) and the trial controller
    (pkg/controller.v1beta1/trial/trial_controller.go ``add``) watches only those kinds -- and skips any whose
    CRD is missing at start-up.  An unlisted kind is created but its status changes do not reach the Trial.
    ``trial_resources`` defaults to ``DEFAULT_TRIAL_RESOURCES[katib_version]``; an entry with fewer than
    two dots makes katib-controller exit (``ValueError`` here).
    """
    _check_version(katib_version)
    resources = DEFAULT_TRIAL_RESOURCES[katib_version] if trial_resources is None else trial_resources
    if not resources:
        resources = ("Job.v1.batch",)  # SetDefaults_KatibConfig fills an empty list
    api_version = trial_spec.get("apiVersion", "") or ""
    group, _, version = api_version.rpartition("/")
    for entry in resources:
        if entry.count(".") < 2:
            raise ValueError(f"invalid GroupVersionKinds: {entry!r}")
        kind, ver, grp = entry.split(".", 2)
        if (kind, ver, grp) == (trial_spec.get("kind"), version, group):
            return True
    return False


DEFAULT_JOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
DEFAULT_JOB_FAILURE_CONDITION = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
_KUBEFLOW_SUCCESS = 'status.conditions.#(type=="Succeeded")#|#(status=="True")#'
_KUBEFLOW_JOB_KINDS = {"TFJob", "PyTorchJob", "XGBoostJob", "MPIJob"}


def set_experiment_defaults(experiment: dict, katib_version: str) -> dict:
    """Port of ``Experiment.SetDefault`` (pkg/apis/controller/experiments/v1beta1/experiment_defaults.go
    @ v0.17.0 / v0.18.0 / v0.19.0), applied by the mutating webhook before validation.

    Returns a defaulted deep copy.  ``setDefaultParameterDistribution`` (uniform)
    exists from v0.18.0 on; the TrainJob defaults of v0.19.0 are included.
    """
    _check_version(katib_version)
    exp = json.loads(json.dumps(experiment))
    spec = exp.setdefault("spec", {})
    if spec.get("parallelTrialCount") is None:
        spec["parallelTrialCount"] = 3
    if not spec.get("resumePolicy"):
        spec["resumePolicy"] = "Never"
    obj = spec.get("objective")
    if obj is not None:
        strategies = obj.get("metricStrategies") or []
        obj["metricStrategies"] = strategies
        names = {s.get("name") for s in strategies if s.get("name") != obj.get("objectiveMetricName")}
        has_obj = any(s.get("name") == obj.get("objectiveMetricName") for s in strategies)
        by_type = {"minimize": "min", "maximize": "max"}.get(obj.get("type", ""), "latest")
        if not has_obj:
            strategies.append({"name": obj.get("objectiveMetricName", ""), "value": by_type})
        for m in obj.get("additionalMetricNames") or []:
            if m not in names:
                strategies.append({"name": m, "value": by_type})
    tt = spec.get("trialTemplate")
    if tt is not None and tt.get("trialSpec") is not None:
        kind = (tt["trialSpec"] or {}).get("kind", "")
        if kind == "Job":
            if not tt.get("successCondition"):
                tt["successCondition"] = DEFAULT_JOB_SUCCESS_CONDITION
            if not tt.get("failureCondition"):
                tt["failureCondition"] = DEFAULT_JOB_FAILURE_CONDITION
        elif kind in _KUBEFLOW_JOB_KINDS or (katib_version == "0.19" and kind == "TrainJob"):
            train = kind == "TrainJob"
            if not tt.get("successCondition"):
                tt["successCondition"] = DEFAULT_JOB_SUCCESS_CONDITION if train else _KUBEFLOW_SUCCESS
            if not tt.get("failureCondition"):
                tt["failureCondition"] = DEFAULT_JOB_FAILURE_CONDITION
            if not tt.get("primaryPodLabels"):
                tt["primaryPodLabels"] = (
                    {
                        "jobset.sigs.k8s.io/replicatedjob-name": "node",
                        "batch.kubernetes.io/job-completion-index": "0",
                    }
                    if train
                    else {"training.kubeflow.org/job-role": "master"}
                )
    mcs = spec.get("metricsCollectorSpec")
    if mcs is None:
        mcs = spec["metricsCollectorSpec"] = {}
    if mcs.get("collector") is None:
        mcs["collector"] = {"kind": "StdOut"}
    kind = mcs["collector"].get("kind", "")
    if kind == "PrometheusMetric":
        src = mcs.setdefault("source", {}) or {}
        mcs["source"] = src
        hg = src.get("httpGet") or {}
        src["httpGet"] = hg
        hg["path"] = hg.get("path") or "/metrics"
        if str(hg.get("port", 0)) == "0":
            hg["port"] = 8080
    elif kind in ("File", "TensorFlowEvent"):
        src = mcs.get("source") or {}
        mcs["source"] = src
        fsp = src.get("fileSystemPath") or {}
        src["fileSystemPath"] = fsp
        if kind == "File":
            fsp["kind"] = fsp.get("kind") or "File"
            fsp["path"] = fsp.get("path") or "/var/log/katib/metrics.log"
            fsp["format"] = fsp.get("format") or "TEXT"
        else:
            fsp["kind"] = fsp.get("kind") or "Directory"
            fsp["path"] = fsp.get("path") or "/var/log/katib/tfevent/"
    if katib_version in ("0.18", "0.19"):
        for p in spec.get("parameters") or []:
            fs = p.get("feasibleSpace")
            if fs is None:
                fs = p["feasibleSpace"] = {}
            if not fs.get("distribution"):
                fs["distribution"] = "uniform"
    return exp


# =========================================================================== field errors


_FMT_VERSION: contextvars.ContextVar[str] = contextvars.ContextVar("katib_fmt_version", default="0.19")


def _go_value(v: object) -> str:
    """BadValue rendering of ``field.Error.ErrorBody`` (apimachinery util/validation/field/errors.go):
    Go strings are %q-quoted, numbers/bools printed plainly; anything else is JSON-marshalled at
    apimachinery v0.34.0 (Katib 0.19) but printed with ``%#v`` at v0.31.3 (Katib 0.18), which this
    renders exactly for string lists (``[]string{"a"}``) and approximately otherwise."""
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return go_fmt_v(v)
    if _FMT_VERSION.get() == "0.18":
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return "[]string{" + ", ".join(json.dumps(x, ensure_ascii=False) for x in v) + "}"
        return go_fmt_v(v)
    return go_json_dumps(v)


def _invalid(path: str, value: object, detail: str) -> str:
    return f"{path}: Invalid value: {_go_value(value)}: {detail}"


def _required(path: str, detail: str) -> str:
    return f"{path}: Required value: {detail}"


class _FirstError(Exception):
    """v0.17.0 returns the first error (``fmt.Errorf``); this unwinds to the caller."""


class _Errors:
    def __init__(self, katib_version: str):
        self.version = katib_version
        self.items: list[str] = []

    @property
    def legacy(self) -> bool:
        return self.version == "0.17"

    def add(self, new_msg: str, legacy_msg: str | None) -> None:
        """Record an error; ``legacy_msg`` is v0.17.0's text (None: no such check at v0.17.0)."""
        if self.legacy:
            if legacy_msg is None:
                return
            self.items.append(legacy_msg)
            raise _FirstError
        self.items.append(new_msg)


# =========================================================================== experiment validation

_NAME_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_PARAM_PLACEHOLDER = "${trialParameters.%s}"
_PARAM_RE = re.compile(r"\$\{trialParameters\..+?\}")
_META_RE = re.compile(r"\$\{trialSpec\.(.+?)\}")
_META_PARSE_RE = re.compile(r"(.+)\[(.+)]")
_META_KEYS = ("Name", "Namespace", "Kind", "APIVersion", "Annotations", "Labels")
_PARAMETER_TYPES = ("int", "double", "categorical", "discrete", "unknown")
_DISTRIBUTIONS = ("uniform", "logUniform", "normal", "logNormal", "unknown")


def validate_experiment(
    experiment: dict,
    katib_version: str,
    *,
    namespace_labels: dict | None = None,
    apply_defaults: bool = True,
    katib_config: dict | None = None,
) -> list[str]:
    """Port of the Experiment admission path on CREATE.

    Upstream: ``pkg/webhook/v1beta1/experiment/mutate_webhook.go`` (SetDefault),
    ``pkg/webhook/v1beta1/experiment/validation_webhook.go`` (namespace label
    check, only when ``namespace_labels`` is given) and
    ``pkg/webhook/v1beta1/experiment/validator/validator.go``
    (``ValidateExperiment`` and what it calls) at v0.17.0, v0.18.0, v0.19.0.
    """
    _check_version(katib_version)
    cfg = {**DEFAULT_KATIB_CONFIG, **(katib_config or {})}
    exp = (
        set_experiment_defaults(experiment, katib_version)
        if apply_defaults
        else json.loads(json.dumps(experiment))
    )
    errs = _Errors(katib_version)
    name = (exp.get("metadata") or {}).get("name", "")
    ns = (exp.get("metadata") or {}).get("namespace", "")
    if (
        namespace_labels is not None
        and namespace_labels.get("katib.kubeflow.org/metrics-collector-injection") != "enabled"
    ):
        return [
            f'Cannot create the Experiment "{name}" in namespace "{ns}": the namespace lacks label '
            '"katib.kubeflow.org/metrics-collector-injection: enabled"'
        ]
    token = _FMT_VERSION.set(katib_version)
    try:
        with contextlib.suppress(_FirstError):
            _validate(exp, errs, cfg)
    finally:
        _FMT_VERSION.reset(token)
    # field.ErrorList.ToAggregate().Error() shows each distinct message once
    return list(dict.fromkeys(errs.items))


def _validate(exp: dict, errs: _Errors, cfg: dict) -> None:
    """``ValidateExperiment`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0), create path (``oldInst == nil``)."""
    spec = exp.get("spec") or {}
    name = (exp.get("metadata") or {}).get("name", "")
    # Go's MatchString is an unanchored search: any lower-case letter anywhere passes.
    too_long = len(name) > 40 and not errs.legacy
    if not _NAME_RE.search(name) or too_long:
        errs.add(
            _invalid(
                "metadata.name",
                name,
                "name must consist of lower case alphanumeric characters or '-', start with an alphabetic "
                "character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123', regex used "
                "for validation is '^[a-z]([-a-z0-9]*[a-z0-9])?)') and may not be longer than 40 characters. ",
            ),
            "name must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
            "and end with an alphanumeric character (e.g. 'my-name', or 'abc-123', regex used for validation is "
            "'^[a-z]([-a-z0-9]*[a-z0-9])?)'",
        )
    mf, mt, pt = spec.get("maxFailedTrialCount"), spec.get("maxTrialCount"), spec.get("parallelTrialCount")
    if mf is not None and mf < 0:
        errs.add(
            _invalid("spec.maxFailedTrialCount", mf, "should not be less than 0"),
            "spec.maxFailedTrialCount should not be less than 0",
        )
    if mt is not None and mt <= 0:
        errs.add(
            _invalid("spec.maxTrialCount", mt, "must be greater than 0"),
            "spec.maxTrialCount must be greater than 0",
        )
    if pt is not None and pt <= 0:
        errs.add(
            _invalid("spec.parallelTrialCount", pt, "must be greater than 0"),
            "spec.parallelTrialCount must be greater than 0",
        )
    if mf is not None and mt is not None and mf > mt:
        errs.add(
            _invalid("spec.maxFailedTrialCount", mf, "should be less than or equal to spec.maxTrialCount"),
            "spec.maxFailedTrialCount should be less than or equal to spec.maxTrialCount",
        )
    if pt is not None and mt is not None and pt > mt:
        errs.add(
            _invalid("spec.parallelTrialCount", pt, "should be less than or equal to spec.maxTrialCount"),
            "spec.paralelTrialCount should be less than or equal to spec.maxTrialCount",
        )

    if _validate_objective(spec.get("objective"), errs):
        return  # upstream returns right after objective errors
    _validate_algorithm(spec.get("algorithm"), errs, cfg)
    _validate_early_stopping(spec.get("earlyStopping"), errs, cfg)
    rp = spec.get("resumePolicy", "") or ""
    if rp not in ("", "Never", "LongRunning", "FromVolume"):
        errs.add(
            _invalid("spec.resumePolicy", rp, "invalid ResumePolicyType"), f"invalid ResumePolicyType {rp}"
        )
    _validate_trial_template(exp, errs)
    params = spec.get("parameters") or []
    if not params and spec.get("nasConfig") is None:
        errs.add(
            _required("spec", "spec.parameters or spec.nasConfig must be specified"),
            "spec.parameters or spec.nasConfig must be specified",
        )
    if params and spec.get("nasConfig") is not None:
        errs.add(
            _invalid("spec", spec, "only one of spec.parameters and spec.nasConfig can be specified"),
            "only one of spec.parameters and spec.nasConfig can be specified",
        )
    if params:
        _validate_parameters(params, errs)
    _validate_metrics_collector(spec, errs, cfg)


def _validate_objective(obj: dict | None, errs: _Errors) -> bool:
    """``validateObjective`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0); True when it found errors (the caller then stops)."""
    before = len(errs.items)
    p = "spec.objective"
    if obj is None:
        errs.add(_required(p, "must be specified"), "no spec.objective specified")
        return True
    typ = obj.get("type", "") or ""
    if typ not in ("minimize", "maximize"):
        errs.add(
            _invalid(p + ".type", typ, "must be minimize or maximize"),
            "spec.objective.type must be minimize or maximize",
        )
    if not obj.get("objectiveMetricName"):
        errs.add(
            _required(p + ".objectiveMetricName", "must be specified"),
            "no spec.objective.objectiveMetricName specified",
        )
    if obj.get("objectiveMetricName", "") in (obj.get("additionalMetricNames") or []):
        errs.add(
            _invalid(
                p + ".additionalMetricNames",
                obj.get("additionalMetricNames"),
                "should not contain spec.objective.objectiveMetricName",
            ),
            "spec.objective.additionalMetricNames should not contain spec.objective.objectiveMetricName",
        )
    return len(errs.items) > before


def _validate_algorithm(ag: dict | None, errs: _Errors, cfg: dict) -> None:
    """``validateAlgorithm`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0) with ``GetSuggestionConfigData``
    (pkg/util/v1beta1/katibconfig/config.go, same tags) against the default katib-config."""
    p = "spec.algorithm"
    if ag is None:
        errs.add(_required(p, "must be specified"), "no spec.algorithm specified")
        return
    name = ag.get("algorithmName", "") or ""
    if not name:
        errs.add(_required(p + ".algorithmName", "must be specified"), "no spec.algorithm.name specified")
    if name not in cfg["suggestions"]:
        inner = f"failed to find suggestion config for algorithm: {name} in ConfigMap: katib-config"
        errs.add(
            _invalid(
                p + ".algorithmName",
                name,
                f"unable to get Suggestion config data for algorithm {name}: {inner}",
            ),
            f"unable to get Suggestion config data for algorithm {name}: {inner}",
        )


def _validate_early_stopping(es: dict | None, errs: _Errors, cfg: dict) -> None:
    """``validateEarlyStopping`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0) with ``GetEarlyStoppingConfigData`` (katibconfig/config.go)."""
    if es is None:
        return
    p = "spec.earlyStopping.algorithmName"
    name = es.get("algorithmName", "") or ""
    if not name:
        errs.add(_required(p, "must be specified"), "no spec.earlyStopping.algorithmName specified")
    if name not in cfg["earlyStoppings"]:
        inner = f"failed to find early stopping config for algorithm: {name} in ConfigMap: katib-config"
        errs.add(
            _invalid(p, name, f"unable to get EarlyStopping config data for algorithm {name}: {inner}"),
            f"unable to get EarlyStopping config data for algorithm {name}: {inner}",
        )


def _validate_parameters(params: list[dict], errs: _Errors) -> None:
    """``validateParameters`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0).  v0.17.0 differs: no distribution check, and int/double need only
    one of min/max (``&&``) where v0.18.0+ need both (``||``)."""
    for i, param in enumerate(params):
        p = f"spec.parameters[{i}]"
        ptype = param.get("parameterType", "") or ""
        fs = param.get("feasibleSpace") or {}
        pv = go_fmt_v(param)
        if ptype not in _PARAMETER_TYPES:
            errs.add(
                _invalid(p + ".parameterType", ptype, f"parameterType: {ptype} is not supported"),
                f"parameterType: {ptype} is not supported in spec.parameters[{i}]: {pv}",
            )
        dist = fs.get("distribution", "") or ""
        if dist and dist not in _DISTRIBUTIONS:
            errs.add(
                _invalid(p + ".feasibleSpace.distribution", dist, f"distribution: {dist} is not supported"),
                None,
            )
        if not any(fs.get(k) for k in ("max", "min", "step", "distribution")) and not fs.get("list"):
            errs.add(
                _required(p + ".feasibleSpace", "feasibleSpace must be specified"),
                f"feasibleSpace must be specified in spec.parameters[{i}]: {pv}",
            )
            continue
        if ptype in ("double", "int"):
            if fs.get("list"):
                errs.add(
                    _invalid(
                        p + ".feasibleSpace.list",
                        fs.get("list"),
                        f"feasibleSpace.list is not supported for parameterType: {ptype}",
                    ),
                    f"feasibleSpace.list is not supported for parameterType: {ptype} in spec.parameters[{i}]: {pv}",
                )
            missing = (
                (not fs.get("max") and not fs.get("min"))
                if errs.legacy
                else (not fs.get("max") or not fs.get("min"))
            )
            if missing:
                errs.add(
                    _required(
                        p + ".feasibleSpace.max",
                        f"feasibleSpace.max or feasibleSpace.min must be specified for parameterType: {ptype}",
                    ),
                    f"feasibleSpace.max or feasibleSpace.min must be specified for parameterType: {ptype} "
                    f"in spec.parameters[{i}]: {pv}",
                )
        elif ptype in ("categorical", "discrete") and (fs.get("max") or fs.get("min") or fs.get("step")):
            errs.add(
                _invalid(
                    p + ".feasibleSpace",
                    fs,
                    f"feasibleSpace .max, .min and .step is not supported for parameterType: {ptype}",
                ),
                f"feasibleSpace .max, .min and .step is not supported for parameterType: {ptype} "
                f"in spec.parameters[{i}]: {pv}",
            )


def _is_meta_key(reference: str) -> bool:
    """``isMetaKey`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0) with the regexes of pkg/controller.v1beta1/consts/const.go."""
    m = _META_RE.search(reference)
    if not m:
        return False
    key = m.group(1)
    if key in _META_KEYS:
        return True
    sub = _META_PARSE_RE.search(key)
    return bool(sub and sub.group(1) in _META_KEYS)


def _validate_trial_template(exp: dict, errs: _Errors) -> None:
    """``validateTrialTemplate`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0), with ``GetTrialTemplate``
    (pkg/controller.v1beta1/experiment/manifest/generator.go) and ``ConvertStringToUnstructured``
    (pkg/controller.v1beta1/util/unstructured.go) at the same tags."""
    spec = exp.get("spec") or {}
    tt = spec.get("trialTemplate")
    p = "spec.trialTemplate"
    if tt is None:
        errs.add(_required(p, "must be specified"), "spec.trialTemplate must be specified")
        return
    if not tt.get("primaryContainerName"):
        errs.add(
            _required(p + ".primaryContainerName", "must be specified"),
            "spec.trialTemplate.primaryContainerName must be specified",
        )
    if not tt.get("successCondition") or not tt.get("failureCondition"):
        errs.add(
            _required(p, "successCondition and failureCondition must be specified"),
            "spec.trialTemplate.successCondition and spec.trialTemplate.failureCondition must be specified",
        )
    if tt.get("trialParameters") is None:
        errs.add(
            _required(p + ".trialParameters", "must be specified"),
            "spec.trialTemplate.trialParameters must be specified",
        )
        return
    trial_spec, config_map = tt.get("trialSpec"), tt.get("configMap")
    if trial_spec is None and config_map is None:
        errs.add(
            _required(
                p + ".TrialSource",
                "spec.trialTemplate.trialSpec or spec.trialTemplate.configMap must be specified",
            ),
            "spec.trialTemplate.trialSpec or spec.trialTemplate.configMap must be specified",
        )
        return
    if trial_spec is not None and config_map is not None:
        errs.add(
            _required(
                p, "only one of spec.trialTemplate.trialSpec or spec.trialTemplate.configMap can be specified"
            ),
            "only one of spec.trialTemplate.trialSpec or spec.trialTemplate.configMap can be specified",
        )
        return
    if config_map is not None:
        if not all(config_map.get(k) for k in ("configMapName", "configMapNamespace", "templatePath")):
            errs.add(
                _required(
                    p + ".configMap", "configMapName, configMapNamespace and templatePath must be specified"
                ),
                "for spec.trialTemplate.configMap .configMapName and .configMapNamespace and .templatePath must be specified",
            )
            return
        raise NotImplementedError(
            "ConfigMap trial templates need the ConfigMap; pass spec.trialTemplate.trialSpec"
        )
    if "kind" not in trial_spec:  # Unstructured.UnmarshalJSON refuses objects without kind
        errs.add(
            _invalid(p, "", "unable to parse spec.trialTemplate: Object 'Kind' is missing"),
            "unable to parse spec.trialTemplate: Object 'Kind' is missing",
        )
        return
    # GetTrialTemplate: Unstructured.MarshalJSON of the trial spec
    template = go_json_dumps(trial_spec)
    exp_param_names = {pp.get("name") for pp in spec.get("parameters") or []}
    names: set[str] = set()
    refs: set[str] = set()
    tps = tt["trialParameters"]
    for i, tp in enumerate(tps):
        tpp = f"{p}.trialParameters[{i}]"
        pname, ref = tp.get("name", "") or "", tp.get("reference", "") or ""
        if not pname or not ref or "{" in pname or "}" in pname:
            errs.add(
                _invalid(
                    tpp, "", "name and reference must be specified and name must not contain '{' or '}'"
                ),
                f"invalid spec.trialTemplate.trialParameters: {go_fmt_v(tp)}",
            )
            continue
        if pname in names:
            errs.add(
                _invalid(
                    tpp + ".name",
                    pname,
                    f"parameter name {pname} can't be duplicated in spec.trialTemplate.trialParameters: {go_fmt_v(tps)}",
                ),
                f"parameter name {pname} can't be duplicated in spec.trialTemplate.trialParameters: {go_fmt_v(tps)}",
            )
            continue
        if ref in refs:
            errs.add(
                _invalid(
                    tpp + ".reference",
                    ref,
                    f"parameter reference {ref} can't be duplicated in spec.trialTemplate.trialParameters: {go_fmt_v(tps)}",
                ),
                f"parameter reference {ref} can't be duplicated in spec.trialTemplate.trialParameters: {go_fmt_v(tps)}",
            )
            continue
        names.add(pname)
        refs.add(ref)
        if exp_param_names and not _is_meta_key(ref) and ref not in exp_param_names:
            msg = f"parameter reference {ref} does not exist in spec.parameters: {go_fmt_v(spec.get('parameters'))}"
            errs.add(_invalid(tpp + ".reference", ref, msg), msg)
        placeholder = _PARAM_PLACEHOLDER % pname
        if placeholder not in template:
            msg = (
                f"parameter name: {pname} in spec.trialParameters not found in spec.trialTemplate: {template}"
            )
            errs.add(_invalid(tpp + ".name", pname, msg), msg)
            return
        template = template.replace(placeholder, "test-value")
    left = _PARAM_RE.findall(template)
    if left:
        msg = f"parameters: [{' '.join(left)}] in spec.trialTemplate not found in spec.trialParameters: {go_fmt_v(tps)}"
        errs.add(_invalid(p, "", msg), msg)
    try:
        run_spec = json.loads(template)
        if not isinstance(run_spec, dict) or "kind" not in run_spec:
            raise ValueError
    except ValueError:
        msg = f"unable to convert spec.trialTemplate: {template} to unstructured"
        errs.add(_invalid(p, "", msg), msg)
        return
    md = run_spec.get("metadata") if isinstance(run_spec.get("metadata"), dict) else {}
    if md.get("name") or md.get("namespace"):
        errs.add(
            _invalid(p, "", "metadata.name and metadata.namespace in spec.trialTemplate must be omitted"),
            "metadata.name and metadata.namespace in spec.trialTemplate must be omitted",
        )
    if not run_spec.get("apiVersion") or not run_spec.get("kind"):
        errs.add(
            _required(p, "APIVersion and Kind in spec.trialTemplate must be specified"),
            "APIVersion and Kind in spec.trialTemplate must be specified",
        )
    err = _validate_trial_job(run_spec, errs.version)
    if err:
        errs.add(_invalid(p, "", f"invalid spec.trialTemplate: {err}"), f"invalid spec.trialTemplate: {err}")


def _validate_trial_job(run_spec: dict, katib_version: str) -> str | None:
    """``validateTrialJob`` / ``validatePatchJob`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0): only ``batch/v1`` ``Job`` is checked.
    Upstream reports one offending operation, picked by Go map order; here the first in path order."""
    if run_spec.get("apiVersion") != "batch/v1" or run_spec.get("kind") != "Job":
        return None
    try:
        after = trial_job_round_trip(run_spec, katib_version)
    except ConversionError as exc:
        return f"unable to convert spec.TrialTemplate: {go_fmt_v(run_spec)} to Job: {exc}"
    bad = _patch_errors(run_spec, after)
    if bad:
        op = bad[0]
        return (
            f"unable to convert: {op.path} - {go_fmt_v(op.value)} to Job, "
            f"converted template: {go_json_dumps(after, sort_keys=False)}"
        )
    return None


def trial_job_round_trip(job: dict, katib_version: str) -> dict:
    """What ``json.Marshal`` gives for the ``batch/v1.Job`` that
    ``runtime.DefaultUnstructuredConverter.FromUnstructured(job)`` produced.

    Upstream: ``validateTrialJob``/``validatePatchJob`` in
    pkg/webhook/v1beta1/experiment/validator/validator.go at v0.17.0, v0.18.0,
    v0.19.0, with apimachinery ``pkg/runtime/converter.go`` and the struct tags
    of k8s.io/api v0.29.3 / v0.31.3 / v0.34.0 (see data/k8s_job_json_fields.json).

    Unknown fields are dropped; omitempty fields with an empty value
    (``[]``, ``{}``, ``""``, ``0``, ``false``, nil) are dropped; nil
    non-omitempty slices/maps/pointers become ``null``; non-omitempty zero
    scalars appear; struct-typed fields always appear (``metadata: {}``,
    ``status: {}``) unless tagged ``omitzero`` (Go >= 1.24, only
    ``metadata.creationTimestamp`` at k8s 0.34).  Quantities are
    canonicalised (``"1000m"`` -> ``"1"``).  Raises ``ConversionError``.
    """
    _check_version(katib_version)
    desc = {"kind": "struct", "name": "batch/v1.Job"}
    value = from_unstructured(job, desc, katib_version)
    return marshal(value, desc, katib_version)


def _patch_errors(before: dict, after: dict):
    """The operation filter of ``validatePatchJob`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0)."""
    ops = create_patch(after, before)
    return [
        op
        for op in ops
        if op.op != "remove" and "/resources/limits/" not in op.path and "/resources/requests/" not in op.path
    ]


def trial_job_patch_errors(job: dict, katib_version: str) -> list[str]:
    """All JSON-patch operations (``jsonpatch.CreatePatch(after, before)``) that
    ``validatePatchJob`` (validator.go @ v0.17.0/v0.18.0/v0.19.0) rejects: anything but
    ``remove``, except under ``/resources/limits/`` and ``/resources/requests/``.
    Formatted ``"<op> <path> <value-as-json>"``.  Raises ``ConversionError``."""
    after = trial_job_round_trip(job, katib_version)
    return [f"{op.op} {op.path} {json.dumps(op.value)}" for op in _patch_errors(job, after)]


# --------------------------------------------------------------------------- regexes (RE2 subset)

_RE2_UNSUPPORTED = [
    (re.compile(r"\(\?[=!]"), "invalid or unsupported Perl syntax: `{}`"),
    (re.compile(r"\(\?<[=!]"), "invalid or unsupported Perl syntax: `{}`"),
    (re.compile(r"\(\?>"), "invalid or unsupported Perl syntax: `{}`"),
    (re.compile(r"\\[1-9]"), "invalid escape sequence: `{}`"),
]


def go_regexp_compile(pattern: str) -> re.Pattern:
    """Go ``regexp.Compile`` approximated with Python ``re``: constructs RE2 refuses (lookaround,
    atomic groups, backreferences) raise; ``(?P<name>`` is accepted by both."""
    for rx, msg in _RE2_UNSUPPORTED:
        m = rx.search(pattern)
        if m:
            raise re.error("error parsing regexp: " + msg.format(m.group(0)))
    try:
        return re.compile(pattern, re.ASCII)  # RE2's \w, \d, \s are ASCII-only
    except re.error as exc:
        raise re.error(f"error parsing regexp: {exc}") from exc


def _validate_metrics_collector(spec: dict, errs: _Errors, cfg: dict) -> None:
    """``validateMetricsCollector`` (pkg/webhook/v1beta1/experiment/validator/validator.go @ v0.17.0/v0.18.0/v0.19.0).  v0.17.0 knows ``None`` where v0.18.0+ know ``Push``."""
    mcs = spec.get("metricsCollectorSpec") or {}
    kind = (mcs.get("collector") or {}).get("kind", "") or ""
    src = mcs.get("source")
    p = "spec.metricsCollectorSpec"
    if (
        kind in ("StdOut", "TensorFlowEvent", "File", "PrometheusMetric")
        and kind not in cfg["metricsCollectors"]
    ):
        inner = f"failed to find metrics collector config for kind: {kind} in ConfigMap: katib-config"
        errs.add(
            _invalid(p + ".collector.kind", kind, f"GetMetricsCollectorConfigData failed: {inner}"),
            f"GetMetricsCollectorConfigData failed: {inner}",
        )
    passthrough = ("StdOut", "None") if errs.legacy else ("StdOut", "Push")
    fsp = (src or {}).get("fileSystemPath")
    if kind in passthrough:
        pass
    elif kind == "File":
        if not fsp or fsp.get("kind") != "File" or not os.path.isabs(fsp.get("path", "")):
            errs.add(
                _required(
                    p + ".source.fileSystemPath.path", "file path where metrics file exists is required"
                ),
                "file path where metrics file exists is required by .spec.metricsCollectorSpec.source.fileSystemPath.path",
            )
        fmt = (fsp or {}).get("format", "")
        if fmt not in ("TEXT", "JSON"):
            errs.add(
                _required(
                    p + ".source.fileSystemPath.format",
                    "format of metrics file is required for metrics collector",
                ),
                "format of metrics file is required by .spec.metricsCollectorSpec.source.fileSystemPath.format",
            )
        if fmt == "JSON" and (src or {}).get("filter") is not None:
            errs.add(
                _invalid(p + ".source.filter", "", "filter must be nil when format of metrics file is json"),
                ".spec.metricsCollectorSpec.source.filter must be nil when format of metrics file is JSON",
            )
    elif kind == "TensorFlowEvent":
        if not fsp or fsp.get("kind") != "Directory" or not os.path.isabs(fsp.get("path", "")):
            errs.add(
                _required(
                    p + ".source",
                    "directory path where tensorflow event files exist is required by "
                    ".spec.metricsCollectorSpec.source.fileSystemPath.path",
                ),
                "directory path where tensorflow event files exist is required by "
                ".spec.metricsCollectorSpec.source.fileSystemPath.path",
            )
        if (fsp or {}).get("format"):
            errs.add(
                _invalid(p + ".source.fileSystemPath.format", fsp["format"], "must be empty"),
                ".spec.metricsCollectorSpec.source.fileSystemPath.format must be empty",
            )
    elif kind == "PrometheusMetric":
        hg = (src or {}).get("httpGet") or {}
        port = str(hg.get("port", 0))
        if not re.fullmatch(r"[+-]?\d+", port) or int(port) <= 0:
            errs.add(
                _invalid(
                    p + ".source.httpGet.port",
                    port,
                    f"must be a positive integer value for metrics collector kind: {kind}",
                ),
                f".spec.metricsCollectorSpec.source.httpGet.port must be a positive integer value for metrics collector kind: {kind}",
            )
        if not str(hg.get("path", "")).startswith("/"):
            errs.add(
                _invalid(
                    p + ".source.httpGet.path",
                    hg.get("path", ""),
                    f"path is invalid for metrics collector kind: {kind}",
                ),
                f".spec.metricsCollectorSpec.source.httpGet.path is invalid for metrics collector kind: {kind}",
            )
    elif kind == "Custom":
        if (mcs.get("collector") or {}).get("customCollector") is None:
            errs.add(
                _required(p + ".collector.customCollector", f"metrics collector kind: {kind} is required"),
                f".spec.metricsCollectorSpec.collector.customCollector is required for metrics collector kind: {kind}",
            )
        if fsp is not None and (
            not os.path.isabs(fsp.get("path", "")) or fsp.get("kind") not in ("Directory", "File")
        ):
            errs.add(
                _invalid(p + ".source.fileSystemPath", "", ".spec.metricsCollectorSpec.source is invalid"),
                ".spec.metricsCollectorSpec.source is invalid",
            )
    else:
        errs.add(
            _invalid(p + ".collector.kind", kind, f"invalid metrics collector kind: {kind}"),
            f"invalid metrics collector kind: {kind}",
        )
    formats = ((src or {}).get("filter") or {}).get("metricsFormat") or []
    two_groups = re.compile(r".*\(.*\).*\(.*\).*")
    for fmt in formats:
        try:
            go_regexp_compile(fmt)
        except re.error as exc:
            errs.add(
                _invalid(p + ".source.filter.metricsFormat", fmt, f"invalid filter: {exc}"),
                f"invalid {json.dumps(fmt)} in .spec.metricsCollectorSpec.source.filter: {exc}",
            )
            continue
        if not two_groups.search(fmt):
            errs.add(
                _invalid(p + ".source.filter.metricsFormat", fmt, "two top subexpressions are required"),
                f"invalid {json.dumps(fmt)} in .spec.metricsCollectorSpec.source.filter: two top subexpressions are required",
            )


# =========================================================================== pod webhook

#: pkg/webhook/v1beta1/pod/const.go NeedWrapWorkerMetricsCollectorList (same at the three tags)
_WRAP_COLLECTORS = ("StdOut", "TensorFlowEvent", "File")


def pod_webhook_errors(
    trial_template: dict,
    pod_labels: dict,
    containers: list[dict],
    katib_version: str,
    collector_kind: str = "StdOut",
) -> list[str]:
    """Would Katib's pod webhook (``mutator.pod.katib.kubeflow.org``, failurePolicy Fail) refuse a trial
    pod?  Port of the container look-ups of ``SidecarInjector.Mutate``
    (pkg/webhook/v1beta1/pod/inject_webhook.go) with ``mutatePodEnv``, ``isPrimaryPod`` and
    ``wrapWorkerContainer`` (pkg/webhook/v1beta1/pod/utils.go) @ v0.17.0 / v0.18.0 / v0.19.0.

    ``trial_template`` is the (defaulted) ``spec.trialTemplate``.  From v0.18.0, ``mutatePodEnv`` runs on
    **every** pod of the trial (before the primary-pod check), so ``primaryContainerName`` must name a
    container in every replica, workers included.  At all versions a pod that matches
    ``primaryPodLabels`` (or every pod when it is unset) needs that container when the collector wraps
    the command (StdOut, File, TensorFlowEvent).  Containers are rendered by name only (upstream prints
    the whole ``[]v1.Container`` with ``%v``).  The registry look-up for a primary container without
    ``command`` (``getContainerCommand``) is not modelled.
    """
    _check_version(katib_version)
    name = trial_template.get("primaryContainerName", "") or ""
    names = [c.get("name", "") for c in containers]
    found = name in names
    shown = "[" + " ".join("{" + n + " ...}" for n in names) + "]"
    if katib_version != "0.17" and not found:
        return [f"Unable to find primary container {name} in mutated pod containers {shown}"]
    primary = trial_template.get("primaryPodLabels")
    if primary is not None and not all(pod_labels.get(k) == v for k, v in primary.items()):
        return []
    if collector_kind == "Push" and katib_version != "0.17":
        return []
    if collector_kind in _WRAP_COLLECTORS and not found:
        if katib_version == "0.17":
            return [f"Unable to find primary container {name} in mutated pod containers {shown}"]
        return [
            "unable to find primary container in mutated pod containers: "
            f"primary container: {name}, mutated pod containers: {shown}"
        ]
    return []


# =========================================================================== metrics

UNAVAILABLE_METRIC_VALUE = "unavailable"
#: pkg/metricscollector/v1beta1/common/const.go DefaultFilter (same at the three tags)
DEFAULT_METRICS_FILTER = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"


@dataclass(frozen=True)
class Observation:
    """One ``MetricLog`` (api.proto): metric name, raw value string, RFC 3339 timestamp string."""

    name: str
    value: str
    timestamp: str = ZERO_TIME_RFC3339
    order: int = field(default=0, compare=False)


class AmbiguousMetricError(ValueError):
    """Upstream's answer depends on an unspecified order (tied timestamps)."""


def parse_metrics(
    lines: list[str], metric_names: list[str], metrics_formats: list[str], katib_version: str
) -> list[Observation]:
    """Port of ``parseLogsInTextFormat`` + ``newObservationLog`` +
    ``GetFilterRegexpList`` (pkg/metricscollector/v1beta1/file-metricscollector/
    file-metricscollector.go, identical logic at v0.17.0, v0.18.0, v0.19.0).

    ``metric_names[0]`` must be the objective metric (upstream passes
    objective first, then additional metrics).  A line is considered only if it
    contains one of the metric names; if its first space-separated token parses
    as Go RFC3339Nano that string is the timestamp, otherwise the line gets
    ``0001-01-01T00:00:00Z`` (``time.Time{}``).  Every match of every format
    (default: ``DEFAULT_METRICS_FILTER``) whose group 1 (trimmed) equals a
    metric name yields an observation with group 2 (trimmed) as value.  If the
    objective was never seen, the result is the single observation
    ``(objective, "unavailable", 0001-01-01T00:00:00Z)``.
    """
    _check_version(katib_version)
    regs = [go_regexp_compile(f) for f in (metrics_formats or [DEFAULT_METRICS_FILTER])]
    out: list[Observation] = []
    for line in lines:
        if not any(m in line for m in metric_names):
            continue
        ts = ZERO_TIME_RFC3339
        parts = line.split(" ", 1)
        if len(parts) == 2 and parse_rfc3339(parts[0]) is not None:
            ts = parts[0]
        for reg in regs:
            if reg.groups < 2:
                continue
            for m in reg.finditer(line):
                name = (m.group(1) or "").strip()
                value = (m.group(2) or "").strip()
                if name in metric_names:
                    out.append(Observation(name, value, ts, order=len(out)))
    if not any(o.name == metric_names[0] for o in out):
        return [Observation(metric_names[0], UNAVAILABLE_METRIC_VALUE, ZERO_TIME_RFC3339)]
    return out


def _go_parse_float(s: str) -> float | None:
    """Go ``strconv.ParseFloat(s, 64)`` as used by ``getMetrics`` (trial_controller_util.go @ v0.17.0-v0.19.0):
    no surrounding spaces, no '_' without base prefix, inf/nan/hex accepted."""
    if not s or s != s.strip() or "_" in s:
        return None
    low = s.lower().lstrip("+-")
    try:
        if low.startswith("0x"):
            return float.fromhex(s)
        if low in ("inf", "infinity", "nan"):
            return float(s)
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
            return None
        return float(s)
    except ValueError:
        return None


def _db_time_key(ts: str) -> tuple[datetime, int]:
    """Sort key of ``ORDER BY time`` on ``DATETIME(6)`` (pkg/db/v1beta1/mysql/mysql.go + init.go @ v0.17.0-v0.19.0)."""
    parsed = parse_rfc3339(ts)
    if parsed is None:
        raise ValueError(f"failed to parse timestamps {ts}")
    dt, nanos = parsed
    return dt, nanos // 1000  # MySQL DATETIME(6): microseconds


def objective_value(observations: list[Observation], metric_name: str, strategy: str) -> float | None:
    """The value the trial controller records for ``metric_name`` with ``strategy``
    ("min" | "max" | "latest").

    Port of ``getMetrics`` (pkg/controller.v1beta1/trial/trial_controller_util.go)
    after ``GetObservationLog`` (pkg/db/v1beta1/mysql/mysql.go: ``WHERE
    metric_name = ? ORDER BY time`` over a ``DATETIME(6)`` column), identical at
    v0.17.0, v0.18.0, v0.19.0.  Min/max consider values ``strconv.ParseFloat``
    accepts.  "latest" takes the last row whose timestamp is not before the
    newest seen, i.e. the last of the rows tied at the newest microsecond -- and
    SQL leaves the order of tied rows unspecified, so this raises
    ``AmbiguousMetricError`` when tied newest rows disagree.  ``None`` is
    returned where upstream stores ``"unavailable"``.
    """
    rows = [o for o in observations if o.name == metric_name]
    if not rows:
        return None
    keyed = sorted(
        ((_db_time_key(o.timestamp), i, o) for i, o in enumerate(rows)), key=lambda t: (t[0], t[1])
    )
    if strategy in ("min", "max"):
        vals = [v for v in (_go_parse_float(o.value) for _, _, o in keyed) if v is not None]
        if not vals:
            return None
        return min(vals) if strategy == "min" else max(vals)
    if strategy != "latest":
        raise ValueError(f"unknown metric strategy {strategy!r}")
    newest = keyed[-1][0]
    tied = {o.value for k, _, o in keyed if k == newest}
    if len(tied) > 1:
        raise AmbiguousMetricError(
            f"{len(tied)} different values of {metric_name} share the newest timestamp "
            f"{rows[0].timestamp if len(rows) == 1 else keyed[-1][2].timestamp}: {sorted(tied)}"
        )
    value = tied.pop()
    return _go_parse_float(value)
