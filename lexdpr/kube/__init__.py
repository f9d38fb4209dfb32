"""Kubernetes side of lexdpr: a sweep file as a Katib Experiment, its status, and the time-window agent.

The modules follow the path of one sweep:

- `search_space`: the sweep file's parameters as Katib parameters and as the trainer's `key=value` arguments;
- `trial_job`: the batch/v1 Job every Katib trial runs (`lex-dpr sweep trial`, on a PVC, GPU, non-root);
- `trial_run`: `lex-dpr sweep trial`, the trial container's command and preStop hook;
- `experiment`: both put together into a `kubeflow.org/v1beta1` Experiment, rendered as YAML;
- `metrics`: the StdOut collector's settings for what the trainer prints;
- `manifests`: the generated files of `manifests/` and `helm/lexdpr/files/`, written from the code above;
- `api`: the few Kubernetes API calls we make, behind a small protocol that tests replace with a recorder;
- `status`: an Experiment's and its Trials' status as rows (`lex-dpr sweep status|best --backend katib`);
- `window_agent`: the CronJob's entry point that runs a sweep only inside a nightly time window;
- `commands`: the functions the CLI calls.

What Katib, KFP and the kubelet do with these objects is modelled only in the tests (`tests/kube/`,
`tests/kube/upstream/`: rules ported from the upstream sources at each supported version).
"""
