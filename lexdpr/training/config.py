"""The training configuration: typed dataclasses addressed by dotted keys (`trainer.lr=3e-5`).

Dotted keys are the one vocabulary of the CLI, YAML configs, sweep files and Katib parameters.
This module is the only place that knows the keys, their types, defaults and help texts, so the sweep engine
imports `all_dotted_keys`, `apply_overrides` and `config_to_dict` from here instead of keeping a second list.

Loading is: defaults → YAML file (nested mapping or dotted keys) → `key=value` overrides, each value parsed
as YAML and converted to the field's type. An unknown key is a `ConfigError` that lists the valid keys.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lexdpr.errors import ConfigError

POOLING_CHOICES = ("mean", "cls")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
MULTIPLY_CHOICES = (0, 1, 2)


@dataclass
class PeftConfig:
    """LoRA adapter settings; `enabled: false` fine-tunes every weight instead."""

    enabled: bool = field(
        default=True, metadata={"help": "Train a LoRA adapter (true) or every weight (false)."}
    )
    r: int = field(default=8, metadata={"help": "LoRA rank."})
    alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    dropout: float = field(
        default=0.0,
        metadata={"help": "Dropout on the LoRA branch's input (0 = none, and no random masks to draw)."},
    )
    layers: int | None = field(
        default=None,
        metadata={
            "help": "LoRA in the last N encoder blocks only (null = all): the backward pass stops below them."
        },
    )
    target_modules: str | list[str] = field(
        default="auto",
        metadata={
            "help": "Module names LoRA wraps, or 'auto' to pick them from the architecture "
            "(BERT/XLM-R: query, key, value, dense of the encoder layers)."
        },
    )


@dataclass
class ModelConfig:
    """Which base model to fine-tune and how texts are cut and pooled."""

    bi_model: str = field(
        default="multilingual-e5-small",
        metadata={
            "help": "Base model: an alias (ko-simcse, bge-m3-ko, multilingual-minilm, "
            "multilingual-e5-small), a local folder or a hub id."
        },
    )
    max_len: int = field(default=256, metadata={"help": "Passage length limit in tokens (prefix included)."})
    query_max_len: int = field(
        default=128, metadata={"help": "Query length limit in tokens (prefix included)."}
    )
    pooling: str | None = field(
        default=None,
        metadata={"help": "Override the base model's pooling: 'mean' or 'cls'; null keeps the model's own."},
    )
    model_cache: str | None = field(
        default=None,
        metadata={
            "help": "Folder (PVC) or s3:// prefix where base models are cached; null = the default cache."
        },
    )
    dropout: float | None = field(
        default=0.0,
        metadata={
            "help": "The base model's hidden and attention dropout while training; null keeps the model's "
            "own (0.1 in BERT/XLM-R). Drawing the masks took a third of a CPU step (docs/training.md)."
        },
    )
    peft: PeftConfig = field(default_factory=PeftConfig, metadata={"help": "LoRA adapter settings."})


@dataclass
class DataConfig:
    """Where the pairs and the corpus are, and how batches are made from them."""

    pairs: str | list[str] = field(
        default="data/processed/pairs_train.jsonl",
        metadata={
            "help": "Training pairs (JSONL): one file or a list, e.g. "
            "[pairs_train.jsonl, pairs_train_valid.jsonl] to train on train + valid."
        },
    )
    valid_pairs: str | None = field(
        default="data/processed/pairs_train_valid.jsonl",
        metadata={"help": "Validation pairs for valid/loss (and for eval/* when eval_pairs is null)."},
    )
    eval_pairs: str | None = field(
        default=None,
        metadata={"help": "Pairs for the retrieval metrics eval/*; null = valid_pairs."},
    )
    passages: str = field(
        default="data/processed/merged_corpus.jsonl",
        metadata={"help": "The corpus (JSONL passages): hard negatives' texts and the retrieval index."},
    )
    batch_size: int = field(
        default=16, metadata={"help": "Queries per micro-batch, across all processes under torchrun."}
    )
    multiply: int = field(
        default=0,
        metadata={
            "help": "Query augmentation: 0 = the query only; 1 = + a copy with article numbers masked; "
            "2 = 1 + a copy made of the pair's 판결요지 (meta) when present."
        },
    )
    hard_negative_ratio: float = field(
        default=0.4,
        metadata={
            "help": "Share of mined hard negatives among each query's negatives in a step "
            "(the rest are the other queries' positives); 0 = in-batch negatives only."
        },
    )
    false_negative_guard: bool = field(
        default=False,
        metadata={
            "help": "Never score as a query's negative a neighbour of its positive (same 제N조: other "
            "paragraphs, 제N조의M) or an article other training queries cite with its positive."
        },
    )
    num_workers: int = field(
        default=0,
        metadata={
            "help": "Threads that tokenize the pairs and the corpus at start-up; 0 = in the main thread."
        },
    )


@dataclass
class TrainerConfig:
    """Optimisation, evaluation and checkpointing."""

    lr: float = field(
        default=3e-4,
        metadata={"help": "Peak learning rate of AdamW (LoRA; full fine-tuning wants 1e-5 to 3e-5)."},
    )
    temperature: float = field(
        default=0.05, metadata={"help": "InfoNCE temperature (scores are divided by it)."}
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay (not on biases/LayerNorms)."}
    )
    warmup_ratio: float = field(default=0.1, metadata={"help": "Share of the steps with linear warm-up."})
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={
            "help": "Micro-batches per optimizer step, combined GradCache-style: the loss sees all of their "
            "queries and passages, so the negatives pool grows with it."
        },
    )
    gradient_clip_norm: float = field(
        default=1.0, metadata={"help": "Clip the gradient norm; 0 = no clipping."}
    )
    epochs: int = field(default=1, metadata={"help": "Passes over the training pairs."})
    eval_steps: int | None = field(
        default=None,
        metadata={
            "help": "Evaluate (and checkpoint) every N optimizer steps; null = at the end of each epoch."
        },
    )
    k_values: list[int] = field(
        default_factory=lambda: [1, 3, 5, 10],
        metadata={"help": "Cut-offs of eval/ndcg_at_k and eval/recall_at_k."},
    )
    valid_negatives: int = field(
        default=32, metadata={"help": "Negatives per validation query for valid/loss (hard ones first)."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of data order, negatives, LoRA init and dropout."})
    keep_last: int = field(default=2, metadata={"help": "Checkpoints kept besides the best one."})
    precision: str = field(
        default="auto",
        metadata={
            "help": "auto | fp32 | bf16 | fp16; auto = bf16 on a GPU that supports it (else fp16), fp32 on a CPU; bf16 on a CPU needs native bf16."
        },
    )
    max_steps: int | None = field(
        default=None, metadata={"help": "Stop after this many optimizer steps (null = all epochs)."}
    )


@dataclass
class TrainConfig:
    """Everything `lex-dpr train` needs; its dotted keys are the sweep parameters."""

    model: ModelConfig = field(
        default_factory=ModelConfig, metadata={"help": "Base model and text handling."}
    )
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Inputs and batching."})
    trainer: TrainerConfig = field(
        default_factory=TrainerConfig, metadata={"help": "Optimisation and evaluation."}
    )
    out_dir: str = field(
        default="checkpoint/lexdpr",
        metadata={
            "help": "Local folder for checkpoints ({out_dir}/bi_encoder/checkpoint-{step}); reused = resume."
        },
    )
    run_dir: str = field(
        default="wandb", metadata={"help": "Folder that holds the run folders (run-{YYYYMMDD_HHMMSS}-{id}/)."}
    )
    sweep_id: str | None = field(
        default=None, metadata={"help": "Sweep this run belongs to (written to metadata)."}
    )


# --- dotted-key access -------------------------------------------------------------------------------


def _fields(cls: type) -> dict[str, tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return {f.name: (f, hints[f.name]) for f in dataclasses.fields(cls)}


def _leaf_keys(cls: type, prefix: str = "") -> dict[str, tuple[dataclasses.Field[Any], Any]]:
    out: dict[str, tuple[dataclasses.Field[Any], Any]] = {}
    for name, (f, hint) in _fields(cls).items():
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(hint):
            out.update(_leaf_keys(hint, key + "."))
        else:
            out[key] = (f, hint)
    return out


def all_dotted_keys() -> list[str]:
    """Every settable key, e.g. `trainer.lr`, in declaration order."""
    return list(_leaf_keys(TrainConfig))


def field_help(key: str) -> str:
    """The help text of a dotted key (for CLI help and sweep-file checks)."""
    return _lookup(key)[0].metadata["help"]


def field_type(key: str) -> Any:
    """The declared type of a dotted key (e.g. `float`, `int | None`)."""
    return _lookup(key)[1]


def _lookup(key: str) -> tuple[dataclasses.Field[Any], Any]:
    leaves = _leaf_keys(TrainConfig)
    if key not in leaves:
        raise ConfigError(unknown_key_message(key, list(leaves)))
    return leaves[key]


def unknown_key_message(key: str, valid: list[str], what: str = "config key") -> str:
    """`unknown config key 'trainer.lrr'; did you mean 'trainer.lr'? valid keys: …`"""
    import difflib

    leaf = key.rsplit(".", 1)[-1]  # a right name under the wrong section (`lr`, `data.lr`) → `trainer.lr`
    close = [k for k in valid if k.rsplit(".", 1)[-1] == leaf][:1]
    close = close or difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {key!r}{hint}; valid keys: {', '.join(valid)}"


def _convert(key: str, value: Any, hint: Any) -> Any:
    """Convert a YAML-parsed value to the declared type, or raise a ConfigError naming the key."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None or (isinstance(value, str) and value.lower() in {"null", "none", "~"}):
        if type(None) in options:
            return None
        raise ConfigError(f"{key}: a value is required (null is not allowed)")
    for option in options:
        if option is type(None):
            continue
        try:
            return _convert_one(value, option)
        except (TypeError, ValueError):
            continue
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "…"
    raise ConfigError(f"{key}: {shown} is not a valid {_type_name(hint)}")


