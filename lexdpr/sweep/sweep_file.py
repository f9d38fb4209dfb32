"""The sweep file (docs/sweeps.md): a typed model, and the checks that run before any trial does.

A sweep file is W&B-sweep style so people can bring the files they have:

    method: bayes                      # bayes | random | grid
    metric: {name: eval/ndcg_at_10, goal: maximize}
    parameters:
      trainer.lr: {distribution: log_uniform_values, min: 5.0e-7, max: 1.0e-4}
      model.peft.r: {values: [4, 8, 16]}
      data.multiply: {value: 1}        # a constant
    fixed: {trainer.epochs: 3, data.pairs: data/processed/pairs_train.jsonl}
    early_terminate: {type: hyperband, min_iter: 1, eta: 3}
    sweep_id: k3x9q2ab                 # written back once the sweep is created

Every key is one of the trainer's dotted keys (`lexdpr.training.config.all_dotted_keys`), and every value,
range end and choice is converted and checked by the trainer's own config code, so a sweep can never
hand a trial a value that `lex-dpr train` would reject. All problems of a file are reported at once, each
naming the file and the key; nothing is created or run until the file is clean.

One extension over W&B: `scale_with` ties a parameter to another one (`model.peft.alpha: {scale_with:
model.peft.r, values: [1, 2, 4]}` sweeps alpha/r instead of alpha). Without it every parameter is
independent, `model.peft.alpha` of `model.peft.r` included.
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lexdpr.errors import ConfigError
from lexdpr.training.config import (
    TrainConfig,
    all_dotted_keys,
    apply_overrides,
    check_yaml_size,
    config_to_dict,
    field_type,
    flatten,
)

METHODS = ("bayes", "random", "grid")
GOALS = ("maximize", "minimize")
DISTRIBUTIONS = ("log_uniform_values", "uniform", "int_uniform", "categorical")
CONSTANT = "constant"
EARLY_TERMINATE_TYPES = ("hyperband", "median")
#: Keys the sweep sets itself for each trial.
RESERVED_KEYS = {
    "out_dir": "each trial writes to <out-root>/<sweep_id>/trial-<n>/ (agent option --out-root)",
    "run_dir": "each trial's run folders go under its own trial folder",
    "sweep_id": "the sweep sets it for its trials",
}
#: W&B sweep keys that have no meaning here, and what to do instead.
UNSUPPORTED_TOP_LEVEL = {
    "program": "trials always run `lex-dpr train`; remove it",
    "command": "trials always run `lex-dpr train`; remove it",
    "project": "there is no W&B server here; remove it",
    "entity": "there is no W&B server here; remove it",
    "run_cap": "limit the trials of each agent with `lex-dpr sweep agent --count N`",
}
TOP_LEVEL_KEYS = (
    "method",
    "metric",
    "parameters",
    "fixed",
    "early_terminate",
    "sweep_id",
    "name",
    "description",
)
_PARAMETER_FIELDS = ("distribution", "min", "max", "values", "value", "scale_with")
_W_AND_B_DISTRIBUTIONS = {
    "log_uniform": "W&B's log_uniform takes exponents; use log_uniform_values with the values themselves",
}
#: Names people bring from W&B/Hugging Face scripts, for "did you mean".
_COMMON_NAMES = {
    "learning_rate": "trainer.lr",
    "lr": "trainer.lr",
    "epochs": "trainer.epochs",
    "num_train_epochs": "trainer.epochs",
    "batch_size": "data.batch_size",
    "per_device_train_batch_size": "data.batch_size",
    "lora_r": "model.peft.r",
    "lora_alpha": "model.peft.alpha",
    "lora_dropout": "model.peft.dropout",
    "max_seq_length": "model.max_len",
    "max_length": "model.max_len",
    "model_name": "model.bi_model",
    "model_name_or_path": "model.bi_model",
    "temperature": "trainer.temperature",
    "warmup_ratio": "trainer.warmup_ratio",
    "weight_decay": "trainer.weight_decay",
    "max_grad_norm": "trainer.gradient_clip_norm",
}
_METRIC = re.compile(r"^eval/(ndcg|recall)_at_(\d+)$|^eval/mrr_at_10$|^(train|valid)/loss$")
_SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_EARLY_FIELDS = {
    "hyperband": {"type", "min_iter", "max_iter", "eta", "s"},
    "median": {"type", "min_iter", "n_startup_trials"},
}


@dataclass(frozen=True)
class Parameter:
    """One swept key. `values` holds the choices (categorical) or the one value (constant)."""

    key: str
    distribution: str  # one of DISTRIBUTIONS or CONSTANT
    low: float | int | None = None
    high: float | int | None = None
    values: tuple[Any, ...] = ()
    scale_with: str | None = None

    @property
    def is_constant(self) -> bool:
        return self.distribution == CONSTANT

    @property
    def is_finite(self) -> bool:
        """Has a finite set of values (what grid search needs)."""
        return self.distribution in (CONSTANT, "categorical", "int_uniform")

    def grid_values(self) -> list[Any]:
        if self.distribution == "int_uniform":
            return list(range(int(self.low), int(self.high) + 1))  # type: ignore[arg-type]
        return list(self.values)

    def to_dict(self) -> dict[str, Any]:
        """The W&B-style entry, in the canonical form stored with the sweep."""
        out: dict[str, Any] = {}
        if self.scale_with:
            out["scale_with"] = self.scale_with
        if self.is_constant:
            out["value"] = self.values[0]
        elif self.distribution == "categorical":
            out["values"] = list(self.values)
        else:
            out.update(distribution=self.distribution, min=self.low, max=self.high)
        return out


@dataclass(frozen=True)
class Metric:
    name: str
    goal: str

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"


@dataclass(frozen=True)
class EarlyTerminate:
    """Stop unpromising trials from their intermediate values; `iter` counts evaluations (as in W&B)."""

    type: str
    min_iter: int = 1
    max_iter: int | None = None
    eta: int = 3
    n_startup_trials: int = 5

    def to_dict(self) -> dict[str, Any]:
        if self.type == "hyperband":
            out: dict[str, Any] = {"type": self.type, "min_iter": self.min_iter, "eta": self.eta}
            if self.max_iter is not None:
                out["max_iter"] = self.max_iter
            return out
        return {"type": self.type, "min_iter": self.min_iter, "n_startup_trials": self.n_startup_trials}


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file."""

    method: str
    metric: Metric
    parameters: dict[str, Parameter]
    fixed: dict[str, Any] = field(default_factory=dict)
    early_terminate: EarlyTerminate | None = None
    sweep_id: str | None = None
    name: str | None = None
    description: str | None = None

    @property
    def swept(self) -> dict[str, Parameter]:
        """The parameters that vary (constants excluded)."""
        return {k: p for k, p in self.parameters.items() if not p.is_constant}

    def train_values(self, trial_values: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's whole train config: the fixed keys, then the constant parameters, then its own values."""
        out = dict(self.fixed)
        out.update({k: p.values[0] for k, p in self.parameters.items() if p.is_constant})
        out.update(trial_values)
        return out

    def definition(self) -> dict[str, Any]:
        """What defines the search (method, metric, space, fixed values, early termination): two files
        describe the same sweep exactly when their definitions are equal."""
        out: dict[str, Any] = {
            "method": self.method,
            "metric": {"name": self.metric.name, "goal": self.metric.goal},
            "parameters": {k: p.to_dict() for k, p in self.parameters.items()},
            "fixed": dict(self.fixed),
        }
        if self.early_terminate is not None:
            out["early_terminate"] = self.early_terminate.to_dict()
        return out

    def to_dict(self) -> dict[str, Any]:
        out = self.definition()
        for key in ("name", "description", "sweep_id"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


# --- loading ------------------------------------------------------------------------------------------


def load_sweep_file(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (YAML 1.2, so `5e-7` is a number as users expect)."""
    return parse_sweep(read_sweep_mapping(path), str(path))


def read_sweep_mapping(path: str | Path) -> dict[str, Any]:
    """The file as plain data; a missing file or bad YAML is a ConfigError naming the file."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such sweep file (write one with `lex-dpr sweep preset --no-run`)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sweep file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a YAML text file (not UTF-8: invalid byte at offset {exc.start})"
        ) from None
    try:
        data = YAML(typ="safe", pure=True).load(text)
        if data is None:
            raise ConfigError(f"{path}: the sweep file is empty")
        if not isinstance(data, Mapping):
            kind = "list" if isinstance(data, list) else type(data).__name__
            raise ConfigError(
                f"{path}: expected a mapping (method, metric, parameters, …) at the top level, got a {kind}"
            )
        check_yaml_size(data, str(path))
        return _plain(data)
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(exc)})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML (nested too deeply to read)") from None


