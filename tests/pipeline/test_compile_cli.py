"""`lex-dpr pipeline compile --s3-secret/--node-selector/--toleration`: the flags reach the compiled YAML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lexdpr import cli
from lexdpr.errors import ConfigError
from lexdpr.pipeline import commands
from tests.pipeline.upstream.checker import check_platform_spec
from tests.pipeline.upstream.driver_fields import SUPPORTED

GPU_TOLERATION = '{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}'
SPOT_TOLERATION = (
    '{"key":"spot","operator":"Equal","value":"yes","effect":"NoExecute","tolerationSeconds":60}'
)


def _lex_dpr(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """`lex-dpr ARGV` as the console script runs it (errors: a message, exit code 2, no traceback)."""
    monkeypatch.setattr(sys, "argv", ["lex-dpr", *argv])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return int(exit_.value.code or 0)


def _executors(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    return docs, docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def test_the_flags_land_in_the_compiled_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "p.yaml"
    argv = ["pipeline", "compile", "-o", str(out), "--components", "", "--s3-secret", "team-s3"]
    argv += ["--node-selector", "pool=a100", "--node-selector", "nvidia.com/gpu.present=true"]
    argv += ["--toleration", GPU_TOLERATION, "--toleration", SPOT_TOLERATION]
    assert _lex_dpr(argv, monkeypatch) == 0
    docs, executors = _executors(out)
    assert {c["secretAsEnv"][0]["secretName"] for c in executors.values()} == {"team-s3"}
    train = executors["exec-train-best"]
    assert train["nodeSelector"] == {"labels": {"pool": "a100", "nvidia.com/gpu.present": "true"}}
    assert train["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {
            "key": "spot",
            "operator": "Equal",
            "value": "yes",
            "effect": "NoExecute",
            "tolerationSeconds": "60",
        },
    ]
    for version in SUPPORTED:
        assert check_platform_spec(docs, version) == [], version


def test_without_the_flags_the_defaults_are_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "p.yaml"
    assert _lex_dpr(["pipeline", "compile", "-o", str(out), "--components", ""], monkeypatch) == 0
    _, executors = _executors(out)
    assert {c["secretAsEnv"][0]["secretName"] for c in executors.values()} == {"lexdpr-s3"}
    assert not any("nodeSelector" in c or "tolerations" in c for c in executors.values())


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--node-selector", "pool"], "--node-selector 'pool': give a node label as KEY=VALUE"),
        (["--node-selector", "=a100"], "give a node label as KEY=VALUE"),
        (["--toleration", "nvidia.com/gpu:NoSchedule"], "not a JSON object"),
        (["--toleration", '["nvidia.com/gpu"]'], "not a JSON object"),
        (["--toleration", '{"key":"gpu","tolerationsSeconds":5}'], "unknown field(s) tolerationsSeconds"),
        (["--toleration", '{"key":"gpu","tolerationSeconds":"5"}'], "tolerationSeconds must be an integer"),
        (["--toleration", '{"key":"gpu","operator":"Exist"}'], "operator must be one of Exists, Equal"),
        (["--toleration", '{"key":"gpu","effect":"NoSchedul"}'], "effect must be one of"),
        (["--toleration", "{}"], "a toleration is a dict of"),
        (["--s3-secret", " "], "--s3-secret: give the Secret's name"),
    ],
)
def test_bad_values_are_one_clear_line(
    flags: list[str],
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "p.yaml"
    assert _lex_dpr(["pipeline", "compile", "-o", str(out), "--components", "", *flags], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and problem in err and "Traceback" not in err
    assert not out.exists()


def test_the_parsers_return_what_compile_pipeline_takes() -> None:
    assert commands.parse_node_selector(["a=1", "b=", "a=2"]) == {"a": "2", "b": ""}
    assert commands.parse_tolerations([GPU_TOLERATION]) == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    with pytest.raises(ConfigError):
        commands.parse_tolerations(["null"])


def test_the_image_flags_land_in_every_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("2.3", "2.4", "2.15"):
        out = tmp_path / f"p-{version}.yaml"
        argv = ["pipeline", "compile", "-o", str(out), "--components", str(tmp_path / f"c-{version}")]
        argv += [
            "--kfp-version",
            version,
            "--image-tag",
            "7.0",
            "--image-repository",
            "reg.example.com/lexdpr",
        ]
        assert _lex_dpr(argv, monkeypatch) == 0
        docs, _ = _executors(out)
        images = {
            label: e["container"]["image"] for label, e in docs[0]["deploymentSpec"]["executors"].items()
        }
        assert images.pop("exec-train-best") == "reg.example.com/lexdpr:7.0-cuda"
        assert set(images.values()) == {"reg.example.com/lexdpr:7.0"}, version
        tune = yaml.safe_load((tmp_path / f"c-{version}" / "tune.yaml").read_text(encoding="utf-8"))
        default = tune["root"]["inputDefinitions"]["parameters"]["trial_image"]["defaultValue"]
        assert default == "reg.example.com/lexdpr:7.0-cuda"


def test_submit_passes_the_compile_flags_on(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(commands, "submit", lambda *args, **kwargs: calls.append({"args": args, **kwargs}))
    argv = ["pipeline", "submit", "--host", "http://kfp", "--kfp-version", "2.3", "--image-tag", "7.0"]
    assert (
        _lex_dpr([*argv, "--image-repository", "reg.example.com/lexdpr", "trial_budget=3"], monkeypatch) == 0
    )
    (call,) = calls
    assert call["kfp_version"] == "2.3" and call["image_tag"] == "7.0"
    assert call["image_repository"] == "reg.example.com/lexdpr"
    assert call["args"][1] is None and call["args"][4] == ["trial_budget=3"]


def test_a_run_time_image_tag_is_refused_with_the_flag_to_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _lex_dpr(["pipeline", "submit", "--host", "http://kfp", "image_tag=0.2"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "image_tag" in err and "--image-tag" in err and "Traceback" not in err