def _convert_one(value: Any, option: Any) -> Any:
    origin = typing.get_origin(option)
    if origin is list:
        (item,) = typing.get_args(option)
        if isinstance(value, str):
            try:
                parsed = yaml.safe_load(value) if value.strip().startswith("[") else value.split(",")
            except (yaml.YAMLError, RecursionError):
                raise ValueError("not a list") from None
            value = parsed
        if not isinstance(value, list | tuple):
            raise TypeError("not a list")
        return [_convert_one(v, item) for v in value]
    if option is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "yes", "on", "1", "false", "no", "off", "0"}:
            return value.lower() in {"true", "yes", "on", "1"}
        raise TypeError("not a boolean")
    if option is int:
        if isinstance(value, bool):
            raise TypeError("not an int")
        if isinstance(value, int):
            return value
        number = float(value)
        if not number.is_integer():
            raise ValueError("not an integer")
        return int(number)
    if option is float:
        if isinstance(value, bool):
            raise TypeError("not a float")
        return float(value)
    if option is str:
        if isinstance(value, list | dict):
            raise TypeError("not a string")
        return str(value)
    raise TypeError(f"unsupported type {option}")


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def set_value(config: TrainConfig, key: str, value: Any) -> None:
    """Set one dotted key in place; `value` may be a string (parsed as YAML) or an already typed value."""
    _, hint = _lookup(key)
    if isinstance(value, str) and hint not in (str, str | None):
        value = _parse_scalar(value)
    target: Any = config
    *parents, leaf = key.split(".")
    for part in parents:
        target = getattr(target, part)
    setattr(target, leaf, _convert(key, value, hint))