def _yaml_problem(exc: Exception) -> str:
    """ruamel's message on one line: the problem and where (its full text adds context and a doc link)."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else str(problem)


def parse_sweep(data: Mapping[str, Any], source: str) -> SweepSpec:
    """Validate plain sweep data; every problem is collected and raised as one ConfigError."""
    problems = _Problems(source)
    for key in data:
        if key in UNSUPPORTED_TOP_LEVEL:
            problems.add(str(key), f"not used by lex-dpr sweeps: {UNSUPPORTED_TOP_LEVEL[key]}")
        elif key not in TOP_LEVEL_KEYS:
            problems.add(
                str(key),
                f"unknown top-level key{_did_you_mean(str(key), TOP_LEVEL_KEYS)}; "
                f"valid keys: {', '.join(TOP_LEVEL_KEYS)}",
            )

    method = data.get("method")
    if method not in METHODS:
        problems.add(
            "method",
            f"{method!r} is not a method; use one of {', '.join(METHODS)}"
            if method is not None
            else f"required: one of {', '.join(METHODS)}",
        )
    metric = _parse_metric(data.get("metric"), problems)
    fixed = _parse_fixed(data.get("fixed"), problems)
    parameters = _parse_parameters(data.get("parameters"), problems)

    for key in set(fixed) & set(parameters):
        problems.add(f"fixed.{key}", "is also under parameters; give each key in one place")
    _check_scale_with(parameters, fixed, problems)
    if metric is not None:
        _check_metric_k(metric, parameters, fixed, problems)
    if method == "grid":
        for key, p in parameters.items():
            if not p.is_finite:
                problems.add(
                    f"parameters.{key}",
                    f"grid search needs a finite set of values; {p.distribution} "
                    "is continuous: give values: [...]",
                )
    if parameters and not any(not p.is_constant for p in parameters.values()):
        problems.add("parameters", "nothing varies: give at least one parameter a range or several values")

    early = _parse_early_terminate(data.get("early_terminate"), problems)

    sweep_id = data.get("sweep_id")
    if sweep_id is not None and not (isinstance(sweep_id, str) and _SWEEP_ID.match(sweep_id)):
        problems.add("sweep_id", f"{sweep_id!r} is not a sweep id (letters, digits, '-' and '_')")
    for key in ("name", "description"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            problems.add(key, "must be text")

    problems.raise_if_any()
    assert metric is not None and method is not None
    return SweepSpec(
        method=str(method),
        metric=metric,
        parameters=parameters,
        fixed=fixed,
        early_terminate=early,
        sweep_id=sweep_id,
        name=data.get("name"),
        description=data.get("description"),
    )


# --- parts --------------------------------------------------------------------------------------------


class _Problems:
    """Collects `where: what` lines so one run of the checks reports every problem of a file."""

    def __init__(self, source: str):
        self.source = source
        self.lines: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.lines.append(f"{where}: {what}")

    def raise_if_any(self) -> None:
        if len(self.lines) == 1:
            raise ConfigError(f"{self.source}: {self.lines[0]}")
        if self.lines:
            body = "\n".join(f"  - {line}" for line in self.lines)
            raise ConfigError(f"{self.source}: {len(self.lines)} problems:\n{body}")


def _parse_metric(raw: Any, problems: _Problems) -> Metric | None:
    if raw is None:
        problems.add("metric", "required, e.g. {name: eval/ndcg_at_10, goal: maximize}")
        return None
    if not isinstance(raw, Mapping):
        problems.add("metric", "must be a mapping with name and goal")
        return None
    ok = True
    for key in raw:
        if key not in ("name", "goal"):
            problems.add(f"metric.{key}", "unknown key; a metric has name and goal")
            ok = False
    name, goal = raw.get("name"), raw.get("goal")
    if not isinstance(name, str) or not _METRIC.match(name):
        problems.add(
            "metric.name",
            f"{name!r} is not a metric the trainer logs; use eval/ndcg_at_K, "
            "eval/recall_at_K, eval/mrr_at_10, valid/loss or train/loss",
        )
        ok = False
    if goal not in GOALS:
        problems.add(
            "metric.goal",
            f"{goal!r}: use maximize or minimize" if goal is not None else "required: maximize or minimize",
        )
        ok = False
    return Metric(name, goal) if ok else None


def _parse_fixed(raw: Any, problems: _Problems) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add("fixed", "must be a mapping of config keys to values")
        return {}
    out: dict[str, Any] = {}
    for key, value in flatten(raw).items():
        where = f"fixed.{key}"
        if _check_key(key, where, problems):
            converted = _convert(key, value, where, problems)
            if converted is not _INVALID:
                out[key] = converted
    return out


def _parse_parameters(raw: Any, problems: _Problems) -> dict[str, Parameter]:
    if raw is None:
        problems.add("parameters", "required: the keys to sweep and their ranges or values")
        return {}
    if not isinstance(raw, Mapping) or not raw:
        problems.add("parameters", "must be a non-empty mapping of config keys to ranges or values")
        return {}
    out: dict[str, Parameter] = {}
    for key, entry in _flatten_parameters(raw).items():
        where = f"parameters.{key}"
        if not _check_key(key, where, problems):
            continue
        if not isinstance(entry, Mapping):
            problems.add(
                where, "must be a mapping: {values: [...]}, {value: x} or {distribution: ..., min, max}"
            )
            continue
        parameter = _parse_parameter(key, entry, where, problems)
        if parameter is not None:
            out[key] = parameter
    return out


def _flatten_parameters(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys as written, plus W&B's nested form (`trainer: {parameters: {lr: {...}}}`)."""
    out: dict[str, Any] = {}
    for key, entry in raw.items():
        dotted = f"{prefix}{key}"
        if (
            isinstance(entry, Mapping)
            and set(entry) == {"parameters"}
            and isinstance(entry["parameters"], Mapping)
        ):
            out.update(_flatten_parameters(entry["parameters"], dotted + "."))
        else:
            out[dotted] = entry
    return out


