"""validate_experiment: Katib's Experiment webhooks (SetDefault + ValidateExperiment) per version."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.kube.upstream.katib import KATIB_VERSIONS, set_experiment_defaults, validate_experiment
from tests.kube.upstream.sample_experiments import file_collector, random_search

REPO = Path(__file__).resolve().parents[3]


def example(name: str) -> dict:
    """A sample of the shape of upstream's hp-tuning examples (tests/kube/upstream/sample_experiments.py)."""
    return file_collector() if "file-metrics-collector" in name else random_search()


def our_experiment(fail_job_rule: dict | None = None) -> dict:
    """A trimmed copy of the lexdpr sweep (manifests/katib-experiment.yaml at HEAD 92ebedf), inline."""
    rule = fail_job_rule or {
        "action": "FailJob",
        "onPodConditions": [],
        "onExitCodes": {"containerName": "training-container", "operator": "In", "values": [1, 2]},
    }
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": "lexdpr-sweep", "namespace": "team-ml"},
        "spec": {
            "objective": {
                "type": "maximize",
                "objectiveMetricName": "eval/ndcg_at_10",
                "additionalMetricNames": ["eval/recall_at_10", "valid/loss"],
                "metricStrategies": [{"name": "eval/ndcg_at_10", "value": "latest"}],
            },
            "algorithm": {"algorithmName": "bayesianoptimization"},
            "parallelTrialCount": 2,
            "maxTrialCount": 40,
            "maxFailedTrialCount": 10,
            "resumePolicy": "LongRunning",
            "metricsCollectorSpec": {
                "collector": {"kind": "StdOut"},
                "source": {
                    "filter": {"metricsFormat": [r"([\w|/-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"]}
                },
            },
            "parameters": [
                {
                    "name": "trainer.lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "5e-07", "max": "0.0001", "distribution": "logUniform"},
                },
                {
                    "name": "data.batch_size",
                    "parameterType": "discrete",
                    "feasibleSpace": {"list": ["32", "64", "128"]},
                },
            ],
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "retain": False,
                "trialParameters": [
                    {"name": "trainerLr", "reference": "trainer.lr"},
                    {"name": "dataBatchSize", "reference": "data.batch_size"},
                    {"name": "trialName", "reference": "${trialSpec.Name}"},
                ],
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"labels": {"app.kubernetes.io/component": "trial"}},
                    "spec": {
                        "activeDeadlineSeconds": 21600,
                        "backoffLimit": 3,
                        "podFailurePolicy": {
                            "rules": [
                                {
                                    "action": "Ignore",
                                    "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                                },
                                rule,
                            ]
                        },
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": "training-container",
                                        "image": "ghcr.io/lexdpr/lexdpr:0.1.0",
                                        "command": ["sh", "-c"],
                                        "args": [
                                            "lex-dpr train 'trainer.lr=${trialParameters.trainerLr}' "
                                            "'data.batch_size=${trialParameters.dataBatchSize}' "
                                            "out_dir=sweeps/${trialParameters.trialName} ${LEXDPR_RUNS_S3:-}"
                                        ],
                                        "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "48Gi"}},
                                    }
                                ],
                            }
                        },
                    },
                },
            },
        },
    }


# --------------------------------------------------------------------------- upstream examples


@pytest.mark.parametrize("version", KATIB_VERSIONS)
@pytest.mark.parametrize(
    "name",
    [
        "v0.17.0-random.yaml",
        "v0.19.0-random.yaml",
        "v0.17.0-file-metrics-collector.yaml",
        "v0.19.0-file-metrics-collector.yaml",
    ],
)
def test_upstream_examples_are_accepted(name, version):
    assert validate_experiment(example(name), version) == []


def test_upstream_example_defaults():
    exp = set_experiment_defaults(example("v0.19.0-random.yaml"), "0.19")
    tt = exp["spec"]["trialTemplate"]
    assert tt["successCondition"] == 'status.conditions.#(type=="Complete")#|#(status=="True")#'
    assert exp["spec"]["metricsCollectorSpec"] == {"collector": {"kind": "StdOut"}}
    assert exp["spec"]["objective"]["metricStrategies"] == [{"name": "loss", "value": "min"}]
    assert exp["spec"]["parameters"][0]["feasibleSpace"]["distribution"] == "uniform"
    assert (
        "distribution"
        not in set_experiment_defaults(example("v0.17.0-random.yaml"), "0.17")["spec"]["parameters"][0][
            "feasibleSpace"
        ]
    )
    fmc = set_experiment_defaults(example("v0.19.0-file-metrics-collector.yaml"), "0.18")
    assert fmc["spec"]["metricsCollectorSpec"]["source"]["fileSystemPath"]["format"] == "TEXT"


