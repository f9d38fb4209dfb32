"""Device, mixed precision and bucket sizes: the few things that differ between a CPU and a GPU run.

On a CPU with native bf16 instructions (AVX512-BF16 or AMX) a bf16 matmul does twice the work of an fp32 one
per instruction. Encoding without gradients (evaluation, `lex-dpr eval`, `lex-dpr encode`) autocasts to bf16
there when `precision` is `auto` or `bf16`: corpus encoding was 2.6x faster on the 2-core AMD EPYC (Zen 4) we
develop on, every embedding within cosine 0.99998 of the fp32 one. Training autocasts to bf16 on such a CPU
only with `trainer.precision=bf16`: a bare full-fine-tuning step took 1.7x less CPU time there, but LoRA
training in the trainer was 0.95x of fp32 (frozen weights are re-cast in every bucketed call;
docs/training.md), so `auto` trains in fp32 on CPUs. Autocast keeps weights, gradients, the
optimizer state and the loss in fp32 (only matmul inputs are rounded). CPUs without native bf16 emulate it
and are slower than in fp32, so they encode and train in fp32 (an explicit `bf16` says so). fp16 is never
used on a CPU. `precision="fp32"` is fp32 everywhere.
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
    autocast_dtype: torch.dtype | None  # while training; None = fp32
    bucketing: Bucketing  # forward-call sizes while training
    inference_bucketing: Bucketing  # forward-call sizes while encoding without gradients
    inference_dtype: torch.dtype | None = None  # while encoding without gradients; None = fp32

    @property
    def uses_grad_scaler(self) -> bool:
        return self.autocast_dtype == torch.float16

    def autocast(self) -> Callable[[], contextlib.AbstractContextManager]:
        """The autocast context of training steps."""
        return _autocast(self.device, self.autocast_dtype)

    def inference_autocast(self) -> Callable[[], contextlib.AbstractContextManager]:
        """The autocast context of encoding without gradients."""
        return _autocast(self.device, self.inference_dtype)

    @property
    def precision_name(self) -> str:
        return _DTYPE_NAMES[self.autocast_dtype]

    @property
    def inference_precision_name(self) -> str:
        return _DTYPE_NAMES[self.inference_dtype]


_DTYPE_NAMES = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def _autocast(
    device: torch.device, dtype: torch.dtype | None
) -> Callable[[], contextlib.AbstractContextManager]:
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX tiles), not by emulation."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, so probe them with care
    for name in probes:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:
            continue
    return False


# CPU: small buckets waste little on padding and cost little per call (16 texts encoded 16% faster than 64
# on 2 cores, fp32 and bf16 alike). GPU: larger calls keep it busy.
CPU_BUCKETING = Bucketing(max_texts=32, max_tokens=512)
CPU_INFERENCE_BUCKETING = Bucketing(max_texts=16, max_tokens=4096)
GPU_BUCKETING = Bucketing(max_texts=256, max_tokens=65536)
GPU_INFERENCE_BUCKETING = Bucketing(max_texts=512, max_tokens=131072)


def pick_runtime(precision: str, device: str | None = None, quiet: bool = False) -> Runtime:
    """The device (CUDA when present) and autocast dtype for `trainer.precision`."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type != "cuda":
        native = cpu_has_native_bf16()
        inference = torch.bfloat16 if precision in ("auto", "bf16") and native else None
        # training: bf16 only when asked for; with LoRA it was no faster than fp32 (docs/training.md)
        training = torch.bfloat16 if precision == "bf16" and native else None
        if precision in ("bf16", "fp16") and training is None and not quiet:
            why = "this CPU has no native bf16" if precision == "bf16" else "fp16 applies on GPU only"
            print(f"note: trainer.precision={precision}: {why}; training in fp32", file=sys.stderr)
        return Runtime(dev, training, CPU_BUCKETING, CPU_INFERENCE_BUCKETING, inference)
    dtype: torch.dtype | None
    if precision == "auto":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return Runtime(dev, dtype, GPU_BUCKETING, GPU_INFERENCE_BUCKETING, dtype)
