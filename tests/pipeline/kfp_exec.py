"""Run a compiled KFP pipeline's container commands on this machine, as a KFP backend would run them.

This reads only the compiled YAML — not `lexdpr.pipeline.stages` — so it checks what a cluster would
execute. For each task, in dependency order, it takes its executor's `command` + `args` and substitutes
the placeholders the KFP driver and launcher substitute:

| placeholder | bound to |
|---|---|
| `{{$.inputs.parameters['x']}}` | the task's argument: a pipeline argument (or its default) or a constant |
| `{{$.inputs.artifacts['x'].path}}`, `.uri` | where the producing task wrote that artifact |
| `{{$.outputs.artifacts['x'].path}}`, `.uri` | `<root>/<task>/<x>`: a local folder or an `s3://` URI |
| `{{$}}` | an executor input JSON naming the task's outputs and an output-metadata file |

Volume mounts are emulated by rewriting paths under their mount path (e.g. `/workspace`) to a local
folder, in parameter values and in the container's environment. The image's `lex-dpr` and `python` are this interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lexdpr import storage
from lexdpr.pipeline.local_runner import executable

_PARAM = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
_IN_ARTIFACT = re.compile(r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.(path|uri)\}\}")
_OUT_ARTIFACT = re.compile(r"\{\{\$\.outputs\.artifacts\['([^']+)'\]\.(path|uri)\}\}")


@dataclass
class TaskRun:
    name: str
    argv: list[str]
    outputs: dict[str, str]
    metadata: dict[str, Any] = field(default_factory=dict)


def load(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline spec and the platform spec of a compiled pipeline YAML."""
    docs = list(yaml.safe_load_all(Path(path).read_text(encoding="utf-8")))
    return docs[0], (docs[1] if len(docs) > 1 else {})


def task_order(spec: Mapping[str, Any]) -> list[str]:
    tasks = spec["root"]["dag"]["tasks"]
    done: list[str] = []
    while len(done) < len(tasks):
        ready = sorted(
            n
            for n, t in tasks.items()
            if n not in done and all(d in done for d in t.get("dependentTasks", []))
        )
        if not ready:
            raise AssertionError("the pipeline's tasks have a dependency cycle")
        done.extend(ready)
    return done


def run_compiled(
    yaml_path: str | Path,
    root: str,
    arguments: Mapping[str, Any],
    *,
    mounts: Mapping[str, str] | None = None,
    constants: Mapping[str, Any] | None = None,
    until: str | None = None,
    log_dir: Path | None = None,
) -> dict[str, TaskRun]:
    """Execute the tasks (up to and including `until`); returns what each ran and wrote."""
    spec, platform = load(yaml_path)
    defaults = {
        name: p.get("defaultValue")
        for name, p in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items()
    }
    args = {**defaults, **arguments}
    executors = spec["deploymentSpec"]["executors"]
    k8s = (
        (platform.get("platforms") or {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    )
    mounts = dict(mounts or {})
    runs: dict[str, TaskRun] = {}
    for name in task_order(spec):
        task = spec["root"]["dag"]["tasks"][name]
        component = spec["components"][task["componentRef"]["name"]]
        label = component["executorLabel"]
        container = executors[label]["container"]
        types = component.get("inputDefinitions", {}).get("parameters", {})
        params = {}
        task_params = task.get("inputs", {}).get("parameters", {})
        # pipelinechannel--… inputs: what the driver substitutes into the task's constant values
        channels = {
            key: str(args[source["componentInputParameter"]])
            for key, source in task_params.items()
            if key.startswith("pipelinechannel--") and "componentInputParameter" in source
        }
        for key, source in task_params.items():
            if key not in types:
                continue  # pipelinechannel--… and base_image: the driver's own inputs
            if "componentInputParameter" in source:
                value = args[source["componentInputParameter"]]
            else:
                value = source["runtimeValue"]["constant"]
                if isinstance(value, str):
                    value = _PARAM.sub(lambda m, bound=channels: bound[m.group(1)], value)
            if constants and key in constants:
                value = constants[key]
            params[key] = _remount(_format(value, types[key]["parameterType"]), mounts)
        inputs = {
            key: runs[src["taskOutputArtifact"]["producerTask"]].outputs[
                src["taskOutputArtifact"]["outputArtifactKey"]
            ]
            for key, src in task.get("inputs", {}).get("artifacts", {}).items()
        }
        outputs = {
            key: storage.join(root, name, key)
            for key in component.get("outputDefinitions", {}).get("artifacts", {})
        }
        for uri in outputs.values():
            if not storage.is_s3(uri):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)  # what the launcher prepares
        output_file = Path(log_dir or root) / f"{name}.executor_output.json"
        executor_input = json.dumps(
            {
                "outputs": {
                    "artifacts": {
                        k: {"artifacts": [{"name": k, "uri": v, "metadata": {}}]} for k, v in outputs.items()
                    },
                    "outputFile": str(output_file),
                }
            }
        )

        context = _Context(name, params, inputs, outputs, executor_input)
        argv = [context.bind(t) for t in container.get("command", []) + container.get("args", [])]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for item in container.get("env", []):
            env[item["name"]] = _remount(context.bind(item["value"]), mounts)
        for mount in k8s.get(label, {}).get("pvcMount", []):
            assert mount["mountPath"] in mounts, (
                f"{name} mounts {mount['mountPath']}: give a local folder for it"
            )
        log = Path(log_dir or root) / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as handle:
            done = subprocess.run(
                executable(argv, sys.executable),
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
            )
        if done.returncode != 0:
            raise AssertionError(f"task {name} failed ({done.returncode}): {argv}\n{log.read_text()[-3000:]}")
        metadata = json.loads(output_file.read_text()) if output_file.is_file() else {}
        runs[name] = TaskRun(name, argv, outputs, metadata)
        if name == until:
            break
    return runs


@dataclass(frozen=True)
class _Context:
    """What one task's placeholders are bound to."""

    task: str
    params: Mapping[str, str]
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    executor_input: str

    def bind(self, text: str) -> str:
        text = _PARAM.sub(lambda m: self.params[m.group(1)], text)
        text = _IN_ARTIFACT.sub(lambda m: self.inputs[m.group(1)], text)
        text = _OUT_ARTIFACT.sub(lambda m: self.outputs[m.group(1)], text)
        text = text.replace("{{$}}", self.executor_input)
        if "{{$" in text:
            raise AssertionError(f"{self.task}: unbound placeholder in {text!r}")
        return text


def _remount(value: str, mounts: Mapping[str, str]) -> str:
    """A path on a mounted volume (`/workspace/…`) → the local folder that stands in for the volume."""
    for mount, local in mounts.items():
        if value == mount or value.startswith(mount + "/"):
            return local + value[len(mount) :]
    return value


def _format(value: Any, kind: str) -> str:
    """A parameter as the driver writes it into a command line."""
    if kind == "NUMBER_INTEGER":
        return str(int(value))
    if kind in ("STRUCT", "LIST"):
        return json.dumps(value)
    return str(value)
