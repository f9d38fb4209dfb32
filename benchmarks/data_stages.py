"""Wall time of the three data stages on the real law.go.kr data (target: ≤ 30 s on 2 cores).

    .venv/bin/python benchmarks/data_stages.py [--data ../shared/data/lawgo] [--hn-per-q 32] [--workers 2]

Runs passages → pairs → corpus exactly as the CLI does (fresh processes, so imports and Kiwi's model load
are counted), then BM25 on the test split, and prints one line per stage plus the BM25 metrics.

    .venv/bin/python benchmarks/data_stages.py --scale [--xl ../shared/data/lawgo-xl] [--million 1000000]

`--scale` runs the stages (and BM25 evaluation) at three sizes: `--data` alone, `--data` + `--xl` (a merged
view of symlinks in a temp folder: both folders' laws and precedents, the admin rules of `--data`), and a
corpus of about `--million` passages made by replicating the laws of both folders under new 법령ID and
names (text unchanged; they are distractors no precedent cites), with the same precedents. Per stage it
prints wall time, CPU time (user + sys of the stage and its worker processes, from `os.wait4`), the peak
RSS of the largest single process (`ru_maxrss`) and the peak summed RSS of the whole process tree (sampled
from /proc every 0.1 s; shared copy-on-write pages count once per process, so this is an upper bound), the
peak summed PSS of the tree (shared pages split between their sharers: what the tree really holds), and
the cost per passage (passages, corpus stages) or per precedent (pairs, BM25 evaluation) in milliseconds
of wall and CPU time. `--sizes` picks which sizes run (e.g. `--sizes lawgo,xl`); `--million` sets the size
of the replicated corpus (run a smaller one, e.g. `--million 300000`, when time is short).

Targets (docs/scale.md): lawgo + lawgo-xl through the three stages in ≤ 90 s and ≤ 4 GiB on 2 cores, cost per
item growing no worse than n log n, the replicated million within 24 GiB. The load average is printed before
and after each size: on a machine shared with other work, wall times are only as good as it is idle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lawgo_stages import link_all

REPO = Path(__file__).resolve().parents[1]


def timed(label: str, args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", *args, "--quiet"], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{label} failed:\n{result.stderr}")
    print(f"{label:<10} {elapsed:6.2f} s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "lawgo"))
    parser.add_argument("--hn-per-q", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--scale", action="store_true", help="measure at three sizes (see the docstring)")
    parser.add_argument("--xl", default=str(REPO.parent / "shared" / "data" / "lawgo-xl"))
    parser.add_argument("--million", type=int, default=1_000_000, help="passages of the replicated corpus")
    parser.add_argument("--sizes", default="lawgo,xl,million", help="which --scale sizes to run")
    parser.add_argument(
        "--skip-eval",
        action="store_true",
        help="--scale: the three stages only (BM25 evaluation at the million doubles the run and its peak)",
    )
    args = parser.parse_args()
    if args.scale:
        scale(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        print(
            f"data: {args.data}; hard negatives per query: {args.hn_per_q}; workers: {args.workers}; cpus: {os.cpu_count()}"
        )
        argvs = stage_argvs(Path(args.data), Path(args.data) / "precedents", out, args)
        total = sum(timed(stage, argv) for stage, argv in argvs.items())
        print(f"{'total':<10} {total:6.2f} s   (target ≤ 30 s)")
        for name in (
            "law.jsonl",
            "admin.jsonl",
            "pairs_train.jsonl",
            "pairs_train_valid.jsonl",
            "pairs_test.jsonl",
            "prec_fallback_passages.jsonl",
            "merged_corpus.jsonl",
        ):
            lines = sum(1 for _ in (out / name).open(encoding="utf-8"))
            print(f"  {name:<30} {lines:>7} records")
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "lexdpr.evaluation.eval_cli",
                "--bm25",
                "--pairs",
                f"{out}/pairs_test.jsonl",
                "--corpus",
                f"{out}/merged_corpus.jsonl",
                "--quiet",
                "--out",
                f"{out}/bm25.json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"BM25 on pairs_test.jsonl ({time.perf_counter() - start:.1f} s):")
        for key, value in json.loads((out / "bm25.json").read_text()).items():
            print(f"  {key:<20} {value:.4f}" if isinstance(value, float) else f"  {key:<20} {value}")


# --- --scale ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    wall: float
    cpu: float
    max_rss: int  # bytes, largest single process
    tree_rss: int  # bytes, peak sum over the process tree (sampled)
    tree_pss: int  # bytes, peak proportional set size of the tree (sampled): shared pages counted once


def _tree_rss(root: int) -> tuple[int, int]:
    """Summed RSS and PSS of `root` and all its descendants, from /proc (0 for processes that just ended).

    RSS counts a page shared by forked workers once per process, so its sum overstates the memory the tree
    needs; PSS splits each shared page between its sharers, so its sum is what the tree really holds.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1] is the ppid
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # fields[21] is rss in pages
    total, pss, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        pss += _pss(pid)
        todo.extend(children.get(pid, ()))
    return total, pss


