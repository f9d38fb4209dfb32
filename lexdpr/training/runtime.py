"""Device, mixed precision and bucket sizes: the few things that differ between a CPU and a GPU run.

Autocast is used on GPU only: on CPU, bf16 matmuls are slower than fp32 on most machines and fp16 is not
supported well, so `trainer.precision` other than fp32 falls back to fp32 there (with a note on stderr).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lexdpr.training.grad_cache import Bucketing


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None = fp32
    bucketing: Bucketing  # forward-call sizes while training
    inference_bucketing: Bucketing  # forward-call sizes while encoding without gradients

    @property
    def uses_grad_scaler(self) -> bool:
        return self.autocast_dtype == torch.float16

    def autocast(self) -> Callable[[], contextlib.AbstractContextManager]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext
        dtype, device_type = self.autocast_dtype, self.device.type
        return lambda: torch.autocast(device_type=device_type, dtype=dtype)

    @property
    def precision_name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.autocast_dtype]


# CPU: small buckets waste little on padding and cost little per call. GPU: larger calls keep it busy.
CPU_BUCKETING = Bucketing(max_texts=32, max_tokens=512)
CPU_INFERENCE_BUCKETING = Bucketing(max_texts=64, max_tokens=8192)
GPU_BUCKETING = Bucketing(max_texts=256, max_tokens=65536)
GPU_INFERENCE_BUCKETING = Bucketing(max_texts=512, max_tokens=131072)


def pick_runtime(precision: str, device: str | None = None, quiet: bool = False) -> Runtime:
    """The device (CUDA when present) and autocast dtype for `trainer.precision`."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type != "cuda":
        if precision in ("bf16", "fp16") and not quiet:
            print(
                f"note: trainer.precision={precision} applies on GPU only; training in fp32 on CPU",
                file=sys.stderr,
            )
        return Runtime(dev, None, CPU_BUCKETING, CPU_INFERENCE_BUCKETING)
    dtype: torch.dtype | None
    if precision == "auto":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return Runtime(dev, dtype, GPU_BUCKETING, GPU_INFERENCE_BUCKETING)
