"""The agent and its time window, on a fake clock: it waits outside the window, starts when it opens, and
does not start a trial the sweep's observed durations say cannot finish before the window closes."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from rich.console import Console

from lexdpr.sweep import commands
from lexdpr.sweep.agent import Agent, AgentOptions
from lexdpr.sweep.engine import SweepEngine
from lexdpr.sweep.storage import resolve_url
from lexdpr.sweep.time_window import TimeWindow
from tests.sweep.conftest import BASIC_SWEEP, FAST_HEARTBEAT


class FakeClock:
    """Local time that only moves when the agent sleeps."""

    def __init__(self, start: datetime):
        self.now = start
        self.slept = 0.0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += timedelta(seconds=seconds)


def make_agent(sweep_id: str, runner, clock: FakeClock, window: str, messages: list[str], **options) -> Agent:
    engine = SweepEngine.open(sweep_id, resolve_url(None), FAST_HEARTBEAT)
    opts = AgentOptions(window=TimeWindow.parse(window), longest_sleep_s=3600, **options)
    return Agent(engine, runner, opts, clock=clock, sleep=clock.sleep, say=messages.append)


def test_waits_for_the_window_then_runs(write_sweep, fake_runner) -> None:
    sweep_id = commands.create(write_sweep(BASIC_SWEEP), run_agent=False, console=Console(file=io.StringIO()))
    clock, messages = FakeClock(datetime(2025, 6, 1, 12, 0)), []
    report = make_agent(sweep_id, fake_runner, clock, "22-6", messages, count=1).run()
    assert report.trials == [(0, "complete")]
    assert clock.slept == 10 * 3600  # 12:00 → 22:00
    assert messages[0] == "waiting: outside the window 22-6; next opening in 10 h 00 min"


def test_does_not_start_a_trial_that_cannot_finish_before_the_close(write_sweep, fake_runner) -> None:
    sweep_id = commands.create(write_sweep(BASIC_SWEEP), run_agent=False, console=Console(file=io.StringIO()))
    commands.agent(
        sweep_id,
        runner=fake_runner,
        heartbeat=FAST_HEARTBEAT,
        console=Console(file=io.StringIO()),
        options=AgentOptions(count=2),
    )
    longest = max(SweepEngine.open(sweep_id, resolve_url(None)).observed_durations())

    # Open, but closing sooner than a trial takes: no new trial; with --exit-outside-window it exits.
    almost_closed = datetime(2025, 6, 2, 5, 59, 59) + timedelta(seconds=1) - timedelta(seconds=longest / 2)
    messages: list[str] = []
    clock = FakeClock(almost_closed)
    report = make_agent(sweep_id, fake_runner, clock, "22-6", messages, exit_outside_window=True).run()
    assert report.trials == [] and clock.slept == 0
    assert report.stopped_because.startswith("the window 22-6 closes in ")
    assert "and trials take about" in report.stopped_because

    # Without --exit-outside-window it waits for the next opening (tomorrow 22:00) and runs there.
    clock = FakeClock(almost_closed)
    report = make_agent(sweep_id, fake_runner, clock, "22-6", messages, count=1).run()
    assert report.trials == [(2, "complete")]
    assert clock.now.hour == 22 and clock.now.minute == 0
