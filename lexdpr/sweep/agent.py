"""The agent loop: ask the sweep for a trial, run it, record how it ended, repeat.

Any number of agents may work on one sweep at once (processes on one machine share the SQLite file;
machines share a PostgreSQL server). Each loop:

1. stop if asked to (a signal), if `count` trials have run, or if the sweep has nothing left (a grid);
2. fail trials whose agent stopped heartbeating, which queues them for resumption;
3. consult the time window: start, wait, or exit (`time_window.decide`, with the 90th percentile of the
   sweep's trial durations as the expected duration of the next trial);
4. ask for a trial (a queued resumption first), run it with the trial runner while heartbeating, and
   record the outcome.

SIGTERM/SIGINT stop the agent after the running trial has saved a checkpoint: the trial is recorded as
interrupted and queued, so the next agent resumes it. If the first `max_initial_failures` trials all
fail, something is wrong with the setup rather than with the parameters: the agent stops and says why.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import FrameType

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.sweep.engine import SweepEngine, TrialTicket
from lexdpr.sweep.runner import RunningTrial, TrialOutcome, TrialRequest, TrialRunner
from lexdpr.sweep.space import trial_config
from lexdpr.sweep.storage import DEFAULT_OUT_ROOT
from lexdpr.sweep.time_window import TimeWindow, decide, expected_duration, zone_clock
from lexdpr.training.config import config_to_dict


class AgentStopped(LexDprError):
    """The agent was stopped by a signal; its trial was saved and queued for resumption."""

    def __init__(self, signum: int, message: str):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(message)


@dataclass
class AgentOptions:
    """How an agent runs trials: what `lex-dpr sweep`, `sweep preset` and `sweep agent` take as flags
    (`from_flags`), passed as one value from the CLI down to the `Agent`."""

    count: int | None = None  # run this many trials, then stop; None = until the sweep has none left
    window: TimeWindow | None = None  # start trials only inside these hours
    exit_outside_window: bool = False  # outside the window: exit instead of waiting
    out_root: Path = DEFAULT_OUT_ROOT  # trials write to OUT_ROOT/<sweep_id>/trial-<n>/
    time_zone: str | None = None  # IANA zone of the window's hours; None = this machine's
    max_initial_failures: int = 5
    poll_s: float = 1.0  # how often the running trial is checked
    longest_sleep_s: float = 60.0  # while waiting for the window, decide again this often

    @classmethod
    def from_flags(
        cls,
        *,
        count: int | None = None,
        time_window: str | None = None,
        exit_outside_window: bool = False,
        out_root: Path | str = DEFAULT_OUT_ROOT,
        time_zone: str | None = None,
    ) -> AgentOptions:
        """The options of the CLI flags, checked now: a bad window or zone fails before a sweep is made."""
        window = TimeWindow.parse(time_window) if time_window else None
        zone_clock(time_zone)  # a ConfigError for an unknown zone
        return cls(count, window, exit_outside_window, Path(out_root), time_zone)


@dataclass
class AgentReport:
    """What one agent did: (trial number, recorded state) per trial, and why it stopped."""

    trials: list[tuple[int, str]] = field(default_factory=list)
    stopped_because: str = ""
    signum: int | None = None


class Agent:
    def __init__(
        self,
        engine: SweepEngine,
        runner: TrialRunner,
        options: AgentOptions,
        *,
        clock: Callable[[], datetime] = datetime.now,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = print,
    ):
        self.engine = engine
        self.runner = runner
        self.options = options
        self.clock = clock
        self.sleep = sleep
        self.say = say

    def run(self) -> AgentReport:
        report = AgentReport()
        with _StopSignals() as stop:
            report.stopped_because = self._loop(report, stop)
            report.signum = stop.signum
        return report

    def _loop(self, report: AgentReport, stop: _StopSignals) -> str:
        o, engine = self.options, self.engine
        last_wait_message = ""
        while True:
            if stop.signum is not None:
                return f"stopped by {signal.Signals(stop.signum).name}"
            if o.count is not None and len(report.trials) >= o.count:
                return f"ran {o.count} trial{'s' if o.count != 1 else ''} (--count)"
            engine.fail_stale_trials()
            decision = decide(
                o.window, self.clock(), expected_duration(engine.observed_durations()), o.exit_outside_window
            )
            if decision.action == "exit":
                return decision.reason
            if decision.action == "wait":
                if decision.reason.split(";")[0] != last_wait_message:
                    self.say(f"waiting: {decision.reason}")
                    last_wait_message = decision.reason.split(";")[0]
                self._nap(min(decision.wait_s, o.longest_sleep_s), stop)
                continue
            last_wait_message = ""
            ticket = engine.ask(o.out_root)
            if ticket is None:
                return (
                    engine.exhausted_reason() or "the sampler keeps suggesting parameters that already failed"
                )
            state, outcome = self._run_trial(ticket, stop)
            report.trials.append((ticket.number, state))
            self._summarise(ticket, state, outcome)
            self._check_initial_failures(report, outcome)

    def _run_trial(self, ticket: TrialTicket, stop: _StopSignals) -> tuple[str, TrialOutcome]:
        engine = self.engine
        what = f"trial {ticket.number}" + (
            f" (resumes trial {ticket.resumes})" if ticket.resumes is not None else ""
        )
        self.say(f"{what}: {_format_values(ticket.values)} → {ticket.out_dir}")
        try:
            config = trial_config(engine.spec, ticket.params, ticket.out_dir, engine.sweep_id)
        except ConfigError as exc:
            outcome = TrialOutcome("failed", reason=f"invalid trial config: {exc}")
            return engine.finish(ticket, outcome), outcome
        early = engine.spec.early_terminate
        request = TrialRequest(
            sweep_id=engine.sweep_id,
            trial_id=ticket.trial_id,
            trial_number=ticket.number,
            out_dir=str(ticket.out_dir),
            config=config_to_dict(config),
            metric=engine.spec.metric.name,
            early_terminate=early.to_dict() if early else None,
        )
        try:
            running = self.runner.start(request, engine.url)
        except OSError as exc:
            outcome = TrialOutcome("failed", reason=f"could not start the trial process: {exc}")
            return engine.finish(ticket, outcome), outcome
        outcome = self._wait(ticket, running, stop)
        if stop.signum is not None and outcome.state == "interrupted":
            name = signal.Signals(stop.signum).name
            outcome = replace(outcome, reason=f"the agent was stopped ({name}); {outcome.reason}")
        return engine.finish(ticket, outcome), outcome

    def _wait(self, ticket: TrialTicket, running: RunningTrial, stop: _StopSignals) -> TrialOutcome:
        """Wait for the trial, heartbeating; pass each stop signal on to it."""
        interval = self.engine.heartbeat_settings.interval_s if self.engine.heartbeat_settings else None
        last_beat = time.monotonic()
        forwarded = 0
        while True:
            outcome = running.wait(self.options.poll_s)
            if outcome is not None:
                return outcome
            if stop.count > forwarded:
                running.stop()
                forwarded = stop.count
            if interval is not None and time.monotonic() - last_beat >= interval:
                self.engine.record_heartbeat(ticket)
                last_beat = time.monotonic()

    def _nap(self, seconds: float, stop: _StopSignals) -> None:
        """Sleep (with the injected sleep) in short naps, so a signal is noticed within seconds."""
        slept = 0.0
        while stop.signum is None and slept < seconds:
            nap = min(seconds - slept, 5.0)
            self.sleep(nap)
            slept += nap

    def _summarise(self, ticket: TrialTicket, state: str, outcome: TrialOutcome) -> None:
        metric = self.engine.spec.metric.name
        if state == "complete":
            detail = f"{metric}={outcome.objective:.6g}"
        elif state == "lost":
            detail = "another agent had already marked it failed (its heartbeat was late); it will be redone"
        else:
            detail = (outcome.reason or "").splitlines()[0] if outcome.reason else ""
        self.say(f"trial {ticket.number} {state}" + (f": {detail}" if detail else ""))

    def _check_initial_failures(self, report: AgentReport, outcome: TrialOutcome) -> None:
        limit = self.options.max_initial_failures
        if limit and len(report.trials) == limit and all(state == "failed" for _, state in report.trials):
            raise LexDprError(
                f"the first {limit} trials of this agent all failed; the last one: {outcome.reason}\n"
                f"Fix the cause (see `lex-dpr sweep status {self.engine.sweep_id}`) and start the agent again."
            )


class _StopSignals:
    """SIGTERM/SIGINT set a flag (and count, so a second one can be passed on to the trial as well)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = self.signum or signum
        self.count += 1


def _format_values(values: dict[str, object]) -> str:
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={_short(value)}" for key, value in values.items())


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