def _parse_scalar(text: str) -> Any:
    """Parse a command-line value as YAML, but keep what YAML 1.1 misreads (`3e-5` is a float here)."""
    try:
        parsed = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return text
    return parsed


def parse_override(text: str) -> tuple[str, str]:
    """Split `key=value` (the value may itself contain '=')."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form key=value (e.g. trainer.lr=3e-5)")
    return key.strip(), value.strip()


def apply_overrides(config: TrainConfig, overrides: Iterable[str] | Mapping[str, Any]) -> TrainConfig:
    """Apply `key=value` strings or a {dotted key: value} mapping in place, validate, and return the config."""
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    for key, value in items:
        set_value(config, key, value)
    validate(config)
    return config


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping → {dotted key: value}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """The nested plain-data form written to config.yaml and training_config.json."""
    return dataclasses.asdict(config)


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Build a config from a nested or dotted mapping (unknown keys are errors)."""
    return apply_overrides(TrainConfig(), flatten(data))


def config_to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


def load_config(path: str | None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then the YAML file at `path` (local or s3://), then `key=value` overrides."""
    from lexdpr.storage import read_text

    config = TrainConfig()
    if path:
        try:
            data = yaml.load(read_text(path), Loader=_UniqueKeyLoader) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        except RecursionError:
            raise ConfigError(f"{path}: not valid YAML (nested too deeply to read)") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
        check_yaml_size(data, path)
        try:
            apply_overrides(config, flatten(data))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return apply_overrides(config, overrides or [])


#: More values than this in one YAML file (after its aliases are expanded) is refused: a handful of
#: anchors referring to each other (`a2: [*a1, *a1, …]`) expand to billions of values and hang any reader.
MAX_YAML_VALUES = 100_000


def check_yaml_size(data: Any, source: str) -> None:
    """A `ConfigError` if `data` (as loaded, aliases shared) holds more than `MAX_YAML_VALUES` values."""
    stack, seen = [data], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_YAML_VALUES:
            raise ConfigError(
                f"{source}: more than {MAX_YAML_VALUES} values once its YAML aliases (*name) are expanded; "
                "write the values out instead"
            )
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error, not "last wins"."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.YAMLError(
                    f"duplicate key {key!r} on line {key_node.start_mark.line + 1} "
                    f"(first on line {seen[key].line + 1})"
                )
            if isinstance(key, typing.Hashable):
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


#: Inclusive bounds of the numeric keys (None: unbounded on that side). Beyond them a value is a typo or
#: certain to fail (lr 1e300 overflows AdamW; batch_size 1e30 cannot be allocated); NaN/inf never pass.
#: `trainer.lr` stays open far above any sane rate: a too-high rate is a recipe for `lex-dpr runs check`
#: to diagnose (it trains, diverges and is reported as such), not a typo to refuse.
NUMERIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "model.max_len": (8, 1 << 16),
    "model.query_max_len": (8, 1 << 16),
    "model.peft.r": (1, 4096),
    "model.peft.alpha": (1, 1 << 16),
    "data.batch_size": (1, 1 << 16),
    "data.num_workers": (0, 1024),
    "trainer.lr": (None, 1e10),
    "trainer.temperature": (None, 100.0),
    "trainer.weight_decay": (0.0, 100.0),
    "trainer.gradient_accumulation_steps": (1, 1 << 16),
    "trainer.gradient_clip_norm": (0.0, 1e6),
    "trainer.epochs": (1, 100_000),
    "trainer.eval_steps": (1, 1 << 40),
    "trainer.valid_negatives": (1, 1 << 16),
    "trainer.seed": (0, (1 << 63) - 1),
    "trainer.keep_last": (1, 10_000),
    "trainer.max_steps": (1, 1 << 40),
}


