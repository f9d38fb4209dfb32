"""The bi-encoder: one shared transformer for queries and passages, pooled and L2-normalised.

Queries and passages differ only in their prefix (e5: "query: " / "passage: ") and length limit, so one set of
weights serves both; with LoRA only the adapter trains. A saved bi-encoder folder (`bi_encoder.json` + adapter
or full weights + tokenizer) is everything `lex-dpr eval`, `encode` and `export_merged` need.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from lexdpr.errors import ConfigError, InputError
from lexdpr.training.peft_targets import lora_target_modules
from lexdpr.training.tokenized import TokenizedTexts, iter_padded, tokenize

Kind = Literal["query", "passage"]
ENCODER_FILE = "bi_encoder.json"
ENCODER_FORMAT = 1


@dataclass(frozen=True)
class EncoderSettings:
    """How texts become vectors; saved with every checkpoint so it loads without the training config."""

    base_model: str  # the alias or path the user configured
    base_model_path: str  # the local folder it resolved to
    pooling: str  # "mean" | "cls"
    query_prefix: str
    passage_prefix: str
    max_len: int
    query_max_len: int

    def prefix(self, kind: Kind) -> str:
        return self.query_prefix if kind == "query" else self.passage_prefix

    def limit(self, kind: Kind) -> int:
        return self.query_max_len if kind == "query" else self.max_len


@dataclass(frozen=True)
class LoraSettings:
    """The peft settings a BiEncoder is built with (mirrors `config.PeftConfig`)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str | list[str] = "auto"
    layers: int | None = None  # only the last N encoder blocks; None = all


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Mean over real tokens or the first ([CLS]/<s>) token, then L2 normalisation (in fp32)."""
    hidden = hidden.float()
    if pooling == "cls":
        pooled = hidden[:, 0]
    elif pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    else:
        raise ConfigError(f"unknown pooling {pooling!r} (expected 'mean' or 'cls')")
    return F.normalize(pooled, p=2, dim=-1)


class BiEncoder(torch.nn.Module):
    """A transformer (optionally wrapped by a peft LoRA model) + tokenizer + pooling/prefix settings."""

    def __init__(self, backbone: torch.nn.Module, tokenizer, settings: EncoderSettings, lora: bool):
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.settings = settings
        self.lora = lora
        if tokenizer.pad_token_id is None:
            raise InputError(settings.base_model_path, "the tokenizer has no padding token")
        self.pad_id = int(tokenizer.pad_token_id)

    # --- building and loading ----------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        settings: EncoderSettings,
        lora: LoraSettings | None,
        seed: int = 0,
        dropout: float | None = None,
    ) -> BiEncoder:
        """A trainable bi-encoder on top of the base model; `lora=None` means full fine-tuning.

        `dropout` replaces the base model's own dropout rates (hidden and attention) for training;
        None keeps them. Inference is unaffected: eval mode never drops.
        """
        from transformers import AutoTokenizer

        backbone = _load_transformer(settings.base_model_path)
        if dropout is not None:
            _set_dropout(backbone, dropout)
        tokenizer = AutoTokenizer.from_pretrained(settings.base_model_path)
        if lora is not None:
            backbone = _wrap_lora(backbone, lora, seed)
        return cls(backbone, tokenizer, settings, lora=lora is not None)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], base_model_path: str | None = None) -> BiEncoder:
        """Load a folder written by `save` (a checkpoint or a final model)."""
        from transformers import AutoTokenizer

        folder = Path(folder)
        info = read_settings(folder)
        settings: EncoderSettings = info["settings"]
        if base_model_path:
            settings = replace(settings, base_model_path=base_model_path)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if info["lora"]:
            from peft import PeftModel

            base = _load_transformer(_existing_base(settings))
            with _quiet_peft():
                backbone = PeftModel.from_pretrained(base, folder, is_trainable=False)
        else:
            backbone = _load_transformer(str(folder))
        return cls(backbone, tokenizer, settings, lora=info["lora"])

    def load_trainable_state(self, folder: str | os.PathLike[str]) -> None:
        """Copy the trained weights of a saved folder into this (freshly built) model, for resuming."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if self.lora:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.backbone, load_file(folder / "adapter_model.safetensors"))
        else:
            state = load_file(folder / "model.safetensors")
            _, unexpected = self.backbone.load_state_dict(state, strict=False)
            if unexpected:
                raise InputError(str(folder), f"weights do not fit the model: {unexpected[:3]}")

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write adapter (LoRA) or full weights, the tokenizer and `bi_encoder.json` into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        payload = {"format": ENCODER_FORMAT, "lora": self.lora, **asdict(self.settings)}
        (folder / ENCODER_FILE).write_text(
            json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8"
        )

    # --- encoding ------------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    @property
    def dimension(self) -> int:
        return int(self.transformer_config().hidden_size)

    def transformer_config(self):
        return self.backbone.config

    def tokenize(self, texts: Sequence[str], kind: Kind, workers: int = 0) -> TokenizedTexts:
        """Prefix and tokenize texts with the length limit of their kind."""
        prefix = self.settings.prefix(kind)
        prefixed = [prefix + t for t in texts] if prefix else list(texts)
        return tokenize(self.tokenizer, prefixed, self.settings.limit(kind), workers)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Embeddings [batch, dim], unit length; `inputs_embeds` replaces the word-embedding lookup."""
        device = self.device
        attention_mask = attention_mask.to(device)
        if inputs_embeds is not None:
            out = self.backbone(inputs_embeds=inputs_embeds, attention_mask=attention_mask)
        else:
            out = self.backbone(input_ids=input_ids.to(device), attention_mask=attention_mask)
        return pool(out.last_hidden_state, attention_mask, self.settings.pooling)

    def embed_tokenized(
        self,
        texts: TokenizedTexts,
        positions: Sequence[int] | np.ndarray | None = None,
        max_texts: int = 64,
        max_tokens: int = 16384,
    ) -> torch.Tensor:
        """Embed `texts[positions]` (all by default) in length buckets; returns rows in `positions` order.

        Runs with autograd as the caller's mode says: wrap it in `torch.no_grad()` for inference.
        """
        positions = np.arange(len(texts)) if positions is None else np.asarray(positions)
        parts: list[torch.Tensor] = []
        order: list[np.ndarray] = []
        buckets = list(iter_padded(texts, positions, self.pad_id, max_texts, max_tokens))
        word_vectors = self._shared_word_vectors(buckets)
        for n, (bucket, ids, mask) in enumerate(buckets):
            parts.append(self(ids, mask, word_vectors[n] if word_vectors else None))
            order.append(bucket)
        if not parts:
            return torch.zeros(0, self.dimension, device=self.device)
        stacked = torch.cat(parts)
        inverse = torch.empty(len(positions), dtype=torch.long)
        inverse[torch.from_numpy(np.concatenate(order))] = torch.arange(len(positions))
        return stacked[inverse.to(stacked.device)]

    def _shared_word_vectors(self, buckets: list) -> list[torch.Tensor] | None:
        """When the word embeddings train, look all buckets' tokens up in one call.

        Why: the gradient of an embedding lookup is a dense [vocab, dim] tensor (250k × 384 for e5), and
        autograd would build and add one per bucket; one lookup for all buckets builds it once. This is what
        keeps full fine-tuning with length buckets cheaper than one padded batch.
        """
        embeddings = self.backbone.get_input_embeddings()
        if len(buckets) < 2 or not torch.is_grad_enabled() or not embeddings.weight.requires_grad:
            return None
        flat = torch.cat([ids.reshape(-1) for _, ids, _ in buckets]).to(self.device)
        vectors = embeddings(flat)
        out, start = [], 0
        for _, ids, _ in buckets:
            out.append(vectors[start : start + ids.numel()].view(*ids.shape, -1))
            start += ids.numel()
        return out

    @contextlib.contextmanager
    def inference_weights(self, dtype: torch.dtype | None) -> Iterator[None]:
        """While encoding without gradients: LoRA merged into its base weights, frozen linears in `dtype`.

        Why: at inference nothing changes between calls, yet a LoRA layer runs two extra small matmuls and
        autocast re-casts every weight to bf16 in every bucketed call (a corpus is ~1,000 calls). Here
        each linear's effective weight (W + scale·B·A) is built once, cast once, and the adapter
        branches are switched off; the original tensors are put back afterwards, untouched (training
        resumes from exactly the weights it had). `dtype` None keeps fp32 and only merges.
        """
        from peft.tuners.lora import LoraLayer

        adapters = [m for m in self.backbone.modules() if isinstance(m, LoraLayer)] if self.lora else []
        branches = {id(b) for m in adapters for d in (m.lora_A, m.lora_B) for b in d.values()}
        merged = {id(m.base_layer): m for m in adapters}
        kept: list[tuple[torch.nn.Linear, torch.Tensor, torch.Tensor | None]] = []
        with torch.no_grad():
            for module in self.backbone.modules():
                if not isinstance(module, torch.nn.Linear) or id(module) in branches:
                    continue
                if id(module) not in merged and dtype is None:
                    continue
                weight = module.weight.data
                adapter = merged.get(id(module))
                if adapter is not None:
                    for name in adapter.active_adapters:
                        weight = weight + adapter.get_delta_weight(name).to(weight.dtype)
                kept.append(
                    (module, module.weight.data, module.bias.data if module.bias is not None else None)
                )
                module.weight.data = weight.to(dtype) if dtype is not None else weight
                if module.bias is not None and dtype is not None:
                    module.bias.data = module.bias.data.to(dtype)
        try:
            with self.backbone.disable_adapter() if adapters else contextlib.nullcontext():
                yield
        finally:
            for module, weight, bias in kept:
                module.weight.data = weight
                if bias is not None:
                    module.bias.data = bias

    @torch.no_grad()
    def encode(
        self, texts: Sequence[str], kind: Kind, max_texts: int = 64, max_tokens: int = 16384
    ) -> torch.Tensor:
        """Embed raw texts for inference (eval mode is the caller's job)."""
        return self.embed_tokenized(self.tokenize(texts, kind), max_texts=max_texts, max_tokens=max_tokens)


# --- helpers -------------------------------------------------------------------------------------------


def read_settings(folder: Path) -> dict:
    path = folder / ENCODER_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(folder), f"not a lexdpr bi-encoder folder (no {ENCODER_FILE})") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"not valid JSON ({exc.msg})") from None
    fields = EncoderSettings.__dataclass_fields__
    return {"lora": bool(data.get("lora")), "settings": EncoderSettings(**{k: data[k] for k in fields})}


