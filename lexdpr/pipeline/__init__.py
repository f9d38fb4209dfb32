"""The main job as one pipeline: the stage graph, its two executors and the stages of its own.

- `stages`: the graph, written once — each stage's `lex-dpr …` command, inputs and outputs;
- `kfp_pipeline`: the Kubeflow Pipelines v2 pipeline built from it (`pipelines/`, `components/`);
- `local_runner` + `cache` + `transfer`: the same commands on one machine, with KFP-style caching;
- `tune`, `evaluate`: the two stage commands that are not a `lex-dpr` verb already;
- `commands`: the functions behind `lex-dpr pipeline run|compile|submit|stages`.
"""
