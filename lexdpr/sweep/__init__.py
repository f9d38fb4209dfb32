"""Hyperparameter sweeps that run offline: W&B-style sweep files, optuna studies in SQLite or PostgreSQL,
agents that run trials as ordinary training runs (DESIGN §5, §6, §7).

Modules, in the order a sweep meets them: `sweep_file` (the file and its checks), `preset` (the guide's
preset), `write_back` (sweep_id into the file), `storage` (where sweeps live), `space` (file ↔ optuna),
`engine` (the study: ask, record, resume), `time_window` (when agents may start trials), `runner` and
`run_trial` (a trial in a child process), `pruning` (early termination), `agent` (the loop), `report`
(status and best), `commands` (what the CLI calls).

Nothing heavy is imported here: the trainer imports `lexdpr.sweep.pruning.TrialPruned`.
"""
