"""Resolve the law names that precedents cite to the 법령ID of our law files (docs/lawgo-quirks.md, items 14–15).

A citation is only a training label if its law can be found among the laws we turned into passages. Courts
write a law's name in several ways: with or without spaces (`특정경제범죄가중처벌등에관한법률` in older
decisions), with `·` or `ㆍ`, quoted, prefixed with `구 ` and followed by a version note, by its short name
(`공정거래법`), by an old name (`상호신용금고법`), or as `헌법` for 대한민국헌법. `LawNameIndex` folds all of
these onto one key; the few names that no normalisation can reach are listed in `LAW_NAME_ALIASES` — a small,
documented table of data, not code.

`restore_spaces` repairs the other side of the same problem: law.go.kr drops the space in front of a
hyperlinked statute name in 판시사항 (`없는 한민법 제368조`), which glues the name to the previous word and
hides it from both a tokenizer and a retriever.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "COMMON_STATUTE_NAMES",
    "LAW_NAME_ALIASES",
    "LawNameIndex",
    "normalize_law_name",
    "restore_spaces",
]

# alias → the official name (법령명_한글) it stands for. An alias only resolves when that law is in the index.
# Entries are the short forms precedents define with `(이하 ‘…’이라 한다)` in the LexDPR 판시사항/판결요지
# (counts seen in the 2,400 files in brackets), widely used short forms of the same laws, and former names of
# the same law (a rename, not a successor law: 증권거래법 is *not* 자본시장법, so it is not here).
# Short names the law files carry themselves (법령명약칭: 공정거래법, 자본시장법, 채무자회생법, 정보통신망법,
# 대부업법, 하도급법, 금융실명법, 남녀고용평등법, 특정금융정보법, …) are read from the data, not listed here.
LAW_NAME_ALIASES: Mapping[str, str] = {
    # The constitution is always cited as 헌법.
    "헌법": "대한민국헌법",
    # Short forms.
    "노동조합법": "노동조합 및 노동관계조정법",  # [18]
    "노조법": "노동조합 및 노동관계조정법",
    "집합건물법": "집합건물의 소유 및 관리에 관한 법률",  # [11]
    "특정범죄가중법": "특정범죄 가중처벌 등에 관한 법률",  # [3]
    "특가법": "특정범죄 가중처벌 등에 관한 법률",  # [1]
    "특정경제범죄법": "특정경제범죄 가중처벌 등에 관한 법률",  # [2]
    "특경법": "특정경제범죄 가중처벌 등에 관한 법률",
    "특경가법": "특정경제범죄 가중처벌 등에 관한 법률",
    "성폭력처벌법": "성폭력범죄의 처벌 등에 관한 특례법",  # [3]
    "성폭법": "성폭력범죄의 처벌 등에 관한 특례법",
    "소송촉진법": "소송촉진 등에 관한 특례법",  # [4]
    "약관법": "약관의 규제에 관한 법률",  # [2]
    "약관규제법": "약관의 규제에 관한 법률",
    "상가임대차법": "상가건물 임대차보호법",  # [4]
    "상가건물임대차법": "상가건물 임대차보호법",
    "부동산실명법": "부동산 실권리자명의 등기에 관한 법률",  # [1]
    "주택임대차법": "주택임대차보호법",
    "교통사고처리법": "교통사고처리 특례법",
    "금산법": "금융산업의 구조개선에 관한 법률",
    "금융회사지배구조법": "금융회사의 지배구조에 관한 법률",
    "독점규제법": "독점규제 및 공정거래에 관한 법률",
    "회생파산법": "채무자 회생 및 파산에 관한 법률",
    # Former names of the same law.
    "상호신용금고법": "상호저축은행법",  # renamed 2001
    "전자거래기본법": "전자문서 및 전자거래 기본법",  # renamed 2012
    "정보통신망 이용촉진 등에 관한 법률": "정보통신망 이용촉진 및 정보보호 등에 관한 법률",  # renamed 2001
    "대부업의 등록 및 금융이용자 보호에 관한 법률": "대부업 등의 등록 및 금융이용자 보호에 관한 법률",  # 2009
    "남녀고용평등법": "남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률",  # the official name until 2007
}

# Statute names that `restore_spaces` knows without an index: the laws precedents cite most, plus longer
# names that *end* in one of them (`국가배상법` ends in `상법`, `한국은행법` in `은행법`, `군형법` in
# `형법`), so that the longest name wins and `국가배상법 제5조` is not split into `국가배 상법`.
COMMON_STATUTE_NAMES: tuple[str, ...] = (
    "민법", "형법", "상법", "헌법", "민사소송법", "형사소송법", "민사집행법", "행정소송법", "근로기준법",
    "특허법", "상표법", "저작권법", "도로교통법", "신탁법", "부동산등기법", "헌법재판소법", "가사소송법",
    "국가배상법", "주택임대차보호법", "상가건물 임대차보호법", "은행법", "행정절차법", "행정심판법",
    "채무자 회생 및 파산에 관한 법률", "독점규제 및 공정거래에 관한 법률", "노동조합 및 노동관계조정법",
    "집합건물의 소유 및 관리에 관한 법률", "자본시장과 금융투자업에 관한 법률", "약관의 규제에 관한 법률",
    "특정경제범죄 가중처벌 등에 관한 법률", "특정범죄 가중처벌 등에 관한 법률", "소송촉진 등에 관한 특례법",
    "성폭력범죄의 처벌 등에 관한 특례법", "부동산 실권리자명의 등기에 관한 법률", "개인정보 보호법",
    "정보통신망 이용촉진 및 정보보호 등에 관한 법률", "하도급거래 공정화에 관한 법률",
    # Longer names ending in a name above: guards for the longest match, not laws we expect to see often.
    "군형법", "한국은행법", "한국산업은행법", "중소기업은행법", "한국수출입은행법", "담보부사채신탁법",
    "난민법", "군사법원법", "농업협동조합법", "수산업협동조합법",
)  # fmt: skip

_COMMON_NAMES = frozenset(COMMON_STATUTE_NAMES)
_QUOTES = "‘’“”「」『』《》〈〉'\""
_DOTS = str.maketrans({"·": "ㆍ", "・": "ㆍ", "‧": "ㆍ", "∙": "ㆍ", "•": "ㆍ", "．": "ㆍ"})
_TRAILING_PAREN = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
_OLD_PREFIX = re.compile(r"^구(?:\s+|(?=[‘“「『]))")
_SUBORDINATE = re.compile(r"^(.+?)(시행령|시행규칙)$")
_WS = re.compile(r"\s+")


def normalize_law_name(name: str) -> str:
    """The matching key of a law name: no spaces, quotes, `구 ` prefix or trailing version note; dots unified.

    `구 특정경제범죄 가중처벌 등에 관한 법률(2012. 2. 10. 법률 제11304호로 개정되기 전의 것)` and
    `특정경제범죄가중처벌등에관한법률` have the same key.
    """
    name = unicodedata.normalize("NFC", name).strip()
    previous = None
    while previous != name:
        previous = name
        name = _TRAILING_PAREN.sub("", name).strip()
        name = _OLD_PREFIX.sub("", name).strip()
        name = name.strip(_QUOTES).strip()
    name = name.translate(str.maketrans("", "", _QUOTES))
    return _WS.sub("", name.translate(_DOTS))


class LawNameIndex:
    """Law names (official, 약칭, former names, aliases) → 법령ID.

    Built from `(law_id, name, short_name_or_empty)` rows, normally the 기본정보 of the law files
    (`from_law_files`). `resolve` answers None for a law we do not have, which is the common case for the
    many 시행령 and special laws precedents cite next to the big codes.
    """

    def __init__(
        self, laws: Iterable[tuple[str, str, str]], aliases: Mapping[str, str] = LAW_NAME_ALIASES
    ) -> None:
        self._ids: dict[str, str] = {}
        self._names: dict[str, str] = {}  # law_id → official name
        self._surface: frozenset[str] = frozenset()  # names as written, for restore_spaces
        for law_id, name, short_name in laws:
            self._names.setdefault(law_id, name)
            self.add_name(name, law_id)
            if short_name:
                self.add_name(short_name, law_id)
        for alias, official in aliases.items():
            law_id = self._ids.get(normalize_law_name(official)) if official else None
            if law_id is not None:
                self.add_name(alias, law_id, override=False)

    @classmethod
    def from_law_documents(cls, documents: Iterable[Any]) -> LawNameIndex:
        """From parsed law JSON documents (`{"법령": {"기본정보": …}}`), former names (이전법령명)
        included."""
        rows: list[tuple[str, str, str]] = []
        former: list[tuple[str, str]] = []
        for document in documents:
            info = _basic_info(document)
            if info is None:
                continue
            law_id, name = str(info.get("법령ID", "")).strip(), str(info.get("법령명_한글", "")).strip()
            if not law_id or not name:
                continue
            rows.append((law_id, name, str(info.get("법령명약칭") or "").strip()))
            if isinstance(info.get("이전법령명"), str) and info["이전법령명"].strip():
                former.append((info["이전법령명"].strip(), law_id))
        index = cls(rows)
        for name, law_id in former:
            index.add_name(name, law_id, override=False)
        return index

    @classmethod
    def from_law_files(cls, paths: Iterable[str | Path]) -> LawNameIndex:
        """From law JSON files on disk (files that are not law documents are ignored)."""
        return cls.from_law_documents(json.loads(Path(p).read_text(encoding="utf-8")) for p in paths)

    def add_name(self, name: str, law_id: str, override: bool = True) -> None:
        """Register one more name for a law (e.g. a name found in another source)."""
        key = normalize_law_name(name)
        if not key or (not override and key in self._ids):
            return
        self._ids[key] = law_id
        self._ids.setdefault(key.replace("ㆍ", ""), law_id)  # `일가정` for `일ㆍ가정`
        self._surface = self._surface | {_WS.sub(" ", name.strip())}

    def resolve(self, name: str) -> str | None:
        """The 법령ID of a cited law name, or None when the law is not in the index."""
        key = normalize_law_name(name)
        if not key:
            return None
        for candidate in _candidates(key):
            law_id = self._ids.get(candidate) or self._ids.get(candidate.replace("ㆍ", ""))
            if law_id is not None:
                return law_id
        return self._resolve_subordinate(key)

    def _resolve_subordinate(self, key: str) -> str | None:
        """`공정거래법 시행령` → the 시행령 of the law `공정거래법` names, when we have that 시행령."""
        match = _SUBORDINATE.match(key)
        if not match:
            return None
        parent_id = self.resolve(match.group(1))
        if parent_id is None:
            return None
        official = normalize_law_name(self._names[parent_id]) + match.group(2)
        return self._ids.get(official)

    def name_of(self, law_id: str) -> str | None:
        """The official name of a law in the index."""
        return self._names.get(law_id)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve(name) is not None

    def restore_spaces(self, text: str, extra_names: Iterable[str] = ()) -> str:
        """`restore_spaces` with every name this index knows, plus `extra_names` (e.g. the names a precedent's
        own 참조조문 cites, which are exactly the statutes its 판시사항 links)."""
        known = self._surface | _COMMON_NAMES
        extra = {_WS.sub(" ", n.strip()) for n in extra_names if n and n.strip()} - known
        # The same frozenset for every call whose extra names are all known: the compiled pattern is reused.
        return restore_spaces(text, known | extra)


def _candidates(key: str) -> Iterable[str]:
    yield key
    if key.startswith("구") and len(key) > 2:  # `구특정경제범죄가중처벌등에관한법률` (구 glued to the name)
        yield key[1:]


def _basic_info(document: Any) -> dict[str, Any] | None:
    if not isinstance(document, dict):
        return None
    law = document.get("법령")
    info = law.get("기본정보") if isinstance(law, dict) else None
    return info if isinstance(info, dict) else None


# --------------------------------------------------------------------------------------------- restore_spaces

# Words ending in 구 that are not the `구 ` (old version) prefix: in `손해배상청구 민법 제750조` the 구
# belongs to 청구, and no space is missing. (가구 is left out on purpose: `행위가구 ‘…법률’` is 행위가 + 구.)
_WORDS_ENDING_IN_GU = frozenset(
    {"청구", "요구", "연구", "지구", "추구", "입구", "출구", "기구", "도구", "강구", "탐구", "촉구", "친구"}
    | {"영구", "항구", "창구", "전구", "구구", "욕구"}
)
_CLOSING = set(")’”」』")


def restore_spaces(text: str, names: Iterable[str] | None = None) -> str:
    """Re-insert the space law.go.kr drops around hyperlinked statute names in 판시사항/판결요지.

    A space is inserted only where a known name (longest match wins) is directly followed by an optional space
    and `제N조`, and the name (with an optional `구 ` prefix and quotes) is glued to the previous word:
    `없는 한민법 제368조` → `없는 한 민법 제368조`, `행위가구 ‘하도급…법률’ 제4조` → `행위가 구 ‘…’ 제4조`;
    a missing space after the name is restored too (`민법제368조` → `민법 제368조`). `names` defaults to
    `COMMON_STATUTE_NAMES`; `LawNameIndex.restore_spaces` adds all names of the index.
    """
    if not text:
        return text
    pattern = _name_pattern(_COMMON_NAMES if names is None else frozenset(names))
    if pattern is None:
        return text
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        start = match.start()
        if match.group("old") and start > 0 and text[start - 1 : start + 1] in _WORDS_ENDING_IN_GU:
            start = match.start("body")  # the 구 belongs to the previous word (청구), not to the name
        out.append(text[position:start])
        if start > 0 and _needs_space_before(text[start - 1]):
            out.append(" ")
        out.append(text[start : match.end("body")])
        if not match.group("gap"):
            out.append(" ")
        position = match.end("body")
    out.append(text[position:])
    return "".join(out)


def _needs_space_before(char: str) -> bool:
    return ("가" <= char <= "힣") or char.isalnum() or char in _CLOSING


@lru_cache(maxsize=32)
def _name_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    """One alternation of all names, longest first, tolerant of the name's own spaces and dot variants."""
    cleaned = {_WS.sub(" ", n.strip()) for n in names if n and n.strip()}
    if not cleaned:
        return None
    ordered = sorted(cleaned, key=lambda n: (-len(n.replace(" ", "")), n))
    # Branches grouped by first character (keeping their longest-first order within a group): only the group
    # of the character at hand is tried, and since every branch of the other groups fails on that character
    # the first matching branch is the same as in one flat alternation.
    groups: dict[str, list[str]] = {}
    for name in ordered:
        head = f"[{_DOT_CHARS}]" if name[0] in _DOT_CHARS else re.escape(name[0])
        groups.setdefault(head, []).append(name[1:])
    alternation = "|".join(
        f"{head}(?:{'|'.join(_flexible(rest) for rest in rests)})" for head, rests in groups.items()
    )
    # The leading lookahead admits only positions where some branch could start (구, a quote, or a name's
    # first character): it changes no match, but spares trying every name at every other position, which
    # made the cost grow with the number of laws (4 ms per 판시사항 with 440 laws, now a tenth of that).
    firsts = {"구", *"‘“「『"} | {c for n in cleaned for c in (_DOT_CHARS if n[0] in _DOT_CHARS else n[0])}
    first_class = "".join(re.escape(c) for c in sorted(firsts))
    return re.compile(
        rf"(?=[{first_class}])"
        rf"(?P<old>구\s)?(?P<body>[‘“「『]?(?:{alternation})[’”」』]?)(?P<gap>\s?)(?=제\s?\d+\s?조)"
    )


_DOT_CHARS = "·ㆍ・‧∙"


def _flexible(name: str) -> str:
    parts = []
    for char in name:
        if char == " ":
            parts.append(r"\s?")
        elif char in _DOT_CHARS:
            parts.append(f"[{_DOT_CHARS}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)
