"""Training over several processes (GPUs) started by `torchrun`: who does what, and the few collectives.

`torchrun --nproc_per_node N -m lexdpr.cli train …` starts N copies of `lex-dpr train` with WORLD_SIZE,
RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in their environment. `start()` reads them and joins the
process group (nccl on CUDA, gloo on CPU); without them (or with WORLD_SIZE=1) training is one process.

The step's batch is global: every process builds the same `StepBatch` (batches and hard-negative draws are
pure functions of the seed and the position), encodes its share of the queries and passages, and the shares
are summed into the full embedding matrices (`gather_rows`), so the loss of every process is the loss of
the whole batch and every process's passages are negatives for every query. Each process backpropagates
into its own rows only, and `all_reduce_grads` sums the parameter gradients: the sum is the gradient of the
single-process step over the whole batch. Nothing about a checkpoint depends on the number of processes.

Rank 0 alone writes the run folder, W&B, stdout metric lines and checkpoints, and evaluates; `from_main`
runs such work on rank 0 and tells the others how it went, so an error there stops every process.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from lexdpr.errors import ConfigError, LexDprError

T = TypeVar("T")
ENV_KEYS = ("WORLD_SIZE", "RANK", "LOCAL_RANK")
TIMEOUT_ENV = "LEXDPR_DIST_TIMEOUT_S"  # how long a process waits for the others (rank 0 evaluating)
DEFAULT_TIMEOUT_S = 7200


class MainRankFailed(LexDprError):
    """Rank 0 failed (or stopped the run) while the other processes waited for it."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class World:
    """This process's place among the training processes; `World()` is a single process."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0
    started_here: bool = False  # whether `start` created the process group (so `stop` destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> str | None:
        """The device of this process: its own GPU under torchrun, else the default choice."""
        if self.size > 1 and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return None

    # --- collectives (no-ops for one process) ---------------------------------------------------------

    def from_main(
        self, fn: Callable[[], T], share: Callable[[T], Any] = lambda _: None
    ) -> tuple[T | None, Any]:
        """Run `fn` on rank 0 only; every rank gets `share(result)` (picklable). If `fn` raises, rank 0
        re-raises it and the other ranks raise `MainRankFailed` with its message."""
        if self.size == 1:
            result = fn()
            return result, share(result)
        if self.is_main:
            try:
                result = fn()
                payload: Any = ("ok", share(result))
            except BaseException as exc:
                code = getattr(exc, "exit_code", 1)
                self._broadcast(("error", f"rank 0: {type(exc).__name__}: {exc}", code))
                raise
            self._broadcast(payload)
            return result, payload[1]
        kind, *rest = self._broadcast(None)
        if kind == "error":
            raise MainRankFailed(rest[0], rest[1] if isinstance(rest[1], int) else 1)
        return None, rest[0]

    def any(self, flag: bool) -> bool:
        """Whether `flag` is true on any rank (e.g. a stop signal reached only some processes)."""
        if self.size == 1:
            return flag
        value = torch.tensor([1 if flag else 0], dtype=torch.int64, device=_comm_device())
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item())

    def _broadcast(self, obj: Any) -> Any:
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0, device=_comm_device())
        return box[0]


SINGLE = World()


def start(env: Mapping[str, str] | None = None) -> World:
    """The World of this process; joins the process group when torchrun started several processes."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return World()
    try:
        size, rank = int(env["WORLD_SIZE"]), int(env.get("RANK", "0"))
        # torchrun sets LOCAL_RANK; a launcher that starts one process per machine (a PyTorchJob without
        # torchrun) sets only WORLD_SIZE and RANK, and that process uses the machine's first GPU.
        local_rank = int(env.get("LOCAL_RANK", "0"))
    except ValueError:
        found = ", ".join(f"{k}={env.get(k)!r}" for k in ENV_KEYS)
        raise ConfigError(
            f"WORLD_SIZE, RANK and LOCAL_RANK must be integers (torchrun sets them): {found}"
        ) from None
    if size < 1 or not 0 <= rank < size or local_rank < 0:
        raise ConfigError(f"WORLD_SIZE={size}, RANK={rank}, LOCAL_RANK={local_rank} do not fit together")
    if size == 1:
        return World()
    if torch.distributed.is_initialized():  # a caller (a test, a launcher) already joined the group
        return World(size, rank, local_rank, started_here=False)
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not env.get(k)]
    if missing:
        raise ConfigError(
            f"WORLD_SIZE={size} but {' and '.join(missing)} not set: start training with "
            "`torchrun --nproc_per_node N -m lexdpr.cli train …`, or set them as torchrun does"
        )
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    timeout = float(env.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    torch.distributed.init_process_group(
        backend="nccl" if cuda else "gloo",
        timeout=datetime.timedelta(seconds=timeout),
        **({"device_id": torch.device("cuda", local_rank)} if cuda else {}),
    )
    return World(size, rank, local_rank, started_here=True)


def stop(world: World) -> None:
    if world.started_here and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _comm_device() -> torch.device:
    if torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# --- the step -----------------------------------------------------------------------------------------


def shares(order: np.ndarray, world: World) -> list[np.ndarray]:
    """Every rank's rows of a step: `order` dealt round-robin, so that rows sorted by length spread evenly."""
    return [order[r :: world.size] for r in range(world.size)]


def gather_rows(local: torch.Tensor, positions: np.ndarray, total: int, world: World) -> torch.Tensor:
    """The [total, dim] fp32 matrix whose rows `positions` are this rank's `local` rows and the rest the
    other ranks' rows. Gradients flow into `local` only (each rank backpropagates its own rows)."""
    index = torch.from_numpy(np.asarray(positions, dtype=np.int64)).to(local.device)
    placed = torch.zeros(total, local.shape[1], dtype=torch.float32, device=local.device)
    placed = placed.index_copy(0, index, local.float())
    if world.size == 1:
        return placed
    mine = torch.zeros(total, 1, dtype=torch.bool, device=local.device)
    mine[index] = True
    # One more column counts each row's owners, to check that the shares cover the step exactly once.
    full = torch.cat([placed.detach(), mine.float()], dim=1)
    torch.distributed.all_reduce(full)  # every row is non-zero on one rank only: x + 0 = x exactly
    if not bool((full[:, -1] == 1).all()):
        raise RuntimeError("the processes disagree about the rows of the step (each row needs one owner)")
    return torch.where(mine, placed, full[:, :-1])


def all_reduce_grads(params: list[torch.nn.Parameter], world: World, bucket: int = 1 << 24) -> None:
    """Sum the parameters' gradients over ranks (a parameter without a gradient counts as zero)."""
    if world.size == 1:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    group: list[torch.Tensor] = []
    size = 0
    for p in params:
        group.append(p.grad)
        size += p.grad.numel()
        if size >= bucket:
            _all_reduce_flat(group)
            group, size = [], 0
    if group:
        _all_reduce_flat(group)


def _all_reduce_flat(grads: list[torch.Tensor]) -> None:
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    start = 0
    for g in grads:
        g.copy_(flat[start : start + g.numel()].view_as(g))
        start += g.numel()


# --- state ---------------------------------------------------------------------------------------------


def sync_training_state(
    world: World,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    extra: Any,
    resumed: bool,
) -> Any:
    """Give every rank rank 0's trainable weights and, when `resumed`, its optimizer, scheduler and scaler
    states; returns rank 0's `extra` (picklable). Only rank 0 needs to read the checkpoint."""
    if world.size == 1:
        return extra
    for p in model.parameters():
        if p.requires_grad:
            torch.distributed.broadcast(p.data, src=0)
    states = None
    if world.is_main:
        states = {"extra": extra}
        if resumed:
            states["optimizer"] = _to_cpu(optimizer.state_dict())
            states["scheduler"] = scheduler.state_dict()
            states["scaler"] = scaler.state_dict() if scaler is not None else None
    states = world._broadcast(states)
    if not world.is_main and resumed:
        optimizer.load_state_dict(states["optimizer"])
        scheduler.load_state_dict(states["scheduler"])
        if scaler is not None and states["scaler"] is not None:
            scaler.load_state_dict(states["scaler"])
    return states["extra"]


def seed_other_ranks(world: World, seed: int, step: int) -> None:
    """Give ranks other than 0 their own dropout stream (rank 0 keeps the checkpointed one)."""
    if world.size > 1 and not world.is_main:
        torch.manual_seed((seed * 1_000_003 + step * 1_009 + world.rank) % (2**63))


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value


class _FolderStub:
    """What the trainer reads of a run folder, on ranks that write none."""

    def __init__(self, run_id: str, path: str):
        self.run_id = run_id
        self.path = Path(path)

    def update(self, **fields: Any) -> dict[str, Any]:
        return {}


class SilentTracker:
    """The RunTracker of ranks other than 0: logs nothing, writes nothing (rank 0 does it once)."""

    def __init__(self, run_id: str, folder_path: str):
        self.folder = _FolderStub(run_id, folder_path)
        self.closed = False

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        pass

    def echo_result(self, metrics: Mapping[str, Any]) -> None:
        pass

    def finish(self, state: str, **fields: Any) -> None:
        self.closed = True
