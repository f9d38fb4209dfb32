#!/usr/bin/env bash
# Build (and with --push, push) both variants of the stage image with docker or podman: `make images`.
#
#   images/build.sh [--push] [TAG]          TAG defaults to the package version (lexdpr/__init__.py)
#   images/build.sh --print-tags [TAG]      print the image names it would build, one a line; needs no engine
#   IMAGE_REPOSITORY=registry.example.com/lexdpr images/build.sh --push
#
# The pipeline pulls ${IMAGE_REPOSITORY}:${TAG} for CPU stages and ${IMAGE_REPOSITORY}:${TAG}-cuda for
# training and the Katib trials (lexdpr.images.image_name), fixed when it is compiled: another tag or
# repository needs `lex-dpr pipeline compile --image-tag TAG --image-repository REPO`.
#
# The CPU variant takes torch from the PyTorch CPU index (TORCH_INDEX); the CUDA variant installs
# images/requirements-cuda.lock (torch and its CUDA libraries from PyPI, hash-checked) and is built for
# linux/amd64, the platform that lock is resolved for. See the header of images/Dockerfile.
set -euo pipefail

cd "$(dirname "$0")/.."
push=0
print_tags=0
tag=""
while (($#)); do
    case "$1" in
        --push) push=1 ;;
        --print-tags) print_tags=1 ;;
        -h | --help)
            sed -n '2,6s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        -*)
            echo "images: unknown option $1 (--push, --print-tags, TAG)" >&2
            exit 2
            ;;
        *)
            if [[ -n "$tag" ]]; then
                echo "images: one TAG only ($tag, $1)" >&2
                exit 2
            fi
            tag="$1"
            ;;
    esac
    shift
done
tag="${tag:-$(sed -n 's/^__version__ = "\(.*\)"/\1/p' lexdpr/__init__.py)}"
repository="${IMAGE_REPOSITORY:-ghcr.io/lexdpr/lexdpr}"
if [[ -z "$tag" ]]; then
    echo "images: no TAG given and no __version__ in lexdpr/__init__.py" >&2
    exit 2
fi

variants=(cpu cuda)
declare -A names=()
for variant in "${variants[@]}"; do
    name="${repository}:${tag}"
    [[ "$variant" == cuda ]] && name="${name}-cuda"
    names[$variant]="$name"
done

if ((print_tags)); then
    for variant in "${variants[@]}"; do echo "${names[$variant]}"; done
    exit 0
fi

if command -v docker >/dev/null 2>&1; then
    engine=(docker build)
    export DOCKER_BUILDKIT=1 # reads images/Dockerfile.dockerignore
elif command -v podman >/dev/null 2>&1; then
    engine=(podman build --ignorefile images/Dockerfile.dockerignore)
else
    echo "images: neither docker nor podman is installed; nothing built" >&2
    exit 0
fi
runner="${engine[0]}"

for variant in "${variants[@]}"; do
    case "$variant" in
        cpu) build_args=(--build-arg VARIANT=cpu --build-arg "TORCH_INDEX=https://download.pytorch.org/whl/cpu") ;;
        cuda) build_args=(--platform linux/amd64 --build-arg VARIANT=cuda) ;;
    esac
    name="${names[$variant]}"
    echo "images: building ${name} (${variant})"
    "${engine[@]}" -f images/Dockerfile "${build_args[@]}" -t "$name" .
    if ((push)); then
        "$runner" push "$name"
    fi
done
