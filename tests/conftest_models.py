"""A tiny Korean BERT built inside the test suite, so tests need no download and run in seconds.

The model is a 2-layer BERT (hidden 48) with a WordPiece vocabulary of the Korean sentences below. It is
random, but it is a real `BertModel` + fast tokenizer folder, so every code path (peft target detection,
pooling, saving, SentenceTransformer loading) runs as with a real base model.

The vocabulary is written out, not trained: the `tokenizers` WordPiece trainer breaks ties between equally
frequent pieces in the order of a Rust hash map, whose seed differs per process, so every test process got
other token ids, hence another model, and trainings whose outcome is a close call (a collapse plateau, a best
evaluation 0.0006 above the base model) went one way here and the other way in CI.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

KOREAN_SENTENCES = [
    "불법행위로 인한 손해배상 청구권은 피해자가 그 손해 및 가해자를 안 날부터 3년간 행사하지 아니하면 소멸한다.",
    "고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 배상할 책임이 있다.",
    "임대차는 당사자 일방이 상대방에게 목적물을 사용, 수익하게 할 것을 약정하고 상대방이 차임을 지급할 것을 약정함으로써 효력이 생긴다.",
    "근로자를 해고하려면 정당한 이유가 있어야 하며 해고 사유와 시기를 서면으로 통지하여야 한다.",
    "행정청의 처분에 대하여 이의가 있는 자는 처분이 있음을 안 날부터 90일 이내에 행정심판을 청구할 수 있다.",
    "형법상 사기죄는 사람을 기망하여 재물의 교부를 받거나 재산상의 이익을 취득한 때에 성립한다.",
    "상속인은 상속개시 있음을 안 날로부터 3월내에 단순승인이나 한정승인 또는 포기를 할 수 있다.",
    "부동산에 관한 물권의 득실변경은 등기하여야 그 효력이 생긴다.",
    "채무자가 채무의 내용에 좇은 이행을 하지 아니한 때에는 채권자는 손해배상을 청구할 수 있다.",
    "주택임대차보호법은 주거용 건물의 임대차에 관하여 민법에 대한 특례를 규정한다.",
    "조세의 부과처분이 위법하다는 이유로 취소소송을 제기할 수 있다.",
    "개인정보처리자는 정보주체의 동의를 받은 경우 개인정보를 수집할 수 있다.",
    "계약의 해제는 상대방에 대한 의사표시로 한다.",
    "소멸시효는 권리를 행사할 수 있는 때로부터 진행한다.",
    "법인의 대표자가 그 직무에 관하여 타인에게 가한 손해는 법인이 배상할 책임이 있다.",
    "판결요지 원심판결을 파기하고 사건을 원심법원에 환송한다.",
]

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_vocabulary(pre_tokenizer: Any) -> dict[str, int]:
    """Special tokens, every word of KOREAN_SENTENCES, and every character alone and as a `##` suffix
    (so any text made of those characters tokenizes), in sorted order: the same ids in every process."""
    words = {w for s in KOREAN_SENTENCES for w, _ in pre_tokenizer.pre_tokenize_str(s)}
    chars = {c for s in KOREAN_SENTENCES for c in s if not c.isspace()} | set(
        string.ascii_letters + string.digits
    )
    pieces = sorted(words | chars | {f"##{c}" for c in chars})
    return {token: i for i, token in enumerate([*SPECIAL_TOKENS, *pieces])}


def build_tiny_bert(folder: Path, hidden: int = 48, layers: int = 2, seed: int = 0) -> Path:
    """Write a tiny BERT model + WordPiece tokenizer into `folder` and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok = Tokenizer(models.WordPiece(tiny_vocabulary(pre_tokenizer), unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=hidden * 2,
        max_position_embeddings=512,
        pad_token_id=tok.token_to_id("[PAD]"),
    )
    BertModel(config).save_pretrained(folder)
    return folder


def make_dataset(
    folder: Path, n_queries: int = 24, n_extra_passages: int = 16, seed: int = 0
) -> dict[str, Path]:
    """Write small train/valid pairs and a corpus whose queries share words with their positives.

    Each query paraphrases one or two sentences; its positives are those sentences' passages, its hard
    negatives other passages of the same law. The tiny model can learn this in a few steps.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    corpus: list[dict[str, Any]] = []
    for i, text in enumerate(KOREAN_SENTENCES):
        law = ["민법", "근로기준법", "행정심판법", "형법"][i % 4]
        corpus.append(
            {
                "id": f"LAW_{i % 4}_제{i + 1}조",
                "parent_id": str(i % 4),
                "type": "law",
                "text": text,
                "law_name": law,
                "article": f"제{i + 1}조",
            }
        )
    for j in range(n_extra_passages):
        words = " ".join(rng.sample(" ".join(KOREAN_SENTENCES).split(), 8))
        corpus.append(
            {
                "id": f"ADM_{j}_제1조",
                "parent_id": str(j),
                "type": "admin",
                "text": words,
                "law_name": "규칙",
                "article": "제1조",
            }
        )
    ids = [p["id"] for p in corpus]

    def pairs(start: int, count: int) -> list[dict[str, Any]]:
        out = []
        for q in range(start, start + count):
            pos = q % len(KOREAN_SENTENCES)
            words = KOREAN_SENTENCES[pos].split()
            query = " ".join(rng.sample(words, max(3, len(words) // 2))) + f" 제{pos + 1}조"
            negatives = [i for i in ids if i != ids[pos]]
            out.append(
                {
                    "query_id": f"Q{q}",
                    "query_text": query,
                    "positive_passages": [ids[pos]],
                    "hard_negatives": rng.sample(negatives, 4),
                    "meta": {
                        "type": "prec",
                        "precedent_id": str(q),
                        "issue": 1,
                        "summary": KOREAN_SENTENCES[pos],
                    },
                }
            )
        return out

    paths = {
        "corpus": folder / "corpus.jsonl",
        "train": folder / "train.jsonl",
        "valid": folder / "valid.jsonl",
    }
    for name, rows in (("corpus", corpus), ("train", pairs(0, n_queries)), ("valid", pairs(1000, 12))):
        paths[name].write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return paths
