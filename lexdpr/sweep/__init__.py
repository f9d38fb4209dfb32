"""Hyperparameter sweeps that run offline: W&B-style sweep files, optuna studies in SQLite or PostgreSQL,
agents that run trials as ordinary training runs (docs/sweeps.md).

Modules, in the order a sweep meets them: `sweep_file` (the file and its checks), `preset` (the guide's
preset), `write_back` (sweep_id into the file), `storage` (where sweeps live), `space` (file ↔ optuna),
`engine` (the study: ask, record, resume), `time_window` (when agents may start trials), `runner` and
`run_trial` (a trial in a child process), `pruning` (early termination), `agent` (the loop), `report`
(status and best), `commands` (what the CLI calls).

Nothing heavy is imported here. The trainer imports nothing from this package: a sweep passes it an
`on_evaluation` hook, which may raise `lexdpr.sweep.pruning.TrialPruned` (caught in `run_trial`).
"""
