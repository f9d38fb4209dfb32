"""Sweep files: what is accepted, what is refused and how the refusal reads (table-driven), and the preset."""

from __future__ import annotations

import textwrap

import pytest
from ruamel.yaml import YAML

from lexdpr.errors import ConfigError
from lexdpr.sweep.preset import PRESET_YAML, preset_spec
from lexdpr.sweep.sweep_file import load_sweep_file, parse_sweep

HEAD = """\
method: bayes
metric: {name: eval/ndcg_at_10, goal: maximize}
"""
LR = "  trainer.lr: {distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-4}\n"


def parse(text: str):
    return parse_sweep(YAML(typ="safe", pure=True).load(textwrap.dedent(text)), "sweep.yaml")


# (name, sweep file, text the error must contain)
INVALID = [
    (
        "unknown parameter key",
        HEAD + "parameters:\n  trainer.learning_rate: {values: [1, 2]}\n",
        "parameters.trainer.learning_rate: unknown config key (did you mean trainer.lr?)",
    ),
    (
        "typo in a key",
        HEAD + "parameters:\n  trainer.temprature: {min: 0.01, max: 0.3}\n",
        "did you mean trainer.temperature?",
    ),
    (
        "unknown fixed key",
        HEAD + "parameters:\n" + LR + "fixed: {data.pair: x.jsonl}\n",
        "fixed.data.pair: unknown config key (did you mean data.pairs?)",
    ),
    (
        "reserved key out_dir",
        HEAD + "parameters:\n" + LR + "fixed: {out_dir: /tmp/x}\n",
        "fixed.out_dir: cannot be set in a sweep file",
    ),
    (
        "log-uniform with min 0",
        HEAD + "parameters:\n  trainer.lr: {distribution: log_uniform_values, min: 0, max: 1.0e-4}\n",
        "parameters.trainer.lr.min: log_uniform_values needs min > 0 (got 0)",
    ),
    (
        "log-uniform with negative min",
        HEAD + "parameters:\n  trainer.lr: {distribution: log_uniform_values, min: -1, max: 1}\n",
        "log_uniform_values needs min > 0",
    ),
    (
        "min equal to max",
        HEAD + "parameters:\n  trainer.temperature: {distribution: uniform, min: 0.1, max: 0.1}\n",
        "parameters.trainer.temperature: min (0.1) must be smaller than max (0.1)",
    ),
    (
        "min above max",
        HEAD + "parameters:\n  trainer.temperature: {min: 0.3, max: 0.01}\n",
        "min (0.3) must be smaller than max (0.01)",
    ),
    (
        "missing max",
        HEAD + "parameters:\n  trainer.temperature: {distribution: uniform, min: 0.1}\n",
        "parameters.trainer.temperature.max: required for uniform",
    ),
    (
        "text where a number goes",
        HEAD + "parameters:\n  model.peft.r: {values: [4, eight]}\n",
        "parameters.model.peft.r.values[1]: 'eight' is not a valid int",
    ),
    (
        "float for an int key",
        HEAD + "parameters:\n  data.batch_size: {values: [32, 48.5]}\n",
        "parameters.data.batch_size.values[1]: 48.5 is not a valid int",
    ),
    (
        "uniform on an int key",
        HEAD + "parameters:\n  trainer.epochs: {distribution: uniform, min: 1, max: 3}\n",
        "uniform draws real numbers but trainer.epochs is an integer: use int_uniform or values",
    ),
    (
        "range on a text key",
        HEAD + "parameters:\n  model.bi_model: {distribution: uniform, min: 1, max: 3}\n",
        "model.bi_model is text: use values",
    ),
    (
        "int_uniform with a fraction",
        HEAD + "parameters:\n  trainer.epochs: {distribution: int_uniform, min: 1, max: 2.5}\n",
        "parameters.trainer.epochs.max: 2.5 is not an integer",
    ),
    (
        "value the trainer rejects",
        HEAD + "parameters:\n  model.peft.dropout: {distribution: uniform, min: 0.05, max: 1.5}\n",
        "parameters.model.peft.dropout.max: model.peft.dropout must be in [0, 1)",
    ),
    (
        "fixed value of the wrong type",
        HEAD + "parameters:\n" + LR + "fixed: {trainer.epochs: three}\n",
        "fixed.trainer.epochs: 'three' is not a valid int",
    ),
    (
        "W&B log_uniform",
        HEAD + "parameters:\n  trainer.lr: {distribution: log_uniform, min: -14, max: -9}\n",
        "W&B's log_uniform takes exponents; use log_uniform_values",
    ),
    (
        "unsupported distribution",
        HEAD + "parameters:\n  trainer.lr: {distribution: normal, min: 0, max: 1}\n",
        "'normal' is not supported; use one of log_uniform_values, uniform, int_uniform, categorical",
    ),
    (
        "unknown parameter field",
        HEAD + "parameters:\n  trainer.lr: {values: [1.0e-5], probabilities: [1]}\n",
        "parameters.trainer.lr: unknown field 'probabilities'",
    ),
    (
        "empty values",
        HEAD + "parameters:\n  model.peft.r: {values: []}\n",
        "parameters.model.peft.r.values: must be a non-empty list",
    ),
    ("duplicate values", HEAD + "parameters:\n  model.peft.r: {values: [4, 4]}\n", "lists a value twice"),
    (
        "list values",
        HEAD + "parameters:\n  trainer.k_values: {values: [[1, 10], [5]]}\n",
        "lists and mappings cannot be swept",
    ),
    ("no method", "metric: {name: eval/ndcg_at_10, goal: maximize}\nparameters:\n" + LR, "method: required"),
    (
        "bad method",
        "method: hyperopt\nmetric: {name: eval/ndcg_at_10, goal: maximize}\nparameters:\n" + LR,
        "method: 'hyperopt' is not a method; use one of bayes, random, grid",
    ),
    (
        "unknown metric",
        "method: random\nmetric: {name: eval/accuracy, goal: maximize}\nparameters:\n" + LR,
        "metric.name: 'eval/accuracy' is not a metric the trainer logs",
    ),
    (
        "metric k not logged",
        "method: random\nmetric: {name: eval/ndcg_at_20, goal: maximize}\nparameters:\n" + LR,
        "eval/ndcg_at_20 is not logged: trainer.k_values is [1, 3, 5, 10]",
    ),
    (
        "no goal",
        "method: random\nmetric: {name: eval/ndcg_at_10}\nparameters:\n" + LR,
        "metric.goal: required",
    ),
    (
        "grid with a range",
        "method: grid\nmetric: {name: eval/ndcg_at_10, goal: maximize}\nparameters:\n" + LR,
        "parameters.trainer.lr: grid search needs a finite set of values",
    ),
    ("nothing varies", HEAD + "parameters:\n  trainer.lr: {value: 1.0e-5}\n", "parameters: nothing varies"),
    (
        "key in parameters and fixed",
        HEAD + "parameters:\n" + LR + "fixed: {trainer.lr: 1.0e-5}\n",
        "fixed.trainer.lr: is also under parameters",
    ),
    (
        "W&B program key",
        HEAD + "program: train.py\nparameters:\n" + LR,
        "program: not used by lex-dpr sweeps",
    ),
    (
        "unknown top-level key",
        HEAD + "paramters:\n" + LR,
        "paramters: unknown top-level key (did you mean parameters?)",
    ),
    (
        "early_terminate type",
        HEAD + "parameters:\n" + LR + "early_terminate: {type: asha}\n",
        "early_terminate.type: 'asha': use hyperband or median",
    ),
    (
        "early_terminate eta",
        HEAD + "parameters:\n" + LR + "early_terminate: {type: hyperband, eta: 1}\n",
        "early_terminate.eta: 1: must be an integer >= 2",
    ),
    (
        "early_terminate field",
        HEAD + "parameters:\n" + LR + "early_terminate: {type: median, eta: 3}\n",
        "early_terminate.eta: unknown for median",
    ),
    (
        "scale_with an unknown base",
        HEAD + "parameters:\n  model.peft.alpha: {scale_with: model.peft.rank, values: [1, 2]}\n",
        "'model.peft.rank' is neither a parameter nor a fixed key",
    ),
    (
        "scale_with giving a non-integer",
        HEAD + "parameters:\n  model.peft.r: {values: [4, 5]}\n"
        "  model.peft.alpha: {scale_with: model.peft.r, values: [1.5]}\n",
        "1.5 × model.peft.r=5 = 7.5 is not a valid model.peft.alpha",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), INVALID, ids=[row[0] for row in INVALID])
