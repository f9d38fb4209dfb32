"""`python -m tests.sweep.agent_process SWEEP_ID …`: a sweep agent in its own process, for the tests that
run several agents at once or kill one (the CLI wiring lives in lexdpr/cli.py; this calls the same
`commands.agent` with a chosen train function and heartbeat)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lexdpr.errors import LexDprError
from lexdpr.sweep import commands
from lexdpr.sweep.agent import AgentOptions
from lexdpr.sweep.runner import SubprocessTrialRunner
from lexdpr.sweep.storage import Heartbeat


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("sweep")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--out-root", type=Path, required=True)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--trial-module", default="tests.sweep.fake_trial")
    parser.add_argument("--heartbeat", type=int, nargs=2, default=(1, 2))
    args = parser.parse_args()
    runner = SubprocessTrialRunner(
        args.trial_module, env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    )
    try:
        commands.agent(
            args.sweep,
            storage=args.storage,
            heartbeat=Heartbeat(*args.heartbeat),
            runner=runner,
            options=AgentOptions(count=args.count, out_root=args.out_root),
        )
    except LexDprError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
