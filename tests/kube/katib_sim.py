"""A recording KatibApi with just enough of Katib behind it to test the time-window agent without a cluster.

What it simulates, from Katib's source (pkg/controller.v1beta1/experiment):
- ReconcileTrials: active trials beyond parallelTrialCount are *deleted*; new ones are created while
  `active < min(parallelTrialCount, maxTrialCount - completed)`;
- the Experiment succeeds with ExperimentMaxTrialsReached once `completed >= maxTrialCount`, fails once
  failed trials reach maxFailedTrialCount, and restarts when its budget is raised again;
- the validating webhook on updates (`katib_check.update_errors`), answering 422 like the API server;
- trial Jobs (rendered from the trial template the way Katib does) that can be suspended: a suspended trial
  stays Running and makes no progress; its pod would restart from the checkpoint on resume.

Every request body is recorded (verb, resource, name, body) and checked on arrival: a created Experiment
against `katib_check.experiment_errors`, a patched Job against the Kubernetes schemas, annotations as strings.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lexdpr.kube.api import EXPERIMENT_LABEL, KatibApiError
from lexdpr.kube.window_agent import job_suspended
from tests.kube.emulate import render_trial
from tests.kube.katib_check import experiment_errors, update_errors
from tests.kube.schemas import SUPPORTED_VERSIONS, KubernetesSchemas


class FakeClock:
    def __init__(self, start: datetime):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class Request:
    verb: str
    resource: str
    name: str
    body: Any
    at: datetime


@dataclass
class _TrialSim:
    duration_s: float
    fails: bool
    progress_s: float = 0.0
    last_seen: datetime | None = None


@dataclass
class FakeKatib:
    clock: FakeClock
    namespace: str = "team-ml"
    #: seconds of work of the n-th trial (0-based), and whether it fails
    duration: Callable[[int], float] = lambda n: 2 * 3600.0
    fails: Callable[[int], bool] = lambda n: False
    schemas: KubernetesSchemas = field(default_factory=KubernetesSchemas)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    trials: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    deleted_trials: list[str] = field(default_factory=list)
    _sims: dict[str, _TrialSim] = field(default_factory=dict)
    _version: int = 100

    # --- the KatibApi protocol ------------------------------------------------------------------------

    def get_experiment(self, name: str) -> dict[str, Any] | None:
        self.reconcile()
        exp = self.experiments.get(name)
        return copy.deepcopy(exp) if exp else None

    def create_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        self._record("create", "experiments", body["metadata"]["name"], body)
        problems = experiment_errors(body, self.schemas)
        if problems:
            raise KatibApiError("admission webhook denied the request: " + "; ".join(problems), 422)
        if body["metadata"]["name"] in self.experiments:
            raise KatibApiError("already exists", 409)
        exp = copy.deepcopy(body)
        exp["metadata"]["creationTimestamp"] = _stamp(self.clock())
        exp["status"] = {"conditions": [_condition("Created", "ExperimentCreated")], "trials": 0}
        self._bump(exp)
        self.experiments[exp["metadata"]["name"]] = exp
        self.reconcile()
        return copy.deepcopy(exp)

    def patch_experiment(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self._record("patch", "experiments", name, patch)
        self.reconcile()
        old = self.experiments[name]
        version = (patch.get("metadata") or {}).get("resourceVersion")
        if version is not None and version != old["metadata"]["resourceVersion"]:
            raise KatibApiError("the object has been modified", 409)
        new = _merge(copy.deepcopy(old), patch)
        problems = update_errors(old, new)
        if problems:
            raise KatibApiError("admission webhook denied the request: " + "; ".join(problems), 422)
        if _completed(old) and new["spec"]["maxTrialCount"] > old["spec"]["maxTrialCount"]:
            new["status"]["conditions"].append(_condition("Restarting", "ExperimentRestarting"))
        self._bump(new)
        self.experiments[name] = new
        self.reconcile()
        return copy.deepcopy(new)

    def list_trials(self, experiment: str) -> list[dict[str, Any]]:
        self.reconcile()
        return [
            copy.deepcopy(t)
            for t in self.trials.values()
            if t["metadata"]["labels"][EXPERIMENT_LABEL] == experiment
        ]

    def patch_trial(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self._record("patch", "trials", name, patch)
        for key, value in ((patch.get("metadata") or {}).get("annotations") or {}).items():
            assert value is None or isinstance(value, str), f"annotation {key} must be a string"
        self.trials[name] = _merge(self.trials[name], patch)
        return copy.deepcopy(self.trials[name])

    def get_job(self, name: str) -> dict[str, Any] | None:
        job = self.jobs.get(name)
        return copy.deepcopy(job) if job else None

    def patch_job(self, name: str, patch: list[dict[str, Any]], kind: str = "Job") -> dict[str, Any]:
        self._record("patch", "pytorchjobs" if kind == "PyTorchJob" else "jobs", name, patch)
        job = copy.deepcopy(self.jobs[name])
        assert job.get("kind", "Job") == kind, (job.get("kind"), kind)
        for op in patch:
            assert op["op"] in ("add", "replace"), op
            if kind == "PyTorchJob":
                assert op["path"] == "/spec/runPolicy/suspend", op
                job["spec"]["runPolicy"]["suspend"] = op["value"]
            else:
                assert op["path"] == "/spec/suspend", op
                job["spec"]["suspend"] = op["value"]
        if kind == "Job":
            for version in (SUPPORTED_VERSIONS[0], SUPPORTED_VERSIONS[-1]):
                problems = self.schemas.errors(job, version)
                assert not problems, problems
        self.reconcile()  # progress up to now counts under the old suspend state
        self.jobs[name] = job
        return copy.deepcopy(job)

    def advance(self, seconds: float, step: float = 300.0) -> None:
        """Let time pass with the controllers reconciling every `step` seconds."""
        while seconds > 0:
            self.clock.sleep(min(step, seconds))
            seconds -= step
            self.reconcile()

    # --- Katib's controllers, simplified --------------------------------------------------------------

    def reconcile(self) -> None:
        now = self.clock()
        for name, sim in self._sims.items():
            trial = self.trials[name]
            if _trial_state(trial) not in ("Created", "Running"):
                continue
            suspended = job_suspended(self.jobs[name])
            if sim.last_seen is not None and not suspended:
                sim.progress_s += (now - sim.last_seen).total_seconds()
            sim.last_seen = now
            if sim.progress_s >= sim.duration_s:
                finished = now - timedelta(seconds=sim.progress_s - sim.duration_s)
                trial["status"]["completionTime"] = _stamp(finished)
                if sim.fails:
                    trial["status"]["conditions"].append(_condition("Failed", "TrialFailed"))
                else:
                    trial["status"]["conditions"].append(_condition("Succeeded", "TrialSucceeded"))
                    trial["status"]["observation"] = {
                        "metrics": [{"name": "eval/ndcg_at_10", "min": "0.1", "max": "0.5", "latest": "0.4"}]
                    }
        for exp in self.experiments.values():
            self._reconcile_experiment(exp)

    def _reconcile_experiment(self, exp: dict[str, Any]) -> None:
        name = exp["metadata"]["name"]
        mine = [t for t in self.trials.values() if t["metadata"]["labels"][EXPERIMENT_LABEL] == name]
        states = [_trial_state(t) for t in mine]
        active = sum(s in ("Created", "Running") for s in states)
        failed = states.count("Failed")
        completed = len(states) - active
        spec, status = exp["spec"], exp["status"]
        if _completed(exp) and not _restarting(exp):
            self._status(exp, mine)
            return
        parallel, max_trials = spec["parallelTrialCount"], spec["maxTrialCount"]
        if active > parallel:
            for trial in [t for t in mine if _trial_state(t) in ("Created", "Running")][: active - parallel]:
                self.deleted_trials.append(trial["metadata"]["name"])
        elif active < parallel:
            required = min(max_trials - completed, parallel)
            for _ in range(max(0, required - active)):
                self._create_trial(exp, len(self.trials))
        mine = [t for t in self.trials.values() if t["metadata"]["labels"][EXPERIMENT_LABEL] == name]
        self._status(exp, mine)
        if spec.get("maxFailedTrialCount") is not None and failed and failed >= spec["maxFailedTrialCount"]:
            status["conditions"].append(
                _condition("Failed", "ExperimentFailed", "max failed count has reached")
            )
        elif completed >= max_trials:
            status["conditions"].append(_condition("Succeeded", "ExperimentMaxTrialsReached"))
        elif not _running(exp):
            status["conditions"].append(_condition("Running", "ExperimentRunning"))

    def _create_trial(self, exp: dict[str, Any], n: int) -> None:
        name = f"{exp['metadata']['name']}-t{n:04d}"
        assignments = {
            p["name"]: (p["feasibleSpace"].get("list") or [p["feasibleSpace"].get("min")])[0]
            for p in exp["spec"]["parameters"]
        }
        now = self.clock()
        self.trials[name] = {
            "apiVersion": "kubeflow.org/v1beta1",
            "kind": "Trial",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "creationTimestamp": _stamp(now),
                "labels": {EXPERIMENT_LABEL: exp["metadata"]["name"]},
                "annotations": {},
            },
            "spec": {"parameterAssignments": [{"name": k, "value": v} for k, v in assignments.items()]},
            "status": {
                "startTime": _stamp(now),
                "conditions": [_condition("Created", "TrialCreated"), _condition("Running", "TrialRunning")],
            },
        }
        self.jobs[name] = render_trial(exp, assignments, name, self.namespace)
        if self.jobs[name].get("kind") == "PyTorchJob":
            self.jobs[name]["spec"]["runPolicy"]["suspend"] = False
        else:
            self.jobs[name]["spec"]["suspend"] = False
        self._sims[name] = _TrialSim(self.duration(n), self.fails(n), last_seen=now)

    def _status(self, exp: dict[str, Any], trials: list[dict[str, Any]]) -> None:
        states = [_trial_state(t) for t in trials]
        exp["status"].update(
            trials=len(trials),
            trialsRunning=states.count("Running") + states.count("Created"),
            trialsPending=0,
            trialsSucceeded=states.count("Succeeded"),
            trialsFailed=states.count("Failed"),
        )

    def _record(self, verb: str, resource: str, name: str, body: Any) -> None:
        self.requests.append(Request(verb, resource, name, copy.deepcopy(body), self.clock()))

    def _bump(self, exp: dict[str, Any]) -> None:
        self._version += 1
        exp["metadata"]["resourceVersion"] = str(self._version)


def _condition(kind: str, reason: str, message: str = "") -> dict[str, str]:
    return {"type": kind, "status": "True", "reason": reason, "message": message}


def _last(exp: dict[str, Any]) -> str | None:
    conditions = exp.get("status", {}).get("conditions") or []
    return conditions[-1]["type"] if conditions else None


def _completed(exp: dict[str, Any]) -> bool:
    return _last(exp) in ("Succeeded", "Failed")


def _restarting(exp: dict[str, Any]) -> bool:
    return _last(exp) == "Restarting"


def _running(exp: dict[str, Any]) -> bool:
    return _last(exp) == "Running"


def _trial_state(trial: dict[str, Any]) -> str:
    return trial["status"]["conditions"][-1]["type"]


def _stamp(moment: datetime) -> str:
    """Kubernetes' timestamp format: UTC, seconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target
