"""Training over several processes (torchrun, gloo on CPU): the step's gradient, and a run through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lexdpr.errors import ConfigError
from lexdpr.training import distributed
from lexdpr.training.bi_encoder import BiEncoder, EncoderSettings, LoraSettings
from lexdpr.training.checkpoint import list_checkpoints
from lexdpr.training.grad_cache import Bucketing, contrastive_step
from lexdpr.training.sampler import NoSharedPositiveBatchSampler
from tests.training.test_loss import _step_inputs

REPO = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).parent / "torchrun"


def test_world_comes_from_torchrun_variables():
    assert distributed.start({}) == distributed.World()  # not under torchrun: one process
    assert distributed.start({"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0"}).size == 1
    with pytest.raises(ConfigError, match="integers"):
        distributed.start({"WORLD_SIZE": "two", "RANK": "0", "LOCAL_RANK": "0"})
    with pytest.raises(ConfigError, match="do not fit"):
        distributed.start({"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"})
    with pytest.raises(ConfigError, match="MASTER_PORT not set"):
        distributed.start({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1"})


def _encoder(model_path: Path) -> BiEncoder:
    settings = EncoderSettings("tiny", str(model_path), "mean", "", "", 64, 32)
    encoder = BiEncoder.build(settings, LoraSettings(dropout=0.0), seed=0)
    # a LoRA B of zeros gives A no gradient: make both matter (without touching the global RNG of the suite)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        for name, param in encoder.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    return encoder.eval()  # dropout off: every process must see the same network as the single one


def _step(encoder: BiEncoder, micro_batches: int, world: distributed.World):
    queries, passages, batch = _step_inputs(encoder)
    encoder.zero_grad()
    loss = contrastive_step(
        encoder, queries, passages, batch, 0.05, micro_batches, Bucketing(4, 200), world=world
    )
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.requires_grad}
    return loss, grads


def _worker(rank: int, world_size: int, port: int, model_path: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world_size),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    world = distributed.start()
    try:
        encoder = _encoder(Path(model_path))
        embedded = []  # rows this process encodes itself
        embed = encoder.embed_tokenized
        encoder.embed_tokenized = lambda texts, positions, *a: (
            embedded.append(len(positions)) or embed(texts, positions, *a)
        )
        results = {}
        for k in (1, 2):
            embedded.clear()
            loss, grads = _step(encoder, k, world)
            results[k] = {"loss": loss, "grads": grads, "embedded": sum(embedded)}
        results["errors"] = _errors(world)
        results["synced"] = _synced(encoder, world)
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        distributed.stop(world)


def _errors(world: distributed.World) -> list[str]:
    """What each process sees when the shares overlap, and when rank 0 fails while the others wait."""
    seen = []
    try:  # both processes claim row 0 of a 3-row step
        distributed.gather_rows(torch.ones(2, 4), [0, 1 + world.rank], 3, world)
    except RuntimeError as exc:
        seen.append(str(exc))

    def fail() -> None:
        raise ConfigError("bad config on rank 0")

    try:
        world.from_main(fail)
    except (ConfigError, distributed.MainRankFailed) as exc:
        seen.append(f"{type(exc).__name__}: {exc} (exit {exc.exit_code})")
    return seen


def _synced(encoder: BiEncoder, world: distributed.World) -> dict:
    """Rank 0 alone takes two optimizer steps (as when it alone read a checkpoint); after
    `sync_training_state` rank 1 holds the same weights, optimizer and scheduler state."""
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (1 + step))
    if world.is_main:
        for _ in range(2):
            optimizer.step()
            scheduler.step()
    extra = distributed.sync_training_state(
        world, encoder, optimizer, scheduler, None, {"step": 2 if world.is_main else 0}, resumed=True
    )
    state = optimizer.state_dict()["state"]
    return {
        "extra": extra,
        "weights": torch.cat([p.detach().reshape(-1) for p in params]),
        "exp_avg": torch.cat([state[i]["exp_avg"].reshape(-1) for i in range(len(params))]),
        "lr": scheduler.get_last_lr()[0],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_give_the_gradient_of_one(tiny_model, tmp_path):
    """A 2 × B/2 step (each process encodes half the queries and passages, all of them are negatives for
    every query) gives the LoRA gradients of the one-process step of B; with GradCache (k = 2) too."""
    torch.multiprocessing.spawn(
        _worker, args=(2, _free_port(), str(tiny_model), str(tmp_path)), nprocs=2, join=True
    )
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    single_loss, single = _step(_encoder(tiny_model), 1, distributed.World())
    assert single and all(g.abs().sum() > 0 for g in single.values())

    for k in (1, 2):
        # 12 queries and 24 passages in the step: each process encoded its half (GradCache: twice)
        assert [r[k]["embedded"] for r in ranks] == [18 * k, 18 * k]
        for r in ranks:
            assert r[k]["loss"] == pytest.approx(single_loss, rel=1e-5)
            assert r[k]["grads"].keys() == single.keys()
            for name, grad in single.items():
                assert torch.allclose(r[k]["grads"][name], grad, atol=1e-6, rtol=1e-4), (k, name)
        for name in single:  # the summed gradients are the same on both ranks: the weights stay equal
            assert torch.equal(ranks[0][k]["grads"][name], ranks[1][k]["grads"][name])

    synced = [r["synced"] for r in ranks]
    assert synced[0]["extra"] == synced[1]["extra"] == {"step": 2} and synced[0]["lr"] == synced[1][
        "lr"
    ] == pytest.approx(1e-3 / 3)
    assert torch.equal(synced[0]["weights"], synced[1]["weights"])
    assert torch.equal(synced[0]["exp_avg"], synced[1]["exp_avg"]) and synced[0]["exp_avg"].abs().sum() > 0

    overlap = "the processes disagree about the rows of the step (each row needs one owner)"
    assert ranks[0]["errors"] == [overlap, "ConfigError: bad config on rank 0 (exit 2)"]
    assert ranks[1]["errors"] == [
        overlap,
        "MainRankFailed: rank 0: ConfigError: bad config on rank 0 (exit 2)",
    ]


def _run_cli(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _train_steps(run_folder: Path) -> list[int]:
    events = [json.loads(line) for line in (run_folder / "wandb-events.jsonl").read_text().splitlines()]
    return [e["_step"] for e in events if "train" in e]


def test_torchrun_trains_once_on_two_processes_and_resumes_on_one_or_two(train_overrides, tmp_path, dataset):
    overrides = [*train_overrides, "trainer.epochs=1", "trainer.eval_steps=2", "trainer.keep_last=10"]
    torchrun = [
        str(TORCHRUN),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "lexdpr.cli",
        "train",
        "--quiet",
    ]
    two = _run_cli([*torchrun, *overrides])
    assert two.returncode == 0, two.stderr[-3000:]

    runs = [p for p in (tmp_path / "wandb").iterdir() if p.name.startswith("run-")]
    assert len(runs) == 1  # one run folder, written by rank 0 only
    meta = json.loads((runs[0] / "wandb-metadata.json").read_text())
    assert meta["state"] == "finished" and meta["world_size"] == 2
    total = meta["total_steps"]
    assert _train_steps(runs[0]) == list(range(1, total + 1))  # every step logged once
    evals = [s for s in range(2, total, 2)] + [total]  # eval_steps=2, and the last step
    # one metric line per evaluation (step 0 included) and the best checkpoint's line at the end
    assert two.stdout.count("eval/ndcg_at_10=") == len(evals) + 2

    root = tmp_path / "out" / "bi_encoder"
    assert [c.step for c in list_checkpoints(root)] == evals
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no half-written checkpoint
    # the data position counts global batches and queries: the same whatever the number of processes
    positives = [json.loads(line)["positive_passages"] for line in dataset["train"].read_text().splitlines()]
    batches = NoSharedPositiveBatchSampler(positives, 4, 42).batches(0)
    position = list_checkpoints(root)[1].state["position"]
    assert position == {"step": 4, "epoch": 0, "batch": 4, "examples": sum(map(len, batches[:4]))}

    for c in list_checkpoints(root)[2:]:  # back to step 4, and finish the run on one process
        shutil.rmtree(c.path)
    one = _run_cli([sys.executable, "-m", "lexdpr.cli", "train", "--quiet", *overrides])
    assert one.returncode == 0, one.stderr[-3000:]
    assert [p for p in (tmp_path / "wandb").iterdir() if p.name.startswith("run-")] == runs
    meta = json.loads((runs[0] / "wandb-metadata.json").read_text())
    assert meta["state"] == "finished" and meta["world_size"] == 1 and meta["resumed_from_step"] == 4
    assert _train_steps(runs[0]) == list(range(1, total + 1))
    assert [c.step for c in list_checkpoints(root)] == evals

    for c in list_checkpoints(root)[1:]:  # and from step 2 on two processes again
        shutil.rmtree(c.path)
    again = _run_cli([*torchrun, *overrides])
    assert again.returncode == 0, again.stderr[-3000:]
    meta = json.loads((runs[0] / "wandb-metadata.json").read_text())
    assert meta["state"] == "finished" and meta["world_size"] == 2 and meta["resumed_from_step"] == 2
    assert _train_steps(runs[0]) == list(range(1, total + 1))
    assert [c.step for c in list_checkpoints(root)] == evals
