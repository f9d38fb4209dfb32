"""The container images of lexdpr, named in one place (images/build.sh builds exactly these two).

`<repository>:<tag>` carries CPU torch; `<repository>:<tag>-cuda` carries CUDA torch and its NVIDIA libraries
(images/requirements-cuda.lock). Whatever requests a GPU — a Katib trial, the pipeline's training stage — runs
the `-cuda` variant; the CPU variant is for the data stages, the window agent and CPU-only trials.
"""

from __future__ import annotations

from lexdpr import __version__

IMAGE_REPOSITORY = "ghcr.io/lexdpr/lexdpr"
DEFAULT_TAG = __version__
CUDA_SUFFIX = "-cuda"


def image_name(tag: str = DEFAULT_TAG, *, cuda: bool = False, repository: str = IMAGE_REPOSITORY) -> str:
    """`repository:tag`, with `-cuda` appended to the tag for the GPU variant."""
    return f"{repository}:{tag}{CUDA_SUFFIX if cuda else ''}"
