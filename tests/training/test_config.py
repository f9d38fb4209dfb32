from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lexdpr.errors import ConfigError
from lexdpr.training.config import (
    TrainConfig,
    all_dotted_keys,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    config_to_yaml,
    field_help,
    load_config,
)

BASE_YAML = Path(__file__).resolve().parents[2] / "configs" / "base.yaml"


def test_defaults_match_the_issue():
    c = TrainConfig()
    assert c.model.bi_model == "multilingual-e5-small"
    assert (c.model.max_len, c.model.query_max_len) == (256, 128)
    assert (c.model.peft.enabled, c.model.peft.r, c.model.peft.alpha, c.model.peft.dropout) == (
        True,
        8,
        16,
        0.0,
    )
    assert c.model.peft.target_modules == "auto" and c.model.dropout == 0.0
    assert (c.data.batch_size, c.data.multiply, c.data.hard_negative_ratio) == (16, 0, 0.4)
    t = c.trainer
    assert (t.lr, t.temperature, t.weight_decay, t.warmup_ratio) == (3e-4, 0.05, 0.01, 0.1)
    assert (t.gradient_accumulation_steps, t.gradient_clip_norm, t.epochs, t.seed, t.keep_last) == (
        1,
        1.0,
        1,
        42,
        2,
    )
    assert t.k_values == [1, 3, 5, 10] and t.valid_negatives == 32 and t.precision == "auto"
    assert (c.out_dir, c.run_dir, c.sweep_id) == ("checkpoint/lexdpr", "wandb", None)


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("trainer.lr=3e-5", ("trainer", "lr"), 3e-5),  # YAML 1.1 reads 3e-5 as a string; we do not
        ("trainer.gradient_accumulation_steps=16", ("trainer", "gradient_accumulation_steps"), 16),
        ("data.batch_size=64.0", ("data", "batch_size"), 64),  # Katib sends integers as floats sometimes
        ("trainer.k_values=[1, 5]", ("trainer", "k_values"), [1, 5]),
        ("trainer.k_values=1,20", ("trainer", "k_values"), [1, 20]),
        ("model.peft.enabled=false", ("model", "peft", "enabled"), False),
        ("model.peft.target_modules=[query, value]", ("model", "peft", "target_modules"), ["query", "value"]),
        ("model.peft.target_modules=query,value", ("model", "peft", "target_modules"), ["query", "value"]),
        ("trainer.eval_steps=null", ("trainer", "eval_steps"), None),
        ("trainer.max_steps=100", ("trainer", "max_steps"), 100),
        ("model.pooling=cls", ("model", "pooling"), "cls"),
        ("sweep_id=abc=1", ("sweep_id",), "abc=1"),
    ],
)
def test_overrides_are_parsed_to_the_field_type(override, key, expected):
    config = load_config(None, [override])
    value = config
    for part in key:
        value = getattr(value, part)
    assert value == expected
    assert type(value) is type(expected)


def test_unknown_key_lists_the_valid_keys():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["trainer.lrr=1e-5"])
    message = str(info.value)
    assert "trainer.lrr" in message and "trainer.lr," in message and "data.hard_negative_ratio" in message


@pytest.mark.parametrize(
    "override",
    [
        "trainer.lr=fast",
        "data.batch_size=2.5",
        "data.multiply=3",
        "trainer.precision=fp8",
        "model.pooling=max",
        "data.hard_negative_ratio=1.0",
        "trainer.temperature=0",
        "out_dir=s3://bucket/x",
        "lr",
    ],
)
def test_bad_values_are_config_errors(override):
    with pytest.raises(ConfigError):
        load_config(None, [override])


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  lr: 1.0e-4\n  epochs: 3\ndata.batch_size: 8\n", encoding="utf-8")
    config = load_config(str(path), ["trainer.epochs=2"])
    assert (config.trainer.lr, config.trainer.epochs, config.data.batch_size) == (1e-4, 2, 8)


def test_unknown_key_in_a_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  learning_rate: 1.0e-4\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown config key 'trainer\.learning_rate'"):
        load_config(str(path), [])


def test_round_trip_and_mapping_overrides():
    config = load_config(None, ["trainer.lr=1e-4", "model.peft.r=16"])
    again = config_from_dict(yaml.safe_load(config_to_yaml(config)))
    assert config_to_dict(again) == config_to_dict(config)
    # The sweep engine passes typed values in a mapping.
    apply_overrides(again, {"trainer.gradient_accumulation_steps": 32, "data.multiply": 2})
    assert again.trainer.gradient_accumulation_steps == 32 and again.data.multiply == 2


def test_every_key_has_help():
    keys = all_dotted_keys()
    assert "model.peft.r" in keys and "trainer.lr" in keys and "model.peft" not in keys
    assert all(field_help(k) for k in keys)


def test_the_gpu_recipe_loads_and_changes_only_what_it_names():
    config = load_config(str(BASE_YAML.with_name("gpu.yaml")), [])
    assert (config.trainer.lr, config.data.batch_size, config.model.peft.r) == (2e-4, 64, 16)
    assert config.model.dropout is None and config.data.false_negative_guard is True
    assert config.trainer.temperature == TrainConfig().trainer.temperature  # not named there: the default


def test_base_yaml_holds_exactly_the_defaults():
    data = yaml.safe_load(BASE_YAML.read_text(encoding="utf-8"))
    assert config_to_dict(config_from_dict(data)) == config_to_dict(TrainConfig())
    assert load_config(str(BASE_YAML), []) == TrainConfig()


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("trainer.lrr", "trainer.lr"),
        ("trainer.temprature", "trainer.temperature"),
        ("lr", "trainer.lr"),
        ("data.lr", "trainer.lr"),
        ("model.peft.rank", None),
    ],
)
def test_an_unknown_key_suggests_the_closest_valid_one(typed: str, meant: str | None) -> None:
    from lexdpr.training.config import load_config

    with pytest.raises(ConfigError) as caught:
        load_config(None, [f"{typed}=1"])
    message = str(caught.value)
    assert "valid keys: model.bi_model" in message
    if meant:
        assert f"unknown config key {typed!r} (did you mean {meant!r}?)" in message
