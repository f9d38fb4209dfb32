"""`lex-dpr train`: config → model → data → evaluate the base model → train → evaluate → save.

One straight line, like Tevatron's driver. The step itself is `grad_cache.contrastive_step`, the batches come
from `sampler` + `negatives`, evaluation from `evaluate`, checkpoints from `checkpoint`, and the run folder
from `lexdpr.tracking`. What this module owns is the order of things and resuming:

- a fresh run seeds everything, logs the untrained model's evaluation as step 0, then trains;
- a re-run with the same `out_dir` loads the newest checkpoint (weights, optimizer, scheduler, RNG, data
  position), reopens the same run folder, drops events logged after that checkpoint, and continues; it
  ends with the metrics an uninterrupted run would have had;
- evaluation (and a checkpoint) happens every `trainer.eval_steps` steps, or at each epoch's end, and at the
  last step; rotation keeps the best checkpoint by eval/ndcg_at_10 and the newest `trainer.keep_last`;
- a finished run prints its best checkpoint's metrics last on stdout: a Katib trial's value (`latest`);
- SIGTERM/SIGINT save a checkpoint and stop (see `signals`); a non-finite loss stops the run as `failed`;
- under `torchrun` every process runs this with its share of each step (see `distributed`); rank 0 alone
  opens the run folder, evaluates, saves and reports, and gives the others what they need of it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lexdpr.data_processing.pair import Pair, read_pairs
from lexdpr.errors import ConfigError, InputError, LexDprError
from lexdpr.storage import exists, write_text
from lexdpr.storage.files import ensure_writable_folder
from lexdpr.tracking.metric_values import scalar_metrics
from lexdpr.tracking.run_folder import RunFolder, new_run_id
from lexdpr.tracking.tracker import RunTracker
from lexdpr.training import checkpoint as ckpt
from lexdpr.training import distributed
from lexdpr.training.augmentation import augment
from lexdpr.training.bi_encoder import BiEncoder, LoraSettings
from lexdpr.training.config import TrainConfig, config_to_dict, config_to_yaml, flatten, validate
from lexdpr.training.evaluate import EvalData, prepare_retrieval_set, prepare_valid_set, run_evaluation
from lexdpr.training.false_negatives import FalseNegativeGuard
from lexdpr.training.grad_cache import contrastive_step
from lexdpr.training.model_ref import base_settings
from lexdpr.training.negatives import build_step_batch
from lexdpr.training.optimization import build_optimizer, linear_schedule
from lexdpr.training.pairs import Corpus, load_corpus, load_training_pairs, unique_queries
from lexdpr.training.progress_bar import TrainingProgress
from lexdpr.training.runtime import Runtime, pick_runtime
from lexdpr.training.sampler import NoSharedPositiveBatchSampler
from lexdpr.training.signals import StopFlag, TrainingInterrupted
from lexdpr.training.tokenized import TokenizedTexts

TRAINING_CONFIG = "training_config.json"
# Keys that may differ when a run is resumed: where logs go and which sweep it belongs to.
_RESUME_FREE_KEYS = {"run_dir", "sweep_id"}


class TrainingFailed(LexDprError):
    """Training stopped because it cannot go on (e.g. the loss became NaN)."""


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    state: str
    run_id: str
    run_folder: Path
    out_dir: Path
    steps: int
    final_metrics: dict[str, Any]
    best_checkpoint: Path | None
    best_metrics: dict[str, Any]
    last_checkpoint: Path | None


@dataclass
class _Position:
    """Where training is: optimizer steps done, and the next batch (epoch, index in the epoch)."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    examples: int = 0  # queries of this epoch used so far, over all processes (batches are global)


@dataclass
class _TrainingData:
    pairs: list[Pair]
    query_tokens: TokenizedTexts
    passage_tokens: TokenizedTexts
    passage_position: dict[str, int]
    eval_data: EvalData | None
    guard: FalseNegativeGuard | None = None  # data.false_negative_guard
    epoch_batches: list[list[list[int]]] = field(default_factory=list)


