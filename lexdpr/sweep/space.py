"""A sweep spec as optuna sees it (distributions, a grid), and a trial's parameters as the trainer sees them.

Optuna parameter names are the dotted config keys, so `study.best_params` reads like a config. The one
exception is a `scale_with` parameter: optuna draws the factor, named `<key>/<base key>` (alpha/r reads
as what it is), and the config value is factor × the base value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from lexdpr.sweep.sweep_file import Parameter, SweepSpec
from lexdpr.training.config import TrainConfig, apply_overrides


def param_name(p: Parameter) -> str:
    """The optuna parameter name of a swept key."""
    return f"{p.key}/{p.scale_with}" if p.scale_with else p.key


def distributions(spec: SweepSpec) -> dict[str, BaseDistribution]:
    """The optuna search space: every parameter that varies (constants stay out: they are not searched)."""
    return {param_name(p): _distribution(p) for p in spec.swept.values()}


def _distribution(p: Parameter) -> BaseDistribution:
    if p.distribution == "log_uniform_values":
        return FloatDistribution(float(p.low), float(p.high), log=True)  # type: ignore[arg-type]
    if p.distribution == "uniform":
        return FloatDistribution(float(p.low), float(p.high))  # type: ignore[arg-type]
    if p.distribution == "int_uniform":
        return IntDistribution(int(p.low), int(p.high))  # type: ignore[arg-type]
    return CategoricalDistribution(list(p.values))


def grid_space(spec: SweepSpec) -> dict[str, list[Any]]:
    """Every grid point's coordinates, for optuna's GridSampler."""
    return {param_name(p): p.grid_values() for p in spec.swept.values()}


def grid_size(spec: SweepSpec) -> int:
    size = 1
    for values in grid_space(spec).values():
        size *= len(values)
    return size


def trial_values(spec: SweepSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """{dotted key: value} of one trial: fixed keys, constants, then the drawn parameters (derived last)."""
    values: dict[str, Any] = dict(spec.fixed)
    for p in spec.parameters.values():
        if p.is_constant:
            values[p.key] = p.values[0]
        elif not p.scale_with:
            values[p.key] = params[p.key]
    for p in spec.parameters.values():
        if p.scale_with:
            values[p.key] = params[param_name(p)] * values[p.scale_with]
    return values


def swept_values(spec: SweepSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """Only the keys that vary, as config values (what a status table shows)."""
    values = trial_values(spec, params)
    return {key: values[key] for key in spec.swept}


def trial_config(spec: SweepSpec, params: Mapping[str, Any], out_dir: Path, sweep_id: str) -> TrainConfig:
    """The full training config of a trial; its run folders go under its own out_dir."""
    overrides = {
        **trial_values(spec, params),
        "out_dir": str(out_dir),
        "run_dir": str(out_dir / "wandb"),
        "sweep_id": sweep_id,
    }
    return apply_overrides(TrainConfig(), overrides)