# --------------------------------------------------------------------------- onPodConditions


def test_our_fail_job_rule_with_empty_on_pod_conditions_is_rejected_by_018_and_019():
    exp = our_experiment()
    assert validate_experiment(exp, "0.17") == []
    for v in ("0.18", "0.19"):
        errs = validate_experiment(exp, v)
        assert len(errs) == 1, errs
        assert errs[0].startswith(
            'spec.trialTemplate: Invalid value: "": invalid spec.trialTemplate: unable to convert: '
            "/spec/podFailurePolicy/rules/1/onPodConditions - [] to Job, converted template: "
        )


def test_our_fail_job_rule_without_on_pod_conditions_is_accepted_by_all():
    rule = {
        "action": "FailJob",
        "onExitCodes": {"containerName": "training-container", "operator": "In", "values": [1, 2]},
    }
    exp = our_experiment(rule)
    for v in KATIB_VERSIONS:
        assert validate_experiment(exp, v) == [], v


def test_committed_manifest_is_accepted_by_all_versions():
    """The working-tree manifests/katib-experiment.yaml against the ported webhooks."""
    docs = [d for d in yaml.safe_load_all((REPO / "manifests" / "katib-experiment.yaml").read_text()) if d]
    (exp,) = [d for d in docs if d.get("kind") == "Experiment"]
    for v in KATIB_VERSIONS:
        assert validate_experiment(exp, v) == [], v


# --------------------------------------------------------------------------- counts


def test_parallel_trial_count_above_max_trial_count_is_rejected():
    exp = our_experiment(
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "training-container", "operator": "In", "values": [1]},
        }
    )
    exp["spec"]["parallelTrialCount"] = 41
    assert validate_experiment(exp, "0.17") == [
        "spec.paralelTrialCount should be less than or equal to spec.maxTrialCount"
    ]
    for v in ("0.18", "0.19"):
        assert validate_experiment(exp, v) == [
            "spec.parallelTrialCount: Invalid value: 41: should be less than or equal to spec.maxTrialCount"
        ]
    exp["spec"]["parallelTrialCount"] = (
        40  # equal is fine (upstream case "parallelTrialCount equal to maxTrialCount")
    )
    for v in KATIB_VERSIONS:
        assert validate_experiment(exp, v) == []


def test_default_parallel_trial_count_is_checked_against_max_trial_count():
    """The mutating webhook sets parallelTrialCount=3 first, so maxTrialCount=2 alone is refused."""
    exp = example("v0.19.0-random.yaml")
    del exp["spec"]["parallelTrialCount"]
    exp["spec"]["maxTrialCount"] = 2
    exp["spec"]["maxFailedTrialCount"] = 1
    for v in ("0.18", "0.19"):
        assert validate_experiment(exp, v) == [
            "spec.parallelTrialCount: Invalid value: 3: should be less than or equal to spec.maxTrialCount"
        ]
    # without the mutating webhook there is no parallelTrialCount, but neither success/failure conditions
    assert validate_experiment(exp, "0.19", apply_defaults=False) == [
        "spec.trialTemplate: Required value: successCondition and failureCondition must be specified",
        'spec.metricsCollectorSpec.collector.kind: Invalid value: "": invalid metrics collector kind: ',
    ]


def test_count_errors_accumulate_from_018():
    exp = example("v0.19.0-random.yaml")
    exp["spec"].update(maxTrialCount=2, maxFailedTrialCount=5, parallelTrialCount=3)
    assert validate_experiment(exp, "0.18") == [
        "spec.maxFailedTrialCount: Invalid value: 5: should be less than or equal to spec.maxTrialCount",
        "spec.parallelTrialCount: Invalid value: 3: should be less than or equal to spec.maxTrialCount",
    ]
    assert validate_experiment(exp, "0.17") == [
        "spec.maxFailedTrialCount should be less than or equal to spec.maxTrialCount"
    ]


