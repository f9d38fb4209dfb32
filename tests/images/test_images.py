"""The two image variants, checked statically (images cannot be built here): the CUDA variant's lock
(images/requirements-cuda.lock) agrees with requirements.lock, is fully pinned and hash-checked, and is what the
Dockerfile's CUDA path installs; images/build.sh builds exactly the tags the pipeline pulls."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from lexdpr import __version__
from lexdpr.pipeline import kfp_pipeline

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
DOCKERFILE = IMAGES / "Dockerfile"
BUILD = IMAGES / "build.sh"
CUDA_LOCK = IMAGES / "requirements-cuda.lock"
LOCK = ROOT / "requirements.lock"

#: Packages both locks pin at different versions, each with the reason; torch is compared on its own.
DOCUMENTED_DIFFERENCES: dict[str, str] = {}

PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s=;\\]+)")
HASHED_PIN = re.compile(PIN.pattern + r"(?P<hashes>(?: --hash=sha256:[0-9a-f]{64})+)")


def normalize(name: str) -> str:
    """PEP 503: `typing_extensions`, `Typing-Extensions` and `typing.extensions` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(path: Path) -> list[str]:
    """A requirements file's requirement lines: continuations joined, comments and blank lines dropped."""
    out: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment between continuation lines ends nothing
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        out.append((pending + line).strip())
        pending = ""
    assert not pending, f"{path.name} ends in a continuation: {pending!r}"
    return out


def pins(path: Path) -> dict[str, tuple[str, str]]:
    """normalized name → (name as written, version)."""
    out: dict[str, tuple[str, str]] = {}
    for line in logical_lines(path):
        m = PIN.match(line)
        assert m, line
        key = normalize(m["name"])
        assert key not in out, f"{m['name']} is pinned twice in {path.name}"
        out[key] = (m["name"], m["version"])
    return out


def wheel_comments(path: Path) -> dict[str, str]:
    """normalized name → the wheel file named in the comment under its entry (`# torch-2.13.0-cp311-….whl`)."""
    out: dict[str, str] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        if m := PIN.match(raw):
            current = normalize(m["name"])
        elif current and (m := re.fullmatch(r"\s+#\s+(\S+\.whl)", raw)):
            out[current] = m[1]
    return out


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of images/Dockerfile, comments dropped and continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
            pending = ""
    return out


def build_stage() -> list[tuple[str, str]]:
    """The instructions of the first build stage, its FROM included."""
    stage: list[tuple[str, str]] = []
    for keyword, args in instructions():
        if keyword == "FROM" and stage:
            break
        if stage or keyword == "FROM":
            stage.append((keyword, args))
    return stage


def variant_branches() -> dict[str, list[list[str]]]:
    """The `case "${VARIANT}" in cpu) … ;; cuda) … ;; esac` of the dependency RUN: variant → its commands, each
    split into words (`&&` separates commands)."""
    (run,) = [a for k, a in build_stage() if k == "RUN" and "VARIANT" in a and "requirements.lock" in a]
    m = re.fullmatch(r'case "\$\{VARIANT\}" in (.*) esac', run)
    assert m, run
    branches: dict[str, list[list[str]]] = {}
    for branch in m[1].split(";;"):
        label, sep, body = branch.strip().partition(") ")
        if not sep:
            continue
        branches[label.strip()] = [shlex.split(cmd) for cmd in re.split(r"&&|;", body) if cmd.strip()]
    return branches


def header() -> str:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    return "\n".join(
        line for line in lines[: next(i for i, line in enumerate(lines) if line.startswith("ARG"))]
    )


# ---------------------------------------------------------------- the CUDA lock


def test_the_cuda_lock_pins_the_torch_of_requirements_lock() -> None:
    torch = pins(LOCK)["torch"][1]
    assert pins(CUDA_LOCK)["torch"][1] == torch
    # PyPI's torch, not a local build (`+cu128`, `+cpu`): the one the hashes belong to
    assert "+" not in pins(CUDA_LOCK)["torch"][1]


def test_every_cuda_lock_line_is_pinned_with_sha256_hashes() -> None:
    lines = logical_lines(CUDA_LOCK)
    assert lines
    bad = [line for line in lines if not HASHED_PIN.fullmatch(line)]
    assert not bad, bad
    # the CUDA libraries torch pulls are all there, at exact versions
    names = set(pins(CUDA_LOCK))
    assert {"triton", "cuda-toolkit", "nvidia-cudnn-cu13", "nvidia-nccl-cu13", "nvidia-cublas"} <= names, (
        names
    )
    assert sum(name.startswith("nvidia-") for name in names) >= 10


