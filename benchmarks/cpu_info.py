"""What CPU a benchmark ran on: its model and the vector/bf16 features that decide training and encoding speed.

Figures differ across machines (the dev machines vary; bf16 autocast only pays on native bf16), so every
speed benchmark prints this line with its figures.
"""

from __future__ import annotations

import platform
from pathlib import Path

FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_model_and_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """The `model name` and `flags` of the first CPU in /proc/cpuinfo (platform.processor() elsewhere)."""
    model, flags = "", set[str]()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and not model:
                model = value
            elif key == "flags" and not flags:
                flags = set(value.split())
    return model or platform.processor() or platform.machine(), flags


def describe_cpu() -> str:
    """`cpu: AMD EPYC 9R14 (2 logical cores) | avx2 yes, avx512f yes, avx512_bf16 yes, … | native bf16: yes`."""
    import os

    from lexdpr.training.runtime import cpu_has_native_bf16

    model, flags = cpu_model_and_flags()
    features = ", ".join(f"{name} {'yes' if name in flags else 'no'}" for name in FEATURES)
    native = "yes" if cpu_has_native_bf16() else "no"
    return f"cpu: {model} ({os.cpu_count()} logical cores) | {features} | native bf16 (torch): {native}"


if __name__ == "__main__":
    print(describe_cpu())
