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
def test_cpu_trains_in_fp32_and_encodes_in_bf16_only_where_native(
    precision: str, native: bool, inference: torch.dtype | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    rt = pick_runtime(precision, "cpu", quiet=True)
    assert rt.autocast_dtype is None and rt.precision_name == "fp32"
    assert rt.inference_dtype is inference
    with rt.inference_autocast()():
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == (inference or torch.float32)
    with rt.autocast()():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_cpu_fp16_request_says_it_trains_in_fp32(capsys: pytest.CaptureFixture[str]) -> None:
    pick_runtime("fp16", "cpu")
    assert "training in fp32 on CPU" in capsys.readouterr().err
