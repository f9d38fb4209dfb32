"""Fault injection: about 1,000 malformed inputs through the stages and loaders that read them.

    python -m tests.faults.fuzz_inputs [--scale 1.0] [--seed 11] [--show 3]

Categories: raw law.go.kr JSON (laws, admin rules, precedents) — truncated, wrong types, deep nesting,
binary, empty, huge strings; JSONL passages and pairs; YAML training configs and sweep files; numeric values
on the command line (dotted config keys and the data stages' flags). Each input is run in-process through
the code a user's command runs (the stage's `main`, `load_config`, `load_sweep_file`, the pair and corpus
readers), next to good inputs, and judged:

- traceback: anything but a clean user error escaped (a `LexDprError`, or argparse's usage exit 2);
- data lost: a good record is missing from the outputs, or a stage that refused its input changed the
  output file it had been given (it must keep the previous content);
- bad value accepted: a config loaded although a number in it is NaN/inf.

All three must be zero. The table is printed at the end; the exit status is 1 when any count is not zero.
`tests/faults/test_fuzz_inputs.py` runs a small scale of this in the default test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "lexdpr" / "sample_data"

# Values a field may hold instead of its own: every JSON type, extremes, odd strings.
ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    1e308,
    -(2**70),
    True,
    False,
    "",
    " ",
    "x",
    "제1조",
    "\u2028",
    "\x00",
    "①②③",
    [],
    {},
    [1, 2],
    [[["a"]]],
    {"content": 5},
    {"content": {"content": []}},
    {"a": "b"},
    ["제1조(목적) 이 법은", None],
]
DEEP_LEVELS = [100_000, 1010, 3000, 995, 50, 1000, 500, 980, 900]  # the deepest first: small runs get it
#: One input taking longer than this is reported (a quadratic parser path is a denial of service).
SLOW_S = 10.0


@dataclass
class Tally:
    category: str
    tried: int = 0
    tracebacks: int = 0
    lost: int = 0
    bad_accepted: int = 0
    rejected: int = 0
    slow: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    def note(self, kind: str, name: str, detail: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(f"[{self.category}] {kind} {name}: {detail}")


class Traceback(Exception):
    """An exception that is not a clean user error, with its formatted traceback."""


def call(fn: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", result) | ("error", message) for a clean user error | raises Traceback."""
    from lexdpr.errors import LexDprError

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            result = fn()
    except LexDprError as exc:
        return "error", str(exc)
    except SystemExit as exc:  # argparse: usage errors exit 2 with a message, never a traceback
        if exc.code in (0, 2):
            return ("ok" if exc.code == 0 else "error"), err.getvalue()
        raise Traceback(f"SystemExit({exc.code!r})") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
        raise Traceback(f"{type(exc).__name__}: {str(exc)[:160]} (at {where})") from None
    if isinstance(result, int) and not isinstance(result, bool):
        result = (result, err.getvalue())
    return "ok", result


# --- mutations of JSON documents ------------------------------------------------------------------------