def test_invalid_sweep_files_are_refused_with_a_clear_message(name: str, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse(text)
    message = str(excinfo.value)
    assert message.startswith("sweep.yaml: ")
    assert expected in message


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = (
        "method: bayes\nmetric: {name: eval/ndcg_at_10, goal: maximize}\nparameters:\n"
        "  trainer.lr: {distribution: log_uniform_values, min: 0, max: 1}\n  model.peft.r: {values: [x]}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"sweep.yaml: 2 problems:\n  - parameters.trainer.lr.min: .*\n  - "
        r"parameters.model.peft.r.values\[0\]",
    ):
        parse(text)


# (name, parameter entry, expected canonical entry)
VALID = [
    ("values infer categorical", "{values: [4, 8]}", {"values": [4, 8]}),
    (
        "integer min/max infer int_uniform",
        "{min: 1, max: 4}",
        {"distribution": "int_uniform", "min": 1, "max": 4},
    ),
    ("a constant", "{value: 16}", {"value": 16}),
    ("string numbers are converted", "{values: ['4', '8']}", {"values": [4, 8]}),
]


@pytest.mark.parametrize(("name", "entry", "expected"), VALID, ids=[row[0] for row in VALID])
def test_parameter_entries_are_normalised(name: str, entry: str, expected: dict) -> None:
    spec = parse(HEAD + f"parameters:\n  model.peft.r: {entry}\n" + LR)
    assert spec.parameters["model.peft.r"].to_dict() == expected


def test_yaml_1_2_numbers_and_wandb_nested_parameters(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        HEAD + "parameters:\n  trainer:\n    parameters:\n      lr: {distribution: log_uniform_values, "
        "min: 5e-7, max: 1e-4}\n",
        encoding="utf-8",
    )
    p = load_sweep_file(path).parameters["trainer.lr"]
    assert (p.low, p.high) == (5e-7, 1e-4)


def test_scale_with_ties_one_parameter_to_another() -> None:
    spec = parse(
        HEAD + "parameters:\n  model.peft.r: {values: [4, 8]}\n"
        "  model.peft.alpha: {scale_with: model.peft.r, values: [1, 2]}\n"
    )
    from lexdpr.sweep import space

    assert set(space.distributions(spec)) == {"model.peft.r", "model.peft.alpha/model.peft.r"}
    values = space.trial_values(spec, {"model.peft.r": 8, "model.peft.alpha/model.peft.r": 2})
    assert values["model.peft.alpha"] == 16


def test_missing_file_and_bad_yaml_name_the_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"nope.yaml: no such sweep file"):
        load_sweep_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: [bayes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_sweep_file(bad)


# The guide's preset (docs/sweeps.md): every parameter, with exactly these ranges and choices.
DESIGN_SPACE = {
    "trainer.lr": {"distribution": "log_uniform_values", "min": 5e-7, "max": 1e-4},
    "trainer.temperature": {"distribution": "uniform", "min": 0.01, "max": 0.3},
    "trainer.weight_decay": {"distribution": "uniform", "min": 0.01, "max": 0.5},
    "trainer.warmup_ratio": {"distribution": "uniform", "min": 0.0, "max": 0.2},
    "trainer.gradient_accumulation_steps": {"values": [16, 32, 64]},
    "trainer.gradient_clip_norm": {"distribution": "uniform", "min": 1.0, "max": 20.0},
    "model.peft.r": {"values": [4, 8, 16]},
    "model.peft.alpha": {"values": [8, 16, 32]},
    "model.peft.dropout": {"distribution": "uniform", "min": 0.05, "max": 0.1},
    "data.batch_size": {"values": [32, 64, 128, 256]},
    "data.multiply": {"values": [0, 1, 2]},
    "data.hard_negative_ratio": {"distribution": "uniform", "min": 0.2, "max": 0.6},
    "trainer.valid_negatives": {"values": [16, 32, 64]},
    "model.bi_model": {"values": ["ko-simcse", "bge-m3-ko", "multilingual-minilm", "multilingual-e5-small"]},
    "model.max_len": {"values": [256, 384, 512]},
}


def test_the_preset_is_the_guides_space() -> None:
    spec = preset_spec()
    assert spec.method == "bayes"
    assert (spec.metric.name, spec.metric.goal) == ("eval/ndcg_at_10", "maximize")
    assert {k: p.to_dict() for k, p in spec.parameters.items()} == DESIGN_SPACE
    assert set(spec.fixed) == {"trainer.epochs", "data.pairs", "data.passages"}
    assert spec.parameters["model.peft.alpha"].scale_with is None  # alpha independent of r
    assert spec.early_terminate is None and spec.sweep_id is None


def test_the_preset_reads_the_same_with_yaml_1_1() -> None:
    """PyYAML (YAML 1.1) reads `5e-7` as text; the preset writes numbers every YAML reads alike."""
    import yaml

    assert yaml.safe_load(PRESET_YAML) == YAML(typ="safe", pure=True).load(PRESET_YAML)


def test_train_values_are_fixed_then_constants_then_the_trials_values() -> None:
    spec = parse(
        """
        method: random
        metric: {name: eval/ndcg_at_10, goal: maximize}
        fixed: {trainer.epochs: 2, data.batch_size: 16}
        parameters:
          trainer.temperature: {value: 0.05}
          model.peft.r: {values: [8, 16]}
          trainer.lr: {min: 1.0e-5, max: 1.0e-3, distribution: log_uniform_values}
        """
    )
    values = spec.train_values({"trainer.lr": 3e-4, "model.peft.r": 8, "data.batch_size": 32})
    assert values == {
        "trainer.epochs": 2,
        "data.batch_size": 32,
        "trainer.temperature": 0.05,
        "model.peft.r": 8,
        "trainer.lr": 3e-4,
    }
