#!/usr/bin/env bash
# Build (and with --push, push) both variants of the stage image with docker or podman: `make images`.
#
#   images/build.sh [--push] [TAG]          TAG defaults to the package version (lexdpr/__init__.py)
#   IMAGE_REPOSITORY=registry.example.com/lexdpr images/build.sh --push
#
# The pipeline pulls ${IMAGE_REPOSITORY}:${TAG} for CPU stages and ${IMAGE_REPOSITORY}:${TAG}-cuda for
# training (pipeline parameter image_tag). Another repository needs `lex-dpr pipeline compile` after
# changing IMAGE_REPOSITORY in lexdpr/pipeline/kfp_pipeline.py.
set -euo pipefail

cd "$(dirname "$0")/.."
push=0
if [[ "${1:-}" == "--push" ]]; then push=1; shift; fi
tag="${1:-$(sed -n 's/^__version__ = "\(.*\)"/\1/p' lexdpr/__init__.py)}"
repository="${IMAGE_REPOSITORY:-ghcr.io/lexdpr/lexdpr}"

if command -v docker >/dev/null 2>&1; then
    engine=(docker build)
    export DOCKER_BUILDKIT=1   # reads images/Dockerfile.dockerignore
elif command -v podman >/dev/null 2>&1; then
    engine=(podman build --ignorefile images/Dockerfile.dockerignore)
else
    echo "images: neither docker nor podman is installed; nothing built" >&2
    exit 0
fi
runner="${engine[0]}"

declare -A torch_index=(
    [cpu]="https://download.pytorch.org/whl/cpu"
    [cuda]="https://download.pytorch.org/whl/cu128"
)
for variant in cpu cuda; do
    name="${repository}:${tag}"
    [[ "$variant" == cuda ]] && name="${name}-cuda"
    echo "images: building ${name} (${variant})"
    "${engine[@]}" -f images/Dockerfile --build-arg "TORCH_INDEX=${torch_index[$variant]}" -t "$name" .
    if (( push )); then
        "$runner" push "$name"
    fi
done
