"""`python -m tests.sweep.fake_trial REQUEST RESULT`: `lexdpr.sweep.run_trial` with the fake trainer.

The sweep tests run real agents and real trial processes; only the training inside the trial is replaced,
by replacing `run_trial.train` before its `main` runs, so a trial takes milliseconds instead of loading a
model (see `fake_trainer`).
"""

from __future__ import annotations

import sys

from lexdpr.sweep import run_trial
from tests.sweep import fake_trainer

run_trial.train = fake_trainer.train

if __name__ == "__main__":
    sys.exit(run_trial.main())
