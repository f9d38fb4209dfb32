"""Read run folders (docs/design.md, 'The run folder') back: list, show, chart, judge and compare trainings without a W&B server.

Offline W&B has no UI, so this package turns the run folders the trainer (locally or in a Katib trial pod)
writes into tables, charts and a verdict. Modules, one job each:

- `discovery`: find run folders under a root (local folder, mounted PVC or `s3://` prefix), resolve names;
- `history`: parse `wandb-events.jsonl` into per-metric series;
- `run`: one run = metadata + config + history + checkpoint paths;
- `baseline`: a reference score on the same test set (BM25 from `lex-dpr eval --bm25 --out`);
- `verdict`: the user guide's success criteria as small pure rules;
- `compare`, `sweep_report`: side-by-side tables and sweep summaries (same eval fingerprint only);
- `fonts`, `charts`, `html_report`: matplotlib charts with Hangul, and self-contained HTML reports;
- `formatting`, `tables`, `pages`: values as people read them, terminal tables, the HTML report pages;
- `commands`: the functions the `lex-dpr runs …` and `lex-dpr sweep report` commands call;
- `errors`: the user errors (unknown run, mixed test sets).

Nothing here imports the trainer or the sweep engine: run folders are the whole interface.
"""
