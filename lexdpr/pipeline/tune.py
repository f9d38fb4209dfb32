"""The pipeline's tune stage: create or resume a sweep over the pipeline's data, wait for it, and write
the best trial's parameters as a train config.

    python -m lexdpr.pipeline.tune --backend local|katib --sweep-file F --trials N --parallelism P \
        --base-model M --train-pairs URI --valid-pairs URI --corpus URI --workspace DIR --out DIR

The user's sweep file says what to search; the pipeline says on which data. So the stage writes a
*resolved* sweep file into the workspace — the user's file with `fixed` data paths (and the base model,
unless the file sweeps `model.bi_model`) — and runs that. Its name is a hash of the resolved definition,
so running the pipeline again on the same data and sweep resumes the same sweep (the trials already done
count against `--trials`), while new data or a new sweep file starts a new one.

The sweeping itself is done by the sweep engines, not here: `lexdpr.sweep` (optuna agents on this
machine, state in `<workspace>/sweeps.db`) or `lexdpr.kube` (a Katib Experiment, trials as Jobs on the
workspace PVC). Outputs in `--out`: `best.yaml`, the train config of the best trial (fixed values + its
parameters), and `best.json`, what the sweep knows about that trial.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lexdpr import storage
from lexdpr.errors import ConfigError, LexDprError
from lexdpr.stage_cli import run_main, stderr_console

BACKENDS = ("local", "katib")
KATIB_POLL_S = 30.0
_FINAL_KATIB_STATES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class TuneRequest:
    """What the pipeline asks of the sweep."""

    backend: str
    sweep_file: str
    trials: int
    parallelism: int
    base_model: str
    train_pairs: str
    valid_pairs: str
    corpus: str
    workspace: Path
    out: str
    trial_image: str = ""
    pvc: str = ""
    s3_secret: str = ""


@dataclass(frozen=True)
class BestTrial:
    """The winner, as both engines report it."""

    sweep: str
    trial: str
    metric: str
    objective: float | None
    values: dict[str, Any]
    checkpoint: str | None
    trials_done: int


def resolved_sweep(request: TuneRequest) -> tuple[dict[str, Any], str]:
    """The user's sweep file with the pipeline's data (and base model) fixed, and its content hash."""
    from lexdpr.sweep.sweep_file import load_sweep_file

    with storage.local_copy(request.sweep_file) as path:
        spec = load_sweep_file(path)
    data = spec.definition()
    fixed = dict(data.get("fixed") or {})
    fixed.update(
        {
            "data.pairs": s3_uri(request.train_pairs),
            "data.valid_pairs": s3_uri(request.valid_pairs),
            "data.passages": s3_uri(request.corpus),
        }
    )
    if "model.bi_model" not in spec.parameters:
        fixed["model.bi_model"] = request.base_model
    data["fixed"] = fixed
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    if spec.name:
        data["name"] = spec.name
    if spec.description:
        data["description"] = spec.description
    return data, digest[:12]


def s3_uri(uri: str) -> str:
    """KFP's default pipeline root is the in-cluster MinIO, `minio://bucket/key`: the same object, over S3."""
    return "s3://" + uri[len("minio://") :] if uri.startswith("minio://") else uri


