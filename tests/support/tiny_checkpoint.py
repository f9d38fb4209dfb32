"""A saved LoRA checkpoint of the tiny test BERT, for tests of what reads trained models (eval, export)."""

from __future__ import annotations

from pathlib import Path


def save_tiny_checkpoint(base_model: Path, folder: Path, seed: int = 0) -> Path:
    """Write a bi-encoder checkpoint of `base_model` (built by `build_tiny_bert`) with non-zero LoRA weights.

    LoRA's B matrices start at zero, which would make the checkpoint score exactly like its base model; they
    are drawn at random instead, so a test can tell the two apart.
    """
    import torch

    from lexdpr.training.bi_encoder import BiEncoder, EncoderSettings, LoraSettings

    settings = EncoderSettings("tiny", str(base_model), "mean", "손해 ", "계약 ", 64, 32)
    encoder = BiEncoder.build(settings, LoraSettings(), seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    encoder.save(folder)
    return folder
