"""The three data stages end to end on the bundled sample: outputs, determinism, safety, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lexdpr.data_processing import make_pairs, merge_corpus, preprocess_auto
from lexdpr.data_processing.article_index import ArticleIndex
from lexdpr.data_processing.passage_ids import article_id_of


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_all(src: Path | str, out: Path | str, workers: int = 1, extra: tuple[str, ...] = ()) -> None:
    """All three stages through their command lines; `src`/`out` may be s3:// prefixes."""
    assert (
        preprocess_auto.main(
            [
                "--src-dir",
                str(src),
                "--out-law",
                f"{out}/law.jsonl",
                "--out-admin",
                f"{out}/admin.jsonl",
                "--strict",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        make_pairs.main(
            [
                "--law",
                f"{out}/law.jsonl",
                "--admin",
                f"{out}/admin.jsonl",
                "--prec-json-dir",
                f"{src}/precedents",
                "--out",
                f"{out}/pairs_train.jsonl",
                "--hn_per_q",
                "8",
                "--max-workers",
                str(workers),
                "--strict",
                "--quiet",
                *extra,
            ]
        )
        == 0
    )
    assert (
        merge_corpus.main(
            [
                "--law",
                f"{out}/law.jsonl",
                "--admin",
                f"{out}/admin.jsonl",
                "--prec",
                f"{out}/prec_fallback_passages.jsonl",
                "--out",
                f"{out}/merged_corpus.jsonl",
                "--quiet",
            ]
        )
        == 0
    )


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("sample")
    run_all(sample_dir, out)
    return out


OUTPUTS = (
    "law.jsonl",
    "admin.jsonl",
    "pairs_train.jsonl",
    "pairs_train_valid.jsonl",
    "pairs_test.jsonl",
    "prec_fallback_passages.jsonl",
    "merged_corpus.jsonl",
)


def test_outputs_exist_and_follow_the_record_contract(sample_out: Path) -> None:
    for name in OUTPUTS:
        assert (sample_out / name).exists(), name
    corpus = read(sample_out / "merged_corpus.jsonl")
    assert {p["type"] for p in corpus} == {"law", "admin", "prec"}
    for p in corpus:
        assert {"id", "parent_id", "type", "text", "law_name", "article"} <= p.keys()
    assert len({p["id"] for p in corpus}) == len(corpus)
    pairs = [
        pair
        for name in ("pairs_train", "pairs_train_valid", "pairs_test")
        for pair in read(sample_out / f"{name}.jsonl")
    ]
    assert pairs
    for pair in pairs:
        assert set(pair) == {"query_id", "query_text", "positive_passages", "hard_negatives", "meta"}
        assert {"type", "law_name", "article", "precedent_id", "issue"} <= pair["meta"].keys()


def test_positives_and_negatives_are_corpus_ids_and_never_related(sample_out: Path) -> None:
    corpus = read(sample_out / "merged_corpus.jsonl")
    ids = {p["id"] for p in corpus}
    index = ArticleIndex.build(corpus)
    for name in ("pairs_train", "pairs_train_valid", "pairs_test"):
        for pair in read(sample_out / f"{name}.jsonl"):
            assert set(pair["positive_passages"]) <= ids
            assert set(pair["hard_negatives"]) <= ids
            related = index.related_ids(pair["positive_passages"])
            assert not related & set(pair["hard_negatives"]), pair["query_id"]
            positive_articles = {article_id_of(p) for p in pair["positive_passages"]}
            assert not positive_articles & {article_id_of(n) for n in pair["hard_negatives"]}


def test_queries_are_aligned_with_their_issue_citations(sample_out: Path) -> None:
    pairs = {
        p["query_id"]: p
        for name in ("pairs_train", "pairs_train_valid", "pairs_test")
        for p in read(sample_out / f"{name}.jsonl")
    }
    # 2008다57746: [1]/[2] cite 부동산등기법 (not in the sample) and 민법 제357조; [3] cites 민법 제548조 제1항
    assert pairs["Q_147596_1"]["positive_passages"] == ["LAW_001706_제357조"]
    assert pairs["Q_147596_3"]["positive_passages"] == ["LAW_001706_제548조"]
    assert pairs["Q_147596_3"]["query_text"].startswith("계약 해제 전에")


def test_split_is_by_precedent(sample_out: Path) -> None:
    owner: dict[str, str] = {}
    for name in ("pairs_train", "pairs_train_valid", "pairs_test"):
        for pair in read(sample_out / f"{name}.jsonl"):
            assert owner.setdefault(pair["meta"]["precedent_id"], name) == name


def test_fallback_passages_are_positives_of_unresolved_queries(sample_out: Path) -> None:
    fallbacks = read(sample_out / "prec_fallback_passages.jsonl")
    assert fallbacks, "the sample has precedents whose citations resolve to nothing"
    ids = {p["id"] for p in fallbacks}
    used = {
        pid
        for name in ("pairs_train", "pairs_train_valid")
        for pair in read(sample_out / f"{name}.jsonl")
        for pid in pair["positive_passages"]
        if pid.startswith("PREC_")
    }
    assert used <= ids
    for pair in read(sample_out / "pairs_test.jsonl"):
        assert not any(p.startswith("PREC_") for p in pair["positive_passages"])


def test_rerun_and_worker_count_give_byte_identical_outputs(
    sample_out: Path, sample_dir: Path, tmp_path: Path
) -> None:
    run_all(sample_dir, tmp_path, workers=2)
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (sample_out / name).read_bytes(), name


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_bad_files_are_reported_with_file_and_field_and_skipped(
    tmp_path: Path, sample_dir: Path, capsys
) -> None:
    src = tmp_path / "src"
    write(src / "laws/good.json", (sample_dir / "laws/001706.json").read_bytes())
    write(src / "laws/broken.json", '{"법령": {"기본정보": ')
    write(src / "laws/latin1.json", '{"법령": "민법"}'.encode("euc-kr"))
    write(src / "laws/empty.json", "")
    write(src / "laws/array.json", "[1, 2]")
    write(
        src / "laws/wrong_type.json",
        json.dumps(
            {
                "법령": {
                    "기본정보": {"법령ID": "000001", "법령명_한글": "가법"},
                    "조문": {"조문단위": [{"조문번호": "1", "조문여부": "조문", "조문내용": 5.5}]},
                }
            }
        ),
    )
    out = tmp_path / "out"
    args = ["--src-dir", str(src), "--out-law", f"{out}/law.jsonl", "--out-admin", f"{out}/admin.jsonl"]
    assert preprocess_auto.main(args) == 0
    err = capsys.readouterr().err
    assert "laws/broken.json: not valid JSON" in err
    assert "laws/latin1.json: not UTF-8" in err
    assert "laws/empty.json: the file is empty" in err
    assert "laws/array.json: not a law.go.kr law" in err
    assert "laws/wrong_type.json, record 조문단위[0], field '조문내용'" in err
    assert "Traceback" not in err
    assert len(read(out / "law.jsonl")) > 10  # the good file still counts
    before = (out / "law.jsonl").read_bytes()
    strict_out = tmp_path / "strict"
    strict_args = ["--src-dir", str(src), "--out-law", f"{strict_out}/law.jsonl", "--strict"]
    assert preprocess_auto.main(strict_args) == 1  # the documented code (`--help`: "fail (exit 1)")
    err = capsys.readouterr().err
    assert "--strict" in err and "laws/broken.json: not valid JSON" in err
    assert not strict_out.exists()  # a strict failure publishes nothing
    assert preprocess_auto.main([*args, "--strict"]) == 1
    assert (out / "law.jsonl").read_bytes() == before  # ... and leaves earlier outputs as they were


def test_merge_refuses_duplicate_ids(sample_out: Path, tmp_path: Path, capsys) -> None:
    law = str(sample_out / "law.jsonl")
    assert merge_corpus.main(["--law", law, "--admin", law, "--out", str(tmp_path / "m.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "duplicate passage id 'LAW_" in err and "line 1" in err
    assert not (tmp_path / "m.jsonl").exists()


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lexdpr.cli", "data", "pairs", "--law", str(tmp_path / "missing.jsonl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "missing.jsonl: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_interrupted_write_keeps_the_previous_output(sample_out: Path, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "m.jsonl"
    target.write_text("previous\n")

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        merge_corpus.run(
            merge_corpus.MergeConfig(law=str(sample_out / "law.jsonl"), admin=None, out=str(target))
        )
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]


@pytest.mark.s3
def test_stages_read_and_write_s3(s3_bucket: str, sample_dir: Path, sample_out: Path) -> None:
    from lexdpr import storage

    for path in sorted(sample_dir.rglob("*.json")):
        storage.write_bytes(f"{s3_bucket}/raw/{path.relative_to(sample_dir)}", path.read_bytes())
    run_all(f"{s3_bucket}/raw", f"{s3_bucket}/out")
    for name in OUTPUTS:
        assert storage.read_bytes(f"{s3_bucket}/out/{name}") == (sample_out / name).read_bytes(), name


def test_use_admin_for_prec_makes_admin_passages_candidates(
    sample_out: Path, sample_dir: Path, tmp_path: Path
) -> None:
    def negatives(out: Path) -> set[str]:
        return {
            n
            for name in ("pairs_train", "pairs_train_valid", "pairs_test")
            for p in read(out / f"{name}.jsonl")
            for n in p["hard_negatives"]
        }

    assert not any(n.startswith("ADM_") for n in negatives(sample_out))
    run_all(sample_dir, tmp_path, extra=("--use-admin-for-prec",))
    assert any(n.startswith("ADM_") for n in negatives(tmp_path))