# --------------------------------------------------------------------------- other upstream rules


def test_name_rules():
    exp = example("v0.19.0-random.yaml")
    exp["metadata"]["name"] = "a" * 41
    assert validate_experiment(exp, "0.17") == []  # no length limit at v0.17.0
    for v in ("0.18", "0.19"):
        assert validate_experiment(exp, v)[0].startswith('metadata.name: Invalid value: "' + "a" * 41 + '": ')
    exp["metadata"]["name"] = "123-456"
    assert validate_experiment(exp, "0.17")[0].startswith("name must consist of lower case alphanumeric")
    assert validate_experiment(exp, "0.19")[0].startswith(
        'metadata.name: Invalid value: "123-456": name must consist of lower case alphanumeric'
    )
    # upstream's regexp is not anchored: an upper-case name with one lower-case letter passes
    exp["metadata"]["name"] = "MNIST-x"
    for v in KATIB_VERSIONS:
        assert validate_experiment(exp, v) == []


def test_objective_errors_stop_validation():
    exp = example("v0.19.0-random.yaml")
    exp["spec"]["objective"]["type"] = "best"
    exp["spec"]["algorithm"]["algorithmName"] = "nope"
    assert validate_experiment(exp, "0.19") == [
        'spec.objective.type: Invalid value: "best": must be minimize or maximize'
    ]
    exp["spec"]["objective"]["type"] = "minimize"
    assert validate_experiment(exp, "0.19") == [
        'spec.algorithm.algorithmName: Invalid value: "nope": unable to get Suggestion config data for '
        "algorithm nope: failed to find suggestion config for algorithm: nope in ConfigMap: katib-config"
    ]


def test_additional_metric_names_must_not_repeat_objective():
    exp = example("v0.19.0-random.yaml")
    exp["spec"]["objective"]["additionalMetricNames"] = ["loss"]
    detail = "should not contain spec.objective.objectiveMetricName"
    assert validate_experiment(exp, "0.19") == [
        f'spec.objective.additionalMetricNames: Invalid value: ["loss"]: {detail}'
    ]
    assert validate_experiment(exp, "0.18") == [
        f'spec.objective.additionalMetricNames: Invalid value: []string{{"loss"}}: {detail}'
    ]
    assert validate_experiment(exp, "0.17") == [f"spec.objective.additionalMetricNames {detail}"]


def test_parameter_rules_differ_between_017_and_018():
    exp = example("v0.19.0-random.yaml")
    del exp["spec"]["parameters"][0]["feasibleSpace"]["max"]  # only min
    assert validate_experiment(exp, "0.17") == []
    assert validate_experiment(exp, "0.18") == [
        "spec.parameters[0].feasibleSpace.max: Required value: feasibleSpace.max or feasibleSpace.min must be "
        "specified for parameterType: double"
    ]
    exp = example("v0.19.0-random.yaml")
    exp["spec"]["parameters"][0]["feasibleSpace"]["distribution"] = "gaussian"
    assert validate_experiment(exp, "0.17") == []
    assert validate_experiment(exp, "0.19") == [
        'spec.parameters[0].feasibleSpace.distribution: Invalid value: "gaussian": distribution: gaussian is not supported'
    ]


