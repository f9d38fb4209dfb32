"""Run a trial's container command locally, the way it runs in a Katib trial pod.

The Job is rendered from the Experiment as Katib renders it (parameters substituted), its primary container's
command is wrapped as Katib's pod webhook wraps it for the StdOut collector, the kubelet's `$(VAR)`/`$$`
expansion is applied, and the result runs in `sh` with the pod's paths mapped to folders of a test:
`/workspace` (the PVC, the working directory), `/etc/lexdpr` (the ConfigMap), `/tmp`, `/var/log/katib`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.kube.emulate import katib_wrapped_args, kubelet_expand, primary_container, render_trial


@dataclass(frozen=True)
class PodPaths:
    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / "pvc"

    @property
    def config_dir(self) -> Path:
        return self.root / "etc-lexdpr"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def katib(self) -> Path:
        return self.root / "katib"

    def make(self) -> PodPaths:
        for folder in (self.workspace, self.config_dir, self.tmp, self.katib):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def map(self, text: str) -> str:
        return (
            text.replace("/etc/lexdpr", str(self.config_dir))
            .replace("/workspace", str(self.workspace))
            .replace("/var/log/katib", str(self.katib))
        )


def trial_command(
    experiment: Mapping[str, Any],
    assignments: Mapping[str, str],
    trial: str,
    paths: PodPaths,
    path_prefix: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment the trial's shell would get, with the pod's folders mapped to `paths`."""
    job = render_trial(experiment, assignments, trial, "team-ml")
    container = primary_container(job, experiment["spec"]["trialTemplate"]["primaryContainerName"])
    early = "earlyStopping" in experiment["spec"]
    args = katib_wrapped_args(container, metrics_file="/var/log/katib/metrics.log", early_stopping=early)
    pod_env = {e["name"]: e["value"] for e in container.get("env", [])}
    argv = [paths.map(kubelet_expand(a, pod_env)) for a in args]
    env = {
        name: str(paths.tmp) + value[4:] if value.startswith("/tmp") else paths.map(value)
        for name, value in pod_env.items()
    }
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in (path_prefix, bin_dir, "/usr/bin", "/bin") if p)
    env["HF_HUB_OFFLINE"] = "1"
    return argv, env


def run_trial(argv: list[str], env: dict[str, str], paths: PodPaths, timeout: float = 300) -> int:
    return subprocess.run(argv, cwd=paths.workspace, env=env, timeout=timeout).returncode


def completed_marker(paths: PodPaths) -> str | None:
    """Content of the `<pid>.pid` file the wrapped command writes when the trainer succeeded."""
    markers = list(paths.katib.glob("*.pid"))
    return markers[0].read_text(encoding="utf-8").strip() if markers else None


FAKE_TRAINER = """\
import os, signal, sys, time
if sys.argv[1:3] == ["sweep", "trial"]:  # the real trial command, which then runs this `lex-dpr train`
    os.execv(REAL_LEX_DPR, [REAL_LEX_DPR, *sys.argv[1:]])
args = sys.argv[1:]
mode = os.environ.get("FAKE_MODE", "wait")
out = os.environ["FAKE_OUT"]
def on_term(signum, frame):
    open(out, "a").write("TERM\\n")
    print("eval/ndcg_at_10=0.3", flush=True)
    sys.exit(143)
signal.signal(signal.SIGTERM, on_term)
open(out, "a").write("started " + " ".join(args) + "\\n")
run_dir = next(a.split("=", 1)[1] for a in args if a.startswith("run_dir="))
os.makedirs(run_dir + "/run-20250310_010000-abcd1234", exist_ok=True)
open(run_dir + "/run-20250310_010000-abcd1234/wandb-metadata.json", "w").write('{"state": "finished"}')
print("eval/ndcg_at_10=0.25", flush=True)
if mode == "exit2":
    sys.exit(2)
if mode == "wait":
    for _ in range(600):
        time.sleep(0.05)
"""


def fake_trainer(tmp_path: Path) -> Path:
    """A folder with a `lex-dpr` whose `train` is a stand-in (FAKE_MODE, FAKE_OUT) and the rest the real one."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "lex-dpr"
    real = str(Path(sys.executable).parent / "lex-dpr")
    script.write_text(f"#!{sys.executable}\nREAL_LEX_DPR = {real!r}\n" + FAKE_TRAINER, encoding="utf-8")
    script.chmod(0o755)
    return bin_dir