def run(
    request: TuneRequest,
    say: Callable[[str], None],
    *,
    runner: Any = None,
    api: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BestTrial:
    """Resolve, sweep with the chosen backend, and write `best.yaml` / `best.json` into `request.out`.

    `runner` (a `lexdpr.sweep.runner.TrialRunner`), `api` (a `lexdpr.kube.api.KatibApi`) and `sleep` replace
    the real trial processes, Kubernetes API and clock in tests.
    """
    if request.backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {request.backend!r}")
    if request.trials < 1 or request.parallelism < 1:
        raise ConfigError("--trials and --parallelism must be at least 1")
    definition, digest = resolved_sweep(request)
    folder = request.workspace / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    if request.backend == "local":
        best = _tune_local(request, definition, folder / f"pipeline-{digest}.yaml", say, runner)
    else:
        best = _tune_katib(request, definition, f"lexdpr-{digest}", folder, say, api, sleep)
    from lexdpr.sweep.sweep_file import parse_sweep

    config = parse_sweep(definition, str(request.sweep_file)).train_values(best.values)
    storage.write_text(
        storage.join(request.out, "best.yaml"),
        "# the best trial's train config; `lex-dpr train --config best.yaml` trains it again\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
    )
    record = {
        "backend": request.backend,
        "sweep": best.sweep,
        "trial": best.trial,
        "metric": best.metric,
        "objective": best.objective,
        "values": best.values,
        "checkpoint": best.checkpoint,
        "trials_done": best.trials_done,
        "config": config,
    }
    storage.write_text(
        storage.join(request.out, "best.json"),
        json.dumps(record, ensure_ascii=False, indent=2, default=str) + "\n",
    )
    say(f"best trial {best.trial} of sweep {best.sweep}: {best.metric} = {best.objective}")
    return best


# --- local: lexdpr.sweep ---------------------------------------------------------------------------


def _tune_local(
    request: TuneRequest,
    definition: dict[str, Any],
    sweep_file: Path,
    say: Callable[[str], None],
    runner: Any = None,
) -> BestTrial:
    from lexdpr.sweep import commands
    from lexdpr.sweep.engine import SweepEngine
    from lexdpr.sweep.report import trial_rows
    from lexdpr.sweep.storage import resolve_url
    from lexdpr.sweep.sweep_file import load_sweep_file

    url = resolve_url(str(request.workspace / "sweeps.db"))
    out_root = request.workspace / "sweeps" / "trials"
    quiet = _quiet_console()
    spec = load_sweep_file(sweep_file) if sweep_file.is_file() else None
    if spec is None or not spec.sweep_id:
        storage.write_text(sweep_file, yaml.safe_dump(definition, sort_keys=False, allow_unicode=True))
        sweep_id = commands.create(sweep_file, storage=url, run_agent=False, console=quiet)
        say(f"created sweep {sweep_id} ({sweep_file})")
    else:
        sweep_id = spec.sweep_id
        say(f"resuming sweep {sweep_id} ({sweep_file})")

    def done() -> int:
        engine = SweepEngine.open(sweep_id, url)
        rows = trial_rows(engine.spec, engine.trials())
        return sum(r.state in ("complete", "pruned", "failed", "skipped") for r in rows)

    remaining = request.trials - done()
    if remaining > 0:
        agents = min(request.parallelism, remaining)
        counts = [remaining // agents + (1 if i < remaining % agents else 0) for i in range(agents)]
        say(f"running {remaining} trial(s) with {agents} agent(s)")
        args = [(str(sweep_file), url, str(out_root), count, runner) for count in counts]
        if agents == 1:
            _agent(*args[0])
        else:
            context = multiprocessing.get_context("spawn")
            processes = [context.Process(target=_agent, args=a, daemon=False) for a in args]
            for p in processes:
                p.start()
            for p in processes:
                p.join()
            failed = [p.exitcode for p in processes if p.exitcode]
            if failed:
                raise LexDprError(
                    f"{len(failed)} sweep agent(s) failed (exit codes {failed}); see the log above"
                )
    engine = SweepEngine.open(sweep_id, url)
    row = commands.best(sweep_id, storage=url, console=quiet)
    return BestTrial(
        sweep=sweep_id,
        trial=str(row.number),
        metric=engine.spec.metric.name,
        objective=row.objective,
        values=dict(row.values),
        checkpoint=row.best_checkpoint,
        trials_done=done(),
    )


def _agent(sweep_file: str, url: str, out_root: str, count: int, runner: Any = None) -> None:
    """One agent (in this process, or a spawned one: agents install signal handlers, so each needs a main thread)."""
    from lexdpr.sweep import commands
    from lexdpr.sweep.agent import AgentOptions

    options = AgentOptions(count=count, out_root=Path(out_root))
    commands.agent(sweep_file, storage=url, options=options, runner=runner, console=stderr_console())


def _quiet_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, quiet=True)


# --- katib: lexdpr.kube ------------------------------------------------------------------------------


def _tune_katib(
    request: TuneRequest,
    definition: dict[str, Any],
    name: str,
    folder: Path,
    say: Callable[[str], None],
    api: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BestTrial:
    """Create the Experiment unless it exists (then this resumes waiting on it), wait, and read the best."""
    from lexdpr.kube.api import KubernetesKatibApi
    from lexdpr.kube.commands import create_experiment
    from lexdpr.kube.status import summarize

    api = api or KubernetesKatibApi()
    sweep_file = folder / f"{name}.yaml"
    if api.get_experiment(name) is None:
        storage.write_text(sweep_file, yaml.safe_dump(definition, sort_keys=False, allow_unicode=True))
        options: dict[str, Any] = {
            "name": name,
            "max_trials": request.trials,
            "parallel": request.parallelism,
        }
        if request.trial_image:
            options["image"] = request.trial_image
        if request.pvc:
            options["pvc"] = request.pvc
        if request.s3_secret:
            options["s3_secret"] = request.s3_secret
        create_experiment(sweep_file, api=api, console=_quiet_console(), **options)
        say(f"created Katib Experiment {name}: {request.trials} trials, {request.parallelism} at a time")
    else:
        say(f"Katib Experiment {name} exists: waiting for it")
    last = ""
    while True:
        summary = summarize(api.get_experiment(name) or {}, api.list_trials(name))
        line = f"{name}: {summary.state}, {summary.counts.get('trialsSucceeded', 0)} succeeded of {summary.max_trials}"
        if line != last:
            say(line)
            last = line
        if summary.state in _FINAL_KATIB_STATES:
            break
        sleep(KATIB_POLL_S)
    best = summary.best
    if best is None:
        raise LexDprError(
            f"Katib Experiment {name} ended {summary.state} ({summary.reason}) with no best trial"
        )
    return BestTrial(
        sweep=name,
        trial=best.name,
        metric=summary.objective,
        objective=best.metrics.get(summary.objective),
        values=dict(best.parameters),
        checkpoint=f"{request.workspace}/{best.out_dir}",
        trials_done=summary.counts.get("trialsSucceeded", 0) + summary.counts.get("trialsFailed", 0),
    )


# --- command line ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lexdpr.pipeline.tune", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, default="local", help="local agents or a Katib Experiment"
    )
    parser.add_argument("--sweep-file", required=True, help="the sweep file (path or s3:// URI)")
    parser.add_argument("--trials", type=int, required=True, help="trial budget of the sweep")
    parser.add_argument("--parallelism", type=int, default=1, help="trials at once")
    parser.add_argument(
        "--base-model", required=True, help="fixed as model.bi_model unless the sweep varies it"
    )
    parser.add_argument("--train-pairs", required=True, help="pairs_train.jsonl (path or s3:// URI)")
    parser.add_argument("--valid-pairs", required=True, help="pairs_train_valid.jsonl")
    parser.add_argument("--corpus", required=True, help="merged_corpus.jsonl")
    parser.add_argument(
        "--workspace", required=True, help="local folder (the PVC) for sweep state and trials"
    )
    parser.add_argument("--trial-image", default="", help="katib: image of the trial Jobs")
    parser.add_argument("--pvc", default="", help="katib: the workspace PersistentVolumeClaim")
    parser.add_argument("--s3-secret", default="", help="katib: the Secret with the trials' AWS_* variables")
    parser.add_argument("--out", required=True, help="folder (or s3:// prefix) for best.yaml and best.json")
    return parser


def _body(args: argparse.Namespace) -> int:
    console = stderr_console()
    request = TuneRequest(
        backend=args.backend,
        sweep_file=args.sweep_file,
        trials=args.trials,
        parallelism=args.parallelism,
        base_model=args.base_model,
        train_pairs=args.train_pairs,
        valid_pairs=args.valid_pairs,
        corpus=args.corpus,
        workspace=Path(args.workspace),
        out=args.out,
        trial_image=args.trial_image,
        pvc=args.pvc,
        s3_secret=args.s3_secret,
    )
    run(request, lambda message: console.print(message, markup=False, highlight=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_body, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
