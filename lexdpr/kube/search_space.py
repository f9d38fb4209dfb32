"""A sweep file's search space as Katib parameters, and how each value reaches `lex-dpr train`.

Katib hands a trial its parameter values as strings substituted into the trial template
(`${trialParameters.trainerLr}`); the trial runs `lex-dpr train key=value …`, so every swept key becomes one
Katib parameter, one trial parameter (a placeholder) and one `key=…` argument. Katib parameter names are
the dotted keys themselves (one vocabulary: docs/config-keys.md), so Katib's UI and `lex-dpr sweep
status` read `trainer.lr`, not an alias.

Method and distribution mapping (`method` → `algorithmName`):

| sweep file                    | bayes → `bayesianoptimization`              | random → `random`   | grid → `grid` |
|-------------------------------|---------------------------------------------|---------------------|---------------|
| `log_uniform_values` min..max | double (skopt samples it log-uniform)       | double, `logUniform`| (rejected)    |
| `uniform` min..max            | **fixed-point int**, see below              | double, `uniform`   | (rejected)    |
| `int_uniform` min..max        | int                                         | int, `uniform`      | int, step 1   |
| `values` of numbers           | discrete (list of numbers)                  | discrete            | discrete      |
| `values` with text/booleans   | categorical                                 | categorical         | categorical   |
| `value` (constant), `fixed:`  | a plain `key=value` argument, not searched  |                     |               |

Why the fixed-point int: Katib's `bayesianoptimization` is scikit-optimize and builds every double as
`Real(min, max, "log-uniform")`, whatever `feasibleSpace.distribution` says. That silently turns a uniform
range into a log-uniform one and makes a range that includes 0 (`trainer.warmup_ratio` 0.0–0.2) fail outright
(log of 0). So under `bayes` a uniform double is searched as an integer of the same range scaled by 10^s
(`0 … 2000` for 0.0–0.2, s = 4), which skopt samples uniformly and models as an ordered number, and the trial
receives it in scientific notation: `trainer.warmup_ratio=${trialParameters.trainerWarmupRatio}e-4`, i.e.
`1250e-4` = 0.125, which the trainer's own config parser reads as a float. s is the smallest power that keeps
both ends exact and gives at least `FIXED_POINT_STEPS` steps. Status and best read the value back (`decode`).

Numbers in `values` stay numbers: Katib's `discrete` type carries them, and the trainer converts the text
`32` to the key's type exactly as it does on the command line. `scale_with` (a factor × another key) is
computed by the trial command (`--product key=FACTORxBASE`, see `lexdpr.kube.trial_run`), so it needs integer
factors and bases here.

Every argument is a plain word — letters, digits and `. , : + = @ % / - _` — with no quoting: Katib's StdOut
collector joins the container's command and arguments with spaces into an `sh -c` line, while a trial without
the collector runs them as they are, so only a word that means the same in both ways can be passed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lexdpr.errors import ConfigError
from lexdpr.sweep.sweep_file import CONSTANT, Parameter, SweepSpec
from lexdpr.training.config import TrainConfig, apply_overrides, config_to_dict, flatten

ALGORITHMS = {"bayes": "bayesianoptimization", "random": "random", "grid": "grid"}
#: A uniform double searched by bayesianoptimization gets at least this many integer steps (0.1 % of the range).
FIXED_POINT_STEPS = 1000
MAX_SCALE = 12
TRIAL_NAME_PARAMETER = "trialName"
TRIAL_NAME_REFERENCE = "${trialSpec.Name}"
#: Characters a substituted value may contain: it lands in a JSON string and inside single quotes in `sh -c`.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:+=@%/-]*$")


@dataclass(frozen=True)
class KatibParameter:
    """One Katib search-space parameter, its trial-template placeholder, and how the trainer gets the value."""

    name: str  # the Katib parameter name: the dotted key (`key/base` for a scale_with factor)
    key: str  # the config key it sets
    placeholder: str  # the trialParameters name, e.g. trainerLr
    parameter_type: str  # double | int | discrete | categorical
    feasible_space: dict[str, Any]
    scale: int = 0  # fixed point: the trainer's value is the Katib value × 10^-scale
    scale_with: str | None = None  # the Katib value is a factor of this key's value

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parameterType": self.parameter_type,
            "feasibleSpace": dict(self.feasible_space),
        }

    def trial_parameter(self) -> dict[str, Any]:
        what = f"{self.key} = factor × {self.scale_with}" if self.scale_with else self.key
        if self.scale:
            what += f" (fixed point: value × 1e-{self.scale})"
        return {"name": self.placeholder, "description": what, "reference": self.name}

    def template_value(self) -> str:
        """What the trial command gets in place of the value: the placeholder, scaled for fixed point."""
        ref = param_ref(self.placeholder)
        return f"{ref}e-{self.scale}" if self.scale else ref

    def to_config_value(self, katib_value: str) -> Any:
        """The value the trainer ran with, from Katib's string (status and best show config values)."""
        text = f"{katib_value}e-{self.scale}" if self.scale else katib_value
        return config_value(self.key, text)

    def decode_table_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"key": self.key}
        if self.scale:
            entry["scale"] = self.scale
        if self.scale_with:
            entry["scale_with"] = self.scale_with
        return entry


