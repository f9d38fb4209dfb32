"""The user guide's data commands (§1-2 … §1-4 and the appendix script), run literally, in both orders.

The guide (`../shared/guide/finetuning-guide.ko.md`) runs the passages stage twice, once per kind with only
`--out-law` or only `--out-admin`. Each run must leave the other kind's file alone, so whichever order the
user follows, every file the guide lists holds what it should. The commands are read from the guide
itself (`poetry run python -m lex_dpr.…` is our `python -m lexdpr.…`) and run in-process with the guide's
relative paths, in a temporary project whose `data/` links to the bundled sample plus a few real files.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from pathlib import Path

import pytest

from lexdpr.data_processing import preprocess_auto

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO.parent / "shared" / "guide" / "finetuning-guide.ko.md"
#: Real files the guide names as examples (§1-1), added to the sample when the real data is there.
REAL_EXAMPLES = {"laws": ["000030.json", "000130.json"], "admin_rules": ["2100000243102.json"]}


def guide_section(title: str) -> str:
    if not GUIDE.is_file():
        pytest.skip(f"the user guide is not at {GUIDE}")
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start : end if end > 0 else len(text)]


def data_commands(section: str) -> list[list[str]]:
    """The `python -m …data_processing…` commands of the section's bash blocks, as argv lists."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if "python -m lex_dpr.data_processing." in line and not line.startswith("#"):
                argv = shlex.split(line)
                assert argv[:4] == ["poetry", "run", "python", "-m"], line
                commands.append([argv[4].replace("lex_dpr.", "lexdpr.", 1), *argv[5:]])
    return commands


def run_commands(commands: list[list[str]]) -> None:
    for module, *args in commands:
        code = importlib.import_module(module).main([*args, "--quiet"])
        assert code == 0, f"{module} {' '.join(args)} exited {code}"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def project(tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose data/laws, data/admin_rules and data/precedents link to small real data."""
    lawgo = REPO.parent / "shared" / "data" / "lawgo"
    for kind in ("laws", "admin_rules", "precedents"):
        folder = tmp_path / "data" / kind
        folder.mkdir(parents=True)
        for source in sorted((sample_dir / kind).glob("*.json")):
            (folder / source.name).symlink_to(source)
        for name in REAL_EXAMPLES.get(kind, []):
            if (lawgo / kind / name).is_file() and not (folder / name).exists():
                (folder / name).symlink_to(lawgo / kind / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def expected_passages(project: Path) -> tuple[list[dict], list[dict]]:
    out = project / "expected"
    preprocess_auto.run(
        preprocess_auto.PreprocessConfig(
            src_dir=str(project / "data"),
            out_law=str(out / "law.jsonl"),
            out_admin=str(out / "admin.jsonl"),
            quiet=True,
        )
    )
    law, admin = read(out / "law.jsonl"), read(out / "admin.jsonl")
    for record in law + admin:
        record["source"] = record["source"].split("/", 1)[1]  # laws/x.json there, x.json in the guide's runs
    return law, admin


def check_outputs(project: Path) -> None:
    processed = project / "data" / "processed"
    law_expected, admin_expected = expected_passages(project)
    law, admin = read(processed / "law_passages.jsonl"), read(processed / "admin_passages.jsonl")
    assert law and admin
    assert law == law_expected
    assert admin == admin_expected
    for name in ("pairs_train.jsonl", "pairs_train_valid.jsonl", "prec_fallback_passages.jsonl"):
        assert (processed / name).is_file(), name
    assert read(processed / "pairs_train.jsonl")
    fallbacks = read(processed / "prec_fallback_passages.jsonl")
    corpus = read(processed / "merged_corpus.jsonl")
    assert [p["id"] for p in corpus] == [p["id"] for p in law + admin + fallbacks]
    # --use-admin-for-prec: admin passages are candidates, so some hard negatives are admin ones
    negatives = {n for pair in read(processed / "pairs_train.jsonl") for n in pair["hard_negatives"]}
    assert any(n.startswith("ADM_") for n in negatives)


def test_guide_section_1_in_order(project: Path) -> None:
    commands = data_commands(guide_section("## 1. 데이터"))
    modules = [c[0].rsplit(".", 1)[1] for c in commands]
    assert modules == ["preprocess_auto", "preprocess_auto", "make_pairs", "merge_corpus", "merge_corpus"]
    assert "--out-admin" not in commands[0] and "--out-law" not in commands[1]  # the case that lost data
    run_commands(commands[:4])
    check_outputs(project)
    run_commands(commands[4:])  # the "no fallback passages" variant: laws and admin rules only
    corpus = read(project / "data/processed/merged_corpus.jsonl")
    assert {p["type"] for p in corpus} == {"law", "admin"}


def test_guide_appendix_script_admin_first(project: Path) -> None:
    commands = data_commands(guide_section("### 전체 파이프라인 예시"))
    modules = [c[0].rsplit(".", 1)[1] for c in commands]
    assert modules == ["preprocess_auto", "preprocess_auto", "make_pairs", "merge_corpus"]
    assert "--out-admin" in commands[0]  # admin rules first: the order that emptied admin_passages.jsonl
    run_commands(commands)
    check_outputs(project)


def test_passage_runs_in_both_orders_touch_only_their_own_file(project: Path) -> None:
    """Re-running one kind leaves the other kind's file byte-identical (mtime aside)."""
    commands = data_commands(guide_section("## 1. 데이터"))[:2]
    processed = project / "data" / "processed"
    run_commands(commands)
    law, admin = (
        (processed / "law_passages.jsonl").read_bytes(),
        (processed / "admin_passages.jsonl").read_bytes(),
    )
    run_commands(list(reversed(commands)))
    assert (processed / "law_passages.jsonl").read_bytes() == law
    assert (processed / "admin_passages.jsonl").read_bytes() == admin
    # a run naming no output at all is refused rather than writing default paths it was not asked for
    (processed / "law_passages.jsonl").unlink()
    assert preprocess_auto.main(["--src-dir", "data/laws", "--quiet"]) == 2
    assert not (processed / "law_passages.jsonl").exists()
    assert (processed / "admin_passages.jsonl").read_bytes() == admin