def train(
    config: TrainConfig,
    *,
    quiet: bool = False,
    run_id: str | None = None,
    on_evaluation: Callable[[int, Mapping[str, Any]], None] | None = None,
) -> TrainResult:
    """Train (or resume) a bi-encoder as `config` says; see the module docstring.

    `quiet` hides progress bars and notes (metric lines still go to stdout). `run_id` names a fresh run
    (a resumed run keeps its own). `on_evaluation(step, metrics)` is called after every evaluation (step 0
    included) once its checkpoint is saved; it may raise to stop the run early — a sweep's pruner does — and
    then the run is recorded as `finished` with `stopped_early: true` and the exception propagates.
    """
    validate(config)
    check_inputs(config)
    config_dict = config_to_dict(config)
    root = ckpt.checkpoint_root(config.out_dir)
    world = distributed.start()  # several processes under torchrun; rank 0 alone writes (see `distributed`)
    try:
        opened, (shared_id, shared_folder, resume_from) = world.from_main(
            lambda: _open_run(config, config_dict, root, run_id),
            lambda r: (r[0].folder.run_id, str(r[0].folder.path), r[1]),
        )
    except BaseException:
        distributed.stop(world)
        raise
    tracker = opened[0] if opened else distributed.SilentTracker(shared_id, shared_folder)
    quiet = quiet or not world.is_main
    try:
        with StopFlag() as stop:
            run = _TrainingRun.set_up(config, config_dict, root, resume_from, tracker, quiet, world)
            return run.drive(stop, on_evaluation)
    except KeyboardInterrupt:
        if not tracker.closed:
            tracker.finish("crashed", reason="interrupted (SIGINT twice)", exit_signal="SIGINT")
        raise
    except BaseException as exc:
        if not tracker.closed:  # states recorded on purpose (signals, NaN, early stop) are kept
            tracker.finish("failed", reason=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        distributed.stop(world)


def _open_run(
    config: TrainConfig, config_dict: dict[str, Any], root: Path, run_id: str | None
) -> tuple[RunTracker, ckpt.CheckpointInfo | None]:
    """Rank 0: the run folder to log into (a resumed run's own) and the checkpoint to resume from, if any."""
    for key, folder in (("out_dir", config.out_dir), ("run_dir", config.run_dir)):  # fail before any work
        ensure_writable_folder(folder, f"{key}={folder}")
    previous = _read_training_config(root)
    checkpoints = ckpt.list_checkpoints(root)
    # A run that never saved a checkpoint has nothing to resume, so its config binds nothing.
    if previous is not None and not checkpoints and _differing_keys(previous.get("config", {}), config_dict):
        previous = None
    if previous is not None:
        _check_resumable(previous.get("config", {}), config_dict, root)
    resume_from = checkpoints[-1] if checkpoints else None
    run_id = (previous or {}).get("run_id") or run_id or new_run_id()

    folder = RunFolder.find(config.run_dir, run_id) if previous else None
    metadata = _run_metadata(config)
    if folder is None:
        folder = RunFolder.create(config.run_dir, run_id, config_to_yaml(config), metadata)
    else:
        folder.update(
            state="running",
            reason=None,
            exit_signal=None,
            **metadata,
            resumed_from_step=resume_from.step if resume_from else 0,
        )
        folder.truncate_events(resume_from.step if resume_from else -1)
        folder.point_latest()
    tracker = RunTracker.open(folder, flatten(config_dict), config.sweep_id, resume=previous is not None)
    return tracker, resume_from


@dataclass
class _TrainingRun:
    """One training run's state, and its phases: set up, step, evaluate, checkpoint, report, finish.

    `drive` is the loop that calls them in order. Under torchrun every rank holds one of these; the phases
    that write (evaluate, checkpoint, report) run on rank 0 only, and every rank takes their results, so the
    fields below stay equal on all ranks.
    """

    config: TrainConfig
    root: Path
    world: distributed.World
    tracker: RunTracker
    runtime: Runtime
    model: BiEncoder
    data: _TrainingData
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None
    total_steps: int
    quiet: bool
    resume_from: ckpt.CheckpointInfo | None
    on_evaluation: Callable[[int, Mapping[str, Any]], None] | None = None  # see `train`
    position: _Position = field(default_factory=_Position)
    last_metrics: dict[str, Any] = field(default_factory=dict)
    last_checkpoint: Path | None = None
    saved_step: int = -1  # the step of the newest checkpoint, so a stop does not save the same step twice

    # --- set-up -------------------------------------------------------------------------------------------

    @classmethod
    def set_up(
        cls,
        config: TrainConfig,
        config_dict: dict[str, Any],
        root: Path,
        resume_from: ckpt.CheckpointInfo | None,
        tracker: RunTracker,
        quiet: bool,
        world: distributed.World,
    ) -> _TrainingRun:
        """Model, data, optimizer and schedule; then the resumed position, the same on every rank."""
        t = config.trainer
        runtime = pick_runtime(t.precision, device=world.device, quiet=quiet)
        settings = base_settings(
            config.model.bi_model,
            config.model.model_cache,
            config.model.pooling,
            config.model.max_len,
            config.model.query_max_len,
        )
        peft = config.model.peft
        lora = (
            LoraSettings(peft.r, peft.alpha, peft.dropout, peft.target_modules, peft.layers)
            if peft.enabled
            else None
        )
        model = BiEncoder.build(settings, lora, seed=t.seed, dropout=config.model.dropout).to(runtime.device)
        if world.is_main:
            _write_training_config(root, config_dict, tracker.folder, settings)

        data = _prepare_data(config if world.is_main else _without_evaluation(config), model, quiet)
        sampler = NoSharedPositiveBatchSampler(
            [p.positives for p in data.pairs], config.data.batch_size * t.gradient_accumulation_steps, t.seed
        )
        data.epoch_batches = [sampler.batches(e) for e in range(t.epochs)]
        planned = sum(len(b) for b in data.epoch_batches)
        total_steps = min(planned, t.max_steps) if t.max_steps else planned

        optimizer = build_optimizer(model, t.lr, t.weight_decay)
        run = cls(
            config=config,
            root=root,
            world=world,
            tracker=tracker,
            runtime=runtime,
            model=model,
            data=data,
            optimizer=optimizer,
            scheduler=linear_schedule(optimizer, total_steps, t.warmup_ratio),
            scaler=torch.amp.GradScaler(runtime.device.type) if runtime.uses_grad_scaler else None,
            total_steps=total_steps,
            quiet=quiet,
            resume_from=resume_from,
            last_checkpoint=resume_from.path if resume_from else None,
            saved_step=resume_from.step if resume_from else -1,
        )
        run._resume()
        tracker.folder.update(
            total_steps=total_steps,
            device=str(runtime.device),
            precision=runtime.precision_name,
            world_size=world.size,
        )
        return run

    def _resume(self) -> None:
        """Rank 0 loads the newest checkpoint (weights, optimizer, schedule, position); the others get it."""
        if self.resume_from is not None and self.world.is_main:
            self.model.load_trainable_state(self.resume_from.path)
            state = ckpt.load_training_state(
                self.resume_from.path, self.optimizer, self.scheduler, self.scaler
            )
            self.position = _Position(**state["position"])
            self.last_metrics = state.get("metrics", {})
            if not self.quiet:
                step, path = self.position.step, self.resume_from.path
                print(f"resuming from {path} (step {step} of {self.total_steps})", file=sys.stderr)
        self.position, self.last_metrics = distributed.sync_training_state(
            self.world,
            self.model,
            self.optimizer,
            self.scheduler,
            self.scaler,
            (self.position, self.last_metrics),
            resumed=self.resume_from is not None,
        )

    # --- the loop -----------------------------------------------------------------------------------------

    def drive(
        self, stop: StopFlag, on_evaluation: Callable[[int, Mapping[str, Any]], None] | None = None
    ) -> TrainResult:
        """Evaluate the base model (fresh runs), then step, evaluating and saving when due, until the end
        or a stop signal; then report the result. `on_evaluation`: see `train`."""
        t = self.config.trainer
        self.on_evaluation = on_evaluation
        with TrainingProgress(self.total_steps, self.position.step, self.quiet) as bar:
            if self.resume_from is None:
                bar.status("evaluating the base model")
                self.last_metrics = self._on_main(self.evaluate, 0)
                self._on_main(self.report, 0, self.last_metrics)
                _seed_everything(t.seed)
            distributed.seed_other_ranks(self.world, t.seed, self.position.step)
            self.model.train()
            while self.position.step < self.total_steps:
                epoch_done = self.step(bar)
                final = self.position.step >= self.total_steps
                if final or self._evaluation_due(epoch_done):
                    self._evaluate_and_checkpoint(bar)
                if self.world.any(stop.stop_requested) and not final:  # a signal may reach some ranks only
                    self._stop(stop, bar)
        return self.finish()

    # --- step ---------------------------------------------------------------------------------------------

    def step(self, bar: TrainingProgress) -> bool:
        """One optimizer step on the next batch; logs train/*. Returns whether it ended an epoch."""
        t, position, data = self.config.trainer, self.position, self.data
        batches = data.epoch_batches[position.epoch]
        indices = batches[position.batch]
        rng = random.Random(f"step-{t.seed}-{position.epoch}-{position.batch}")
        batch = build_step_batch(
            data.pairs, indices, data.passage_position, self.config.data.hard_negative_ratio, rng, data.guard
        )
        lr = self.scheduler.get_last_lr()[0]
        loss = contrastive_step(
            self.model,
            data.query_tokens,
            data.passage_tokens,
            batch,
            t.temperature,
            t.gradient_accumulation_steps,
            self.runtime.bucketing,
            self.runtime.autocast(),
            self.scaler.scale if self.scaler is not None else (lambda x: x),
            world=self.world,
        )
        if not math.isfinite(loss):
            raise _fail(
                self.tracker,
                f"loss is {loss} at step {position.step + 1}: training diverged "
                "(lower trainer.lr, raise trainer.temperature, or use trainer.precision=fp32)",
            )
        grad_norm = _clip_and_step(self.model, self.optimizer, self.scaler, t.gradient_clip_norm)
        if not math.isfinite(grad_norm) and self.scaler is None:
            raise _fail(
                self.tracker, f"gradient norm is {grad_norm} at step {position.step + 1}: training diverged"
            )
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

        position.step += 1
        position.batch += 1
        position.examples += len(indices)
        epoch_done = position.batch == len(batches)
        epoch_progress = position.epoch + position.batch / len(batches)
        if epoch_done:
            position.epoch, position.batch, position.examples = position.epoch + 1, 0, 0
        self.tracker.log(
            position.step,
            {
                "train/loss": loss,
                "train/lr": lr,
                "train/grad_norm": grad_norm,
                "train/epoch": round(epoch_progress, 6),
            },
        )
        bar.step(position.step, loss, len(indices))
        return epoch_done

    # --- evaluate, checkpoint, report (rank 0; see `_on_main`) ----------------------------------------

    def _evaluation_due(self, epoch_done: bool) -> bool:
        """Every `trainer.eval_steps` steps, or at each epoch's end when that is 0."""
        every = self.config.trainer.eval_steps
        return self.position.step % every == 0 if every else epoch_done

    def _evaluate_and_checkpoint(self, bar: TrainingProgress) -> None:
        step = self.position.step
        started = time.perf_counter()
        bar.status("evaluating")
        self.last_metrics = self._on_main(self.evaluate, step)
        bar.status("saving a checkpoint")
        self.last_checkpoint = self._on_main(self.checkpoint, step)
        self.saved_step = step
        bar.pause_clock(time.perf_counter() - started)  # evaluation time is not training time
        self._on_main(self.report, step, self.last_metrics)
        self.model.train()

    def evaluate(self, step: int) -> dict[str, Any]:
        """eval/* and valid/loss of the model as it is now, logged at `step`; {} without evaluation data."""
        if self.data.eval_data is None:
            return {}
        t = self.config.trainer
        metrics = run_evaluation(
            self.model, self.data.eval_data, t.k_values, t.temperature, self.runtime, quiet=True
        )
        self.tracker.log(step, metrics)
        valid_loss = metrics.get("valid/loss")
        if isinstance(valid_loss, float) and not math.isfinite(valid_loss):  # the last step's update broke
            raise _fail(  # the weights: its own loss was finite, so the check in the step cannot see it
                self.tracker,
                f"valid/loss is {valid_loss} at step {step}: training diverged "
                "(lower trainer.lr, raise trainer.temperature, or use trainer.precision=fp32)",
            )
        return metrics

    def checkpoint(self, step: int) -> Path:
        """Save weights, optimizer, schedule, RNG and position at `step`; keep the best and the newest."""
        state = {
            "step": step,
            "position": asdict(self.position),
            "metrics": self.last_metrics,
            "run_id": self.tracker.folder.run_id,
            "total_steps": self.total_steps,
        }
        path = ckpt.save_checkpoint(
            self.root, step, self.model.save, self.optimizer, self.scheduler, self.scaler, state
        )
        ckpt.rotate(self.root, self.config.trainer.keep_last)
        self.tracker.folder.update(step=step, last_checkpoint=str(path.resolve()))
        return path

    def report(self, step: int, metrics: dict[str, Any]) -> None:
        """Hand an evaluation to `on_evaluation`; if it raises (a pruner), record the run as stopped early."""
        if self.on_evaluation is None or not metrics:
            return
        try:
            self.on_evaluation(step, metrics)
        except Exception as exc:
            reason = f"stopped early after the evaluation at step {step} ({type(exc).__name__}: {exc})"
            self.tracker.finish(
                "finished", stopped_early=True, reason=reason, final_metrics=scalar_metrics(metrics)
            )
            raise

    def _on_main(self, phase: Callable[..., Any], *args: Any) -> Any:
        """`phase(*args)` run on rank 0 only; every rank returns its result (picklable) or raises its error."""
        return self.world.from_main(lambda: phase(*args), share=lambda result: result)[1]

    # --- stop and finish ----------------------------------------------------------------------------------

    def _stop(self, stop: StopFlag, bar: TrainingProgress) -> None:
        """A stop signal: save a checkpoint unless this step has one, record the state, raise."""
        bar.status("saving a checkpoint (stop requested)")
        if self.saved_step != self.position.step:
            self.last_checkpoint = self._on_main(self.checkpoint, self.position.step)
        signum = stop.signum or signal.SIGTERM
        name = signal.Signals(signum).name
        self.tracker.finish(stop.state, reason=f"{name} received; checkpoint saved", exit_signal=name)
        raise TrainingInterrupted(signum, self.position.step, str(self.last_checkpoint))

    def finish(self) -> TrainResult:
        """Print the best checkpoint's metrics last on stdout (a Katib trial's value) and close the run."""
        checkpoints = ckpt.list_checkpoints(self.root)
        best = ckpt.best_checkpoint(checkpoints)
        summary = {
            "best_checkpoint": str(best.path.resolve()) if best else None,
            "final_metrics": scalar_metrics(self.last_metrics),
        }
        best_metrics = best.state.get("metrics", {}) if best else {}
        if best_metrics:
            self.tracker.echo_result(best_metrics)
        self.tracker.finish("finished", step=self.position.step, **summary)
        return TrainResult(
            state="finished",
            run_id=self.tracker.folder.run_id,
            run_folder=self.tracker.folder.path,
            out_dir=Path(self.config.out_dir),
            steps=self.position.step,
            final_metrics=self.last_metrics,
            best_checkpoint=best.path if best else None,
            best_metrics=best_metrics,
            last_checkpoint=checkpoints[-1].path if checkpoints else self.last_checkpoint,
        )


# --- pieces -------------------------------------------------------------------------------------------


def _prepare_data(config: TrainConfig, model: BiEncoder, quiet: bool) -> _TrainingData:
    d, t = config.data, config.trainer
    corpus = load_corpus(d.passages)
    pairs = augment(load_training_pairs(d.pairs, corpus, quiet=quiet), d.multiply)
    query_tokens = model.tokenize([p.query_text for p in pairs], "query", d.num_workers)

    eval_path = d.eval_pairs or d.valid_pairs
    retrieval = valid = None
    if eval_path:
        eval_pairs = unique_queries(read_pairs(eval_path), str(eval_path))
        retrieval = prepare_retrieval_set(model, eval_pairs, corpus, d.num_workers)
    if d.valid_pairs:
        valid_pairs = read_pairs(d.valid_pairs)
        valid = prepare_valid_set(model, valid_pairs, corpus, t.valid_negatives, t.seed, d.num_workers)

    if retrieval is not None or valid is not None:
        # The whole corpus is encoded for evaluation anyway: tokenize it once for both uses.
        passage_tokens = model.tokenize(corpus.texts, "passage", d.num_workers)
        eval_data = EvalData(corpus, passage_tokens, retrieval, valid)
        return _TrainingData(
            pairs, query_tokens, passage_tokens, corpus.index, eval_data, _guard(config, pairs)
        )
    needed = _training_passages(pairs, corpus)
    passage_tokens = model.tokenize([corpus.texts[corpus.index[i]] for i in needed], "passage", d.num_workers)
    position = {pid: n for n, pid in enumerate(needed)}
    return _TrainingData(pairs, query_tokens, passage_tokens, position, None, _guard(config, pairs))


def _guard(config: TrainConfig, pairs: list[Pair]) -> FalseNegativeGuard | None:
    return FalseNegativeGuard(pairs) if config.data.false_negative_guard else None


def _without_evaluation(config: TrainConfig) -> TrainConfig:
    """The config of a rank other than 0: it trains but never evaluates, so it prepares no evaluation data."""
    return replace(config, data=replace(config.data, valid_pairs=None, eval_pairs=None))


def _training_passages(pairs: list[Pair], corpus: Corpus) -> list[str]:
    seen: dict[str, None] = {}
    for p in pairs:
        seen.update(dict.fromkeys(p.positives))
        seen.update(dict.fromkeys(p.hard_negatives))
    return list(seen)


def _clip_and_step(model: BiEncoder, optimizer, scaler, clip: float) -> float:
    params = [p for p in model.parameters() if p.requires_grad]
    if scaler is not None:
        scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    elif math.isfinite(float(norm)):
        optimizer.step()
    return float(norm)


def _fail(tracker: RunTracker, reason: str) -> TrainingFailed:
    tracker.finish("failed", reason=reason)
    return TrainingFailed(reason)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _run_metadata(config: TrainConfig) -> dict[str, Any]:
    return {
        "sweep_id": config.sweep_id,
        "program": "lex-dpr train",
        "out_dir": str(Path(config.out_dir).resolve()),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "args": sys.argv[1:],
    }


def _read_training_config(root: Path) -> dict[str, Any] | None:
    path = root / TRAINING_CONFIG
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def _write_training_config(root: Path, config_dict: dict[str, Any], folder: RunFolder, settings) -> None:
    payload = {
        "config": config_dict,
        "run_id": folder.run_id,
        "run_folder": str(folder.path),
        "encoder": asdict(settings),
    }
    write_text(root / TRAINING_CONFIG, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def check_inputs(config: TrainConfig) -> None:
    """Every input file the config names exists: checked before anything is loaded or written, so a typo
    costs no model loading and leaves nothing behind in out_dir."""
    d = config.data
    named = [("data.pairs", p) for p in ([d.pairs] if isinstance(d.pairs, str) else d.pairs)]
    named += [
        ("data.passages", d.passages),
        ("data.valid_pairs", d.valid_pairs),
        ("data.eval_pairs", d.eval_pairs),
    ]
    missing = [(key, str(path)) for key, path in named if path and not exists(path)]
    if not missing:
        return
    listed = "; ".join(f"{key}={path}" for key, path in missing)
    optional = (
        " (data.valid_pairs=null trains without validation)"
        if any(k == "data.valid_pairs" for k, _ in missing)
        else ""
    )
    raise InputError(
        missing[0][1],
        f"no such file ({listed}); nothing was loaded or written. Give existing files, e.g. "
        f"`lex-dpr train {missing[0][0]}=PATH`{optional}",
    )


def _differing_keys(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    old, new = flatten(previous), flatten(current)
    return sorted(k for k in set(old) | set(new) if k not in _RESUME_FREE_KEYS and old.get(k) != new.get(k))


def _check_resumable(previous: dict[str, Any], current: dict[str, Any], root: Path) -> None:
    """A run resumes only with the config it started with; anything else would mix two experiments."""
    old, new = flatten(previous), flatten(current)
    differing = _differing_keys(previous, current)
    if differing:
        details = ", ".join(f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in differing[:8])
        raise ConfigError(
            f"{root} holds a run with a different config ({details}); resume it with the same config, "
            "or choose another out_dir"
        )