@dataclass(frozen=True)
class SearchSpace:
    """Everything of the Experiment that comes from the sweep file."""

    algorithm: dict[str, Any]
    parameters: list[KatibParameter]
    #: `key=value` arguments of `lex-dpr train` (already shell-quoted), placeholders included.
    arguments: list[str]
    objective: dict[str, Any]
    early_stopping: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def decode_table(self) -> dict[str, dict[str, Any]]:
        """{Katib parameter name: how to read its value back}; stored on the Experiment as an annotation."""
        return {p.name: p.decode_table_entry() for p in self.parameters}


def katib_search_space(spec: SweepSpec) -> SearchSpace:
    """Map a validated sweep file to Katib; what Katib cannot express is a ConfigError saying why."""
    method = ALGORITHMS[spec.method]
    parameters: list[KatibParameter] = []
    arguments: list[str] = []
    problems: list[str] = []
    swept = {key: p for key, p in spec.parameters.items() if not p.is_constant}
    for key, value in spec.fixed.items():
        arguments.append(_fixed_argument(key, value))
    for key, p in spec.parameters.items():
        if p.is_constant:
            arguments.append(_fixed_argument(key, p.values[0]))
    for key, p in swept.items():
        try:
            kp = _parameter(p, spec.method)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        parameters.append(kp)
        if p.scale_with:
            arguments.append(_scaled_argument(p, kp, spec, swept, parameters))
        else:
            arguments.append(f"{key}={kp.template_value()}")
    if problems:
        raise ConfigError("the sweep cannot run on Katib:\n" + "\n".join(f"  - {line}" for line in problems))
    return SearchSpace(
        algorithm={"algorithmName": method},
        parameters=parameters,
        arguments=arguments,
        objective=_objective(spec),
        early_stopping=_early_stopping(spec),
    )


def param_ref(placeholder: str) -> str:
    """`${trialParameters.<placeholder>}`: what Katib replaces in the trial template."""
    return "${trialParameters." + placeholder + "}"