def _pss(pid: int) -> int:
    """Proportional set size of one process in bytes (0 when it has ended or the kernel lacks the file)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(label: str, args: list[str]) -> Usage:
    """Run `python -m args… --quiet` and measure it and its worker processes."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", *args, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            rss, pss = _tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = proc.stderr.read() if proc.stderr else b""
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{label} failed:\n{stderr.decode(errors='replace')}")
    cpu = rusage.ru_utime + rusage.ru_stime
    max_rss = rusage.ru_maxrss * 1024
    return Usage(wall, cpu, max_rss, max(peak[0], max_rss), peak[1])


def _replicate_laws(law_dirs: list[Path], target: Path, copies: int) -> None:
    """`copies` replicas of every law, each under a new 법령ID (9 + 2-digit copy + id) and name."""
    target.mkdir(parents=True, exist_ok=True)
    for folder in law_dirs:
        for path in sorted(folder.glob("*.json")):
            raw = path.read_text(encoding="utf-8")
            doc = json.loads(raw)
            info = doc["법령"]["기본정보"]
            law_id, name = str(info["법령ID"]), info["법령명_한글"]
            for copy in range(1, copies + 1):
                info["법령ID"] = f"9{copy:02d}{law_id}"
                info["법령명_한글"] = f"{name} 사본{copy}"
                if info.get("법령명약칭"):
                    info["법령명약칭"] = ""
                (target / f"{copy:02d}_{path.name}").write_text(
                    json.dumps(doc, ensure_ascii=False), encoding="utf-8"
                )


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def stage_argvs(src: Path, precedents: Path, out: Path, args: argparse.Namespace) -> dict[str, list[str]]:
    """The three stages' module command lines (passages → pairs → corpus), written into `out`."""
    law, admin = f"{out}/law.jsonl", f"{out}/admin.jsonl"
    return {
        "passages": [
            "lexdpr.data_processing.preprocess_auto",
            "--src-dir",
            str(src),
            "--out-law",
            law,
            "--out-admin",
            admin,
        ],
        "pairs": [
            "lexdpr.data_processing.make_pairs",
            "--law",
            law,
            "--admin",
            admin,
            "--prec-json-dir",
            str(precedents),
            "--out",
            f"{out}/pairs_train.jsonl",
            "--hn-per-q",
            str(args.hn_per_q),
            "--max-workers",
            str(args.workers),
        ],
        "corpus": [
            "lexdpr.data_processing.merge_corpus",
            "--law",
            law,
            "--admin",
            admin,
            "--prec",
            f"{out}/prec_fallback_passages.jsonl",
            "--out",
            f"{out}/merged_corpus.jsonl",
        ],
    }