def test_trial_parameter_references_both_ways():
    exp = example("v0.19.0-random.yaml")
    args = exp["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]["command"]
    args.append("--extra=${trialParameters.notDeclared}")
    errs = validate_experiment(exp, "0.19")
    assert len(errs) == 1
    assert errs[0].startswith(
        'spec.trialTemplate: Invalid value: "": parameters: [${trialParameters.notDeclared}] in '
        "spec.trialTemplate not found in spec.trialParameters"
    )
    exp = example("v0.19.0-random.yaml")
    exp["spec"]["trialTemplate"]["trialParameters"].append({"name": "unused", "reference": "lr2"})
    errs = validate_experiment(exp, "0.19")
    assert [e.split(":")[0] for e in errs] == [
        "spec.trialTemplate.trialParameters[2].reference",
        "spec.trialTemplate.trialParameters[2].name",
    ]
    assert "parameter name: unused in spec.trialParameters not found in spec.trialTemplate" in errs[1]


def test_placeholders_are_substituted_with_test_value_before_conversion():
    """validateTrialTemplate replaces each ${trialParameters.x} in the JSON text by "test-value"."""
    exp = example("v0.19.0-random.yaml")
    job_spec = exp["spec"]["trialTemplate"]["trialSpec"]["spec"]
    job_spec["backoffLimit"] = "${trialParameters.decay}"
    for v in ("0.18", "0.19"):
        (err,) = validate_experiment(exp, v)
        assert err.startswith(
            'spec.trialTemplate: Invalid value: "": invalid spec.trialTemplate: unable to convert '
        )
        assert err.endswith("to Job: unrecognized type: int32")
        assert "backoffLimit:test-value" in err
    # a parametrised resource quantity cannot pass either: "test-value" is no quantity
    exp = example("v0.19.0-random.yaml")
    container = exp["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"]["cpu"] = "${trialParameters.decay}"
    for v in KATIB_VERSIONS:
        (err,) = validate_experiment(exp, v)
        assert err.endswith(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )


def test_trial_spec_metadata_name_is_refused():
    exp = example("v0.19.0-random.yaml")
    exp["spec"]["trialTemplate"]["trialSpec"]["metadata"] = {"name": "fixed"}
    assert validate_experiment(exp, "0.18") == [
        'spec.trialTemplate: Invalid value: "": metadata.name and metadata.namespace in spec.trialTemplate must be omitted'
    ]
    assert validate_experiment(exp, "0.17") == [
        "metadata.name and metadata.namespace in spec.trialTemplate must be omitted"
    ]


@pytest.mark.parametrize(
    ("fmt", "error"),
    [
        (r"(\w+)=(\d+", "invalid filter: error parsing regexp"),
        (r"(\w+)=(?=\d)(\d+)", "invalid filter: error parsing regexp: invalid or unsupported Perl syntax"),
        (r"{metricName: ([\w|-]+)}", "two top subexpressions are required"),
    ],
)
def test_metrics_format_must_compile_with_two_groups(fmt, error):
    exp = example("v0.19.0-random.yaml")
    exp["spec"]["metricsCollectorSpec"] = {
        "collector": {"kind": "StdOut"},
        "source": {"filter": {"metricsFormat": [fmt]}},
    }
    errs = validate_experiment(exp, "0.19")
    assert len(errs) == 1 and errs[0].startswith(
        "spec.metricsCollectorSpec.source.filter.metricsFormat: Invalid value:"
    )
    assert error in errs[0]


def test_push_collector_kind_depends_on_version():
    exp = example("v0.19.0-random.yaml")
    exp["spec"]["metricsCollectorSpec"] = {"collector": {"kind": "Push"}}
    assert validate_experiment(exp, "0.18") == []
    assert validate_experiment(exp, "0.17") == ["invalid metrics collector kind: Push"]
    exp["spec"]["metricsCollectorSpec"] = {"collector": {"kind": "None"}}
    assert validate_experiment(exp, "0.17") == []
    assert validate_experiment(exp, "0.19") == [
        'spec.metricsCollectorSpec.collector.kind: Invalid value: "None": invalid metrics collector kind: None'
    ]


def test_file_collector_needs_absolute_path():
    exp = example("v0.19.0-file-metrics-collector.yaml")
    exp["spec"]["metricsCollectorSpec"]["source"]["fileSystemPath"]["path"] = "katib/train.log"
    assert validate_experiment(exp, "0.19") == [
        "spec.metricsCollectorSpec.source.fileSystemPath.path: Required value: file path where metrics file exists is required"
    ]


def test_namespace_label_is_required_when_given():
    exp = example("v0.19.0-random.yaml")
    assert validate_experiment(exp, "0.19", namespace_labels={}) == [
        'Cannot create the Experiment "random" in namespace "kubeflow": the namespace lacks label '
        '"katib.kubeflow.org/metrics-collector-injection: enabled"'
    ]
    labels = {"katib.kubeflow.org/metrics-collector-injection": "enabled"}
    assert validate_experiment(exp, "0.19", namespace_labels=labels) == []


def test_input_is_not_mutated():
    exp = our_experiment()
    before = copy.deepcopy(exp)
    validate_experiment(exp, "0.19")
    assert exp == before


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="unsupported Katib version"):
        validate_experiment(our_experiment(), "0.16")
