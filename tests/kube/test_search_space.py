"""Sweep file → Katib parameters and trainer arguments: a table of (name, sweep, expected), as Katib's SDK tests do."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from lexdpr.errors import ConfigError
from lexdpr.kube.search_space import (
    config_value,
    fixed_point_scale,
    katib_search_space,
    placeholder_name,
    value_text,
)
from lexdpr.sweep.preset import preset_spec
from lexdpr.sweep.sweep_file import parse_sweep

METRIC = {"name": "eval/ndcg_at_10", "goal": "maximize"}


def sweep(method: str, parameters: dict[str, Any], **extra: Any):
    return parse_sweep({"method": method, "metric": METRIC, "parameters": parameters, **extra}, "test sweep")


# (name, method, parameter entry, expected Katib type, expected feasibleSpace, expected argument)
PARAMETERS = [
    (
        "bayes log-uniform stays a double",
        "bayes",
        {"trainer.lr": {"distribution": "log_uniform_values", "min": 5e-7, "max": 1e-4}},
        "double",
        {"min": "5e-07", "max": "0.0001", "distribution": "logUniform"},
        "trainer.lr=${trialParameters.trainerLr}",
    ),
    (
        "bayes uniform from 0 becomes fixed point",
        "bayes",
        {"trainer.warmup_ratio": {"distribution": "uniform", "min": 0.0, "max": 0.2}},
        "int",
        {"min": "0", "max": "2000", "distribution": "uniform"},
        "trainer.warmup_ratio=${trialParameters.trainerWarmupRatio}e-4",
    ),
    (
        "bayes uniform above 0 is fixed point too",
        "bayes",
        {"trainer.gradient_clip_norm": {"distribution": "uniform", "min": 1.0, "max": 20.0}},
        "int",
        {"min": "100", "max": "2000", "distribution": "uniform"},
        "trainer.gradient_clip_norm=${trialParameters.trainerGradientClipNorm}e-2",
    ),
    (
        "random uniform stays a uniform double",
        "random",
        {"trainer.warmup_ratio": {"distribution": "uniform", "min": 0.0, "max": 0.2}},
        "double",
        {"min": "0.0", "max": "0.2", "distribution": "uniform"},
        "trainer.warmup_ratio=${trialParameters.trainerWarmupRatio}",
    ),
    (
        "random log-uniform",
        "random",
        {"trainer.lr": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-3}},
        "double",
        {"min": "1e-06", "max": "0.001", "distribution": "logUniform"},
        "trainer.lr=${trialParameters.trainerLr}",
    ),
    (
        "int_uniform",
        "random",
        {"trainer.epochs": {"distribution": "int_uniform", "min": 1, "max": 5}},
        "int",
        {"min": "1", "max": "5", "distribution": "uniform"},
        "trainer.epochs=${trialParameters.trainerEpochs}",
    ),
    (
        "grid int_uniform gets a step",
        "grid",
        {"trainer.epochs": {"distribution": "int_uniform", "min": 1, "max": 3}},
        "int",
        {"min": "1", "max": "3", "distribution": "uniform", "step": "1"},
        "trainer.epochs=${trialParameters.trainerEpochs}",
    ),
    (
        "numbers stay numbers (discrete)",
        "grid",
        {"data.batch_size": {"values": [32, 64, 128]}},
        "discrete",
        {"list": ["32", "64", "128"]},
        "data.batch_size=${trialParameters.dataBatchSize}",
    ),
    (
        "float choices are discrete",
        "bayes",
        {"model.peft.dropout": {"values": [0.05, 0.1]}},
        "discrete",
        {"list": ["0.05", "0.1"]},
        "model.peft.dropout=${trialParameters.modelPeftDropout}",
    ),
    (
        "text choices are categorical",
        "random",
        {"model.bi_model": {"values": ["ko-simcse", "multilingual-e5-small"]}},
        "categorical",
        {"list": ["ko-simcse", "multilingual-e5-small"]},
        "model.bi_model=${trialParameters.modelBiModel}",
    ),
    (
        "booleans are categorical",
        "random",
        {"model.peft.enabled": {"values": [True, False]}},
        "categorical",
        {"list": ["true", "false"]},
        "model.peft.enabled=${trialParameters.modelPeftEnabled}",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "entry", "kind", "space", "argument"), PARAMETERS, ids=[p[0] for p in PARAMETERS]
)
def test_parameter_mapping(
    name: str, method: str, entry: dict, kind: str, space: dict, argument: str
) -> None:
    result = katib_search_space(sweep(method, entry))
    (parameter,) = result.parameters
    assert parameter.name == next(iter(entry))  # Katib names are the dotted keys
    assert parameter.parameter_type == kind
    assert parameter.feasible_space == space
    assert argument in result.arguments


def test_algorithms() -> None:
    entry = {"data.batch_size": {"values": [32, 64]}}
    assert katib_search_space(sweep("bayes", entry)).algorithm == {"algorithmName": "bayesianoptimization"}
    assert katib_search_space(sweep("random", entry)).algorithm == {"algorithmName": "random"}
    assert katib_search_space(sweep("grid", entry)).algorithm == {"algorithmName": "grid"}


@pytest.mark.parametrize(
    ("low", "high", "scale"),
    [
        (0.0, 0.2, 4),
        (0.01, 0.3, 4),
        (1.0, 20.0, 2),
        (0.05, 0.1, 5),
        (0.2, 0.6, 4),
        (0.0, 1000.0, 0),
        (-1.0, 1.0, 3),
    ],
)
def test_fixed_point_scale(low: float, high: float, scale: int) -> None:
    assert fixed_point_scale(low, high) == scale


def test_fixed_point_values_decode_to_the_whole_range_uniformly() -> None:
    """Every integer skopt may pick maps to a trainer value in [min, max]; the ends are exact."""
    (p,) = katib_search_space(
        sweep("bayes", {"trainer.warmup_ratio": {"distribution": "uniform", "min": 0.0, "max": 0.2}})
    ).parameters
    assert p.to_config_value("0") == 0.0
    assert p.to_config_value("2000") == 0.2
    assert p.to_config_value("1250") == 0.125
    values = [p.to_config_value(str(k)) for k in range(0, 2001, 50)]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert steps == {0.005}


def test_constants_and_fixed_become_plain_arguments() -> None:
    result = katib_search_space(
        sweep(
            "random",
            {
                "trainer.lr": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-4},
                "data.multiply": {"value": 1},
            },
            fixed={"trainer.epochs": 3, "trainer.k_values": [1, 5, 10]},
        )
    )
    assert [p.name for p in result.parameters] == ["trainer.lr"]
    assert "data.multiply=1" in result.arguments
    assert "trainer.epochs=3" in result.arguments
    # plain words (no quoting: they must mean the same to Katib's `sh -c` and to exec); a list as a,b,c
    assert "trainer.k_values=1,5,10" in result.arguments


def test_values_that_are_no_plain_word_are_refused() -> None:
    with pytest.raises(ConfigError, match="plain word"):
        katib_search_space(
            sweep("random", {"trainer.lr": {"values": [1e-5]}}, fixed={"data.pairs": "my pairs.jsonl"})
        )


def test_scale_with_is_computed_by_the_trial_command() -> None:
    result = katib_search_space(
        sweep(
            "random",
            {
                "model.peft.r": {"values": [4, 8]},
                "model.peft.alpha": {"scale_with": "model.peft.r", "values": [1, 2]},
            },
        )
    )
    names = [p.name for p in result.parameters]
    assert names == ["model.peft.r", "model.peft.alpha/model.peft.r"]
    assert (
        "--product=model.peft.alpha=${trialParameters.modelPeftAlphaPerModelPeftR}x${trialParameters.modelPeftR}"
        in result.arguments
    )


def test_scale_with_float_factors_is_refused() -> None:
    with pytest.raises(ConfigError, match="integer factors"):
        katib_search_space(
            sweep(
                "random",
                {
                    "model.peft.r": {"values": [4, 8]},
                    "model.peft.dropout": {"scale_with": "model.peft.r", "values": [0.01, 0.02]},
                },
            )
        )


def test_hyperband_early_termination_is_refused_with_the_alternative() -> None:
    spec = sweep(
        "random",
        {"data.batch_size": {"values": [32, 64]}},
        early_terminate={"type": "hyperband", "min_iter": 1, "eta": 3},
    )
    with pytest.raises(ConfigError, match="use `type: median`"):
        katib_search_space(spec)


def test_median_early_termination_is_medianstop() -> None:
    spec = sweep(
        "random",
        {"data.batch_size": {"values": [32, 64]}},
        early_terminate={"type": "median", "min_iter": 2, "n_startup_trials": 4},
    )
    assert katib_search_space(spec).early_stopping == {
        "algorithmName": "medianstop",
        "algorithmSettings": [
            {"name": "min_trials_required", "value": "4"},
            {"name": "start_step", "value": "2"},
        ],
    }


def test_values_that_would_break_the_template_are_refused() -> None:
    with pytest.raises(ConfigError, match="cannot be passed through Katib"):
        katib_search_space(sweep("random", {"model.bi_model": {"values": ["it's", "ok"]}}))


def test_objective_and_additional_metrics() -> None:
    objective = katib_search_space(preset_spec()).objective
    assert objective["type"] == "maximize"
    assert objective["objectiveMetricName"] == "eval/ndcg_at_10"
    assert objective["additionalMetricNames"] == ["eval/recall_at_10", "eval/mrr_at_10", "valid/loss"]
    # `latest` for all: the trainer prints its best checkpoint's metrics last (max would count step 0)
    assert objective["metricStrategies"] == [
        {"name": name, "value": "latest"}
        for name in ("eval/ndcg_at_10", "eval/recall_at_10", "eval/mrr_at_10", "valid/loss")
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trainer.lr", 5e-07),
        ("data.batch_size", 64),
        ("model.peft.enabled", False),
        ("trainer.k_values", [1, 10]),
        ("model.bi_model", "ko-simcse"),
        ("trainer.eval_steps", None),
    ],
)
def test_value_text_round_trips_through_the_trainer(key: str, value: Any) -> None:
    assert config_value(key, value_text(value)) == value


def test_placeholder_names() -> None:
    assert placeholder_name("trainer.gradient_accumulation_steps") == "trainerGradientAccumulationSteps"
    assert placeholder_name("model.peft.alpha/model.peft.r") == "modelPeftAlphaPerModelPeftR"
