"""The stage graph: consistent, in the guide's order, and every command parses with its real parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lexdpr.errors import ConfigError
from lexdpr.pipeline.stages import (
    EXECUTOR_INPUT,
    PARAMS,
    STAGES,
    Input,
    Output,
    Stage,
    check_graph,
    in_order,
    producers,
    render,
    render_argv,
    stage,
)


def test_the_graph_is_consistent() -> None:
    check_graph()


def test_stages_run_in_the_order_of_the_guide() -> None:
    assert [s.name for s in in_order()] == [
        "passages",
        "pairs",
        "corpus",
        "tune",
        "train-best",
        "evaluate",
        "export",
    ]


def test_every_file_a_command_names_inside_an_artifact_is_declared_by_its_producer() -> None:
    made_by = producers()
    for s in STAGES:
        for token in s.argv:
            for name, rel in re.findall(r"\{([a-z_]+)(?:\.uri)?\}/([\w.]+)", token):
                if name in PARAMS:
                    continue
                declared = made_by[name].output(name).files
                assert rel in declared, (
                    f"{s.name} reads {name}/{rel}, but {made_by[name].name} declares {declared}"
                )


def _bound(s: Stage) -> list[str]:
    values = {name: _sample(name) for name in s.params}
    values.update({i.name: f"/in/{i.name}" for i in s.inputs})
    values.update({o.name: f"/out/{o.name}" for o in s.outputs})
    values[EXECUTOR_INPUT] = "{}"
    return render_argv(s, values, {i.name: f"s3://b/{i.name}" for i in s.inputs})


def _sample(name: str) -> str:
    p = PARAMS[name]
    return str(p.default if p.default != "" else "x")


def _invoke(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, module: str, function: str
) -> dict[str, object]:
    """Run a `lex-dpr …` argv through the real CLI with the stage's work function replaced by a recorder."""
    import importlib

    from typer.testing import CliRunner

    from lexdpr.cli import app

    calls: list[dict[str, object]] = []
    target = importlib.import_module(module)
    monkeypatch.setattr(target, function, lambda *a, **k: calls.append({"args": a, "kwargs": k}) or _Result())
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    return calls[0]


class _Result:
    run_folder = "run"


@pytest.mark.parametrize("s", STAGES, ids=lambda s: s.name)
def test_each_command_parses_with_the_parser_it_reaches(s: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = _bound(s)
    if argv[:2] == ["lex-dpr", "data"]:
        import importlib

        from lexdpr.cli import _STAGE_MODULES

        parser = importlib.import_module(_STAGE_MODULES[argv[2]]).build_parser()
        parser.parse_args(argv[3:])
    elif argv[:2] == ["lex-dpr", "train"]:
        from lexdpr.training import config

        loaded: list[tuple[object, object]] = []
        monkeypatch.setattr(config, "load_config", lambda path, overrides: loaded.append((path, overrides)))
        _invoke(argv, monkeypatch, "lexdpr.training.trainer", "train")
        path, overrides = loaded[0]
        assert path == "/in/best_params/best.yaml"
        keys = [config.parse_override(o)[0] for o in overrides]  # type: ignore[attr-defined]
        assert set(keys) <= set(config.all_dotted_keys())
    elif argv[:2] == ["lex-dpr", "export"]:
        call = _invoke(argv, monkeypatch, "lexdpr.training.export", "export_merged")
        assert call["args"] == ("/in/checkpoints", "/out/model", "/in/report/hybrid.json")
    elif argv[:3] == ["python", "-m", "lexdpr.pipeline.tune"]:
        from lexdpr.pipeline import tune

        args = tune.build_parser().parse_args(argv[3:])
        assert args.train_pairs == "s3://b/pairs/pairs_train.jsonl"  # trials in other pods read the URI
    elif argv[:3] == ["python", "-m", "lexdpr.pipeline.evaluate"]:
        from lexdpr.pipeline import evaluate

        evaluate.build_parser().parse_args(argv[3:])
    else:
        pytest.fail(f"no parser known for {argv[:3]}")


def test_render_fills_values_and_uris_and_refuses_unknown_fields() -> None:
    assert render("{a}/x-{b.uri}", {"a": "/p"}, {"b": "s3://q"}) == "/p/x-s3://q"
    with pytest.raises(KeyError, match=r"\{c\}"):
        render("{c}", {"a": "1"})


def test_stage_lookup_names_the_stages() -> None:
    assert stage("tune").name == "tune"
    with pytest.raises(ConfigError, match="passages, pairs"):
        stage("nope")


def _graph(*stages: Stage) -> tuple[Stage, ...]:
    return stages


A = Stage("a", "a", ("prog", "{raw_data}", "{x}"), outputs=(Output("x", "Dataset", "x"),))


@pytest.mark.parametrize(
    ("graph", "problem"),
    [
        (
            _graph(
                A,
                Stage(
                    "b",
                    "b",
                    ("prog", "{x}", "{y}"),
                    inputs=(Input("x"),),
                    outputs=(Output("x", "Dataset", ""),),
                ),
            ),
            "written by a and b",
        ),
        (_graph(A, Stage("b", "b", ("prog", "{x}", "{nope}"), inputs=(Input("x"),))), "{nope} is neither"),
        (
            _graph(A, Stage("b", "b", ("prog", "{y.uri}"), outputs=(Output("y", "Dataset", ""),))),
            "{y.uri} is not an input",
        ),
        (_graph(A, Stage("b", "b", ("prog", "{z}"), inputs=(Input("z"),))), "input z is written by no stage"),
        (
            _graph(A, Stage("b", "b", ("prog",), outputs=(Output("y", "Dataset", ""),))),
            "output y is not in its command",
        ),
        (_graph(Stage("b", "b", ("prog", "{x}"), inputs=(Input("x"),)), A), "comes before a"),
    ],
    ids=["two-producers", "unknown-field", "uri-of-output", "no-producer", "unused-output", "order"],
)
def test_check_graph_names_each_inconsistency(graph: tuple[Stage, ...], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_graph(graph)
    assert problem in str(info.value)


def test_the_sweep_file_default_is_shipped_in_the_image() -> None:
    root = Path(__file__).resolve().parents[2]
    default = PARAMS["sweep_file"].default
    assert default.startswith("/app/configs/")
    assert (root / "configs" / Path(default).name).is_file()


def test_train_best_trains_on_train_and_valid_and_still_monitors_valid() -> None:
    from lexdpr.training.config import TrainConfig, apply_overrides

    argv = _bound(stage("train-best"))
    overrides = [token for token in argv if "=" in token and not token.startswith("-")]
    config = apply_overrides(TrainConfig(), overrides)
    assert config.data.pairs == ["/in/pairs/pairs_train.jsonl", "/in/pairs/pairs_train_valid.jsonl"]
    assert config.data.valid_pairs == "/in/pairs/pairs_train_valid.jsonl"