def _parse_parameter(key: str, entry: Mapping[str, Any], where: str, problems: _Problems) -> Parameter | None:
    unknown = [f for f in entry if f not in _PARAMETER_FIELDS]
    if unknown:
        problems.add(where, f"unknown field {unknown[0]!r} (a parameter has {', '.join(_PARAMETER_FIELDS)})")
        return None
    scale_with = entry.get("scale_with")
    distribution = entry.get("distribution")
    if distribution is None:
        distribution = _infer_distribution(entry)
        if distribution is None:
            problems.add(where, "give values: [...], value: x, or distribution with min and max")
            return None
    if not isinstance(distribution, str):
        problems.add(f"{where}.distribution", f"must be a name such as {DISTRIBUTIONS[0]!r}")
        return None
    if distribution in _W_AND_B_DISTRIBUTIONS:
        problems.add(
            f"{where}.distribution",
            f"{distribution!r} is not supported: {_W_AND_B_DISTRIBUTIONS[distribution]}",
        )
        return None
    if distribution not in (*DISTRIBUTIONS, CONSTANT):
        problems.add(
            f"{where}.distribution",
            f"{distribution!r} is not supported; use one of {', '.join(DISTRIBUTIONS)}",
        )
        return None
    if scale_with is not None:
        return _parse_scaled(key, entry, distribution, str(scale_with), where, problems)
    if distribution == CONSTANT or "value" in entry:
        if "value" not in entry or "values" in entry or "min" in entry or "max" in entry:
            problems.add(where, "a constant has only value: x")
            return None
        value = _convert(key, entry["value"], f"{where}.value", problems)
        return None if value is _INVALID else Parameter(key, CONSTANT, values=(value,))
    if distribution == "categorical":
        values = _parse_values(key, entry, where, problems, convert=True)
        return None if values is None else Parameter(key, "categorical", values=tuple(values))
    return _parse_range(key, entry, distribution, where, problems)