def test_the_cuda_lock_is_resolved_for_the_image_platform() -> None:
    """The hashes are those of one wheel per package: the image's CPython, Linux x86_64 (or pure Python)."""
    base = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)["PYTHON_IMAGE"]
    major, minor = re.match(r"python:(\d+)\.(\d+)\.", base).groups()
    cp = f"cp{major}{minor}"
    wheels = wheel_comments(CUDA_LOCK)
    assert set(wheels) == set(pins(CUDA_LOCK)), "every entry names the wheel its hash belongs to"
    for name, wheel in wheels.items():
        python_tag, abi, platform = wheel[: -len(".whl")].split("-")[-3:]
        assert python_tag in (cp, "py3", "py2.py3"), wheel
        assert abi in (cp, "abi3", "none"), wheel
        assert platform == "any" or all(p.endswith("x86_64") and "linux" in p for p in platform.split(".")), (
            wheel
        )
        assert normalize(wheel.split("-")[0]) == name, wheel
    assert base in CUDA_LOCK.read_text(encoding="utf-8"), "the lock names the image it was resolved for"


def test_the_cuda_version_the_dockerfile_states_is_the_locked_one() -> None:
    toolkit = pins(CUDA_LOCK)["cuda-toolkit"][1]
    cuda = ".".join(toolkit.split(".")[:2])
    stated = set(re.findall(r"CUDA (\d+\.\d+) build", header()))
    assert stated == {cuda}, (stated, toolkit)
    assert f"CUDA {cuda} (cuda-toolkit {toolkit})" in CUDA_LOCK.read_text(encoding="utf-8")
    torch = pins(LOCK)["torch"][1]
    assert f"torch {torch}" in header()


def test_packages_both_locks_pin_have_the_same_versions() -> None:
    cpu, cuda = pins(LOCK), pins(CUDA_LOCK)
    shared = (set(cpu) & set(cuda)) - {"torch"}
    assert {"filelock", "sympy", "networkx", "jinja2", "fsspec", "typing-extensions"} <= shared, shared
    differ = {name: (cpu[name][1], cuda[name][1]) for name in shared if cpu[name][1] != cuda[name][1]}
    assert set(differ) == set(DOCUMENTED_DIFFERENCES), {
        name: versions for name, versions in differ.items() if name not in DOCUMENTED_DIFFERENCES
    }
    assert all(reason.strip() for reason in DOCUMENTED_DIFFERENCES.values())


# ---------------------------------------------------------------- the Dockerfile


def test_the_dockerfile_cuda_path_installs_the_lock_hash_checked_before_requirements_lock() -> None:
    branches = variant_branches()
    assert set(branches) == {"cpu", "cuda", "*"}
    cuda = [cmd for cmd in branches["cuda"] if cmd[:2] == ["pip", "install"]]
    assert len(cuda) == 2, branches["cuda"]
    first, second = cuda
    assert first[-2:] == ["-r", "requirements-cuda.lock"]
    assert "--require-hashes" in first
    assert second[-2:] == ["-r", "requirements.lock"]
    # requirements.lock must not fetch another torch over the locked one
    assert not any(opt in second for opt in ("--extra-index-url", "--index-url", "-U", "--upgrade"))
    assert ["pip", "check"] in branches["cuda"]
    # the CPU variant is as before: requirements.lock with torch from the PyTorch CPU index
    (cpu,) = branches["cpu"]
    assert cpu == ["pip", "install", "--extra-index-url", "${TORCH_INDEX}", "-r", "requirements.lock"]
    assert "requirements-cuda.lock" not in " ".join(" ".join(cmd) for cmd in branches["cpu"])
    args = dict(a.split("=", 1) for k, a in build_stage() if k == "ARG" and "=" in a)
    assert args["VARIANT"] == "cpu"
    assert args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"