def run_size(name: str, src: Path, precedents: Path, out: Path, args: argparse.Namespace) -> list[tuple]:
    """The three stages and (without `--skip-eval`) BM25 evaluation at one size; its rows, printed and returned."""
    out.mkdir(parents=True, exist_ok=True)
    n_prec = sum(1 for _ in precedents.glob("*.json"))
    print(f"[{name}] load average {_load()}; running passages …", flush=True)
    argvs = stage_argvs(src, precedents, out, args)
    passages = run_measured("passages", argvs["passages"])
    n_passages = _count_lines(out / "law.jsonl") + _count_lines(out / "admin.jsonl")
    print(f"[{name}] {n_passages} passages; running pairs …", flush=True)
    pairs = run_measured("pairs", argvs["pairs"])
    n_pairs = sum(
        _count_lines(out / f) for f in ("pairs_train.jsonl", "pairs_train_valid.jsonl", "pairs_test.jsonl")
    )
    print(f"[{name}] {n_pairs} pairs; running corpus …", flush=True)
    corpus = run_measured("corpus", argvs["corpus"])
    n_corpus = _count_lines(out / "merged_corpus.jsonl")
    n_test = _count_lines(out / "pairs_test.jsonl")
    rows = [
        (name, "passages", n_passages, n_prec, passages, n_passages, "passage"),
        (name, "pairs", n_passages, n_prec, pairs, n_prec, "precedent"),
        (name, "corpus", n_passages, n_prec, corpus, n_corpus, "passage"),
        (name, "3 stages", n_passages, n_prec, _sum(passages, pairs, corpus), n_prec, "precedent"),
    ]
    for f in ("law.jsonl", "admin.jsonl"):  # the million size writes GBs
        (out / f).unlink()
    if not args.skip_eval:
        print(
            f"[{name}] {n_corpus} corpus passages; running BM25 evaluation of {n_test} test queries …",
            flush=True,
        )
        bm25 = run_measured(
            "bm25 eval",
            [
                "lexdpr.evaluation.eval_cli",
                "--bm25",
                "--pairs",
                f"{out}/pairs_test.jsonl",
                "--corpus",
                f"{out}/merged_corpus.jsonl",
                "--out",
                f"{out}/bm25.json",
                "--workers",
                str(args.workers),
            ],
        )
        ndcg = json.loads((out / "bm25.json").read_text())["eval/ndcg_at_10"]
        print(f"[{name}] BM25 nDCG@10 {ndcg:.4f}", flush=True)
        rows.append((name, "bm25 eval", n_passages, n_prec, bm25, n_test, "query"))
    (out / "merged_corpus.jsonl").unlink()
    print(f"[{name}] done; load average {_load()}", flush=True)
    print_table(rows)  # at once: a later size may not finish (time, memory), this one's figures are kept
    return rows


def _load() -> str:
    """1/5/15-minute load averages: on a shared machine they say how far wall times are to be trusted."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _sum(*usages: Usage) -> Usage:
    return Usage(
        sum(u.wall for u in usages),
        sum(u.cpu for u in usages),
        max(u.max_rss for u in usages),
        max(u.tree_rss for u in usages),
        max(u.tree_pss for u in usages),
    )


def scale(args: argparse.Namespace) -> None:
    data, xl = Path(args.data), Path(args.xl)
    sizes = set(args.sizes.split(","))
    print(f"cpus: {os.cpu_count()}; workers: {args.workers}; hard negatives per query: {args.hn_per_q}")
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="lexdpr-scale-") as tmp_name:
        tmp = Path(tmp_name)
        if "lawgo" in sizes:
            rows += run_size("lawgo", data, data / "precedents", tmp / "out-lawgo", args)
        merged = tmp / "merged"
        link_all([data / "laws", xl / "laws"], merged / "laws")
        link_all([data / "admin_rules"], merged / "admin_rules")
        link_all([data / "precedents", xl / "precedents"], merged / "precedents")
        if "xl" in sizes:
            rows += run_size("lawgo+xl", merged, merged / "precedents", tmp / "out-xl", args)
        if "million" in sizes:
            xl_passages = next((r[2] for r in rows if r[0] == "lawgo+xl"), 76_194)
            copies = max(1, -(-args.million // xl_passages) - 1)
            big = tmp / "million"
            print(f"[1M] writing {copies} replicas of the laws …", flush=True)
            _replicate_laws([data / "laws", xl / "laws"], big / "laws", copies)
            link_all([data / "laws", xl / "laws"], big / "laws")
            (big / "admin_rules").symlink_to(merged / "admin_rules")
            rows += run_size(f"laws ×{copies + 1}", big, merged / "precedents", tmp / "out-million", args)
            shutil.rmtree(big)
    print("\nall sizes:")
    print_table(rows)


def print_table(rows: list[tuple]) -> None:
    gib = 1024**3
    header = (
        "| size | stage | passages | precedents | wall s | CPU s | peak RSS (largest process) GiB "
        "| peak RSS (process tree) GiB | peak PSS (process tree) GiB | wall ms / unit | CPU ms / unit |"
    )
    print()
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for name, stage, n_passages, n_prec, u, units, unit in rows:
        print(
            f"| {name} | {stage} | {n_passages:,} | {n_prec:,} | {u.wall:.1f} | {u.cpu:.1f} | {u.max_rss / gib:.2f} "
            f"| {u.tree_rss / gib:.2f} | {u.tree_pss / gib:.2f} | {1000 * u.wall / units:.3f} per {unit} "
            f"| {1000 * u.cpu / units:.3f} per {unit} |"
        )


if __name__ == "__main__":
    main()