def _infer_distribution(entry: Mapping[str, Any]) -> str | None:
    """W&B's rules: values → categorical, value → constant, integer min/max → int_uniform, else uniform."""
    if "values" in entry:
        return "categorical"
    if "value" in entry:
        return CONSTANT
    if "min" in entry and "max" in entry:
        ints = all(isinstance(entry[k], int) and not isinstance(entry[k], bool) for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    return None


def _parse_values(
    key: str, entry: Mapping[str, Any], where: str, problems: _Problems, convert: bool
) -> list | None:
    values = entry.get("values")
    if not isinstance(values, list) or not values:
        problems.add(f"{where}.values", "must be a non-empty list")
        return None
    if "min" in entry or "max" in entry:
        problems.add(where, "give either values or min/max, not both")
        return None
    out = []
    for i, value in enumerate(values):
        if isinstance(value, list | Mapping):
            problems.add(
                f"{where}.values[{i}]", "lists and mappings cannot be swept; put the key under fixed:"
            )
            return None
        converted = _convert(key, value, f"{where}.values[{i}]", problems) if convert else value
        if converted is _INVALID:
            return None
        out.append(converted)
    if len(set(map(repr, out))) != len(out):
        problems.add(f"{where}.values", "lists a value twice")
        return None
    return out


def _parse_range(
    key: str, entry: Mapping[str, Any], distribution: str, where: str, problems: _Problems
) -> Parameter | None:
    if "values" in entry:
        problems.add(where, f"{distribution} takes min and max, not values")
        return None
    kinds = _base_types(key)
    if distribution == "int_uniform":
        if int not in kinds and float not in kinds:
            problems.add(
                where, f"int_uniform needs a numeric setting; {key} is {_type_name(key)}: use values"
            )
            return None
    elif float not in kinds:
        hint = "use int_uniform or values" if int in kinds else "use values"
        problems.add(where, f"{distribution} draws real numbers but {key} is {_type_name(key)}: {hint}")
        return None
    bounds = []
    for end in ("min", "max"):
        value = entry.get(end)
        if value is None:
            problems.add(f"{where}.{end}", f"required for {distribution}")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            problems.add(f"{where}.{end}", f"{value!r} is not a number")
            return None
        if distribution == "int_uniform" and not float(value).is_integer():
            problems.add(f"{where}.{end}", f"{value!r} is not an integer (int_uniform)")
            return None
        bounds.append(int(value) if distribution == "int_uniform" else float(value))
    low, high = bounds
    if low >= high:
        problems.add(where, f"min ({low:g}) must be smaller than max ({high:g})")
        return None
    if distribution == "log_uniform_values" and low <= 0:
        problems.add(f"{where}.min", f"log_uniform_values needs min > 0 (got {low:g})")
        return None
    for end, value in (("min", low), ("max", high)):
        if _convert(key, value, f"{where}.{end}", problems) is _INVALID:
            return None
    return Parameter(key, distribution, low=low, high=high)


def _parse_scaled(
    key: str, entry: Mapping[str, Any], distribution: str, base: str, where: str, problems: _Problems
) -> Parameter | None:
    """`scale_with`: the trial's value is factor × the base key's value; the factors are the values given."""
    if distribution != "categorical" or "values" not in entry:
        problems.add(where, "scale_with takes values: [factors] (value = factor × the value of scale_with)")
        return None
    factors = _parse_values(key, entry, where, problems, convert=False)
    if factors is None:
        return None
    for i, factor in enumerate(factors):
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            problems.add(f"{where}.values[{i}]", f"{factor!r} is not a positive number (a factor)")
            return None
    return Parameter(key, "categorical", values=tuple(factors), scale_with=base)


def _check_scale_with(parameters: dict[str, Parameter], fixed: dict[str, Any], problems: _Problems) -> None:
    """The base of `scale_with` must be a finite numeric key; every product must be a valid value."""
    for key, p in parameters.items():
        if p.scale_with is None:
            continue
        where = f"parameters.{key}.scale_with"
        base = p.scale_with
        if base in parameters:
            base_param = parameters[base]
            if base_param.scale_with is not None:
                problems.add(where, f"{base} is itself scaled; scale_with cannot be chained")
                continue
            if base_param.distribution not in ("categorical", CONSTANT):
                problems.add(where, f"{base} must have values: [...] (a finite set) to scale with it")
                continue
            bases = list(base_param.values)
        elif base in fixed:
            bases = [fixed[base]]
        else:
            problems.add(where, f"{base!r} is neither a parameter nor a fixed key of this file")
            continue
        for b in bases:
            if isinstance(b, bool) or not isinstance(b, int | float):
                problems.add(where, f"{base} has the non-numeric value {b!r}")
                break
            bad = next((f for f in p.values if _convert(key, f * b, "", _Problems("")) is _INVALID), None)
            if bad is not None:
                problems.add(
                    f"parameters.{key}",
                    f"{bad} × {base}={b} = {bad * b!r} is not a valid {key} ({_type_name(key)})",
                )
                break


def _check_metric_k(
    metric: Metric, parameters: dict[str, Parameter], fixed: dict[str, Any], problems: _Problems
) -> None:
    match = _METRIC.match(metric.name)
    if not match or not match.group(2):
        return
    if "trainer.k_values" in parameters:
        problems.add("parameters.trainer.k_values", "the metric's cut-offs cannot be swept")
        return
    k_values = fixed.get("trainer.k_values", TrainConfig().trainer.k_values)
    k = int(match.group(2))
    if k not in k_values:
        problems.add(
            "metric.name",
            f"{metric.name} is not logged: trainer.k_values is {k_values}; "
            f"add {k} to trainer.k_values under fixed:",
        )


def _parse_early_terminate(raw: Any, problems: _Problems) -> EarlyTerminate | None:
    if raw is None:
        return None
    where = "early_terminate"
    if not isinstance(raw, Mapping):
        problems.add(where, "must be a mapping, e.g. {type: hyperband, min_iter: 1, eta: 3}")
        return None
    kind = raw.get("type")
    if kind not in EARLY_TERMINATE_TYPES:
        problems.add(f"{where}.type", f"{kind!r}: use {' or '.join(EARLY_TERMINATE_TYPES)}")
        return None
    unknown = sorted(set(raw) - _EARLY_FIELDS[kind])
    if unknown:
        problems.add(
            f"{where}.{unknown[0]}", f"unknown for {kind} (use {', '.join(sorted(_EARLY_FIELDS[kind]))})"
        )
        return None
    ints: dict[str, int] = {}
    minimum = {"min_iter": 1, "max_iter": 1, "eta": 2, "s": 1, "n_startup_trials": 0}
    for name in _EARLY_FIELDS[kind] - {"type"}:
        if name not in raw:
            continue
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum[name]:
            problems.add(f"{where}.{name}", f"{value!r}: must be an integer >= {minimum[name]}")
            return None
        ints[name] = value
    eta = ints.get("eta", 3)
    max_iter = ints.get("max_iter")
    if "s" in ints:  # W&B: brackets at max_iter / eta^1 … max_iter / eta^s
        if max_iter is None:
            problems.add(f"{where}.s", "needs max_iter (W&B: brackets at max_iter / eta^k for k = 1 … s)")
            return None
        ints.setdefault("min_iter", max(1, round(max_iter / eta ** ints["s"])))
    min_iter = ints.get("min_iter", 1)
    if max_iter is not None and max_iter <= min_iter:
        problems.add(f"{where}.max_iter", f"must be larger than min_iter ({min_iter})")
        return None
    return EarlyTerminate(
        kind, min_iter=min_iter, max_iter=max_iter, eta=eta, n_startup_trials=ints.get("n_startup_trials", 5)
    )


# --- keys and values ----------------------------------------------------------------------------------

_INVALID = object()


def _check_key(key: str, where: str, problems: _Problems) -> bool:
    if key in RESERVED_KEYS:
        problems.add(where, f"cannot be set in a sweep file: {RESERVED_KEYS[key]}")
        return False
    if key not in all_dotted_keys():
        problems.add(
            where,
            f"unknown config key{_did_you_mean(key, all_dotted_keys())} "
            "(keys are the trainer's dotted keys, e.g. trainer.lr; see `lex-dpr train --help`)",
        )
        return False
    return True


def _convert(key: str, value: Any, where: str, problems: _Problems) -> Any:
    """The value as the trainer would hold it, or _INVALID after recording why (the trainer's own words)."""
    try:
        config = apply_overrides(TrainConfig(), {key: value})
    except ConfigError as exc:
        problems.add(where, _strip_key(str(exc), key))
        return _INVALID
    return flatten(config_to_dict(config))[key]


def _strip_key(message: str, key: str) -> str:
    return message[len(key) + 2 :] if message.startswith(f"{key}: ") else message


def _base_types(key: str) -> set[Any]:
    hint = field_type(key)
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, _union_type()) else (hint,)
    return {typing.get_origin(o) or o for o in options if o is not type(None)}


def _union_type() -> Any:
    import types

    return types.UnionType


def _type_name(key: str) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "a list"}
    return " or ".join(names.get(t, str(t)) for t in sorted(_base_types(key), key=str))


def _did_you_mean(key: str, candidates: typing.Iterable[str]) -> str:
    candidates = list(candidates)
    common = _COMMON_NAMES.get(key.rsplit(".", 1)[-1])
    if common in candidates:
        return f" (did you mean {common}?)"
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _plain(data: Any) -> Any:
    """ruamel's tagged scalars and maps → plain Python (so values compare and serialise as expected)."""
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    if isinstance(data, str):
        return str(data)
    return data
