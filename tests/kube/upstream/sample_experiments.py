"""Small hand-written Experiments of the shape of Katib's own hp-tuning examples (a random search over two
doubles whose Job passes them as flags; the same with a File metrics collector), as valid input for the
ported webhook. Written for these tests, not copied: names, values and image are ours.
"""

from __future__ import annotations

from typing import Any


def random_search() -> dict[str, Any]:
    """Random search, StdOut collector by default, two doubles without a distribution."""
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"namespace": "kubeflow", "name": "random"},
        "spec": {
            "objective": {"type": "minimize", "goal": 0.002, "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 2,
            "maxTrialCount": 8,
            "maxFailedTrialCount": 2,
            "parameters": [
                {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.001", "max": "0.1"}},
                {"name": "decay", "parameterType": "double", "feasibleSpace": {"min": "0.1", "max": "0.8"}},
            ],
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "trialParameters": [
                    {"name": "learningRate", "description": "step size", "reference": "lr"},
                    {"name": "decay", "description": "weight decay", "reference": "decay"},
                ],
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "training-container",
                                        "image": "registry.example.com/toy-trainer:1",
                                        "command": [
                                            "python3",
                                            "/app/train.py",
                                            "--lr=${trialParameters.learningRate}",
                                            "--decay=${trialParameters.decay}",
                                        ],
                                        "resources": {"limits": {"memory": "512Mi", "cpu": "0.5"}},
                                    }
                                ],
                                "restartPolicy": "Never",
                            }
                        }
                    },
                },
            },
        },
    }


def file_collector() -> dict[str, Any]:
    """The same search reading `{metricName: …, metricValue: …}` lines from a file the trainer writes."""
    experiment = random_search()
    spec = experiment["spec"]
    spec["objective"] = {
        "type": "maximize",
        "goal": 0.98,
        "objectiveMetricName": "accuracy",
        "additionalMetricNames": ["loss"],
    }
    spec["metricsCollectorSpec"] = {
        "source": {
            "filter": {"metricsFormat": [r"{metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)}"]},
            "fileSystemPath": {"path": "/katib/train.log", "kind": "File"},
        },
        "collector": {"kind": "File"},
    }
    container = spec["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]
    container["command"].insert(2, "--log-path=/katib/train.log")
    del container["resources"]
    return experiment