def test_the_cuda_lock_is_copied_into_the_build_before_it_is_installed() -> None:
    stage = build_stage()
    copies = [
        i for i, (k, a) in enumerate(stage) if k == "COPY" and "images/requirements-cuda.lock" in a.split()
    ]
    runs = [i for i, (k, a) in enumerate(stage) if k == "RUN" and "requirements-cuda.lock" in a]
    assert copies and runs and copies[0] < runs[0]
    ((_, copy),) = [stage[i] for i in copies]
    assert copy.split()[-1] in ("./", "/src/", ".")
    ignore = (IMAGES / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert "!images/requirements-cuda.lock" in ignore


def test_the_image_checks_its_torch_build_matches_the_variant() -> None:
    (run,) = [a for k, a in build_stage() if k == "RUN" and "--no-deps ." in a]
    assert "torch.version.cuda" in run and "VARIANT" in run


# ---------------------------------------------------------------- images/build.sh


def run_build(
    *args: str, env: dict[str, str] | None = None, path: str | None = None
) -> subprocess.CompletedProcess:
    base = {"PATH": path if path is not None else os.environ["PATH"]}
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, str(BUILD), *args], capture_output=True, text=True, env={**base, **(env or {})}, check=False
    )


def no_engine_path(tmp_path: Path) -> str:
    """A PATH with what build.sh needs (sed, dirname) and neither docker nor podman."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("sed", "dirname"):
        target = shutil.which(tool)
        assert target, tool
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(target)
    return str(bin_dir)


@pytest.mark.parametrize("tag", ["1.2.3", "0.1.0-rc1"])
def test_print_tags_prints_the_two_images_the_pipeline_pulls(tag: str, tmp_path: Path) -> None:
    done = run_build("--print-tags", tag, path=no_engine_path(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [kfp_pipeline.image(tag, "cpu"), kfp_pipeline.image(tag, "cuda")]
    assert done.stdout.splitlines() == [f"ghcr.io/lexdpr/lexdpr:{tag}", f"ghcr.io/lexdpr/lexdpr:{tag}-cuda"]


def test_print_tags_defaults_to_the_package_version_and_honours_image_repository(tmp_path: Path) -> None:
    path = no_engine_path(tmp_path)
    done = run_build("--print-tags", path=path)
    assert done.returncode == 0, done.stderr
    assert __version__ == kfp_pipeline.DEFAULT_IMAGE_TAG
    assert done.stdout.splitlines() == [kfp_pipeline.image(__version__, v) for v in ("cpu", "cuda")]
    done = run_build(
        "2.0", "--print-tags", env={"IMAGE_REPOSITORY": "registry.example.com/lexdpr"}, path=path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "registry.example.com/lexdpr:2.0",
        "registry.example.com/lexdpr:2.0-cuda",
    ]


def test_build_sh_rejects_unknown_options_and_two_tags(tmp_path: Path) -> None:
    path = no_engine_path(tmp_path)
    assert run_build("--print-tag", path=path).returncode == 2
    assert run_build("--print-tags", "1.0", "2.0", path=path).returncode == 2


def test_build_sh_builds_and_pushes_exactly_the_printed_tags(tmp_path: Path) -> None:
    """With a stand-in `docker` that logs its arguments: one build per variant, with the variant's build args."""
    path = no_engine_path(tmp_path)
    log = tmp_path / "docker.log"
    docker = Path(path) / "docker"
    docker.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(log))}\n', encoding="utf-8")
    docker.chmod(0o755)
    done = run_build("--push", "3.1", path=path)
    assert done.returncode == 0, done.stderr
    calls = [shlex.split(line) for line in log.read_text(encoding="utf-8").splitlines()]
    builds = [c for c in calls if c[0] == "build"]
    pushes = [c[1:] for c in calls if c[0] == "push"]
    printed = run_build("--print-tags", "3.1", path=path).stdout.splitlines()
    assert [c[c.index("-t") + 1] for c in builds] == printed
    assert pushes == [[name] for name in printed]
    cpu, cuda = builds
    assert cpu[-1] == cuda[-1] == "."
    assert "VARIANT=cpu" in cpu and "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in cpu
    assert (
        "VARIANT=cuda" in cuda
        and "--platform" in cuda
        and cuda[cuda.index("--platform") + 1] == "linux/amd64"
    )
    assert not any(arg.startswith("TORCH_INDEX=") for arg in cuda)


def test_print_tags_match_the_image_names_of_lexdpr_images(tmp_path: Path) -> None:
    """Where the package names its images in one place (lexdpr.images), build.sh builds exactly those."""
    images = pytest.importorskip("lexdpr.images")
    done = run_build("--print-tags", "4.5.6", path=no_engine_path(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        images.image_name("4.5.6"),
        images.image_name("4.5.6", cuda=True),
    ]
    done = run_build("--print-tags", path=no_engine_path(tmp_path))
    assert done.stdout.splitlines() == [images.image_name(), images.image_name(cuda=True)]
