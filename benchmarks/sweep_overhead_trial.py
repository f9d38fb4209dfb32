"""`python -m sweep_overhead_trial REQUEST RESULT`: `lexdpr.sweep.run_trial` with a train function that
trains nothing, for the trial-process figure of `sweep_overhead.py` (interpreter start, imports, config
validation, result file — no model)."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

from lexdpr.sweep import run_trial


def noop_train(config: Any, **kwargs: Any) -> SimpleNamespace:
    """What `lexdpr.training.trainer.train` returns, without training."""
    metrics = {"eval/ndcg_at_10": 0.5, "eval/fingerprint": "bench"}
    return SimpleNamespace(
        best_metrics=metrics,
        final_metrics=metrics,
        run_id="bench",
        run_folder=None,
        best_checkpoint=None,
        last_checkpoint=None,
        steps=0,
    )


run_trial.train = noop_train

if __name__ == "__main__":
    sys.exit(run_trial.main())