def placeholder_name(name: str) -> str:
    """`trainer.gradient_accumulation_steps` → `trainerGradientAccumulationSteps` (a trialParameters name)."""
    name = name.replace("/", ".per.")
    words = [w for w in re.split(r"[._-]+", name) if w]
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def value_text(value: Any) -> str:
    """A config value as the trainer's command line reads it back (YAML scalars, JSON lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def config_value(key: str, text: str) -> Any:
    """`text` converted to `key`'s type by the trainer's own config code (what `lex-dpr train key=text` does)."""
    config = apply_overrides(TrainConfig(), [f"{key}={text}"])
    return flatten(config_to_dict(config))[key]


# --- parameters ---------------------------------------------------------------------------------------


def _parameter(p: Parameter, method: str) -> KatibParameter:
    name = f"{p.key}/{p.scale_with}" if p.scale_with else p.key
    placeholder = placeholder_name(name)
    if p.distribution == "categorical":
        values = list(p.values)
        texts = [value_text(v) for v in values]
        for text in texts:
            if not _SAFE_VALUE.match(text) or not text:
                raise ConfigError(
                    f"parameters.{p.key}: the value {text!r} cannot be passed through Katib's trial template "
                    "(use letters, digits and . , : + = @ % / - _ only)"
                )
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        kind = "discrete" if numeric else "categorical"
        return KatibParameter(name, p.key, placeholder, kind, {"list": texts}, scale_with=p.scale_with)
    if p.distribution == "int_uniform":
        space = {"min": str(int(p.low)), "max": str(int(p.high)), "distribution": "uniform"}  # type: ignore[arg-type]
        if method == "grid":
            space["step"] = "1"
        return KatibParameter(name, p.key, placeholder, "int", space)
    if p.distribution == "log_uniform_values":
        space = {"min": _number(p.low), "max": _number(p.high), "distribution": "logUniform"}
        return KatibParameter(name, p.key, placeholder, "double", space)
    if p.distribution == "uniform":
        if method == "bayes":
            scale = fixed_point_scale(float(p.low), float(p.high))  # type: ignore[arg-type]
            low, high = (round(Decimal(repr(float(v))).scaleb(scale)) for v in (p.low, p.high))  # type: ignore[arg-type]
            space = {"min": str(low), "max": str(high), "distribution": "uniform"}
            return KatibParameter(name, p.key, placeholder, "int", space, scale=scale)
        space = {"min": _number(p.low), "max": _number(p.high), "distribution": "uniform"}
        return KatibParameter(name, p.key, placeholder, "double", space)
    raise ConfigError(f"parameters.{p.key}: distribution {p.distribution!r} has no Katib equivalent")


def fixed_point_scale(low: float, high: float) -> int:
    """The smallest s with both ends exact at 10^-s and at least FIXED_POINT_STEPS steps between them."""
    for scale in range(MAX_SCALE + 1):
        ends = [Decimal(repr(v)).scaleb(scale) for v in (low, high)]
        if all(e == e.to_integral_value() for e in ends) and (ends[1] - ends[0]) >= FIXED_POINT_STEPS:
            return scale
    raise ConfigError(f"uniform {low!r}…{high!r}: no fixed-point scale up to 1e-{MAX_SCALE} fits both ends")


def _scaled_argument(
    p: Parameter,
    kp: KatibParameter,
    spec: SweepSpec,
    swept: Mapping[str, Parameter],
    parameters: list[KatibParameter],
) -> str:
    """`--product=key=FACTORxBASE`: the trial command multiplies, because Katib substitutes but cannot compute."""
    base = p.scale_with
    assert base is not None
    factors = list(p.values)
    if base in swept:
        base_values = list(swept[base].values)
        base_ref = param_ref(placeholder_name(base))
    else:
        base_values = [spec.fixed.get(base, _constant(spec, base))]
        base_ref = value_text(base_values[0])
    numbers = factors + base_values
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in numbers):
        raise ConfigError(
            f"parameters.{p.key}: scale_with on Katib needs integer factors and an integer {base} "
            "(the trial command computes factor × base); list the values of the key instead"
        )
    return f"--product={p.key}={kp.template_value()}x{base_ref}"


def _constant(spec: SweepSpec, key: str) -> Any:
    p = spec.parameters.get(key)
    if p is not None and p.distribution == CONSTANT:
        return p.values[0]
    return flatten(config_to_dict(TrainConfig()))[key]


def _objective(spec: SweepSpec) -> dict[str, Any]:
    """Objective plus the additional metrics the trainer prints, each with how Katib reduces it.

    Every metric is reduced with `latest`: a finished trainer prints its best checkpoint's metrics (by
    eval/ndcg_at_10) last, so the trial's value is the metric of the model `sweep best --export` would export,
    as in the local sweep. `max`/`min` (Katib's default) would count step 0 too, the untrained base model
    that every trial shares, and would mix metrics of different checkpoints.
    """
    objective = spec.metric.name
    k_values = spec.fixed.get("trainer.k_values", TrainConfig().trainer.k_values)
    candidates = [*(f"eval/recall_at_{k}" for k in (10,) if k in k_values), "eval/mrr_at_10", "valid/loss"]
    if objective != "eval/ndcg_at_10" and 10 in k_values:
        candidates.insert(0, "eval/ndcg_at_10")
    additional = [m for m in candidates if m != objective]
    goal = spec.metric.goal
    strategies = [{"name": m, "value": "latest"} for m in (objective, *additional)]
    return {
        "type": goal,
        "objectiveMetricName": objective,
        "additionalMetricNames": additional,
        "metricStrategies": strategies,
    }


def _early_stopping(spec: SweepSpec) -> dict[str, Any] | None:
    """`early_terminate: {type: median}` → Katib's `medianstop`; Katib has no hyperband early stopping."""
    early = spec.early_terminate
    if early is None:
        return None
    if early.type != "median":
        raise ConfigError(
            f"early_terminate type {early.type!r} is not available on Katib, which stops trials early only with "
            "the median rule: use `type: median` or remove early_terminate"
        )
    return {
        "algorithmName": "medianstop",
        "algorithmSettings": [
            {"name": "min_trials_required", "value": str(max(1, early.n_startup_trials))},
            {"name": "start_step", "value": str(early.min_iter)},
        ],
    }


def _number(value: Any) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{value!r} is not a finite number")
    return repr(number)


def _fixed_argument(key: str, value: Any) -> str:
    """A fixed `key=value` argument as a plain word (module docstring); a list as `a,b,c` where that reads back."""
    text = value_text(value)
    if isinstance(value, list | tuple) and not any(isinstance(v, list | tuple | dict) for v in value):
        commas = ",".join(value_text(v) for v in value)
        try:
            if config_value(key, commas) == config_value(key, text):
                text = commas
        except ConfigError:
            pass
    token = f"{key}={text}"
    if not _SAFE_VALUE.match(token):
        raise ConfigError(
            f"{key}: {token!r} cannot be passed to a Katib trial as a plain word (use letters, digits and "
            ". , : + = @ % / - _ only); put the value into the base config (the chart's config.base or "
            "manifests/config.yaml) instead"
        )
    return token
