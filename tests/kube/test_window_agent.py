"""The time-window agent against a fake clock and a simulated Katib (tests/kube/katib_sim.py).

Every request body it sends is checked on arrival by the simulator (Katib's webhook rules, the Kubernetes
schemas); the tests check its decisions: when trials start, that none starts when it could not finish, that the
night's count holds across agent restarts, and that trials still running after the grace are checkpointed,
suspended, and resumed at the next opening.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lexdpr.errors import ConfigError
from lexdpr.kube.experiment import ExperimentOptions, build_experiment
from lexdpr.kube.manifests import preset_experiment
from lexdpr.kube.status import summarize
from lexdpr.kube.window_agent import (
    AgentFailed,
    AgentSettings,
    NightState,
    View,
    plan,
    run_agent,
)
from lexdpr.sweep.preset import preset_spec
from lexdpr.sweep.time_window import TimeWindow
from tests.kube.conftest import SEOUL
from tests.kube.emulate import render_trial
from tests.kube.katib_sim import FakeClock, FakeKatib

H = 3600.0
NAME = "lexdpr-sweep"


def settings(window: str = "1-8", count: int = 4, **kw) -> AgentSettings:
    return AgentSettings(
        name=NAME,
        window=TimeWindow.parse(window),
        count=count,
        template=preset_experiment(),
        poll_s=kw.pop("poll_s", 300),
        **kw,
    )


def run(cluster: FakeKatib, clock: FakeClock, s: AgentSettings, **kw):
    lines: list[str] = []
    report = run_agent(s, cluster, clock, clock.sleep, lines.append, **kw)
    return report, lines


def created_at(cluster: FakeKatib) -> list[datetime]:
    return [
        datetime.fromisoformat(t["metadata"]["creationTimestamp"].replace("Z", "+00:00")).astimezone(SEOUL)
        for t in cluster.trials.values()
    ]


def test_a_night_creates_the_experiment_then_grants_free_slots(cluster: FakeKatib, clock: FakeClock) -> None:
    report, lines = run(cluster, clock, settings(count=4))
    starts = created_at(cluster)
    assert len(starts) == 4 == report.granted
    assert [s.strftime("%H:%M") for s in starts] == ["01:00", "01:00", "03:00", "03:00"]
    assert clock.now.strftime("%H:%M") == "05:00"  # done when the night's trials are done, not at the close
    assert cluster.deleted_trials == []  # parallelism was never lowered below the running trials
    create, *patches = [r for r in cluster.requests if r.resource == "experiments"]
    assert create.verb == "create"
    assert create.body["spec"]["maxTrialCount"] == 2 and create.body["spec"]["parallelTrialCount"] == 2
    assert create.body["spec"]["maxFailedTrialCount"] == 2  # ≤ maxTrialCount, as Katib requires
    assert [p.body["spec"]["maxTrialCount"] for p in patches] == [4]
    assert all(
        p.body["metadata"]["resourceVersion"] for p in patches
    )  # conflicts answer 409, never overwrite
    assert "done: all 4 trial(s) of this window ran" in lines[-1]


def test_no_trial_starts_that_could_not_finish_before_the_close(cluster: FakeKatib, clock: FakeClock) -> None:
    _, lines = run(cluster, clock, settings(count=20))
    starts = created_at(cluster)
    close = clock.now.replace(hour=8, minute=0)
    # trials take 2 h: the last ones start at 05:00 (ending 07:00); at 07:00 one would end after 08:00
    assert max(starts).strftime("%H:%M") == "05:00"
    assert all(s + timedelta(hours=2) <= close for s in starts)
    assert len(starts) == 6
    assert "closes in 1 h 00 min and trials take about 2 h 00 min" in lines[-1]


def test_across_midnight(cluster: FakeKatib) -> None:
    clock = cluster.clock
    clock.now = datetime(2025, 3, 10, 21, 30, tzinfo=SEOUL)
    run(cluster, clock, settings(window="22-6", count=8))
    starts = created_at(cluster)
    # 2 h trials in an 8 h window: the last pair starts at 04:00 and ends exactly at the 06:00 close
    assert [s.strftime("%d %H:%M") for s in starts] == [
        "10 22:00",
        "10 22:00",
        "11 00:00",
        "11 00:00",
        "11 02:00",
        "11 02:00",
        "11 04:00",
        "11 04:00",
    ]
    assert clock.now.strftime("%d %H:%M") == "11 06:00"


def test_trials_running_after_the_grace_are_suspended_and_resumed_next_night(
    cluster: FakeKatib, clock: FakeClock
) -> None:
    # The first two trials take 1 h, so the agent expects 1 h; the next two take 7 h and overrun the window.
    cluster.duration = lambda n: 1 * H if n < 2 else 7 * H
    report, _ = run(cluster, clock, settings(count=4, grace_s=30 * 60))
    assert clock.now.strftime("%H:%M") == "08:30"
    long_ones = sorted(cluster.trials)[2:]
    assert report.suspended == long_ones
    assert all(cluster.jobs[name]["spec"]["suspend"] is True for name in long_ones)
    suspends = [r for r in cluster.requests if r.resource == "jobs"]
    assert [r.body for r in suspends] == [[{"op": "add", "path": "/spec/suspend", "value": True}]] * 2
    assert summarize(cluster.experiments[NAME], list(cluster.trials.values())).trials[2].state == "Running"

    # The next night: the agent first resumes them; they finish what is left (7 h - 5.5 h done = 1.5 h).
    clock.now = datetime(2025, 3, 11, 1, 0, tzinfo=SEOUL)
    report, _ = run(cluster, clock, settings(count=2, grace_s=30 * 60))
    assert report.resumed == long_ones
    assert all(cluster.jobs[name]["spec"]["suspend"] is False for name in long_ones)
    states = {t["metadata"]["name"]: t["status"]["conditions"][-1]["type"] for t in cluster.trials.values()}
    assert [states[n] for n in long_ones] == ["Succeeded", "Succeeded"]
    # suspended trials are left out of the duration estimate: the expected duration stays 1 h
    assert len(cluster.trials) == 6


def test_multi_node_trials_are_suspended_through_their_pytorchjob(
    cluster: FakeKatib, clock: FakeClock
) -> None:
    cluster.duration = lambda n: 1 * H if n < 2 else 7 * H
    template = build_experiment(preset_spec(), ExperimentOptions().with_trial(nodes=2, gpus=4))
    night = AgentSettings(
        name=NAME, window=TimeWindow.parse("1-8"), count=4, template=template, poll_s=300, grace_s=30 * 60
    )
    report, _ = run(cluster, clock, night)
    long_ones = sorted(cluster.trials)[2:]
    assert report.suspended == long_ones
    assert all(cluster.jobs[name]["kind"] == "PyTorchJob" for name in cluster.trials)
    assert all(cluster.jobs[name]["spec"]["runPolicy"]["suspend"] is True for name in long_ones)
    suspends = [r for r in cluster.requests if r.resource == "pytorchjobs"]
    assert [r.body for r in suspends] == [
        [{"op": "add", "path": "/spec/runPolicy/suspend", "value": True}]
    ] * 2
    assert not [r for r in cluster.requests if r.resource == "jobs"]

    clock.now = datetime(2025, 3, 11, 1, 0, tzinfo=SEOUL)
    report, _ = run(cluster, clock, night)
    assert report.resumed == long_ones
    assert all(cluster.jobs[name]["spec"]["runPolicy"]["suspend"] is False for name in long_ones)


def test_a_restarted_agent_does_not_grant_the_night_twice(cluster: FakeKatib, clock: FakeClock) -> None:
    run(cluster, clock, settings(count=3), max_ticks=8)  # the pod dies after its first grant
    assert len(cluster.trials) == 2
    run(cluster, clock, settings(count=3))  # OnFailure: a new pod, same night
    assert len(cluster.trials) == 3


def test_a_broken_setup_stops_the_sweep(cluster: FakeKatib, clock: FakeClock) -> None:
    cluster.fails = lambda n: True
    with pytest.raises(AgentFailed, match="has failed"):
        run(cluster, clock, settings(count=4))
    assert len(cluster.trials) == 2  # every trial so far failed: stop instead of burning the night


def test_an_experiment_with_budget_left_outside_what_fits_is_capped(
    cluster: FakeKatib, clock: FakeClock
) -> None:
    """An Experiment created with the whole budget (manifests/) gets the least Katib allows when nothing fits.

    Katib refuses maxTrialCount <= status.trials, so one more trial can still start; the grace ends it.
    """
    cluster.duration = lambda n: 20 * 60.0 if n < 4 else 2 * H
    clock.now = datetime(2025, 3, 10, 7, 30, tzinfo=SEOUL)
    cluster.create_experiment(build_experiment(preset_spec(), ExperimentOptions(namespace="team-ml")))
    clock.sleep(20 * 60)  # 07:50: two trials done, two more running (parallel 2, budget 40)
    report, _ = run(
        cluster, clock, AgentSettings(name=NAME, window=TimeWindow.parse("1-8"), count=4, poll_s=300)
    )
    (cap,) = [r for r in cluster.requests if r.verb == "patch" and r.resource == "experiments"]
    assert cap.at.strftime("%H:%M") == "07:50"
    assert cap.body["spec"] == {"maxTrialCount": 5, "parallelTrialCount": 2, "maxFailedTrialCount": 5}
    assert len(cluster.trials) == 5
    assert report.suspended == [sorted(cluster.trials)[-1]]  # the one extra trial, stopped at the grace's end


def test_outside_the_window_it_waits_for_the_opening(clock: FakeClock) -> None:
    s = settings()
    decisions = plan(s, NightState(), datetime(2025, 3, 10, 12, 0, tzinfo=SEOUL), View(None, []))
    assert decisions[0].action == "wait" and decisions[0].wait_s == 13 * H


def test_without_an_experiment_file_a_missing_experiment_is_an_error(
    cluster: FakeKatib, clock: FakeClock
) -> None:
    clock.now = datetime(2025, 3, 10, 1, 0, tzinfo=SEOUL)
    with pytest.raises(ConfigError, match="no --experiment-file"):
        run(cluster, clock, AgentSettings(name=NAME, window=TimeWindow.parse("1-8"), count=2))


def test_count_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="--count"):
        settings(count=0)


def test_suspended_trial_jobs_stay_valid_jobs(cluster: FakeKatib, clock: FakeClock) -> None:
    job = render_trial(
        preset_experiment(),
        {
            p["name"]: p["feasibleSpace"].get("list", [p["feasibleSpace"].get("min")])[0]
            for p in preset_experiment()["spec"]["parameters"]
        },
        "lexdpr-sweep-abc",
        "team-ml",
    )
    job["spec"]["suspend"] = True
    assert cluster.schemas.check_all([job]) == []
