"""`python -m lexdpr.sweep.run_trial REQUEST RESULT`: one sweep trial, in its own process (see `runner`).

It builds the trial's config, calls `train` — with an `on_evaluation` reporter when the sweep has early
termination — turns however training ended into a `TrialOutcome`, and writes it to RESULT. The trial's
state in the sweep is recorded by the agent, from that file; this process only reports intermediate
values (the pruner needs them while the trial runs).

The objective is the sweep metric at the trial's best checkpoint (the model `lex-dpr sweep best --export`
exports), or at the last evaluation when no checkpoint was ranked.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from lexdpr.errors import LexDprError
from lexdpr.storage import write_text
from lexdpr.sweep.pruning import REPORTED_STEPS_ATTR, EvaluationReporter, TrialPruned
from lexdpr.sweep.runner import PARENT_PID_ENV, STORAGE_URL_ENV, TrialOutcome, TrialRequest
from lexdpr.tracking.metric_values import is_number, scalar_metrics
from lexdpr.training.config import TrainConfig, config_from_dict
from lexdpr.training.signals import TrainingInterrupted

_PR_SET_PDEATHSIG = 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m lexdpr.sweep.run_trial REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    request_path, result_path = Path(args[0]), Path(args[1])
    _stop_with_parent()
    request = TrialRequest.from_json(request_path.read_text(encoding="utf-8"))
    outcome = run(request)
    write_text(result_path, outcome.to_json())  # atomic: the agent never reads half a result
    return 0 if outcome.state in ("complete", "pruned") else 1


def train(config: TrainConfig, **options: Any) -> Any:
    """`lex-dpr train` (`lexdpr.training.trainer.train`), imported when the trial starts training.

    The import is here rather than at the top so that reading the request, and a trial that fails before
    training, cost no torch import; it is also the one name a test replaces to run trials without a model.
    """
    from lexdpr.training.trainer import train as train_model

    return train_model(config, **options)


def run(request: TrialRequest) -> TrialOutcome:
    """Train once as `request` says; never raises for what a trial can do wrong."""
    config = None
    try:
        config = config_from_dict(request.config)
        reporter = _reporter(request) if request.early_terminate is not None else None
        result = train(config, quiet=True, on_evaluation=reporter)
    except TrialPruned as exc:
        return TrialOutcome("pruned", reason=str(exc), **_run_info(config))
    except (KeyboardInterrupt, SystemExit) as exc:
        return TrialOutcome(
            "interrupted", reason=f"stopped by a signal ({type(exc).__name__})", **_run_info(config)
        )
    except LexDprError as exc:
        state = "interrupted" if isinstance(exc, TrainingInterrupted) else "failed"
        return TrialOutcome(state, reason=str(exc), **_run_info(config))
    except BaseException as exc:
        traceback.print_exc()
        return TrialOutcome("failed", reason=_describe(exc), **_run_info(config))
    return _finished(result, request.metric)


def _finished(result: Any, metric: str) -> TrialOutcome:
    best = scalar_metrics(getattr(result, "best_metrics", None) or {})
    final = scalar_metrics(getattr(result, "final_metrics", None) or {})
    metrics = best if metric in best else final
    info = {
        "metrics": metrics,
        "run_id": getattr(result, "run_id", None),
        "run_folder": _text(getattr(result, "run_folder", None)),
        "best_checkpoint": _text(getattr(result, "best_checkpoint", None)),
        "last_checkpoint": _text(getattr(result, "last_checkpoint", None)),
        "steps": getattr(result, "steps", None),
    }
    value = metrics.get(metric)
    if not is_number(value):
        return TrialOutcome(
            "failed",
            reason=f"the trial logged no {metric} (are data.valid_pairs or "
            "data.eval_pairs set, and does trainer.k_values have its k?)",
            **info,
        )
    if not math.isfinite(value):
        return TrialOutcome("failed", reason=f"{metric} is {value}", **info)
    return TrialOutcome("complete", objective=float(value), **info)


def _reporter(request: TrialRequest) -> EvaluationReporter:
    """Report to the running optuna trial through the sweep storage (URL from the environment)."""
    import optuna

    from lexdpr.sweep.pruning import build_pruner
    from lexdpr.sweep.storage import open_storage
    from lexdpr.sweep.sweep_file import EarlyTerminate

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(os.environ[STORAGE_URL_ENV])
    pruner = build_pruner(EarlyTerminate(**(request.early_terminate or {})))
    study = optuna.load_study(
        study_name=request.sweep_id, storage=storage, pruner=pruner, sampler=optuna.samplers.RandomSampler()
    )
    trial = optuna.trial.Trial(study, request.trial_id)
    previous = storage.get_trial(request.trial_id).user_attrs.get(REPORTED_STEPS_ATTR, [])
    return EvaluationReporter(trial, request.metric, list(previous))


def _run_info(config: Any) -> dict[str, Any]:
    """Run folder and checkpoints of a trial that did not return, from the trainer's training_config.json."""
    if config is None:
        return {}
    path = Path(config.out_dir) / "bi_encoder" / "training_config.json"
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        return {"run_id": data.get("run_id"), "run_folder": data.get("run_folder")}
    return {}


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    first_line = (str(exc).strip().splitlines() or [""])[0][:500]
    if name == "OutOfMemoryError" or isinstance(exc, MemoryError):
        return f"out of memory ({name}: {first_line}); try a smaller data.batch_size or model.max_len"
    return f"{name}: {first_line}" if first_line else name


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _stop_with_parent() -> None:
    """Get SIGTERM when the agent dies (even by SIGKILL): the trainer then saves a checkpoint and exits,
    and the trial is resumed by the next agent instead of training on, unobserved, in an orphan."""
    expected = int(os.environ.get(PARENT_PID_ENV) or 0)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    else:
        threading.Thread(target=_watch_parent, args=(expected,), daemon=True).start()
    if expected and os.getppid() != expected:  # the agent died before we could ask to be told
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(expected: int) -> None:
    while True:
        time.sleep(2)
        if expected and os.getppid() != expected:
            os.kill(os.getpid(), signal.SIGTERM)
            return


if __name__ == "__main__":
    sys.exit(main())
