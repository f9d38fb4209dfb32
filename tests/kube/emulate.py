"""What Katib and the kubelet do to a trial template before its command runs, re-done offline.

Three steps stand between an Experiment and the shell that runs a trial, and each can break a command that
looks fine in the YAML:

1. Katib's experiment controller substitutes `${trialParameters.x}` textually in the trial template's JSON
   (`applyParameters` in pkg/controller.v1beta1/experiment/manifest/generator.go): values come from the
   Trial's parameter assignments, `${trialSpec.Name}` and friends from the Trial's metadata.
2. Katib's pod webhook rewrites the primary container for the StdOut collector (`wrapWorkerContainer` in
   pkg/webhook/v1beta1/pod/utils.go): `command = ["sh", "-c"]`, `args = [" ".join(original args after sh -c)
   + " 1>/var/log/katib/metrics.log 2>&1 && echo completed > /var/log/katib/$$$$.pid"]`.
3. The kubelet expands `$(VAR)` in command and args and turns `$$` into `$`
   (k8s.io/kubernetes/third_party/forked/golang/expansion).

The offline checks and the local trial test use these functions, so "the command Katib would run" is
computed, not assumed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lexdpr.errors import ConfigError

_PARAM_REF = re.compile(r"\$\{trialParameters\.(.+?)\}")
_META_REF = re.compile(r"^\$\{trialSpec\.(.+?)\}$")
_META_INDEX = re.compile(r"^(.+)\[(.+)]$")
KATIB_METRICS_FILE = "/var/log/katib/metrics.log"


def render_trial(
    experiment: Mapping[str, Any], assignments: Mapping[str, str], trial_name: str, namespace: str = "default"
) -> dict[str, Any]:
    """The Job Katib would create for a Trial named `trial_name` with these parameter assignments."""
    template = experiment["spec"]["trialTemplate"]
    run_spec = template["trialSpec"]
    text = json.dumps(run_spec)
    values: dict[str, str] = {}
    for param in template.get("trialParameters", []):
        reference = param["reference"]
        meta = _META_REF.match(reference)
        if not meta:
            if reference not in assignments:
                raise ConfigError(
                    f"no assignment for parameter {reference!r} (trial parameter {param['name']})"
                )
            values[param["name"]] = str(assignments[reference])
            continue
        key, index = meta.group(1), None
        indexed = _META_INDEX.match(key)
        if indexed:
            key, index = indexed.group(1), indexed.group(2)
        metadata = run_spec.get("metadata", {})
        lookup = {
            "Name": trial_name,
            "Namespace": namespace,
            "Kind": run_spec.get("kind"),
            "APIVersion": run_spec.get("apiVersion"),
            "Labels": (metadata.get("labels") or {}).get(index or ""),
            "Annotations": (metadata.get("annotations") or {}).get(index or ""),
        }
        if lookup.get(key) is None:
            raise ConfigError(f"illegal reference of trial metadata: {reference}")
        values[param["name"]] = str(lookup[key])
    for name, value in values.items():
        # Katib replaces inside the JSON text without escaping: a value with a quote would corrupt the JSON.
        text = text.replace("${trialParameters." + name + "}", value)
    job = json.loads(text)
    job.setdefault("metadata", {})["name"] = trial_name
    job["metadata"]["namespace"] = namespace
    return job


def unresolved_references(job: Mapping[str, Any]) -> list[str]:
    return sorted(set(_PARAM_REF.findall(json.dumps(job))))


def pod_templates(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pod templates of a trial: a Job's one, or each replica's of a PyTorchJob (master first)."""
    if job.get("kind") == "PyTorchJob":
        return [replica["template"] for replica in job["spec"]["pytorchReplicaSpecs"].values()]
    return [job["spec"]["template"]]


def primary_container(job: Mapping[str, Any], name: str) -> dict[str, Any]:
    for container in pod_templates(job)[0]["spec"]["containers"]:
        if container["name"] == name:
            return container
    raise ConfigError(f"the trial Job has no container named {name!r} (primaryContainerName)")


def katib_wrapped_args(
    container: Mapping[str, Any], metrics_file: str = KATIB_METRICS_FILE, early_stopping: bool = False
) -> list[str]:
    """`command + args` of the primary container after Katib's StdOut-collector rewrite (before kubelet)."""
    words = list(container.get("command") or []) + list(container.get("args") or [])
    if not words:
        raise ConfigError("the primary container has no command; Katib's StdOut collector needs one")
    command = ["sh", "-c"]
    if words[0] in ("sh", "bash") and len(words) > 1 and words[1] == "-c":
        command, words = words[:2], words[2:]
    marker_dir = metrics_file.rsplit("/", 1)[0]
    words.append(f"1>{metrics_file} 2>&1")
    if early_stopping:
        words += [
            "||",
            f"if test -f {marker_dir}/$$$$.pid && [ $(head -n 1 {marker_dir}/$$.pid) = early-stopped ]; "
            "then echo Training Container was Early Stopped; "
            "else echo Training Container was Failed; exit 1; fi",
        ]
    words += ["&&", f"echo completed > {marker_dir}/$$$$.pid"]
    return [*command, " ".join(words)]


def kubelet_expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion of command/args: known variables replaced, `$$` → `$`, rest unchanged."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 >= len(text):
            out.append(char)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "(":
            close = text.find(")", i + 2)
            if close == -1:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : close]
            out.append(env.get(name, f"$({name})"))
            i = close + 1
        else:
            out.append("$" + following)
            i += 2
    return "".join(out)