def paths_of(doc: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths_of(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from paths_of(value, (*prefix, i))


def replaced(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = replaced(doc[path[0]], path[1:], value)
    return copy


def deep_text(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + '"제1조 x"' + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def json_mutants(
    doc: dict, rng: random.Random, count: int, relabel: Callable[[dict, int], dict]
) -> list[tuple[str, bytes]]:
    """`count` malformed variants of `doc` (each relabelled to its own id first, so none is a duplicate)."""
    out: list[tuple[str, bytes]] = []
    kinds = ["truncated", "wrong_type", "wrong_type", "wrong_type", "deep", "binary", "empty", "huge", "text"]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        mine = relabel(doc, n)
        paths = list(paths_of(mine))
        raw = dumps(mine)
        if kind == "truncated":
            data = raw[: rng.choice([0, 1, 2, rng.randrange(len(raw)), len(raw) - 1])]
        elif kind == "wrong_type":
            data = dumps(replaced(mine, rng.choice(paths), rng.choice(ODD_VALUES)))
        elif kind == "deep":
            marker = "\u241fDEEP\u241f"
            text = dumps(replaced(mine, rng.choice(paths[1:]), marker)).decode("utf-8")
            depth = DEEP_LEVELS[(n // len(kinds)) % len(DEEP_LEVELS)]
            data = text.replace(
                json.dumps(marker, ensure_ascii=False), deep_text(depth, rng.choice(["list", "dict"])), 1
            ).encode()
        elif kind == "binary":
            data = rng.choice(
                [
                    bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))),
                    b"\xef\xbb\xbf" + raw,  # a BOM: still readable
                    raw.decode("utf-8").encode("utf-16"),
                    raw.decode("utf-8").encode("euc-kr", "replace"),
                    raw[: len(raw) // 2] + b"\x00\xff\xfe" + raw[len(raw) // 2 :],
                    json.dumps({"x": "\ud800"}).encode(),  # an escaped lone surrogate
                    json.dumps(
                        replaced(mine, rng.choice(paths[1:]), "제1조 \udc80")
                    ).encode(),  # one inside the document
                    dumps(replaced(mine, rng.choice(paths), "\ud800\udfff")),  # raw surrogates: not UTF-8
                ]
            )
        elif kind == "empty":
            data = rng.choice(
                [b"", b" ", b"\n\n", b"null", b"{}", b"[]", b'""', b"0", b"NaN", b"\xef\xbb\xbf"]
            )
        elif kind == "huge":
            strings = [p for p in paths if isinstance(_at(mine, p), str)] or paths
            data = dumps(
                replaced(mine, rng.choice(strings), "가나다 제1조(목적) " * rng.choice([10_000, 200_000]))
            )
        else:  # text-level oddities the decoder accepts: NaN, duplicate keys, a second document
            data = rng.choice(
                [
                    raw.replace(b"{", b'{"dup": 1, "dup": NaN, ', 1),
                    raw + b"\n" + raw,
                    raw.replace(b'"', b"'", 5),
                    b"[" + raw + b"]",
                    raw.replace(b":", b': Infinity, "_":', 1),
                ]
            )
        out.append((f"{kind}_{n:04d}", data))
    return out


def _at(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def relabel_law(doc: dict, n: int) -> dict:
    return replaced(doc, ("법령", "기본정보", "법령ID"), f"9{n:05d}")


def relabel_admin(doc: dict, n: int) -> dict:
    return replaced(doc, ("AdmRulService", "행정규칙기본정보", "행정규칙ID"), f"99{n:08d}")


#: Serials of fuzzed precedents start with this (no real or sample precedent's does).
FUZZ_SERIAL = "7777"


def relabel_precedent(doc: dict, n: int) -> dict:
    return {**doc, "판례일련번호": f"{FUZZ_SERIAL}{n:04d}"}


# --- the categories -------------------------------------------------------------------------------------


def read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_passages(work: Path, tally: Tally, kind: str, mutants: list[tuple[str, bytes]]) -> None:
    """Fuzzed law or admin files next to the good sample files, through `preprocess_auto.main`."""
    from lexdpr.data_processing import preprocess_auto

    def stage(src: Path, out: Path) -> tuple[str, Any]:
        args = ["--src-dir", str(src), "--out-law", f"{out}/law.jsonl", "--out-admin", f"{out}/admin.jsonl"]
        return call(lambda: preprocess_auto.main([*args, "--quiet"]))

    def good_tree(root: Path) -> Path:
        for folder in ("laws", "admin_rules"):
            shutil.copytree(SAMPLE / folder, root / "src" / "a_good" / folder)
        return root / "src"

    base = work / f"{kind}-baseline"
    status, _ = stage(good_tree(base), base / "out")
    assert status == "ok"
    expected = {r["id"]: r for name in ("law", "admin") for r in read_records(base / "out" / f"{name}.jsonl")}
    for n, batch in enumerate(batches(mutants, 60)):
        root = work / f"{kind}-{n}"
        src = good_tree(root)
        for name, data in batch:
            (src / "z_fuzz").mkdir(exist_ok=True)
            (src / "z_fuzz" / f"{name}.json").write_bytes(data)
        tally.tried += len(batch)
        try:
            status, result = stage(src, root / "out")
        except Traceback:
            for name, data in batch:  # find which input(s) did it
                one = work / f"{kind}-{n}-{name}"
                one_src = good_tree(one)
                (one_src / "z_fuzz").mkdir()
                (one_src / "z_fuzz" / f"{name}.json").write_bytes(data)
                try:
                    stage(one_src, one / "out")
                except Traceback as exc:
                    tally.tracebacks += 1
                    tally.note("traceback", f"{kind}/{name}", str(exc))
            continue
        if status != "ok" or result[0] != 0:
            tally.lost += len(batch)
            tally.note("lost", f"{kind} batch {n}", f"the whole run failed: {result}")
            continue
        tally.rejected += sum(1 for name, _ in batch if f"z_fuzz/{name}.json" in result[1])
        got = {r["id"]: r for name in ("law", "admin") for r in read_records(root / "out" / f"{name}.jsonl")}
        missing = [pid for pid, record in expected.items() if got.get(pid) != record]
        if missing:
            tally.lost += 1
            tally.note(
                "lost", f"{kind} batch {n}", f"{len(missing)} good passages missing, e.g. {missing[:3]}"
            )
        shutil.rmtree(root, ignore_errors=True)


def run_precedents(work: Path, tally: Tally, mutants: list[tuple[str, bytes]]) -> None:
    """Fuzzed precedent files next to the good sample precedents, through `make_pairs.main`."""
    from lexdpr.data_processing import make_pairs, preprocess_auto

    passages = work / "prec-passages"
    assert (
        call(
            lambda: preprocess_auto.main(
                [
                    "--src-dir",
                    str(SAMPLE),
                    "--out-law",
                    f"{passages}/law.jsonl",
                    "--out-admin",
                    f"{passages}/admin.jsonl",
                    "--quiet",
                ]
            )
        )[1][0]
        == 0
    )

    def stage(src: Path, out: Path) -> tuple[str, Any]:
        args = [
            "--law",
            f"{passages}/law.jsonl",
            "--admin",
            f"{passages}/admin.jsonl",
            "--use-admin-for-prec",
        ]
        args += ["--prec-json-dir", str(src), "--out", f"{out}/pairs_train.jsonl", "--hn_per_q", "4"]
        return call(lambda: make_pairs.main([*args, "--max-workers", "1", "--quiet"]))

    def good_tree(root: Path) -> Path:
        shutil.copytree(SAMPLE / "precedents", root / "src")
        return root / "src"

    outputs = (
        "pairs_train.jsonl",
        "pairs_train_valid.jsonl",
        "pairs_test.jsonl",
        "prec_fallback_passages.jsonl",
    )
    base = work / "prec-baseline"
    status, result = stage(good_tree(base), base / "out")
    assert status == "ok" and result[0] == 0, result
    expected = {name: read_records(base / "out" / name) for name in outputs}
    for n, batch in enumerate(batches(mutants, 80)):
        root = work / f"prec-{n}"
        src = good_tree(root)
        for name, data in batch:
            (src / f"zz_{name}.json").write_bytes(data)
        tally.tried += len(batch)
        try:
            status, result = stage(src, root / "out")
        except Traceback:
            for name, data in batch:
                one = work / f"prec-{n}-{name}"
                one_src = good_tree(one)
                (one_src / f"zz_{name}.json").write_bytes(data)
                try:
                    stage(one_src, one / "out")
                except Traceback as exc:
                    tally.tracebacks += 1
                    tally.note("traceback", f"precedent/{name}", str(exc))
            continue
        if status != "ok" or result[0] != 0:
            tally.lost += len(batch)
            tally.note("lost", f"precedent batch {n}", f"the whole run failed: {result}")
            continue
        tally.rejected += sum(1 for name, _ in batch if f"zz_{name}.json" in result[1])
        for name in outputs:
            got = read_records(root / "out" / name)
            # every good record is there, unchanged (a fuzzed file whose serial was itself mutated may add more)
            missing = [r.get("query_id", r.get("id")) for r in expected[name] if r not in got]
            if missing:
                tally.lost += 1
                tally.note(
                    "lost", f"precedent batch {n}", f"{name}: good records missing or changed: {missing[:4]}"
                )
        shutil.rmtree(root, ignore_errors=True)


def line_mutants(
    lines: list[str], rng: random.Random, count: int, fields: list[str]
) -> list[tuple[str, list[str], int]]:
    """(name, lines with one line made bad, index of that line)."""
    out = []
    kinds = [
        "truncated",
        "wrong_type",
        "wrong_type",
        "missing",
        "deep",
        "binary",
        "huge",
        "not_object",
        "odd",
    ]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        i = rng.randrange(len(lines))
        record = json.loads(lines[i])
        if kind == "truncated":
            bad = lines[i][: rng.randrange(1, len(lines[i]))]
        elif kind == "wrong_type":
            bad = dumps({**record, rng.choice(fields): rng.choice(ODD_VALUES)}).decode(
                "utf-8", "surrogatepass"
            )
        elif kind == "missing":
            bad = json.dumps({k: v for k, v in record.items() if k != rng.choice(fields)}, ensure_ascii=False)
        elif kind == "deep":
            depth = DEEP_LEVELS[(n // len(kinds)) % len(DEEP_LEVELS)]
            bad = json.dumps({**record, rng.choice(fields): "\u241f"}, ensure_ascii=False).replace(
                '"\u241f"', deep_text(depth, "list")
            )
        elif kind == "binary":
            bad = rng.choice(["\x00\x01\x02", "\ufeff" + lines[i], lines[i] + "\r", "\x1b[31m"])
        elif kind == "huge":
            bad = json.dumps(
                {**record, rng.choice(fields): "가" * rng.choice([100_000, 3_000_000])}, ensure_ascii=False
            )
        elif kind == "not_object":
            bad = rng.choice(["[]", "1", '"x"', "null", "true", "[{}]"])
        else:
            bad = rng.choice(
                [
                    json.dumps({**record, "id": "\ud800"}),  # an escaped lone surrogate
                    lines[i].replace("{", '{"id": 1, ', 1),
                    json.dumps({**record, rng.choice(fields): float("nan")}),
                    lines[i] + " " + lines[i],
                    lines[(i + 1) % len(lines)],  # a duplicate record
                ]
            )
        mutated = list(lines)
        mutated[i] = bad
        out.append((f"{kind}_{n:04d}", mutated, i))
    return out


def run_jsonl_passages(work: Path, tally: Tally, rng: random.Random, count: int) -> None:
    """A passage file with one bad line, through `merge_corpus.main` and the pairs/training readers."""
    from lexdpr.data_processing import merge_corpus, preprocess_auto
    from lexdpr.training.pairs import load_corpus

    try:
        from lexdpr.data_processing.passage import read_passages  # the pairs stage's reader
    except ImportError:  # a checkout from before it existed (to compare): the plain reader
        from lexdpr.storage import read_jsonl

        def read_passages(path: str) -> list[dict]:
            return list(read_jsonl(path))

    base = work / "jsonl-passages"
    call(
        lambda: preprocess_auto.main(["--src-dir", str(SAMPLE), "--out-law", f"{base}/law.jsonl", "--quiet"])
    )
    lines = (base / "law.jsonl").read_text(encoding="utf-8").split("\n")[:40]
    fields = [
        "id",
        "parent_id",
        "type",
        "text",
        "law_name",
        "article",
        "paragraph",
        "law_short_name",
        "title",
    ]
    out = base / "merged.jsonl"
    for name, mutated, index in line_mutants(lines, rng, count, fields):
        path = base / f"{name}.jsonl"
        path.write_bytes("\n".join(mutated).encode("utf-8", "surrogatepass") + b"\n")
        out.write_bytes(b"previous output\n")
        tally.tried += 1
        try:
            status, result = call(
                lambda p=path: merge_corpus.main(
                    ["--law", str(p), "--admin", "", "--out", str(out), "--quiet"]
                )
            )
            call(lambda p=path: read_passages(str(p)))
            call(lambda p=path: load_corpus(str(p)))
        except Traceback as exc:
            tally.tracebacks += 1
            tally.note("traceback", f"passages/{name}", str(exc))
            continue
        code = result[0] if status == "ok" else 2
        if code != 0:
            tally.rejected += 1
            if out.read_bytes() != b"previous output\n":
                tally.lost += 1
                tally.note("lost", f"passages/{name}", "a refused run changed its output")
            continue
        got = out.read_text(encoding="utf-8").split("\n")
        good = [json.loads(line) for j, line in enumerate(lines) if j != index]
        records = [json.loads(line) for line in got if line.strip()]
        if any(r not in records for r in good):
            tally.lost += 1
            tally.note("lost", f"passages/{name}", "a good passage is missing from the corpus")


def run_jsonl_pairs(work: Path, tally: Tally, rng: random.Random, count: int) -> None:
    """A pairs file with one bad line, through the training and evaluation readers."""
    from lexdpr.data_processing import make_pairs, merge_corpus, preprocess_auto
    from lexdpr.data_processing.pair import read_pairs
    from lexdpr.training.pairs import load_corpus, load_training_pairs

    base = work / "jsonl-pairs"
    call(
        lambda: preprocess_auto.main(["--src-dir", str(SAMPLE), "--out-law", f"{base}/law.jsonl", "--quiet"])
    )
    call(
        lambda: make_pairs.main(
            [
                "--law",
                f"{base}/law.jsonl",
                "--prec-json-dir",
                str(SAMPLE / "precedents"),
                "--out",
                f"{base}/pairs_train.jsonl",
                "--hn_per_q",
                "4",
                "--max-workers",
                "1",
                "--quiet",
            ]
        )
    )
    call(
        lambda: merge_corpus.main(
            [
                "--law",
                f"{base}/law.jsonl",
                "--admin",
                "",
                "--prec",
                f"{base}/prec_fallback_passages.jsonl",
                "--out",
                f"{base}/corpus.jsonl",
                "--quiet",
            ]
        )
    )
    corpus = load_corpus(str(base / "corpus.jsonl"))
    lines = (base / "pairs_train.jsonl").read_text(encoding="utf-8").split("\n")[:40]
    fields = ["query_id", "query_text", "positive_passages", "hard_negatives", "meta"]
    for name, mutated, index in line_mutants(lines, rng, count, fields):
        path = base / f"{name}.jsonl"
        path.write_bytes("\n".join(mutated).encode("utf-8", "surrogatepass") + b"\n")
        tally.tried += 1
        try:
            call(lambda p=path: read_pairs(str(p)))
            status, loaded = call(lambda p=path: load_training_pairs(str(p), corpus, quiet=True))
        except Traceback as exc:
            tally.tracebacks += 1
            tally.note("traceback", f"pairs/{name}", str(exc))
            continue
        if status != "ok":
            tally.rejected += 1
            continue
        ids = {p.query_id for p in loaded}
        good = [json.loads(line)["query_id"] for j, line in enumerate(lines) if j != index]
        if any(q not in ids for q in good):
            tally.lost += 1
            tally.note("lost", f"pairs/{name}", "a good pair was dropped")


def yaml_mutants(text: str, rng: random.Random, count: int) -> list[tuple[str, bytes]]:
    import yaml

    data = yaml.safe_load(text)
    leaves = [p for p in paths_of(data) if p and not isinstance(_at(data, p), dict)]
    values = [
        *ODD_VALUES,
        float("nan"),
        float("inf"),
        -float("inf"),
        1e300,
        10**30,
        -(10**30),
        "1e999",
        ".nan",
    ]
    out: list[tuple[str, bytes]] = []
    kinds = ["truncated", "value", "value", "value", "deep", "binary", "dup", "structure", "alias", "huge"]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        if kind == "truncated":
            raw = text.encode()[: rng.randrange(len(text.encode()))]
        elif kind == "value":
            raw = yaml.safe_dump(
                replaced(data, rng.choice(leaves), rng.choice(values)), allow_unicode=True
            ).encode()
        elif kind == "deep":
            depth = DEEP_LEVELS[(n // len(kinds)) % len(DEEP_LEVELS)]
            nested = rng.choice(
                ["[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth, "- " * min(depth, 2000) + "x"]
            )
            raw = (text + f"\nextra: {nested}\n").encode() if "- " not in nested else f"{nested}\n".encode()
        elif kind == "binary":
            raw = rng.choice(
                [
                    bytes(rng.randrange(256) for _ in range(200)),
                    text.encode("utf-16"),
                    b"\x00" + text.encode(),
                    text.encode()[:30] + b"\xff\xfe" + text.encode()[30:],
                ]
            )
        elif kind == "dup":
            first = text.splitlines()[rng.randrange(len(text.splitlines()))]
            raw = (text + "\n" + first + "\n").encode()
        elif kind == "structure":
            raw = rng.choice(
                [
                    b"- a\n- b\n",
                    b"[]\n",
                    b"42\n",
                    b"",
                    b"---\n---\n",
                    b"~\n",
                    b"'text'\n",
                    b"a: b: c\n",
                    b"\ta: 1\n",
                    text.encode() + b"\n---\nb: 1\n",
                    b"!!python/object:os.system ls\n",
                ]
            )
        elif kind == "alias":  # "billion laughs": anchors referring to anchors, as lists or as mappings
            fan = rng.choice([3, 6, 9])
            if rng.random() < 0.5:
                lines = ["a0: &a0 [1, 2, 3]"] + [
                    f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * fan)}]" for i in range(1, fan)
                ]
            else:
                lines = ["a0: &a0 {x: 1}"] + [
                    f"a{i}: &a{i} {{{', '.join(f'k{j}: *a{i - 1}' for j in range(fan))}}}"
                    for i in range(1, fan)
                ]
            raw = (text + "\n" + "\n".join(lines) + "\n").encode()
        else:
            raw = (text + f"\nextra_key: {'가' * rng.choice([10_000, 2_000_000])}\n").encode()
        out.append((f"{kind}_{n:04d}", raw))
    return out


def non_finite_numbers(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(non_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return any(non_finite_numbers(v) for v in value)
    return False


def run_yaml(work: Path, tally: Tally, rng: random.Random, count: int, sweep: bool) -> None:
    from lexdpr.sweep.preset import PRESET_YAML
    from lexdpr.sweep.sweep_file import load_sweep_file
    from lexdpr.training.config import config_to_dict, load_config

    folder = work / ("sweeps" if sweep else "configs")
    folder.mkdir()
    texts = (
        [PRESET_YAML, (REPO / "configs" / "sweep-demo.yaml").read_text()]
        if sweep
        else [(REPO / "configs" / "base.yaml").read_text()]
    )
    per_text = count // len(texts)
    mutants = [
        m
        for i, t in enumerate(texts)
        for m in yaml_mutants(t, rng, per_text + (count % len(texts) if i == 0 else 0))
    ]
    for name, raw in mutants:
        path = folder / f"{name}.yaml"
        path.write_bytes(raw)
        tally.tried += 1
        started = time.perf_counter()
        try:
            status, result = call(lambda p=path: load_sweep_file(p) if sweep else load_config(str(p)))
            if time.perf_counter() - started > SLOW_S:
                tally.slow += 1
                tally.note("slow", f"{folder.name}/{name}", f"{time.perf_counter() - started:.0f} s")
        except Traceback as exc:
            tally.tracebacks += 1
            tally.note("traceback", f"{folder.name}/{name}", str(exc))
            continue
        if status != "ok":
            tally.rejected += 1
            continue
        loaded = result.definition() if sweep else config_to_dict(result)
        if non_finite_numbers(loaded):
            tally.bad_accepted += 1
            tally.note("accepted", f"{folder.name}/{name}", "a NaN/inf number was accepted")


NUMERIC_TEXTS = [
    "inf", "-inf", "nan", ".nan", ".inf", "NaN", "1e300", "-1e300", "1e999", "1e-320", "0", "-0", "-1", "1",
    str(2**63), str(2**64), "1e30", "0x10", "1_000", "", " ", "[1]", "{a: 1}", "true", "null", "１２", "1e", "∞",
]  # fmt: skip


def run_cli_numbers(work: Path, tally: Tally, rng: random.Random, count: int) -> None:
    """`key=value` for every numeric config key, and the data stages' numeric flags."""
    from lexdpr.data_processing import make_pairs, preprocess_auto
    from lexdpr.evaluation.eval_cli import parse_k_values
    from lexdpr.training.config import all_dotted_keys, config_to_dict, field_type, load_config

    numeric = [k for k in all_dotted_keys() if any(t in str(field_type(k)) for t in ("int", "float"))]
    cases: list[tuple[str, Callable[[], Any], bool]] = []
    for key in numeric:
        for text in NUMERIC_TEXTS:
            cases.append((f"{key}={text}", lambda k=key, t=text: load_config(None, [f"{k}={t}"]), True))
    src = work / "cli-src"
    shutil.copytree(SAMPLE / "laws", src)
    for flag in ("--max-tokens",):
        for text in NUMERIC_TEXTS:
            args = [
                "--src-dir",
                str(src),
                "--out-law",
                str(work / "cli-out" / "law.jsonl"),
                flag,
                text,
                "--quiet",
            ]
            cases.append((f"passages {flag} {text}", lambda a=args: preprocess_auto.main(a), False))
    for flag in (
        "--hn_per_q",
        "--hn-skip-top",
        "--hn-depth",
        "--max-positives-per-prec",
        "--max-workers",
        "--test-ratio",
        "--valid-ratio",
    ):
        for text in NUMERIC_TEXTS:
            args = ["--law", str(work / "missing.jsonl"), flag, text, "--quiet"]
            cases.append((f"pairs {flag} {text}", lambda a=args: make_pairs.main(a), False))
    for text in NUMERIC_TEXTS:
        cases.append((f"eval --k {text}", lambda t=text: parse_k_values(t), False))
    rng.shuffle(cases)
    for name, fn, is_config in cases[:count]:
        tally.tried += 1
        try:
            status, result = call(fn)
        except Traceback as exc:
            tally.tracebacks += 1
            tally.note("traceback", name, str(exc))
            continue
        if status != "ok" or (isinstance(result, tuple) and result[0] != 0):
            tally.rejected += 1
        elif is_config and non_finite_numbers(config_to_dict(result)):
            tally.bad_accepted += 1
            tally.note("accepted", name, "a NaN/inf number was accepted")


# --- driver ---------------------------------------------------------------------------------------------

SIZES = {
    "raw law JSON": 160,
    "raw admin-rule JSON": 120,
    "raw precedent JSON": 160,
    "JSONL passages": 130,
    "JSONL pairs": 110,
    "YAML training config": 110,
    "YAML sweep file": 110,
    "CLI numeric values": 200,
}


def run_all(scale: float = 1.0, seed: int = 11, only: set[str] | None = None) -> list[Tally]:
    rng = random.Random()  # reseeded per category: each one's inputs are the same whatever else runs
    law = json.loads((SAMPLE / "laws" / "001638.json").read_text(encoding="utf-8"))
    admin = json.loads((SAMPLE / "admin_rules" / "2200000107389.json").read_text(encoding="utf-8"))
    precedent = json.loads((SAMPLE / "precedents" / "147596.json").read_text(encoding="utf-8"))
    tallies = []
    with tempfile.TemporaryDirectory(prefix="lexdpr-fuzz-") as tmp:
        work = Path(tmp)
        plan: dict[str, Callable[[Tally, int], None]] = {
            "raw law JSON": lambda t, n: run_passages(work, t, "law", json_mutants(law, rng, n, relabel_law)),
            "raw admin-rule JSON": lambda t, n: run_passages(
                work, t, "admin", json_mutants(admin, rng, n, relabel_admin)
            ),
            "raw precedent JSON": lambda t, n: run_precedents(
                work, t, json_mutants(precedent, rng, n, relabel_precedent)
            ),
            "JSONL passages": lambda t, n: run_jsonl_passages(work, t, rng, n),
            "JSONL pairs": lambda t, n: run_jsonl_pairs(work, t, rng, n),
            "YAML training config": lambda t, n: run_yaml(work, t, rng, n, sweep=False),
            "YAML sweep file": lambda t, n: run_yaml(work, t, rng, n, sweep=True),
            "CLI numeric values": lambda t, n: run_cli_numbers(work, t, rng, n),
        }
        for category, size in SIZES.items():
            if only and category not in only:
                continue
            tally = Tally(category)
            rng.seed(f"{seed}-{category}")
            started = time.perf_counter()
            plan[category](tally, max(9, round(size * scale)))
            tally.seconds = time.perf_counter() - started
            tallies.append(tally)
    return tallies


def table(tallies: list[Tally]) -> str:
    head = (
        "category",
        "inputs tried",
        "tracebacks",
        "data lost",
        "bad value accepted",
        "rejected cleanly",
        "seconds",
    )
    rows = [
        (
            t.category,
            str(t.tried),
            str(t.tracebacks),
            str(t.lost),
            str(t.bad_accepted),
            str(t.rejected),
            f"{t.seconds:.1f}",
        )
        for t in tallies
    ]
    total = (
        "total",
        *(str(sum(int(r[i]) for r in rows)) for i in range(1, 6)),
        f"{sum(t.seconds for t in tallies):.1f}",
    )
    rows.append(total)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(row: tuple[str, ...]) -> str:
        cells = (
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "| " + " | ".join(cells) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every category's input count")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--show", type=int, default=5, help="examples of failures to print per category")
    args = parser.parse_args(argv)
    tallies = run_all(args.scale, args.seed)
    print(table(tallies))
    for tally in tallies:
        for example in tally.examples[: args.show]:
            print(example)
    return 1 if any(t.tracebacks or t.lost or t.bad_accepted for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
