"""The documented `kubectl cp data/processed lexdpr-workspace:/workspace/data/processed` on a fresh PVC.

kubectl's copyToPod (k8s.io/kubectl pkg/cmd/cp/cp.go, v0.35) streams a tar whose entries are named after the
destination path and runs `tar -xmf - -C <dirname of the destination>` in the container (when the destination
is an existing folder, the source's base name is appended first). So `/workspace/data` must exist before the
copy: on a fresh PVC only the workspace pod's init container makes it. Here the pod's folders are a temp dir,
the init container's own command runs against it, and the real `tar` extracts what kubectl would send.
"""

from __future__ import annotations

import io
import posixpath
import subprocess
import tarfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
POD = REPO / "manifests" / "workspace-pod.yaml"
DESTINATION = "/workspace/data/processed"


def _kubectl_cp(source: Path, destination: str, root: Path) -> int:
    """kubectl cp SOURCE pod:DESTINATION, with the pod's `/` at `root`: the tar and the container's tar."""
    if (root / destination.lstrip("/")).is_dir():
        destination = posixpath.join(destination, source.name)
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as tar:
        tar.add(source, arcname=posixpath.basename(destination))  # entries are named from the base on
    command = ["tar", "-xmf", "-", "-C", str(root / posixpath.dirname(destination).lstrip("/"))]
    return subprocess.run(command, input=stream.getvalue(), capture_output=True).returncode


def _data(tmp_path: Path) -> Path:
    processed = tmp_path / "local" / "data" / "processed"
    processed.mkdir(parents=True)
    (processed / "pairs_train.jsonl").write_text('{"query_id": "q1"}\n', encoding="utf-8")
    return processed


def test_the_documented_copy_fails_on_a_bare_pvc(tmp_path: Path) -> None:
    root = tmp_path / "pod"
    (root / "workspace").mkdir(parents=True)
    assert _kubectl_cp(_data(tmp_path), DESTINATION, root) == 2  # what users met before the init container


def test_the_workspace_pods_init_container_makes_the_copy_work(tmp_path: Path) -> None:
    pod = yaml.safe_load(POD.read_text(encoding="utf-8"))
    (init,) = pod["spec"]["initContainers"]
    assert {"name": "workspace", "mountPath": "/workspace"} in init["volumeMounts"]
    root = tmp_path / "pod"
    (root / "workspace").mkdir(parents=True)
    program, *args = init["command"]
    assert subprocess.run([program, *(str(root / a.lstrip("/")) for a in args)]).returncode == 0
    assert _kubectl_cp(_data(tmp_path), DESTINATION, root) == 0
    copied = root / "workspace" / "data" / "processed" / "pairs_train.jsonl"
    assert copied.read_text(encoding="utf-8") == '{"query_id": "q1"}\n'
