"""A sweep is an optuna study: creating it, asking it for a trial, and recording how a trial ended.

- The study's name is the sweep id (8 characters, like W&B's); the sweep file's definition, its text as
  created and where it came from are study user attributes, so an agent anywhere needs only the id.
- `bayes` is optuna's TPE sampler, multivariate (it models how parameters interact, e.g. lr with batch
  size) with a constant liar (a running trial counts as a poor result, so parallel agents spread out).
  TPE over a GP: it handles the preset's mostly categorical space natively, suggests in milliseconds at
  any number of trials (optuna's GP sampler: ~4 s at 20 trials, ~11 s at 50, over the 2 s overhead budget),
  and in `benchmarks/sweep_bayes_vs_random.py` it beat random search on 10 of 10 seeds and GP on average.
- A trial is asked with the whole search space at once. Optuna hands out each trial exactly once, also to
  agents on other machines (a row insert; a queued trial is claimed with a compare-and-set), so two
  agents never run the same trial.
- Interrupted trials (agent stopped, trial process stopped, or an agent that stopped heartbeating) are
  failed and queued again with the same parameters and the same trial folder; the next agent to ask
  gets the queued one first, and the trainer resumes from the folder's newest checkpoint.
- Parameters that failed (not interrupted) `BANNED_AFTER_FAILURES` times are not run again: the
  suggestion is recorded as skipped and the sampler asked again. The same happens to a grid point that
  two agents were handed at the same moment (the earlier trial keeps it).
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import string
import warnings
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lexdpr.errors import ConfigError, LexDprError
from lexdpr.sweep import space
from lexdpr.sweep.pruning import REPORTED_STEPS_ATTR, build_pruner
from lexdpr.sweep.runner import TrialOutcome
from lexdpr.sweep.storage import Heartbeat, display_url, open_storage, sqlite_file
from lexdpr.sweep.sweep_file import SweepSpec, parse_sweep

# Study user attributes.
DEFINITION_ATTR = "lexdpr:sweep"
FILE_TEXT_ATTR = "lexdpr:sweep_file_text"
SOURCE_ATTR = "lexdpr:sweep_file"
CREATED_ATTR = "lexdpr:created"
# Trial system attribute (copied to a queued resumption by construction).
OUT_DIR_ATTR = "lexdpr:out_dir"
# Optuna's own names for a retried trial's origin (kept, so optuna's helpers understand our retries).
FAILED_TRIAL_ATTR = "failed_trial"
RETRY_HISTORY_ATTR = "retry_history"

#: Optuna random trials before TPE models the results (see benchmarks/sweep_bayes_vs_random.py).
TPE_STARTUP_TRIALS = 10
#: An interrupted trial is resumed at most this many times (a trial that keeps killing its agent is ill).
MAX_RESUMES = 3
#: Parameters that failed this many times are not run again.
BANNED_AFTER_FAILURES = 2
#: Consecutive banned suggestions after which an agent gives up asking.
MAX_SKIPPED_SUGGESTIONS = 25
_ID_ALPHABET = string.ascii_lowercase + string.digits

SKIPPED_PREFIX = "skipped: "
INTERRUPTED_PREFIX = "interrupted: "


class SweepNotFound(LexDprError):
    """No sweep with that id in that storage."""


@dataclass(frozen=True)
class TrialTicket:
    """A trial handed to this agent."""

    trial_id: int
    number: int
    params: dict[str, Any]
    values: dict[str, Any]  # the swept keys as config values
    out_dir: Path
    resumes: int | None  # the trial this one continues, if it is a resumption


def new_sweep_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class SweepEngine:
    """One sweep's study, with the sampler and pruner its file asks for."""

    def __init__(self, study: optuna.Study, spec: SweepSpec, url: str, heartbeat: Heartbeat | None = None):
        self.study = study
        self.spec = spec
        self.url = url
        self.heartbeat_settings = heartbeat

    @property
    def sweep_id(self) -> str:
        return self.study.study_name

    # --- opening ------------------------------------------------------------------------------------

    @classmethod
    def create(cls, spec: SweepSpec, url: str, file_text: str = "", source: str = "") -> SweepEngine:
        """A new sweep with a fresh id; the file's definition is stored with it."""
        _quiet_optuna()
        storage = open_storage(url)
        direction = "maximize" if spec.metric.maximize else "minimize"
        for _ in range(5):
            sweep_id = new_sweep_id()
            try:
                study = optuna.create_study(study_name=sweep_id, storage=storage, direction=direction)
                break
            except optuna.exceptions.DuplicatedStudyError:
                continue
        else:  # pragma: no cover - 36^8 ids
            raise LexDprError("could not find a free sweep id")
        study.set_user_attr(
            DEFINITION_ATTR, {**spec.definition(), "name": spec.name, "description": spec.description}
        )
        study.set_user_attr(FILE_TEXT_ATTR, file_text)
        study.set_user_attr(SOURCE_ATTR, source)
        study.set_user_attr(CREATED_ATTR, f"{_now()} by {_who()}")
        return cls.open(sweep_id, url)

    @classmethod
    def open(cls, sweep_id: str, url: str, heartbeat: Heartbeat | None = None) -> SweepEngine:
        """An existing sweep; with `heartbeat`, this process keeps its trials alive and fails stale ones."""
        _quiet_optuna()
        database = sqlite_file(url)
        if database is not None and not database.exists():  # opening would create it: a typo'd --storage
            raise SweepNotFound(  # would leave an empty database behind under a name the user never meant
                f"no sweep {sweep_id!r} in {display_url(url)} (no such file; nothing was created); "
                "pass the storage it was created in with --storage"
            )
        storage = open_storage(url, heartbeat, _queue_resumption if heartbeat else None)
        try:
            study_id = storage.get_study_id_from_name(sweep_id)
        except KeyError:
            known = optuna.get_all_study_names(storage)
            listing = ", ".join(known[-10:]) if known else "none"
            raise SweepNotFound(
                f"no sweep {sweep_id!r} in {display_url(url)} (sweeps there: {listing}); "
                "pass the storage it was created in with --storage"
            ) from None
        spec = stored_spec(sweep_id, storage.get_study_user_attrs(study_id))
        study = optuna.load_study(
            study_name=sweep_id,
            storage=storage,
            sampler=build_sampler(spec, sweep_id),
            pruner=build_pruner(spec.early_terminate),
        )
        return cls(study, spec, url, heartbeat)

    # --- trials -------------------------------------------------------------------------------------

    def trials(self) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    def fail_stale_trials(self) -> None:
        """Fail trials whose agent stopped heartbeating; each is queued for resumption (see `_queue_resumption`)."""
        if self.heartbeat_settings is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optuna.storages.fail_stale_trials(self.study)

    def exhausted_reason(self) -> str | None:
        """Why no new trial can be asked for, or None. Only a grid runs out."""
        if self.spec.method != "grid":
            return None
        trials = self.trials()
        if any(t.state == TrialState.WAITING for t in trials):
            return None
        taken = {
            t.system_attrs.get("grid_id")
            for t in trials
            if t.state != TrialState.WAITING and "grid_id" in t.system_attrs
        }
        if len(taken) >= space.grid_size(self.spec):
            return f"all {space.grid_size(self.spec)} grid points are finished or running"
        return None

    def ask(self, out_root: Path) -> TrialTicket | None:
        """The next trial for this agent: a queued resumption first, else a new suggestion (None: none left)."""
        for _ in range(MAX_SKIPPED_SUGGESTIONS):
            if self.exhausted_reason():
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with optimize": we do it
                trial = self.study.ask(fixed_distributions=space.distributions(self.spec))
            if self.heartbeat_settings is not None:
                self.study._storage.record_heartbeat(trial._trial_id)
            frozen = self.study._storage.get_trial(trial._trial_id)
            resumes = frozen.system_attrs.get(FAILED_TRIAL_ATTR)
            if resumes is None:
                banned = self._failed_before(frozen.params)
                if banned is not None:
                    self._tell_failed(
                        frozen,
                        f"{SKIPPED_PREFIX}the same parameters already failed "
                        f"{BANNED_AFTER_FAILURES} times (last: trial {banned})",
                    )
                    continue
                holder = self._earlier_holder_of_grid_point(frozen)
                if holder is not None:
                    self._tell_failed(
                        frozen,
                        f"{SKIPPED_PREFIX}grid point already taken by trial {holder} "
                        "(two agents asked at the same moment)",
                    )
                    continue
            out_dir = self._out_dir(frozen, out_root, resumes)
            values = space.swept_values(self.spec, frozen.params)
            storage = self.study._storage
            storage.set_trial_system_attr(
                trial._trial_id, OUT_DIR_ATTR, str(out_dir)
            )  # where its checkpoints go
            for key, value in {
                "out_dir": str(out_dir),
                "host": socket.gethostname(),
                "agent_pid": os.getpid(),
                "values": values,
                "resumes": resumes,
            }.items():
                storage.set_trial_user_attr(trial._trial_id, key, value)
            return TrialTicket(trial._trial_id, frozen.number, dict(frozen.params), values, out_dir, resumes)
        return None

    def record_heartbeat(self, ticket: TrialTicket) -> None:
        if self.heartbeat_settings is not None:
            self.study._storage.record_heartbeat(ticket.trial_id)

    def finish(self, ticket: TrialTicket, outcome: TrialOutcome) -> str:
        """Record how a trial ended; returns the state it was recorded as (complete, pruned, failed, interrupted)."""
        storage = self.study._storage
        attrs = {
            "run_id": outcome.run_id,
            "run_folder": outcome.run_folder,
            "best_checkpoint": outcome.best_checkpoint,
            "last_checkpoint": outcome.last_checkpoint,
            "steps": outcome.steps,
            "metrics": outcome.metrics or None,
            "fingerprint": (outcome.metrics or {}).get("eval/fingerprint"),
        }
        state, reason = outcome.state, outcome.reason
        other = self._other_fingerprint(attrs["fingerprint"]) if state == "complete" else None
        if other is not None:
            state = "failed"
            reason = (
                f"evaluated on different data (eval/fingerprint {attrs['fingerprint']}) than trial {other[0]} "
                f"({other[1]}): trials of one sweep must use the same eval pairs and corpus"
            )
        if storage.get_trial(ticket.trial_id).state.is_finished():
            # Another agent failed it as stale meanwhile (our heartbeat was late) and queued it: the
            # resumption redoes it from the last checkpoint, so nothing is lost but time.
            return "lost"
        try:
            for key, value in attrs.items():
                if value is not None:
                    storage.set_trial_user_attr(ticket.trial_id, key, value)
            if reason:
                prefix = INTERRUPTED_PREFIX if state == "interrupted" else ""
                storage.set_trial_user_attr(ticket.trial_id, "reason", prefix + reason)
            if state == "complete":
                assert outcome.objective is not None
                self.study.tell(ticket.number, outcome.objective)
            elif state == "pruned":
                self.study.tell(ticket.number, state=TrialState.PRUNED)
            else:
                self.study.tell(ticket.number, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            return "lost"  # the same race, a moment later
        if state == "interrupted":
            _queue_resumption(self.study, storage.get_trial(ticket.trial_id))
        return state

    def observed_durations(self) -> list[float]:
        """Seconds of the sweep's completed trials that ran from start to end (resumptions excluded)."""
        out = []
        for t in self.trials():
            if (
                t.state == TrialState.COMPLETE
                and t.datetime_start
                and t.datetime_complete
                and FAILED_TRIAL_ATTR not in t.system_attrs
            ):
                out.append((t.datetime_complete - t.datetime_start).total_seconds())
        return out

    # --- helpers ------------------------------------------------------------------------------------

    def _out_dir(self, trial: FrozenTrial, out_root: Path, resumes: int | None) -> Path:
        """A resumption reuses its trial's folder when this machine can see it (its checkpoints are there)."""
        previous = trial.system_attrs.get(OUT_DIR_ATTR)
        if previous and Path(previous).is_dir():
            return Path(previous)
        number = resumes if resumes is not None else trial.number
        return (out_root / self.sweep_id / f"trial-{number}").resolve()

    def _failed_before(self, params: dict[str, Any]) -> int | None:
        """The last trial that failed with exactly these parameters, if they failed often enough to ban."""
        failures = [
            t.number
            for t in self.trials()
            if t.state == TrialState.FAIL
            and t.params == params
            and not is_interruption(t)
            and not str(t.user_attrs.get("reason", "")).startswith(SKIPPED_PREFIX)
        ]
        return failures[-1] if len(failures) >= BANNED_AFTER_FAILURES else None

    def _earlier_holder_of_grid_point(self, trial: FrozenTrial) -> int | None:
        """With agents asking at the same moment at the grid's end, optuna's GridSampler can hand out a
        point that is already running; the earliest trial keeps it, a later duplicate is skipped."""
        grid_id = trial.system_attrs.get("grid_id")
        if grid_id is None:
            return None
        holders = [
            t.number
            for t in self.trials()
            if t.number < trial.number
            and t.system_attrs.get("grid_id") == grid_id
            and not str(t.user_attrs.get("reason", "")).startswith(SKIPPED_PREFIX)
        ]
        return min(holders) if holders else None

    def _other_fingerprint(self, fingerprint: str | None) -> tuple[int, str] | None:
        if not fingerprint:
            return None
        for t in self.trials():
            theirs = t.user_attrs.get("fingerprint")
            if t.state == TrialState.COMPLETE and theirs and theirs != fingerprint:
                return t.number, theirs
        return None

    def _tell_failed(self, trial: FrozenTrial, reason: str) -> None:
        self.study._storage.set_trial_user_attr(trial._trial_id, "reason", reason)
        self.study.tell(trial.number, state=TrialState.FAIL)


def stored_spec(sweep_id: str, study_user_attrs: dict[str, Any]) -> SweepSpec:
    """The sweep file a study was created from, validated again against today's trainer keys."""
    data = study_user_attrs.get(DEFINITION_ATTR)
    if not isinstance(data, dict):
        raise ConfigError(f"sweep {sweep_id!r} was not created by lex-dpr sweep (no sweep definition stored)")
    clean = {k: v for k, v in data.items() if v is not None}
    return parse_sweep({**clean, "sweep_id": sweep_id}, f"sweep {sweep_id}")


def is_interruption(trial: FrozenTrial) -> bool:
    """A failed trial that did not fail on its own: stopped, or its agent vanished (no reason recorded)."""
    reason = trial.user_attrs.get("reason")
    return trial.state == TrialState.FAIL and (reason is None or str(reason).startswith(INTERRUPTED_PREFIX))


def _queue_resumption(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a failed trial again with the same parameters, folder and reported evaluations.

    Also optuna's stale-trial callback: `fail_stale_trials` calls it for a trial whose agent vanished.
    """
    history = [*trial.system_attrs.get(RETRY_HISTORY_ATTR, []), trial.number]
    if len(history) > MAX_RESUMES:
        return
    reported = trial.user_attrs.get(REPORTED_STEPS_ATTR)
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs={REPORTED_STEPS_ATTR: reported} if reported else None,
            system_attrs={**trial.system_attrs, FAILED_TRIAL_ATTR: history[0], RETRY_HISTORY_ATTR: history},
            intermediate_values=trial.intermediate_values,
        )
    )


def build_sampler(spec: SweepSpec, sweep_id: str, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler of a sweep's method.

    Agents pass no seed: each draws from its own random stream (a shared seed would make parallel agents
    suggest the same points). A grid is shuffled the same way by every agent (seeded by the sweep id).
    """
    if spec.method == "grid":
        return _AgentGridSampler(space.grid_space(spec), seed=zlib.crc32(sweep_id.encode()))
    if spec.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multivariate TPE is "experimental" in optuna's words
        return optuna.samplers.TPESampler(
            multivariate=True,
            constant_liar=True,
            n_startup_trials=TPE_STARTUP_TRIALS,
            warn_independent_sampling=False,
            seed=seed,
        )


class _AgentGridSampler(optuna.samplers.GridSampler):
    """optuna's GridSampler without its end-of-grid `study.stop()`, which only works inside
    `study.optimize`; agents ask `SweepEngine.exhausted_reason` before each trial instead."""

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        return None


def _quiet_optuna() -> None:
    """Optuna logs every trial at INFO; the agent prints its own one-line summaries."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{socket.gethostname()}"