def _check_numbers(config: TrainConfig) -> None:
    """Every numeric value is finite, and within `NUMERIC_RANGES` where the key has a range."""
    for key in all_dotted_keys():
        value: Any = config
        for part in key.split("."):
            value = getattr(value, part)
        for number in value if isinstance(value, list) else [value]:
            if isinstance(number, bool) or not isinstance(number, int | float):
                continue
            if not math.isfinite(number):
                raise ConfigError(f"{key} must be a finite number, got {number}")
            low, high = NUMERIC_RANGES.get(key, (None, None))
            if (low is not None and number < low) or (high is not None and number > high):
                bounds = [f"{op} {_number(b)}" for op, b in ((">=", low), ("<=", high)) if b is not None]
                raise ConfigError(f"{key} must be {' and '.join(bounds)}, got {_number(number)}")


def _number(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def validate(config: TrainConfig) -> None:
    """Reject values that would fail later or silently mean something else."""
    _check_numbers(config)
    m, d, t = config.model, config.data, config.trainer
    checks = [
        (m.max_len >= 8, "model.max_len must be >= 8"),
        (m.query_max_len >= 8, "model.query_max_len must be >= 8"),
        (m.pooling in (None, *POOLING_CHOICES), f"model.pooling must be one of {POOLING_CHOICES} or null"),
        (m.peft.r >= 1, "model.peft.r must be >= 1"),
        (0.0 <= m.peft.dropout < 1.0, "model.peft.dropout must be in [0, 1)"),
        (m.peft.layers is None or m.peft.layers >= 1, "model.peft.layers must be >= 1 or null"),
        (m.dropout is None or 0.0 <= m.dropout < 1.0, "model.dropout must be in [0, 1) or null"),
        (d.batch_size >= 1, "data.batch_size must be >= 1"),
        (d.multiply in MULTIPLY_CHOICES, f"data.multiply must be one of {MULTIPLY_CHOICES}"),
        (0.0 <= d.hard_negative_ratio < 1.0, "data.hard_negative_ratio must be in [0, 1)"),
        (d.num_workers >= 0, "data.num_workers must be >= 0"),
        (t.lr > 0, "trainer.lr must be > 0"),
        (t.temperature > 0, "trainer.temperature must be > 0"),
        (t.weight_decay >= 0, "trainer.weight_decay must be >= 0"),
        (0.0 <= t.warmup_ratio <= 1.0, "trainer.warmup_ratio must be in [0, 1]"),
        (t.gradient_accumulation_steps >= 1, "trainer.gradient_accumulation_steps must be >= 1"),
        (t.gradient_clip_norm >= 0, "trainer.gradient_clip_norm must be >= 0"),
        (t.epochs >= 1, "trainer.epochs must be >= 1"),
        (t.eval_steps is None or t.eval_steps >= 1, "trainer.eval_steps must be >= 1 or null"),
        (
            bool(t.k_values) and all(1 <= k <= 1_000_000 for k in t.k_values),
            "trainer.k_values must be positive integers (at most 1000000)",
        ),
        (t.valid_negatives >= 1, "trainer.valid_negatives must be >= 1"),
        (t.keep_last >= 1, "trainer.keep_last must be >= 1"),
        (t.precision in PRECISION_CHOICES, f"trainer.precision must be one of {PRECISION_CHOICES}"),
        (t.max_steps is None or t.max_steps >= 1, "trainer.max_steps must be >= 1 or null"),
        (
            not str(config.out_dir).startswith("s3://"),
            "out_dir must be a local folder (mount a volume for it)",
        ),
    ]
    target = m.peft.target_modules
    if isinstance(target, str) and target != "auto":  # `query,value` from a command line
        target = m.peft.target_modules = [t.strip() for t in target.split(",") if t.strip()]
    checks.append(
        (
            target == "auto"
            or (isinstance(target, list) and target and all(isinstance(x, str) for x in target)),
            "model.peft.target_modules must be 'auto' or a list of module names",
        )
    )
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
