"""Kubernetes side of lexdpr: a sweep file as a Katib Experiment, its status, and the time-window agent.

The modules follow the path of one sweep:

- `search_space`: the sweep file's parameters as Katib parameters and as the trainer's `key=value` arguments;
- `trial_job`: the batch/v1 Job every Katib trial runs (`lex-dpr train`, on a PVC, GPU, non-root);
- `experiment`: both put together into a `kubeflow.org/v1beta1` Experiment, rendered as YAML;
- `metrics`: the StdOut collector's regex, and a port of Katib's parser so tests can prove they agree;
- `katib_check` / `schemas`: what Katib's webhook and the Kubernetes API would reject, checked offline;
- `api`: the few Kubernetes API calls we make, behind a small protocol that tests replace with a recorder;
- `status`: an Experiment's and its Trials' status as rows (`lex-dpr sweep status|best --backend katib`);
- `window_agent`: the CronJob's entry point that runs a sweep only inside a nightly time window;
- `commands`: the functions the CLI calls.
"""
