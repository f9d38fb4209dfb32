"""What handing the data stages' outputs over through S3 costs, against local folders, on the real data.

    .venv/bin/python benchmarks/pipeline_s3_overhead.py [--data ../shared/data/lawgo] [--reps 3] [--hn-per-q 32]

Runs passages → pairs → corpus with `lex-dpr pipeline run --local --until corpus --force` (the local
runner, so each stage is the pipeline's own command in a fresh process) in three set-ups, interleaved
`--reps` times on the same machine in the same run:

- `local`: raw data and hand-offs in local folders;
- `s3 hand-off`: raw data local, the stages read and write their artifacts on S3 (`--storage s3://…`);
- `s3 all`: raw data on S3 as well, as on Kubernetes.

S3 is the suite's real server (a one-node Ceph RGW, `tests/support/ceph_rgw.py`) unless the AWS_*
variables already point at one (then `--bucket` must exist). Prints the median time of each stage and
in total, the overhead against `local`, and the runner's own bookkeeping (content hashes for the cache).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lexdpr.pipeline import transfer  # noqa: E402
from lexdpr.pipeline.local_runner import run_local  # noqa: E402

STAGES = ("passages", "pairs", "corpus")
SETUPS = ("local", "s3 hand-off", "s3 all")


def _server() -> object | None:
    """The environment's S3 endpoint (None), or a Ceph RGW started for this run."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return None
    from tests.support.ceph_rgw import CephRGW

    rgw = CephRGW().start()
    os.environ.update(rgw.aws_env())
    return rgw


def _create_bucket(name: str) -> None:
    from lexdpr.storage import s3

    s3._client().create_bucket(Bucket=name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "lawgo"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--hn-per-q", type=int, default=32)
    parser.add_argument("--bucket", default=None, help="an existing bucket (default: a new one)")
    args = parser.parse_args()

    rgw = _server()
    try:
        bucket = args.bucket or f"bench-{uuid.uuid4().hex[:8]}"
        if not args.bucket:
            _create_bucket(bucket)
        started = time.perf_counter()
        transfer.upload(Path(args.data), f"s3://{bucket}/raw")
        upload_s = time.perf_counter() - started
        files = len(transfer.files_under(f"s3://{bucket}/raw"))
        print(
            f"uploaded {args.data} to s3://{bucket}/raw: {files} objects in {upload_s:.1f} s (not counted below)"
        )
        times: dict[str, dict[str, list[float]]] = {
            s: {n: [] for n in (*STAGES, "stages", "wall")} for s in SETUPS
        }
        with tempfile.TemporaryDirectory(prefix="lexdpr-bench-") as tmp:
            for rep in range(args.reps):
                for setup in SETUPS:
                    storage = (
                        str(Path(tmp, "local"))
                        if setup == "local"
                        else f"s3://{bucket}/{setup.replace(' ', '-')}"
                    )
                    raw = f"s3://{bucket}/raw" if setup == "s3 all" else args.data
                    params = {"raw_data": raw, "hn_per_q": args.hn_per_q, "workspace": str(Path(tmp, "ws"))}
                    t0 = time.perf_counter()
                    result = run_local(
                        storage, params, until="corpus", force=True, console=Console(file=io.StringIO())
                    )
                    wall = time.perf_counter() - t0
                    for stage in result.stages:
                        times[setup][stage.name].append(stage.seconds)
                    times[setup]["stages"].append(sum(s.seconds for s in result.stages))
                    times[setup]["wall"].append(wall)
                    print(
                        f"rep {rep + 1} {setup:12s} "
                        + "  ".join(f"{s.name} {s.seconds:5.1f} s" for s in result.stages)
                        + f"  wall {wall:5.1f} s",
                        flush=True,
                    )
        median = {s: {k: statistics.median(v) for k, v in d.items()} for s, d in times.items()}
        print(f"\nmedian of {args.reps} on {os.cpu_count()} CPU(s), hn_per_q={args.hn_per_q}:")
        print(
            f"{'setup':14s}"
            + "".join(f"{n:>10s}" for n in (*STAGES, "stages", "wall"))
            + f"{'overhead':>12s}"
        )
        base = median["local"]["stages"]
        for setup in SETUPS:
            row = median[setup]
            overhead = row["stages"] - base
            print(
                f"{setup:14s}"
                + "".join(f"{row[n]:9.1f}s" for n in (*STAGES, "stages", "wall"))
                + f"{overhead:+10.1f}s ({overhead / base:+.0%})"
            )
        print(
            "stages = the stages' commands (incl. process start); wall adds the runner's cache bookkeeping "
            "(hashing the raw data and each output)."
        )
    finally:
        if rgw is not None:
            rgw.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
