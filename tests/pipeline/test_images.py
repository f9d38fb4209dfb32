"""The stage image, checked statically (images cannot be built here): it installs the project the way the
README does, runs as a non-root user, has `lex-dpr` as its entrypoint, and comes in the CPU and CUDA
variants the pipeline pulls."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from lexdpr.pipeline import kfp_pipeline
from lexdpr.pipeline.stages import PARAMS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "Dockerfile"
BUILD = ROOT / "images" / "build.sh"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
            pending = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (from one FROM to the next)."""
    out: list[list[tuple[str, str]]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, args))
    return out


def pip_installs(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"pip install[^\n&`;]*", text)]


def test_the_project_is_installed_as_the_readme_says() -> None:
    build = stages()[0]
    runs = [args for keyword, args in build if keyword == "RUN"]
    # both variants install requirements.lock (the CUDA one after images/requirements-cuda.lock: tests/images)
    installs = [shlex.split(cmd) for run in runs for cmd in pip_installs(run)]
    locks = [cmd for cmd in installs if cmd[-2:] == ["-r", "requirements.lock"]]
    projects = [cmd for cmd in installs if cmd[-2:] == ["--no-deps", "."]]
    assert len(locks) == 2 and len(projects) == 1
    assert all(cmd[-1] in ("requirements.lock", "requirements-cuda.lock", ".") for cmd in installs)
    readme = pip_installs((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any("-r requirements.lock" in cmd for cmd in readme)
    assert any("--no-deps" in cmd for cmd in readme)
    first = next(i for i, cmd in enumerate(readme) if "-r requirements.lock" in cmd)
    second = next(i for i, cmd in enumerate(readme) if "--no-deps" in cmd)
    assert first < second, "the README installs the lock first, then the project"
    # the files each step needs are copied in before it runs
    order = [(k, a) for k, a in build if k in ("COPY", "RUN")]
    position = {a: i for i, (_, a) in enumerate(order)}
    lock_copy = next(i for i, (k, a) in enumerate(order) if k == "COPY" and "requirements.lock" in a)
    code_copy = next(i for i, (k, a) in enumerate(order) if k == "COPY" and a.startswith("lexdpr"))
    lock_run = next(position[a] for k, a in order if k == "RUN" and "requirements.lock" in a)
    code_run = next(position[a] for k, a in order if k == "RUN" and "--no-deps ." in a)
    assert lock_copy < lock_run < code_copy < code_run


def test_every_dependency_is_pinned() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[^=\s]+", line) for line in lines), lines
    assert any(line.startswith("torch==") for line in lines)


def test_the_base_image_is_a_pinned_python_of_the_supported_version() -> None:
    args = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "requires-python"
    ]
    assert ">=3.11" in requires
    assert all(a.startswith("${PYTHON_IMAGE}") for k, a in instructions() if k == "FROM")


def test_the_runtime_image_runs_lex_dpr_as_a_non_root_user() -> None:
    final = stages()[-1]
    users = [a for k, a in final if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any("useradd" in a and "--uid 1000" in a for k, a in final if k == "RUN")
    (entrypoint,) = [a for k, a in final if k == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["lex-dpr"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["lex-dpr"] == "lexdpr.cli:main"
    # the components call `python -m …` too: the venv's interpreter must come first on PATH
    env = " ".join(a for k, a in final if k == "ENV")
    assert "PATH=/opt/lexdpr/bin:$PATH" in env


def test_the_configs_the_pipeline_names_are_in_the_image() -> None:
    final = stages()[-1]
    assert ("COPY", "configs /app/configs") in final
    assert PARAMS["sweep_file"].default.startswith("/app/configs/")


def test_cpu_and_cuda_variants_match_the_images_the_pipeline_pulls() -> None:
    script = BUILD.read_text(encoding="utf-8")
    # CPU torch from the PyTorch CPU index; the CUDA torch from images/requirements-cuda.lock (tests/images)
    assert '"TORCH_INDEX=https://download.pytorch.org/whl/cpu"' in script
    assert "--build-arg VARIANT=cuda" in script
    assert f"IMAGE_REPOSITORY:-{kfp_pipeline.IMAGE_REPOSITORY}" in script
    assert kfp_pipeline.image("1.0", "cpu") == f"{kfp_pipeline.IMAGE_REPOSITORY}:1.0"
    assert kfp_pipeline.image("1.0", "cuda") == f"{kfp_pipeline.IMAGE_REPOSITORY}:1.0-cuda"
    assert '[[ "$variant" == cuda ]] && name="${name}-cuda"' in script
    assert "TORCH_INDEX" in DOCKERFILE.read_text(encoding="utf-8")


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / "images" / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied: set[str] = set()
    for k, a in instructions():
        if k == "COPY" and not a.startswith("--from"):
            copied.update(part.rstrip("/") for part in a.split()[:-1])
    assert copied <= kept, copied - kept


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
def test_make_images_is_a_no_op_without_docker_or_podman(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "dirname"):  # what the script needs besides bash builtins
        target = subprocess.run(["which", tool], capture_output=True, text=True, check=True).stdout.strip()
        (bin_dir / tool).symlink_to(target)
    done = subprocess.run(
        ["/bin/bash", str(BUILD), "--push"],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "neither docker nor podman" in done.stderr


def test_make_images_runs_the_build_script_with_push() -> None:
    root = BUILD.parents[1]
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "images"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == ["bash images/build.sh --push"]
