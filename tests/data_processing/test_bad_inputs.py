"""Bad input to the data stages ends in a skip report (or one clear error), never a traceback or lost data.

Issue #11: deep nesting (RecursionError), files that yield no passages, `--strict` (exit 1, nothing
published), empty passage files, duplicate precedents named by file, malformed passage records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexdpr.data_processing import make_pairs, merge_corpus, preprocess_auto


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def law_doc(law_id: str, rows: list[dict]) -> str:
    return json.dumps(
        {
            "법령": {
                "기본정보": {"법령ID": law_id, "법령명_한글": f"가{law_id}법"},
                "조문": {"조문단위": rows},
            }
        },
        ensure_ascii=False,
    )


def admin_doc(rule_id: str, body: list[str]) -> str:
    info = {"행정규칙ID": rule_id, "행정규칙명": f"나{rule_id}규정"}
    return json.dumps({"AdmRulService": {"행정규칙기본정보": info, "조문내용": body}}, ensure_ascii=False)


DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
#: Nested 900 levels deep inside 조문내용: still readable by the decoder and the parsers.
DEEP_TEXT = json.dumps(
    {
        "법령": {
            "기본정보": {"법령ID": "000777", "법령명_한글": "깊은법"},
            "조문": {
                "조문단위": [
                    {
                        "조문번호": "1",
                        "조문여부": "조문",
                        "조문내용": json.loads("[" * 900 + '"x"' + "]" * 900),
                    }
                ]
            },
        }
    }
)


@pytest.fixture
def src(tmp_path: Path, sample_dir: Path) -> Path:
    """Two good files (a law and an admin rule) and the given bad ones, side by side."""
    folder = tmp_path / "src"
    write(folder / "laws/001706.json", (sample_dir / "laws/001706.json").read_bytes())
    write(folder / "admin/2100000264790.json", (sample_dir / "admin_rules/2100000264790.json").read_bytes())
    return folder


def passages(src: Path, out: Path, *extra: str) -> int:
    return preprocess_auto.main(
        ["--src-dir", str(src), "--out-law", f"{out}/law.jsonl", "--out-admin", f"{out}/admin.jsonl", *extra]
    )


def test_deep_nesting_is_a_skip_and_the_good_files_are_kept(src: Path, tmp_path: Path, capsys) -> None:
    write(src / "laws/deep_array.json", DEEP_ARRAY)
    write(src / "laws/deep_object.json", '{"법령": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001)
    write(src / "laws/deep_text.json", DEEP_TEXT)
    out = tmp_path / "out"
    assert passages(src, out) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "laws/deep_array.json: JSON nested too deeply to read" in err
    assert "laws/deep_object.json: JSON nested too deeply to read" in err
    # deep_text.json nests 900 levels inside 조문내용: readable, so it is parsed (no traceback either way)
    assert len(read(out / "law.jsonl")) > 10 and len(read(out / "admin.jsonl")) > 10


def test_files_without_passages_are_skipped_with_their_reason(src: Path, tmp_path: Path, capsys) -> None:
    headings = [{"조문번호": "1", "조문여부": "전문", "조문내용": "제1장 총칙"}]
    deleted = [{"조문번호": "1", "조문여부": "조문", "조문내용": "제1조 삭제 <2020.1.1>"}]
    write(src / "laws/headings.json", law_doc("000901", headings))
    write(src / "laws/deleted.json", law_doc("000902", deleted))
    write(src / "admin/no_heads.json", admin_doc("900001", ["이 규정은 시행한다.", "부칙"]))
    out = tmp_path / "out"
    assert passages(src, out) == 0
    err = capsys.readouterr().err
    assert "laws/headings.json: no passages: no article rows (조문여부 '조문'), only 전문 headings" in err
    assert "laws/deleted.json: no passages: all 1 article(s) are deleted (삭제)" in err
    assert "admin/no_heads.json: no passages: no article with a 제N조 head in 조문내용" in err
    strict = tmp_path / "strict"
    assert passages(src, strict, "--strict") == 1
    assert not strict.exists()


def test_strict_exits_1_and_publishes_nothing_through_the_cli(src: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    write(src / "laws/broken.json", '{"법령": ')
    out = tmp_path / "out"
    args = ["--src-dir", str(src), "--out-law", f"{out}/law.jsonl", "--out-admin", f"{out}/admin.jsonl"]
    result = subprocess.run(
        [sys.executable, "-m", "lexdpr.cli", "data", "passages", *args, "--strict", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "skipped laws/broken.json: not valid JSON" in result.stderr
    assert "no output was written" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_pairs_strict_publishes_nothing(sample_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert passages(sample_dir, out, "--quiet") == 0
    precs = tmp_path / "precs"
    for path in sorted((sample_dir / "precedents").glob("*.json"))[:4]:
        write(precs / path.name, path.read_bytes())
    write(precs / "zz_deep.json", DEEP_ARRAY)
    args = ["--law", f"{out}/law.jsonl", "--prec-json-dir", str(precs), "--out", f"{out}/p/pairs_train.jsonl"]
    assert make_pairs.main([*args, "--hn_per_q", "2", "--max-workers", "1", "--quiet", "--strict"]) == 1
    assert "zz_deep.json: JSON nested too deeply to read" in capsys.readouterr().err
    assert not (out / "p").exists()
    assert make_pairs.main([*args, "--hn_per_q", "2", "--max-workers", "1", "--quiet"]) == 0
    assert read(out / "p/pairs_train.jsonl") or read(out / "p/pairs_train_valid.jsonl")


def test_duplicate_precedents_are_reported_by_file(sample_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert passages(sample_dir, out, "--quiet") == 0
    precs = tmp_path / "precs"
    original = sample_dir / "precedents/147596.json"
    write(precs / "147596.json", original.read_bytes())
    write(precs / "copy_of_147596.json", original.read_bytes())
    args = ["--law", f"{out}/law.jsonl", "--prec-json-dir", str(precs), "--out", f"{out}/pairs_train.jsonl"]
    assert make_pairs.main([*args, "--hn_per_q", "2", "--max-workers", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert (
        "skipped copy_of_147596.json, field '판례일련번호': 판례일련번호 147596 was already read from 147596.json"
        in err
    )


def test_empty_or_malformed_passage_files_are_clear_errors(sample_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert passages(sample_dir, out, "--quiet") == 0
    empty = write(tmp_path / "empty.jsonl", "")
    corpus = tmp_path / "corpus.jsonl"
    # the corpus stage used to accept an empty --law file without a word
    assert (
        merge_corpus.main(["--law", str(empty), "--admin", f"{out}/admin.jsonl", "--out", str(corpus)]) == 2
    )
    assert (
        f"{empty}: no passages (--law); run the passages stage first (with --out-law)"
        in capsys.readouterr().err
    )
    assert not corpus.exists()
    # a data set may lack admin rules: a skip (said, and refused by --strict), not an error
    args = ["--law", f"{out}/law.jsonl", "--admin", str(empty), "--out", str(corpus)]
    assert merge_corpus.main([*args, "--strict"]) == 1
    assert f"skipped {empty}: no passages (--admin)" in capsys.readouterr().err
    assert not corpus.exists()
    assert merge_corpus.main(args) == 0
    assert f"skipped {empty}: no passages (--admin)" in capsys.readouterr().err
    assert read(corpus) == read(out / "law.jsonl")
    corpus.unlink()
    # pairs: --use-admin-for-prec with an empty admin file would silently build a smaller candidate set
    args = ["--law", f"{out}/law.jsonl", "--admin", str(empty), "--use-admin-for-prec"]
    args += ["--prec-json-dir", str(sample_dir / "precedents"), "--out", f"{tmp_path}/p/pairs_train.jsonl"]
    assert make_pairs.main([*args, "--quiet"]) == 2
    assert f"{empty}: no passages; run the passages stage with --out-admin first" in capsys.readouterr().err
    # a passage record without law_name (the pairs stage needs it) is an error naming file, line and field
    records = read(out / "law.jsonl")
    del records[3]["law_name"]
    bad = write(tmp_path / "bad.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in records))
    args = [
        "--law",
        str(bad),
        "--prec-json-dir",
        str(sample_dir / "precedents"),
        "--out",
        f"{tmp_path}/q/x.jsonl",
    ]
    assert make_pairs.main([*args, "--quiet"]) == 2
    assert (
        f"{bad}, record line 4, field 'law_name': missing or not a non-empty string"
        in capsys.readouterr().err
    )
    deep = write(
        tmp_path / "deep.jsonl", json.dumps(records[0], ensure_ascii=False) + "\n" + DEEP_ARRAY + "\n"
    )
    assert merge_corpus.main(["--law", str(deep), "--admin", "", "--out", str(corpus)]) == 2
    assert f"{deep}, record line 2: JSON nested too deeply to read" in capsys.readouterr().err
