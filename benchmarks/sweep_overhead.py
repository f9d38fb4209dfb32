"""Sweep overhead per trial, excluding training: target ≤ 2 s with 50 finished trials.

Two figures, on a sweep of the guide's preset (`method: bayes`, 15 parameters) that already holds
`--finished` completed trials:

1. bookkeeping: what an agent does around each trial — fail stale trials, read the observed durations
   for the time window, ask for the next trial (TPE suggestion; one storage round trip per parameter),
   record a heartbeat, record the outcome (attributes + tell). Measured with an in-process stand-in for
   the trial, over `--measure` trials.
2. trial process: start `lexdpr.sweep.run_trial` with a train function that returns at once
   (`sweep_overhead_trial.py`), wait for its result (interpreter start, imports, config validation, result file).

    python benchmarks/sweep_overhead.py [--storage URL] [--finished 50] [--measure 10]

Without --storage it uses a fresh SQLite file in a temporary folder (the default storage of agents).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lexdpr.sweep.engine import SweepEngine
from lexdpr.sweep.preset import PRESET_YAML, preset_spec
from lexdpr.sweep.runner import SubprocessTrialRunner, TrialOutcome, TrialRequest
from lexdpr.sweep.storage import Heartbeat, display_url, resolve_url
from lexdpr.sweep.time_window import TimeWindow, decide, expected_duration


def one_trial(engine: SweepEngine, out_root: Path, window: TimeWindow, value: float) -> float:
    """Seconds of agent bookkeeping around one (instant) trial."""
    started = time.perf_counter()
    engine.fail_stale_trials()
    decide(window, datetime.now(), expected_duration(engine.observed_durations()), False)
    ticket = engine.ask(out_root)
    assert ticket is not None
    engine.record_heartbeat(ticket)
    outcome = TrialOutcome(
        "complete",
        objective=value,
        metrics={"eval/ndcg_at_10": value, "eval/fingerprint": "b"},
        run_id="bench",
        run_folder=str(out_root),
        best_checkpoint=str(out_root),
        steps=10,
    )
    engine.finish(ticket, outcome)
    return time.perf_counter() - started


def _trainer_import_seconds() -> float:
    import subprocess

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import lexdpr.training.trainer"],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=None, help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--finished", type=int, default=50)
    parser.add_argument("--measure", type=int, default=10)
    parser.add_argument("--processes", type=int, default=5, help="trial processes to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = resolve_url(args.storage or str(root / "sweeps.db"))
        spec = preset_spec()
        sweep_id = SweepEngine.create(spec, url, PRESET_YAML, "preset").sweep_id
        engine = SweepEngine.open(sweep_id, url, Heartbeat())
        window = TimeWindow.parse("0-24")
        fill = [one_trial(engine, root, window, 0.3 + 0.001 * i) for i in range(args.finished)]
        measured = [one_trial(engine, root, window, 0.5 + 0.001 * i) for i in range(args.measure)]

        runner = SubprocessTrialRunner("sweep_overhead_trial", env={"PYTHONPATH": str(Path(__file__).parent)})
        process_s = []
        for i in range(args.processes):
            ticket = engine.ask(root)
            assert ticket is not None
            from lexdpr.sweep.space import trial_config
            from lexdpr.training.config import config_to_dict

            config = config_to_dict(trial_config(spec, ticket.params, root / f"p{i}", sweep_id))
            request = TrialRequest(
                sweep_id, ticket.trial_id, ticket.number, str(root / f"p{i}"), config, spec.metric.name
            )
            started = time.perf_counter()
            outcome = runner.start(request, url).wait(timeout_s=120)
            process_s.append(time.perf_counter() - started)
            assert outcome is not None and outcome.state == "complete", outcome
            engine.finish(ticket, outcome)

    print(
        f"storage: {display_url(url).split('://')[0]}; sweep of the preset (bayes/TPE, {len(spec.swept)} parameters)"
    )
    print(
        f"bookkeeping per trial, first {args.finished} trials: mean {statistics.mean(fill):.3f} s, "
        f"max {max(fill):.3f} s"
    )
    print(
        f"bookkeeping per trial with {args.finished}+ finished trials: mean {statistics.mean(measured):.3f} s, "
        f"max {max(measured):.3f} s  (target ≤ 2 s)"
    )
    print(
        f"trial process start → result (no training), {args.processes} runs: mean "
        f"{statistics.mean(process_s):.3f} s, max {max(process_s):.3f} s"
    )
    imports = _trainer_import_seconds()
    print(
        f"(not counted: importing the real trainer in a trial process — torch, transformers — {imports:.2f} s; "
        "a plain `lex-dpr train` pays the same)"
    )
    total = statistics.mean(measured) + statistics.mean(process_s)
    print(
        f"total sweep overhead per trial: {total:.3f} s  ({'meets' if total <= 2 else 'MISSES'} the 2 s target)"
    )


if __name__ == "__main__":
    main()
