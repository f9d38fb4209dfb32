"""Which precision trains and which encodes, per device and `trainer.precision`."""

from __future__ import annotations

import pytest
import torch

from lexdpr.training import runtime
from lexdpr.training.runtime import pick_runtime


@pytest.mark.parametrize(
    ("precision", "native", "inference"),
    [
        ("auto", True, torch.bfloat16),
        ("bf16", True, torch.bfloat16),
        ("fp32", True, None),
        ("fp16", True, None),
        ("auto", False, None),
        ("bf16", False, None),
    ],
)
def test_cpu_encodes_in_bf16_where_native_and_trains_in_it_only_when_asked(
    precision: str, native: bool, inference: torch.dtype | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    rt = pick_runtime(precision, "cpu", quiet=True)
    training = inference if precision == "bf16" else None  # auto trains in fp32 on a CPU
    assert rt.autocast_dtype is training and rt.inference_dtype is inference
    assert rt.precision_name == ("bf16" if training else "fp32") and not rt.uses_grad_scaler
    for autocast, dtype in ((rt.inference_autocast(), inference), (rt.autocast(), training)):
        with autocast():
            product = torch.ones(2, 2) @ torch.ones(2, 2)
        assert product.dtype == (dtype or torch.float32)


@pytest.mark.parametrize(
    ("precision", "native", "said"),
    [("fp16", True, "fp16 applies on GPU only"), ("bf16", False, "this CPU has no native bf16")],
)
def test_cpu_says_why_it_trains_in_fp32(
    precision: str,
    native: bool,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    assert pick_runtime(precision, "cpu").autocast_dtype is None
    assert f"{said}; training in fp32" in capsys.readouterr().err


def test_bf16_training_on_cpu_keeps_weights_and_gradients_in_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    rt = pick_runtime("bf16", "cpu", quiet=True)
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 4)
    with rt.autocast()():
        out = layer(torch.randn(3, 8))
    out.float().square().sum().backward()
    assert out.dtype == torch.bfloat16
    assert layer.weight.dtype == torch.float32 and layer.weight.grad is not None
    assert layer.weight.grad.dtype == torch.float32