def _existing_base(settings: EncoderSettings) -> str:
    """The base model folder of a LoRA checkpoint: the recorded path, or the alias resolved again."""
    if Path(settings.base_model_path).is_dir():
        return settings.base_model_path
    from lexdpr.training.base_models import resolve_base_model

    return str(resolve_base_model(settings.base_model, None).path)


def _load_transformer(path: str) -> torch.nn.Module:
    """The bare encoder (no task head) from a local folder, safetensors only, no remote code."""
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(path, use_safetensors=True, trust_remote_code=False)
    except OSError as exc:
        raise InputError(path, f"cannot load a transformer model here ({exc})") from None


def _set_dropout(backbone: torch.nn.Module, rate: float) -> None:
    """Every dropout layer of the base model drops at `rate` (0: no random mask is drawn at all).

    Why a module walk: transformers reads attention dropout from the module at call time
    (`self.dropout.p`), so this covers hidden and attention dropout alike, and the saved config keeps
    the model's own rates for whoever fine-tunes the result later.
    """
    for module in backbone.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = rate


def _wrap_lora(backbone: torch.nn.Module, lora: LoraSettings, seed: int) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora_target_modules(backbone, lora.target_modules, lora.layers),
        bias="none",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the adapter's initial weights depend on the seed only
        try:
            with _quiet_peft():
                return get_peft_model(backbone, config)
        except ValueError as exc:
            raise ConfigError(f"model.peft.target_modules does not fit this model: {exc}") from None


@contextlib.contextmanager
def _quiet_peft():
    """peft 0.21 calls a transformers method that transformers 5 deprecated; the warning is not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
