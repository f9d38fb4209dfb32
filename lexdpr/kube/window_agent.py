"""Run a Katib sweep only inside a nightly time window: the entry point of the chart's CronJob.

Katib has no time window. A CronJob starts this agent when the window opens
(`lex-dpr sweep agent --backend katib --name EXP --time-window 1-8 --count N`); the agent stays until the window
has closed and then exits. The window arithmetic — is it open, when does it close, may a trial that takes
the sweep's 90th-percentile duration still start — is `lexdpr.sweep.time_window.decide`, the same function
the local agent uses, so `--time-window` means the same on a laptop and on the cluster.

How trials are held back: **budget granted one free slot at a time.** Katib starts trials while fewer than
`parallelTrialCount` are active and fewer than `maxTrialCount` exist. The agent keeps `maxTrialCount` equal
to the number of trials already created, and only when `decide` says "start" raises it by the number of free
slots (never past tonight's `--count`, nor the sweep's total budget). Katib then creates exactly those trials.
So no trial ever starts unless the window allows it at that moment, and if the agent dies, nothing more
starts: the safe side. When all granted trials have finished, Katib marks the Experiment Succeeded
(`ExperimentMaxTrialsReached`); the next grant restarts it, which `resumePolicy: LongRunning|FromVolume`
allows. (Katib's webhook refuses to lower `maxTrialCount` to `status.trials` or below, so "freezing" a
running Experiment is not possible; granting only what may start is.)

In-flight trials at the end of the window: **they finish within the grace, else they checkpoint and stop.**
A trial starts only if the sweep's trials are expected to finish before the window closes (the local rule).
Trials still running at `close + grace` (`--grace-minutes`, default 30) are suspended: the agent sets
`spec.suspend: true` on the trial's Job, Kubernetes stops the pod with SIGTERM, the trainer saves a checkpoint
and exits; the Trial stays Running in Katib. At the next opening the agent first resumes those Jobs, whose new
pods continue from the checkpoint in the trial's folder on the PVC; they do not count against `--count`.
Suspended trials are annotated (`lexdpr.io/suspended-at`) and left out of the duration estimate.

Katib also requires `parallelTrialCount` and `maxFailedTrialCount` ≤ `maxTrialCount`, so while the granted
budget is small they are lowered with it and restored (from the Experiment's `lexdpr.io/…` annotations) as it
grows. Early on this means the Experiment fails if *every* trial so far failed: a broken setup stops at once.

Everything here is pure except `run_agent`, which reads the cluster, applies `plan`'s decisions through a
`KatibApi`, and sleeps; tests drive it with a fake clock and a recording API.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.kube.api import KatibApi
from lexdpr.kube.experiment import MAX_FAILED_ANNOTATION, MAX_TRIALS_ANNOTATION, PARALLEL_ANNOTATION
from lexdpr.kube.status import ACTIVE_STATES, SUSPENDED_ANNOTATION, summarize
from lexdpr.sweep.time_window import DAY, TimeWindow, decide, expected_duration

RESTARTABLE_REASON = "ExperimentMaxTrialsReached"


class AgentFailed(LexDprError):
    """The Experiment cannot go on (failed, or finished for good); the message says why."""


@dataclass(frozen=True)
class AgentSettings:
    name: str
    window: TimeWindow
    count: int
    parallel: int | None = None  # default: the Experiment's lexdpr.io/parallel-trial-count, else its spec
    grace_s: float = 30 * 60
    poll_s: float = 60.0
    template: Mapping[str, Any] | None = None  # create the Experiment from this manifest if it does not exist

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ConfigError("--count must be at least 1 (the trials to start in this window)")
        if self.grace_s < 0 or self.poll_s <= 0:
            raise ConfigError("--grace-minutes must be >= 0 and the poll interval > 0")


@dataclass
class NightState:
    """What one agent run remembers between ticks."""

    granted: int = 0  # new trials this agent run granted
    awaiting: int | None = None  # the maxTrialCount of this agent's last grant, until Katib has created them
    closes_at: datetime | None = None
    resumed: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    action: Literal["create", "grant", "cap", "resume", "suspend", "wait", "done"]
    reason: str
    max_trials: int | None = None
    parallel: int | None = None
    max_failed: int | None = None
    jobs: tuple[str, ...] = ()
    wait_s: float = 0.0
    new_trials: int = 0


@dataclass(frozen=True)
class View:
    """The cluster as one tick sees it."""

    experiment: Mapping[str, Any] | None
    trials: list[Mapping[str, Any]]
    suspended_jobs: frozenset[str] = frozenset()
    #: The kind of each active trial's job: `Job`, or `PyTorchJob` for a multi-node trial.
    job_kinds: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentReport:
    granted: int
    resumed: list[str]
    suspended: list[str]
    reason: str


# --- planning (pure) ------------------------------------------------------------------------------------


def plan(settings: AgentSettings, state: NightState, now: datetime, view: View) -> list[Decision]:
    """The agent's next decisions; updates only `state.closes_at` (where this window session ends) and clears
    `state.awaiting` once Katib has created the granted trials."""
    window = settings.window
    phase, until = _phase(settings, state, now)
    if phase == "before":
        return [Decision("wait", f"outside the window {window}; it opens in {_human(until)}", wait_s=until)]
    exp = view.experiment
    if exp is not None:
        _raise_if_final(exp)
    summary = summarize(exp, list(view.trials), decode=False) if exp is not None else None
    active = [r.name for r in summary.trials if r.state in ACTIVE_STATES] if summary else []
    if phase == "over":
        running = tuple(n for n in active if n not in view.suspended_jobs)
        decisions = []
        if running:
            decisions.append(
                Decision(
                    "suspend",
                    f"the window {window} closed {_human(settings.grace_s)} ago "
                    f"(grace): checkpointing and stopping {len(running)} trial(s) "
                    "until the next opening",
                    jobs=running,
                )
            )
        return [*decisions, Decision("done", f"the window {window} is over")]
    if phase == "grace":
        if not active or set(active) <= view.suspended_jobs:
            return [Decision("done", f"the window {window} closed and no trial is running")]
        return [
            Decision(
                "wait", f"the window closed; {len(active)} trial(s) may finish within the grace", wait_s=until
            )
        ]

    # phase == "open"
    decisions: list[Decision] = []
    to_resume = tuple(n for n in active if n in view.suspended_jobs)
    if to_resume:
        decisions.append(
            Decision(
                "resume", f"resuming {len(to_resume)} trial(s) suspended at the last close", jobs=to_resume
            )
        )
    durations = (
        [
            r.duration_s
            for r in summary.trials
            if r.state == "Succeeded" and not r.was_suspended and r.duration_s
        ]
        if summary
        else []
    )
    window_says = decide(window, now, expected_duration(durations), exit_outside=True)
    targets = _targets(settings, exp)
    created = max(summary.created, len(summary.trials)) if summary else 0
    # Tonight's trials are counted from the cluster (created since this opening), so a restarted agent pod
    # does not grant the night's --count twice; its own grants cover trials Katib has not created yet.
    opened_at = state.closes_at - timedelta(minutes=window.length_minutes) if state.closes_at else None
    created_tonight = sum(1 for t in view.trials if opened_at is not None and _created(t) >= opened_at)
    left_tonight = settings.count - max(state.granted, created_tonight)
    left_total = targets["max_trials"] - created if targets["max_trials"] else math.inf
    if exp is None:
        k = int(min(targets["parallel"], left_tonight, left_total))
        if window_says.action == "start" and k > 0:
            return [
                Decision(
                    "create",
                    f"creating the Experiment with {k} trial(s)",
                    **_counts(k, targets),
                    new_trials=k,
                )
            ]
        return [Decision("done", f"not creating the Experiment: {window_says.reason or 'no trials left'}")]
    current_max = (exp.get("spec") or {}).get("maxTrialCount")
    if state.awaiting is not None and created >= state.awaiting:
        state.awaiting = None
    if state.awaiting is not None and current_max == state.awaiting:
        return [
            *decisions,
            Decision(
                "wait", "waiting for Katib to create the granted trials", wait_s=min(settings.poll_s, 15.0)
            ),
        ]
    if window_says.action == "start":
        k = int(min(targets["parallel"] - len(active), left_tonight, left_total))
        if k > 0:
            counts = _counts(created + k, targets)
            decisions.append(
                Decision(
                    "grant",
                    f"granting {k} trial(s): {created} created so far, {len(active)} active",
                    new_trials=k,
                    **counts,
                )
            )
            return decisions
    elif current_max is not None and current_max > created + 1:
        decisions.append(
            Decision(
                "cap",
                f"{window_says.reason}: lowering the budget to the minimum Katib "
                "allows (one trial more than created)",
                **_counts(created + 1, targets),
            )
        )
    if not active and (left_tonight <= 0 or left_total <= 0 or window_says.action != "start"):
        why = (
            f"all {settings.count} trial(s) of this window ran"
            if left_tonight <= 0
            else f"the sweep's budget of {targets['max_trials']} trials is used"
            if left_total <= 0
            else window_says.reason
        )
        return [*decisions, Decision("done", why)]
    return [*decisions, Decision("wait", f"{len(active)} trial(s) active", wait_s=settings.poll_s)]


def _phase(settings: AgentSettings, state: NightState, now: datetime) -> tuple[str, float]:
    """before | open | grace | over, and the seconds until the phase changes (for waits)."""
    window = settings.window
    if window.is_open(now):
        until_close = window.seconds_until_close(now)
        state.closes_at = None if math.isinf(until_close) else now + timedelta(seconds=until_close)
        return "open", until_close
    if state.closes_at is None:
        gap = (DAY - window.length_minutes) * 60
        since_close = gap - window.seconds_until_open(now)
        if since_close >= settings.grace_s:
            return "before", window.seconds_until_open(now)
        state.closes_at = now - timedelta(seconds=since_close)
    grace_end = state.closes_at + timedelta(seconds=settings.grace_s)
    if now < grace_end:
        return "grace", (grace_end - now).total_seconds()
    return "over", 0.0


def _targets(settings: AgentSettings, exp: Mapping[str, Any] | None) -> dict[str, int]:
    source = exp if exp is not None else settings.template or {}
    annotations = (source.get("metadata") or {}).get("annotations") or {}
    spec = source.get("spec") or {}

    def pick(annotation: str, spec_key: str, default: int) -> int:
        value = annotations.get(annotation, spec.get(spec_key, default))
        return int(value) if value is not None else default

    return {
        "parallel": settings.parallel or pick(PARALLEL_ANNOTATION, "parallelTrialCount", 1),
        "max_failed": pick(MAX_FAILED_ANNOTATION, "maxFailedTrialCount", 0),
        "max_trials": int(annotations.get(MAX_TRIALS_ANNOTATION, 0) or 0),
    }


def _counts(max_trials: int, targets: Mapping[str, int]) -> dict[str, int]:
    """maxTrialCount and the two counts Katib requires to be ≤ it."""
    return {
        "max_trials": max_trials,
        "parallel": min(targets["parallel"], max_trials),
        "max_failed": min(targets["max_failed"], max_trials),
    }


def _raise_if_final(exp: Mapping[str, Any]) -> None:
    conditions = [c for c in (exp.get("status") or {}).get("conditions") or [] if c.get("status") == "True"]
    if not conditions:
        return
    last = conditions[-1]
    kind, reason, message = last.get("type"), last.get("reason", ""), last.get("message", "")
    name = (exp.get("metadata") or {}).get("name")
    if kind == "Failed":
        raise AgentFailed(
            f"Experiment {name} has failed ({reason}: {message}); see `lex-dpr sweep status "
            f"--backend katib {name}` and the failed trials' logs, fix the cause, then create a new "
            "Experiment (Katib cannot restart a failed one)"
        )
    if kind == "Succeeded" and reason != RESTARTABLE_REASON:
        raise AgentFailed(f"Experiment {name} is finished for good ({reason}: {message}); nothing to run")


def _created(trial: Mapping[str, Any]) -> datetime:
    stamp = (trial.get("metadata") or {}).get("creationTimestamp")
    if isinstance(stamp, datetime):
        return stamp
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _human(seconds: float) -> str:
    if math.isinf(seconds):
        return "never"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


# --- running (talks to the cluster) ---------------------------------------------------------------------


def run_agent(
    settings: AgentSettings,
    api: KatibApi,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    say: Callable[[str], None] = print,
    max_ticks: int | None = None,
) -> AgentReport:
    """Tick until `plan` says done: observe, decide, apply, sleep."""
    state = NightState()
    ticks = 0
    while max_ticks is None or ticks < max_ticks:
        ticks += 1
        now = clock()
        view = _observe(api, settings.name)
        for decision in plan(settings, state, now, view):
            if decision.action == "done":
                say(f"[{now:%Y-%m-%d %H:%M}] done: {decision.reason}")
                return AgentReport(state.granted, state.resumed, state.suspended, decision.reason)
            if decision.action == "wait":
                say(f"[{now:%Y-%m-%d %H:%M}] {decision.reason}")
                sleep(max(1.0, min(decision.wait_s or settings.poll_s, settings.poll_s)))
                break
            say(f"[{now:%Y-%m-%d %H:%M}] {decision.action}: {decision.reason}")
            _apply(decision, settings, state, api, view, now)
    return AgentReport(state.granted, state.resumed, state.suspended, f"stopped after {ticks} ticks")


def _observe(api: KatibApi, name: str) -> View:
    experiment = api.get_experiment(name)
    if experiment is None:
        return View(None, [])
    trials = api.list_trials(name)
    summary = summarize(experiment, trials, decode=False)
    suspended = set()
    kinds: dict[str, str] = {}
    for row in summary.trials:
        if row.state in ACTIVE_STATES:
            job = api.get_job(row.name)
            if job is None:
                continue
            kinds[row.name] = job.get("kind") or "Job"
            if job_suspended(job):
                suspended.add(row.name)
    return View(experiment, trials, frozenset(suspended), kinds)


def _apply(
    decision: Decision, settings: AgentSettings, state: NightState, api: KatibApi, view: View, now: datetime
) -> None:
    if decision.action == "create":
        api.create_experiment(experiment_for_creation(settings.template, api.namespace, decision))
        state.awaiting = decision.max_trials
        state.granted += decision.new_trials
    elif decision.action in ("grant", "cap"):
        assert view.experiment is not None
        api.patch_experiment(settings.name, count_patch(view.experiment, decision))
        state.awaiting = decision.max_trials if decision.action == "grant" else None
        state.granted += decision.new_trials
    elif decision.action in ("suspend", "resume"):
        suspend = decision.action == "suspend"
        for job in decision.jobs:
            kind = view.job_kinds.get(job, "Job")
            api.patch_job(job, suspend_patch(suspend, kind), kind)
            if suspend:
                api.patch_trial(job, {"metadata": {"annotations": {SUSPENDED_ANNOTATION: now.isoformat()}}})
        (state.suspended if suspend else state.resumed).extend(decision.jobs)


def experiment_for_creation(
    template: Mapping[str, Any] | None, namespace: str, decision: Decision
) -> dict[str, Any]:
    if template is None:
        raise ConfigError(
            "the Experiment does not exist and no --experiment-file was given to create it from"
        )
    body = copy.deepcopy(dict(template))
    meta = body.setdefault("metadata", {})
    meta["namespace"] = namespace
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        meta.pop(key, None)
    body.pop("status", None)
    body["spec"].update(
        maxTrialCount=decision.max_trials,
        parallelTrialCount=decision.parallel,
        maxFailedTrialCount=decision.max_failed,
    )
    return body


def count_patch(experiment: Mapping[str, Any], decision: Decision) -> dict[str, Any]:
    """A JSON merge patch of the three counts; the resourceVersion makes a concurrent change fail with 409."""
    patch: dict[str, Any] = {
        "spec": {
            "maxTrialCount": decision.max_trials,
            "parallelTrialCount": decision.parallel,
            "maxFailedTrialCount": decision.max_failed,
        }
    }
    version = (experiment.get("metadata") or {}).get("resourceVersion")
    if version:
        patch["metadata"] = {"resourceVersion": version}
    return patch


def suspend_patch(suspend: bool, kind: str = "Job") -> list[dict[str, Any]]:
    """A JSON patch of the suspend flag (`add` also replaces an existing value): a Job's `spec.suspend`, a
    PyTorchJob's `spec.runPolicy.suspend` (the Training Operator then deletes its pods, whose preStop hook
    checkpoints the trial, and recreates them on resume)."""
    path = "/spec/runPolicy/suspend" if kind == "PyTorchJob" else "/spec/suspend"
    return [{"op": "add", "path": path, "value": suspend}]


def job_suspended(job: Mapping[str, Any]) -> bool:
    spec = job.get("spec") or {}
    if job.get("kind") == "PyTorchJob":
        return bool((spec.get("runPolicy") or {}).get("suspend"))
    return bool(spec.get("suspend"))
