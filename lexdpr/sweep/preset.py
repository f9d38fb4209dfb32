"""The user guide's sweep preset, as the commented file `lex-dpr sweep preset` writes.

The preset is kept as YAML text rather than built from a dict so the file a user opens explains itself:
each range has a comment, and editing it is the expected next step. `preset_spec()` parses that same text,
so what is written and what is validated can never drift apart.
"""

from __future__ import annotations

from pathlib import Path

from lexdpr.sweep.sweep_file import SweepSpec, parse_sweep

DEFAULT_OUTPUT = Path("configs/sweep.yaml")

PRESET_YAML = """\
# lex-dpr sweep file: the user guide's preset. Edit it, then run
#   lex-dpr sweep --config configs/sweep.yaml           # create the sweep (writes sweep_id here) and run an agent
#   lex-dpr sweep agent --config configs/sweep.yaml     # more agents, on this machine or others (--storage)
# Keys are the trainer's dotted keys (`lex-dpr train --help`); every value is checked before anything runs.

method: bayes   # bayes (optuna TPE) | random | grid

metric:
  name: eval/ndcg_at_10
  goal: maximize

parameters:
  trainer.lr:
    distribution: log_uniform_values
    min: 5.0e-7
    max: 1.0e-4
  trainer.temperature:            # InfoNCE temperature
    distribution: uniform
    min: 0.01
    max: 0.3
  trainer.weight_decay:
    distribution: uniform
    min: 0.01
    max: 0.5
  trainer.warmup_ratio:
    distribution: uniform
    min: 0.0
    max: 0.2
  trainer.gradient_accumulation_steps:    # GradCache-style: the negatives pool grows with it
    values: [16, 32, 64]
  trainer.gradient_clip_norm:
    distribution: uniform
    min: 1.0
    max: 20.0
  model.peft.r:                   # LoRA rank
    values: [4, 8, 16]
  model.peft.alpha:               # independent of r; `scale_with: model.peft.r` would sweep alpha/r instead
    values: [8, 16, 32]
  model.peft.dropout:
    distribution: uniform
    min: 0.05
    max: 0.1
  data.batch_size:
    values: [32, 64, 128, 256]
  data.multiply:                  # query augmentation: 0 none, 1 masked articles, 2 + 판결요지
    values: [0, 1, 2]
  data.hard_negative_ratio:
    distribution: uniform
    min: 0.2
    max: 0.6
  trainer.valid_negatives:
    values: [16, 32, 64]
  model.bi_model:
    values: [ko-simcse, bge-m3-ko, multilingual-minilm, multilingual-e5-small]
  model.max_len:
    values: [256, 384, 512]

# The same for every trial.
fixed:
  trainer.epochs: 3
  data.pairs: data/processed/pairs_train.jsonl
  data.passages: data/processed/merged_corpus.jsonl

# Stop unpromising trials early from their evaluations (iter = the n-th evaluation of a trial):
# early_terminate:
#   type: hyperband     # or: median
#   min_iter: 1
#   eta: 3
"""


def preset_spec() -> SweepSpec:
    """The preset as a validated sweep spec."""
    from ruamel.yaml import YAML

    return parse_sweep(YAML(typ="safe", pure=True).load(PRESET_YAML), "the sweep preset")
