"""The main job's stage graph, written once: what each stage runs, what it reads and what it writes.

Both executors are built from this table, so their commands cannot drift apart:

- `lexdpr.pipeline.kfp_pipeline` turns every `Stage` into a Kubeflow Pipelines container component whose
  command is `Stage.argv` with KFP placeholders (`{{$.inputs.artifacts['pairs'].path}}` …) bound in;
- `lexdpr.pipeline.local_runner` runs the very same argv on one machine, with the placeholders bound to
  folders of a local directory or an `s3://` prefix.

A stage is one `lex-dpr …` or `python -m lexdpr…` command; no stage logic lives here or in the pipeline
files. Tokens of `argv` may hold fields in braces:

| field | means |
|---|---|
| `{raw_data}` | the value of the pipeline parameter `raw_data` (see `PARAMS`) |
| `{passages}` | where the artifact `passages` is: a local folder in KFP, a folder or s3:// URI locally |
| `{passages.uri}` | the artifact's remote URI (KFP: `s3://…` under the pipeline root), for commands that hand
  it to other pods (Katib trials) |
| `{executor_input}` | KFP's executor input JSON (`{{$}}`), through which a container reports metrics |

An artifact is named once, by the stage that writes it; a stage that reads it uses the same name.
Artifacts are folders (`files` lists what the command writes inside), except `metrics`, which is one file.
`local=True` on an input or output means the command needs a local path (it loads a model with
`from_pretrained`, or the trainer insists on a local `out_dir`); the local runner then stages it through a
temporary folder when the storage is S3, as the KFP launcher always does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lexdpr.errors import ConfigError

ArtifactKind = Literal["Dataset", "Model", "Metrics", "Artifact"]
EXECUTOR_INPUT = "executor_input"
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\.uri)?\}")


@dataclass(frozen=True)
class Param:
    """A pipeline parameter: the same name in KFP, in `lex-dpr pipeline run --local` and in `argv`."""

    name: str
    type: type
    default: Any
    help: str
    #: The value names a file or folder whose content decides a stage's result (the local cache hashes it).
    content: bool = False
    #: On KFP the value is this constant, not a pipeline parameter (e.g. the workspace is the PVC mount).
    kfp_constant: Any = None
    #: The default of `lex-dpr pipeline run --local` where one machine needs another than a cluster (a
    #: demo-sized sweep, data in the current folder); None = `default`.
    local_default: Any = None

    @property
    def local_value(self) -> Any:
        """What `lex-dpr pipeline run --local` uses when its flag is not given."""
        return self.default if self.local_default is None else self.local_default


@dataclass(frozen=True)
class Output:
    """An artifact a stage writes."""

    name: str
    kind: ArtifactKind
    help: str
    files: tuple[str, ...] = ()
    folder: bool = True
    local: bool = False


@dataclass(frozen=True)
class Input:
    """An artifact a stage reads, by the name its producer gave it."""

    name: str
    local: bool = False


@dataclass(frozen=True)
class Stage:
    """One container component of the pipeline (= one command of the main job)."""

    name: str
    help: str
    argv: tuple[str, ...]
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    #: Stages that must finish first although no artifact passes between them.
    after: tuple[str, ...] = ()
    #: `cpu` or `cuda`: which variant of the stage image runs it.
    image: Literal["cpu", "cuda"] = "cpu"
    #: Requests a GPU on Kubernetes.
    gpu: bool = False
    #: KFP caching; off where the result depends on more than the inputs (a sweep, a training).
    cache: bool = True
    #: Retries on Kubernetes (pod evictions, S3 hiccups); data stages are idempotent.
    retries: int = 0
    #: Mounts the workspace PVC (sweep state, W&B runs, checkpoints of trials, the base-model cache).
    workspace: bool = False

    @property
    def fields(self) -> list[tuple[str, bool]]:
        """Every `(name, is_uri)` field used in `argv`, in order."""
        return [(m.group(1), bool(m.group(2))) for token in self.argv for m in _FIELD.finditer(token)]

    @property
    def params(self) -> list[str]:
        """Pipeline parameters this stage reads, in the order they first appear in `argv`."""
        artifacts = {i.name for i in self.inputs} | {o.name for o in self.outputs} | {EXECUTOR_INPUT}
        return list(dict.fromkeys(name for name, _ in self.fields if name not in artifacts))

    def output(self, name: str) -> Output:
        for out in self.outputs:
            if out.name == name:
                return out
        raise KeyError(name)


def render(token: str, values: Mapping[str, str], uris: Mapping[str, str] | None = None) -> str:
    """Fill the fields of one argv token: `{x}` from `values`, `{x.uri}` from `uris`."""

    def replace(match: re.Match[str]) -> str:
        name, uri = match.group(1), bool(match.group(2))
        table = uris if uri else values
        if table is None or name not in table:
            raise KeyError(f"{match.group(0)} in {token!r} has no value")
        return str(table[name])

    return _FIELD.sub(replace, token)


def render_argv(stage: Stage, values: Mapping[str, str], uris: Mapping[str, str] | None = None) -> list[str]:
    return [render(token, values, uris) for token in stage.argv]


# --- the pipeline parameters ------------------------------------------------------------------------

WORKSPACE_MOUNT = "/workspace"  # the PVC's mount path: the layout of lexdpr.kube.trial_job

PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param(
            "raw_data",
            str,
            "s3://lexdpr/raw",
            "folder or s3:// prefix with laws/, admin_rules/ and precedents/ (law.go.kr JSON)",
            content=True,
            local_default="data",
        ),
        Param("hn_per_q", int, 32, "BM25 hard negatives per query (pairs stage)"),
        Param(
            "sweep_file",
            str,
            "/app/configs/sweep-demo.yaml",
            "sweep file (docs/sweeps.md), a path in the image or an s3:// URI",
            content=True,
            local_default="configs/sweep-demo.yaml",
        ),
        Param("trial_budget", int, 20, "how many trials the sweep runs", local_default=2),
        Param("parallelism", int, 2, "how many trials run at once", local_default=1),
        Param(
            "base_model", str, "multilingual-e5-small", "base model alias, folder or hub id (docs/models.md)"
        ),
        Param(
            "sweep_backend",
            str,
            "local",
            "local (optuna agents on this machine) or katib (an Experiment on the cluster)",
            kfp_constant="katib",
        ),
        Param(
            "workspace",
            str,
            ".lexdpr/workspace",
            "local folder for sweep state, W&B runs and trial checkpoints (the PVC on Kubernetes)",
            kfp_constant=WORKSPACE_MOUNT,
        ),
        Param("trial_image", str, "", "katib: the image Katib trials run (the CUDA variant)"),
        Param("pvc_name", str, "lexdpr-workspace", "katib: the workspace PersistentVolumeClaim"),
        Param("s3_secret", str, "lexdpr-s3", "katib: the Secret with the AWS_* variables of the trials"),
    )
}

# --- the stages ---------------------------------------------------------------------------------------

# Flag / value pairs stay on one line, as on a command line.
# fmt: off
STAGES: tuple[Stage, ...] = (
    Stage(
        name="passages",
        help="Laws and admin rules → passages (one per article or 항).",
        argv=(
            "lex-dpr", "data", "passages",
            "--src-dir", "{raw_data}",
            "--out-law", "{passages}/law_passages.jsonl",
            "--out-admin", "{passages}/admin_passages.jsonl",
            "--quiet",
        ),
        outputs=(
            Output("passages", "Dataset", "law and admin-rule passages (JSONL)",
                   files=("law_passages.jsonl", "admin_passages.jsonl")),
        ),
        retries=2,
    ),
    Stage(
        name="pairs",
        help="Precedents → query–passage pairs with BM25 hard negatives, split train / valid / test.",
        argv=(
            "lex-dpr", "data", "pairs",
            "--law", "{passages}/law_passages.jsonl",
            "--admin", "{passages}/admin_passages.jsonl",
            "--prec-json-dir", "{raw_data}/precedents",
            "--out", "{pairs}/pairs_train.jsonl",
            "--hn_per_q", "{hn_per_q}",
            "--quiet",
        ),
        inputs=(Input("passages"),),
        outputs=(
            Output("pairs", "Dataset", "train / valid / test pairs and the precedent fallback passages",
                   files=("pairs_train.jsonl", "pairs_train_valid.jsonl", "pairs_test.jsonl",
                          "prec_fallback_passages.jsonl")),
        ),
        retries=2,
    ),
    Stage(
        name="corpus",
        help="Passage files → the merged retrieval corpus.",
        argv=(
            "lex-dpr", "data", "corpus",
            "--law", "{passages}/law_passages.jsonl",
            "--admin", "{passages}/admin_passages.jsonl",
            "--prec", "{pairs}/prec_fallback_passages.jsonl",
            "--out", "{corpus}/merged_corpus.jsonl",
            "--quiet",
        ),
        inputs=(Input("passages"), Input("pairs")),
        outputs=(Output("corpus", "Dataset", "the merged corpus (JSONL)", files=("merged_corpus.jsonl",)),),
        retries=2,
    ),
    Stage(
        name="tune",
        help="Create or resume the sweep (local agents or a Katib Experiment), wait, write the best parameters.",
        argv=(
            "python", "-m", "lexdpr.pipeline.tune",
            "--backend", "{sweep_backend}",
            "--sweep-file", "{sweep_file}",
            "--trials", "{trial_budget}",
            "--parallelism", "{parallelism}",
            "--base-model", "{base_model}",
            "--train-pairs", "{pairs.uri}/pairs_train.jsonl",
            "--valid-pairs", "{pairs.uri}/pairs_train_valid.jsonl",
            "--corpus", "{corpus.uri}/merged_corpus.jsonl",
            "--workspace", "{workspace}",
            "--trial-image", "{trial_image}",
            "--pvc", "{pvc_name}",
            "--s3-secret", "{s3_secret}",
            "--out", "{best_params}",
        ),
        inputs=(Input("pairs"), Input("corpus")),
        outputs=(
            Output("best_params", "Artifact", "the best trial: a train config and its record",
                   files=("best.yaml", "best.json")),
        ),
        cache=False,
        workspace=True,
    ),
    Stage(
        name="train-best",
        help="Train with the best parameters on train + valid (valid/* then monitors fit, not selection).",
        argv=(
            "lex-dpr", "train",
            "--config", "{best_params}/best.yaml",
            "--quiet",
            "data.pairs=[{pairs}/pairs_train.jsonl, {pairs}/pairs_train_valid.jsonl]",
            "data.valid_pairs={pairs}/pairs_train_valid.jsonl",
            "data.passages={corpus}/merged_corpus.jsonl",
            "out_dir={checkpoints}",
            "run_dir={workspace}/wandb",
        ),
        inputs=(Input("best_params"), Input("pairs"), Input("corpus")),
        outputs=(
            Output("checkpoints", "Model", "the training out_dir: bi_encoder/checkpoint-*/, training_config.json",
                   local=True),
        ),
        image="cuda",
        gpu=True,
        cache=False,
        workspace=True,
    ),
    Stage(
        name="evaluate",
        help="Test-split metrics of the trained model, the zero-shot base model, BM25 and the hybrid "
             "(fusion chosen on valid); fingerprint; verdict.",
        argv=(
            "python", "-m", "lexdpr.pipeline.evaluate",
            "--model", "{checkpoints}",
            "--zero-shot", "{base_model}",
            "--pairs", "{pairs}/pairs_test.jsonl",
            "--corpus", "{corpus}/merged_corpus.jsonl",
            "--valid-pairs", "{pairs}/pairs_train_valid.jsonl",
            "--run-dir", "{workspace}/wandb",
            "--report", "{report}",
            "--metrics", "{metrics}",
            "--executor-input", "{executor_input}",
        ),
        inputs=(Input("checkpoints", local=True), Input("pairs"), Input("corpus")),
        outputs=(
            Output("report", "Artifact", "metrics of each model, the hybrid and its fusion, the run verdict and "
                   "the summary (JSON)",
                   files=("model.json", "zero_shot.json", "bm25.json", "hybrid.json", "summary.json")),
            Output("metrics", "Metrics", "test metrics of the trained model (KFP Metrics)", folder=False),
        ),
        workspace=True,
    ),
    Stage(
        name="export",
        help="Merge the LoRA adapter into the base model: a plain sentence-transformers folder, with the BM25 "
             "fusion chosen by evaluate.",
        argv=("lex-dpr", "export", "--model", "{checkpoints}", "--out", "{model}",
              "--fusion", "{report}/hybrid.json"),
        inputs=(Input("checkpoints", local=True), Input("report")),
        outputs=(Output("model", "Model", "the merged model (sentence-transformers folder, lexdpr_fusion.json)",
                        local=True),),
    ),
)
# fmt: on


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise ConfigError(f"no stage {name!r}; the stages are {', '.join(s.name for s in STAGES)}")


def producers(stages: tuple[Stage, ...] = STAGES) -> dict[str, Stage]:
    """Artifact name → the stage that writes it."""
    return {out.name: s for s in stages for out in s.outputs}


def upstream(s: Stage, stages: tuple[Stage, ...] = STAGES) -> list[str]:
    """Names of the stages `s` waits for (artifact producers, then `after`)."""
    made_by = producers(stages)
    return list(dict.fromkeys([made_by[i.name].name for i in s.inputs] + list(s.after)))


def in_order(stages: tuple[Stage, ...] = STAGES) -> Iterator[Stage]:
    """The stages in dependency order (the order of the table, which is checked to be one)."""
    done: set[str] = set()
    for s in stages:
        missing = [u for u in upstream(s, stages) if u not in done]
        if missing:
            raise ConfigError(f"stage {s.name} comes before {', '.join(missing)}, which it needs")
        done.add(s.name)
        yield s


def check_graph(stages: tuple[Stage, ...] = STAGES, params: Mapping[str, Param] = PARAMS) -> None:
    """Every field names a parameter or an artifact the stage declares; every artifact has one producer."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for s in stages:
        for out in s.outputs:
            if out.name in seen:
                problems.append(f"artifact {out.name} is written by {seen[out.name]} and {s.name}")
            seen[out.name] = s.name
    for s in stages:
        declared = {i.name for i in s.inputs} | {o.name for o in s.outputs}
        for name, uri in s.fields:
            if name == EXECUTOR_INPUT:
                continue
            if uri and name not in {i.name for i in s.inputs}:
                problems.append(f"{s.name}: {{{name}.uri}} is not an input artifact")
            if name not in declared and name not in params:
                problems.append(f"{s.name}: {{{name}}} is neither a parameter nor an artifact of the stage")
        for i in s.inputs:
            if i.name not in seen:
                problems.append(f"{s.name}: input {i.name} is written by no stage")
        for out in s.outputs:
            if not any(n == out.name for n, _ in s.fields):
                problems.append(f"{s.name}: output {out.name} is not in its command")
    if problems:
        raise ConfigError("the stage graph is inconsistent:\n  " + "\n  ".join(problems))
    list(in_order(stages))


def describe(stages: tuple[Stage, ...] = STAGES) -> list[dict[str, Any]]:
    """The graph as plain data (for docs and `lex-dpr pipeline stages`)."""
    return [
        {
            "stage": s.name,
            "needs": upstream(s, stages),
            "reads": [i.name for i in s.inputs],
            "writes": [o.name for o in s.outputs],
            "command": " ".join(s.argv),
        }
        for s in stages
    ]


__all__ = [
    "EXECUTOR_INPUT",
    "PARAMS",
    "STAGES",
    "Input",
    "Output",
    "Param",
    "Stage",
    "check_graph",
    "describe",
    "in_order",
    "producers",
    "render",
    "render_argv",
    "stage",
    "upstream",
]
