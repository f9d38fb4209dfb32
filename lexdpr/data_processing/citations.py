"""A grammar for the 참조조문 field of court precedents (docs/lawgo-quirks.md, items 13–15).

A precedent's 참조조문 lists the statute provisions each issue relies on; those provisions become the positive
passages of the retrieval pairs, so every citation we lose or misread is a lost or wrong training label. The
field is written by hand and rendered by law.go.kr, which makes it *almost* regular:

    reference_text := group ( "/" | "<br/>" group )*
    group          := issue_marker* item ( separator item )*
    issue_marker   := "[" N "]"  ( ("·" | ",")? "[" N "]" )*          -- [1][2] / [1]·[2] cover several issues
    item           := designator [addendum] [preamble] ref_list
                    | ref_list                                          -- inherits the last law name
    designator     := ["구"] name_word+ [version_note]                  -- names may hold 「」/‘’ quotes
                    | "같은 법" ["시행령" | "시행규칙"] | "동법" …
    addendum       := "부칙" ["(" date ")"]
    ref_list       := ref ( range_op ref )? note*
    ref            := [제N조[의M]] [제N항] [제N호[의M]] (qualifier | 목 | sub_item)*
    note           := "(" … ")" | "[" … "]"                             -- 현행 note, [별표 N], topic tag

A continuation `ref` that starts below article level (`제2항`, `제3호`) inherits the levels above it from the
previous reference: `제2조 제1호, 제3호` is 제2조 제1호 and 제2조 제3호.

Decisions worth knowing:
- `(현행 제24조 참조)` notes are *recorded*, not skipped: they say where the cited (old) provision lives in
  the current law, which is the version our law files hold. They are parsed with the same grammar and stored
  in `Citation.current`; the citation itself keeps the number the court cited.
- `[별표 N]` (an appendix table) is not an article: `제36조 제1항 [별표 1] 제6호 (다)목` is cited as
  제36조 제1항, and 호/목 that follow inside the appendix are not turned into article items.
- 목 (`(가)목`, `다목`) and deeper sub-items (`3.`, `1)`, `가)`) are below our finest unit (호) and are
  skipped; `본문`/`단서`/`전단`/`후단`/`제1문`/`전문` after a reference are sentence qualifiers and skipped.
- `부칙(…) 제N조` sets an addendum mode for the following articles of the same law, until a new law name.
- A law name cited without any article (`[2] 민사소송법`) yields one `Citation` with `article=None`;
  `헌법 전문` yields `is_preamble=True`.
- Within one field the law name carries over groups: `[1] 민법 제105조 / [2] 제741조` cites 민법 제741조.
- A group without a marker among numbered groups gets the number its neighbours imply (the field of
  precedent 177316 forgot its `[1]`).
- A name that is part of a longer name (`… 법률 제1조의2 제1항의 경계표지 및 건물번호표지에 관한 규정`,
  `상호방위조약 제4조에 의한 … 협정`) stays one name: the glued `의`/`에` after the reference says so.
- What cannot be parsed is never an exception: it is collected in `ParseResult.unparsed` with a reason
  (`no_law_name`, `reference_without_article`, `bad_range`, `same_law_without_antecedent`,
  `name_without_reference` for a bare non-statute such as `부속서 7`, `unexpected_<token>` …), so a caller
  can count failures by kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum, auto

__all__ = [
    "Citation",
    "CitationGroup",
    "ParseResult",
    "UnparsedPiece",
    "parse_reference_articles",
    "parse_references",
    "split_issues",
]


# --------------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Citation:
    """One cited provision: a law and, where given, its 조(의)/항/호(의).

    `law_name` is the name as cited but cleaned (no `구 `, no version note, no quotes; `같은 법`
    resolved), so it can be looked up in a `LawNameIndex`. `current` holds the provision(s) that a
    `(현행 … 참조)` note names in the law as it stands now; empty when the court gave no such note.
    """

    law_name: str
    article: int | None = None
    article_branch: int | None = None
    paragraph: int | None = None
    item: int | None = None
    item_branch: int | None = None
    is_old_version: bool = False
    is_addendum: bool = False
    is_preamble: bool = False
    raw: str = ""
    current: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class CitationGroup:
    """The citations of one issue ([1], [2] …); `issue` is None when the field is not numbered."""

    issue: int | None
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class UnparsedPiece:
    """A piece of the field the grammar could not read; `reason` is a short stable key for counting."""

    reason: str
    text: str


@dataclass(frozen=True)
class ParseResult:
    """Everything parsed from one 참조조문 field, plus what was not.

    `citations` lists each citation once in source order, also when a marker like `[1][2]` makes one group
    of the source serve several issues in `groups`.
    """

    groups: list[CitationGroup]
    unparsed: list[UnparsedPiece] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------- lexer


class Tok(Enum):
    """Token kinds of the 참조조문 grammar."""

    GROUP_SEP = auto()  # "/" or <br/>
    ISSUE = auto()  # [1]
    ARTICLE = auto()  # 제750조, 제3조의2
    PARAGRAPH = auto()  # 제1항
    ITEM = auto()  # 제4호, 제4호의2
    SUB_ITEM = auto()  # (가)목, 다목, 3., 1), 가.  — below 호, skipped
    QUALIFIER = auto()  # 본문, 단서, 전단, 후단, 전문, 후문, 제1문, 각 호, 까지
    RANGE = auto()  # 내지, ~, 부터
    ADDENDUM = auto()  # 부칙
    SEP = auto()  # , . · ㆍ ;
    PAREN = auto()  # ( … ) balanced; `inner` holds the content
    BRACKET = auto()  # [ … ], 〔 … 〕, 【 … 】 balanced
    QUOTED = auto()  # ‘ … ’, 「 … 」, " … "
    WORD = auto()  # anything else: parts of law names, particles


@dataclass(frozen=True)
class Token:
    kind: Tok
    start: int
    end: int
    text: str
    glued: bool  # no whitespace between the previous token and this one
    number: int | None = None
    branch: int | None = None
    inner: str = ""


_WS = re.compile(r"\s+")
_OPENERS = {"(": ")", "（": "）", "[": "]", "〔": "〕", "【": "】"}
_QUOTES = {"‘": "’", "“": "”", "「": "」", "『": "』", "'": "'", '"': '"', "《": "》", "〈": "〉"}
_CLOSERS = set(_OPENERS.values()) | {"’", "”", "」", "』", "》", "〉"}
_SEP_CHARS = set(",，、;；·ㆍ・.")
_MOK = "[가나다라마바사아자차카타파하]"  # 목 letters
# Fixed-shape tokens, tried in this order at the current position (first match wins).
_PATTERNS: tuple[tuple[Tok, re.Pattern[str]], ...] = (
    (Tok.GROUP_SEP, re.compile(r"<br\s*/?>|/", re.IGNORECASE)),
    (Tok.ISSUE, re.compile(r"\[\s*(\d{1,2})\s*\]")),
    # 제3조의2. Seen in the data for the same thing: the typo `제3조2의`, and a missing 제 (`1008조`).
    (
        Tok.ARTICLE,
        re.compile(r"제\s?(\d+)\s?조(?:\s?의\s?(\d+)|(\d+)의)?|(\d+)조(?:의(\d+))?(?![가-힣])"),
    ),
    (Tok.PARAGRAPH, re.compile(r"제\s?(\d+)\s?항|(\d+)항(?![가-힣])")),
    (Tok.ITEM, re.compile(r"제\s?(\d+)\s?호(?:\s?의\s?(\d+))?|(\d+)호(?:의(\d+))?(?![가-힣])")),
    (Tok.QUALIFIER, re.compile(r"제\s?\d+\s?문(?![가-힣])")),  # 제1문: a sentence of the provision
    # 목 — (가)목, 다목 — and the sub-items of 별표 tables: 3. 가. 1) 가)
    (
        Tok.SUB_ITEM,
        re.compile(rf"[(（]{_MOK}[)）]\s?목?|{_MOK}목(?![가-힣])|(?:\d+|{_MOK})[.)](?=[\s,/<]|$)"),
    ),
    (
        Tok.QUALIFIER,
        re.compile(r"(?:본문|단서|전단|후단|전문|후문|각\s?호|각\s?목|까지)(?=[\s,/<(\[·ㆍ]|$)"),
    ),
    (Tok.RANGE, re.compile(r"(?:내지|부터)(?=[\s제]|$)|[~∼〜～]")),
    (Tok.ADDENDUM, re.compile(r"부칙(?=[\s(（<,/]|제|$)")),
)
# Where a WORD must stop even without whitespace: a glued reference (`제664조채무자` → two tokens).
_WORD_BREAK = re.compile(r"제\s?\d+\s?[조항호]")
_GROUP_START = re.compile(r"<br|/")  # where an unclosed bracket ends


class Lexer:
    """Turns a 참조조문 string into tokens; never fails (an open bracket runs to the end of its group)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def tokenize(self) -> list[Token]:
        glued = True
        while self.pos < len(self.text):
            ws = _WS.match(self.text, self.pos)
            if ws:
                self.pos = ws.end()
                glued = False
                continue
            self.tokens.append(self._next_token(glued))
            glued = True
        return self.tokens

    def _next_token(self, glued: bool) -> Token:
        for kind, pattern in _PATTERNS:
            match = pattern.match(self.text, self.pos)
            if match:
                return self._fixed(kind, match, glued)
        char = self.text[self.pos]
        if char in _OPENERS:
            kind = Tok.PAREN if char in "(（" else Tok.BRACKET
            return self._balanced(kind, char, _OPENERS[char], glued)
        if char in _QUOTES:
            return self._quoted(char, glued)
        if char in _SEP_CHARS or char in _CLOSERS:
            return self._make(Tok.SEP, self.pos + 1, glued)
        return self._word(glued)

    def _make(
        self,
        kind: Tok,
        end: int,
        glued: bool,
        number: int | None = None,
        branch: int | None = None,
        inner: str = "",
    ) -> Token:
        token = Token(kind, self.pos, end, self.text[self.pos : end], glued, number, branch, inner)
        self.pos = end
        return token

    def _fixed(self, kind: Tok, match: re.Match[str], glued: bool) -> Token:
        groups = [g for g in match.groups() if g is not None]
        number = int(groups[0]) if groups else None
        branch = int(groups[1]) if len(groups) > 1 else None
        return self._make(kind, match.end(), glued, number=number, branch=branch)

    def _balanced(self, kind: Tok, opener: str, closer: str, glued: bool) -> Token:
        depth = 0
        for index in range(self.pos, len(self.text)):
            char = self.text[index]
            if char == opener:
                depth += 1
            elif char == closer:
                depth -= 1
                if depth == 0:
                    return self._make(kind, index + 1, glued, inner=self.text[self.pos + 1 : index])
        end = self._group_end()
        return self._make(kind, end, glued, inner=self.text[self.pos + 1 : end])

    def _quoted(self, opener: str, glued: bool) -> Token:
        close = self.text.find(_QUOTES[opener], self.pos + 1)
        if close < 0:  # a lone quote: drop it
            return self._make(Tok.SEP, self.pos + 1, glued)
        return self._make(Tok.QUOTED, close + 1, glued, inner=self.text[self.pos + 1 : close])

    def _group_end(self) -> int:
        match = _GROUP_START.search(self.text, self.pos + 1)
        return match.start() if match else len(self.text)

    def _word(self, glued: bool) -> Token:
        end = self.pos + 1
        while end < len(self.text):
            char = self.text[end]
            if char.isspace() or char in _OPENERS or char in _QUOTES or char in _CLOSERS or char in "/<,，;":
                break
            if char == "." and (end + 1 == len(self.text) or not self.text[end + 1].isdigit()):
                break
            if _WORD_BREAK.match(self.text, end):
                break
            end += 1
        return self._make(Tok.WORD, end, glued)


def tokenize(text: str) -> list[Token]:
    """The token list of a 참조조문 string (exposed for tests and debugging)."""
    return Lexer(text).tokenize()


# ---------------------------------------------------------------------------------------------------- parser

_REFS = (Tok.ARTICLE, Tok.PARAGRAPH, Tok.ITEM)
_LEVEL = {Tok.ARTICLE: 0, Tok.PARAGRAPH: 1, Tok.ITEM: 2}
_SKIPPABLE_IN_REF = (Tok.SUB_ITEM, Tok.QUALIFIER)
# Words that join two references (`제1호 및 제2호`, `제1항은 제1호, 제3호`); dropped when a reference follows.
_CONJUNCTIONS = frozenset({"및", "와", "과", "또는", "은", "는", "중", "등", "참조", "각"})
# A word glued to a reference that makes the reference part of a longer name: `…법률 제1조의2 제1항의 경계표지
# … 규정`, `상호방위조약 제4조에 의한 … 협정`, `특례법 제3조 제1항 본문의 법정이율에 관한 규정`.
_NAME_CONTINUATION = re.compile(r"^(?:본문|단서|전단|후단|전문|후문)?(?:의|에|에서)$")
_OLD_VERSION_NOTE = re.compile(r"전의\s?것|개정되기\s?전|폐지되기\s?전|폐지\s?전")
_SAME_LAW = re.compile(r"^(?:같은\s?법|동\s?법|위\s?법|같은\s?법률|동\s?법률)(?:\s?(시행령|시행규칙))?$")
_SAME_DECREE = re.compile(r"^(?:같은\s?(?:법\s?)?(?:시행령|령|영)|동\s?(?:법\s?)?(?:시행령|령))$")
_SAME_RULE = re.compile(r"^(?:같은\s?(?:법\s?)?(?:시행규칙|규칙)|동\s?(?:법\s?)?(?:시행규칙|규칙))$")
_SUBORDINATE_SUFFIX = re.compile(r"\s?(?:시행령|시행규칙)$")
# How the name of a statute, treaty or rule ends; a bare name without a reference must look like one.
_STATUTE_SUFFIX = re.compile(
    r"(?:법|법률|령|규칙|규정|조례|협약|협정|조약|의정서|예규|고시|훈령|지침|규약|헌장)$"
)
_MAX_RANGE = 200


@dataclass
class _Law:
    """The law that bare `제N조` currently refer to."""

    name: str
    is_old: bool = False
    is_addendum: bool = False


@dataclass
class _Reference:
    """A parsed `제N조 제M항 제K호` chain before it becomes a `Citation`."""

    level: int  # level of the first token: 0 조, 1 항, 2 호
    article: int | None = None
    article_branch: int | None = None
    paragraph: int | None = None
    item: int | None = None
    item_branch: int | None = None
    start: int = 0
    end: int = 0


class _Parser:
    """Recursive-descent parser over the token list of one field (or of one `현행` note)."""

    def __init__(self, text: str, tokens: list[Token], law: _Law | None = None) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0
        self.law = law
        self.last_named: _Law | None = law  # the last law named explicitly, for 같은 법
        self.designator_start: int | None = None  # where the name of the next reference's law starts
        self.unparsed: list[UnparsedPiece] = []
        self._reset_group()

    # ----- token helpers
    def _peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _at(self, *kinds: Tok, offset: int = 0) -> bool:
        token = self._peek(offset)
        return token is not None and token.kind in kinds

    def _at_text(self, text: str) -> bool:
        token = self._peek()
        return token is not None and token.text == text

    def _advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _span(self, start: int, end: int) -> str:
        return _WS.sub(" ", self.text[start:end]).strip()

    def _fail(self, reason: str, start_token: int) -> None:
        """Record tokens from `start_token` to the next separator as unparsed, and resume after them."""
        self.pos = max(self.pos, start_token + 1)
        while self._peek() and not self._at(Tok.SEP, Tok.GROUP_SEP, Tok.ISSUE):
            self._advance()
        first, last = self.tokens[start_token], self.tokens[self.pos - 1]
        self.unparsed.append(UnparsedPiece(reason, self._span(first.start, last.end)))
        self.previous = None
        self.designator_start = None

    # ----- document level
    def _reset_group(self) -> None:
        self.citations: list[Citation] = []
        self.previous: _Reference | None = None  # for continuation references
        self.last_chain: list[int] = []  # indexes in self.citations of the last reference's citations
        self.in_appendix = False
        self.designator_start = None

    def parse_document(self) -> list[tuple[list[int], list[Citation]]]:
        """(issue numbers, citations) per group, in source order."""
        groups: list[tuple[list[int], list[Citation]]] = []
        while self._peek():
            if self._at(Tok.GROUP_SEP):
                self._advance()
                continue
            issues = self._parse_issue_markers()
            self._reset_group()
            self.parse_body(stop_at_issue=True)
            if issues or self.citations:
                groups.append((issues, self.citations))
        return groups

    def _parse_issue_markers(self) -> list[int]:
        issues: list[int] = []
        while self._at(Tok.ISSUE) or (issues and self._at(Tok.SEP) and self._at(Tok.ISSUE, offset=1)):
            token = self._advance()
            if token.kind is Tok.ISSUE and token.number is not None:
                issues.append(token.number)
        return issues

    def parse_body(self, stop_at_issue: bool) -> list[Citation]:
        """item (separator item)* up to the end of the group."""
        while (token := self._peek()) is not None:
            if token.kind is Tok.GROUP_SEP or (stop_at_issue and token.kind is Tok.ISSUE):
                break
            self._parse_item()
        return self.citations

    def _parse_item(self) -> None:
        token = self._peek()
        assert token is not None
        if token.kind is Tok.SEP:
            self._advance()
        elif token.kind in _REFS:
            self._parse_reference_list()
        elif token.kind in (Tok.WORD, Tok.QUOTED):
            if token.text in _CONJUNCTIONS and self._at(*_REFS, offset=1):
                self._advance()
            else:
                self._parse_designator()
        elif token.kind is Tok.ADDENDUM:
            self._parse_addendum()
        elif token.kind in (Tok.PAREN, Tok.BRACKET):
            self._parse_note()
        elif token.kind in (Tok.SUB_ITEM, Tok.QUALIFIER):
            self._advance()
        else:  # RANGE without a left side, a stray ISSUE inside a note
            self._fail(f"unexpected_{token.kind.name.lower()}", self.pos)

    # ----- law names
    def _parse_designator(self) -> None:
        """["구"] name [version note] — sets the current law; a name with no article cites the whole law."""
        first = self.pos
        parts: list[str] = []
        notes: list[str] = []
        while (token := self._peek()) is not None:
            if token.kind is Tok.WORD or token.kind is Tok.QUOTED:
                text = token.inner if token.kind is Tok.QUOTED else token.text
                parts.append(text if token.glued or not parts else " " + text)
                self._advance()
            elif token.kind is Tok.PAREN and parts:
                notes.append(token.inner)
                self._advance()
            elif token.kind in _REFS and parts and self._reference_is_part_of_name():
                parts.append(self._consume_reference_as_name(token.glued))
            else:
                break
        name, is_old = self._clean_name("".join(parts))
        if not name:
            self._fail("empty_law_name", first)
            return
        same = self._resolve_same_law(name)
        if same is not None:
            self.law = same
        elif _is_same_law_reference(name):
            self._fail("same_law_without_antecedent", first)
            return
        else:
            is_old = is_old or any(_OLD_VERSION_NOTE.search(note) for note in notes)
            self.law = self.last_named = _Law(name, is_old)
        self.previous = None
        self.in_appendix = False
        self.designator_start = self.tokens[first].start
        self._after_designator(first)

    def _after_designator(self, first: int) -> None:
        """A name must be followed by a reference, 부칙 or 전문; otherwise it cites the law as a whole."""
        token = self._peek()
        assert self.law is not None
        if token is not None and token.kind is Tok.QUALIFIER and token.text == "전문":
            self._advance()
            self._emit_whole(first, is_preamble=True)
        elif token is None or token.kind in (Tok.SEP, Tok.GROUP_SEP, Tok.ISSUE):
            if _STATUTE_SUFFIX.search(self.law.name):
                self._emit_whole(first, is_preamble=False)
            else:  # `부속서 7` after a treaty: a part of something, not a law we could look up
                self.pos = first
                self._fail("name_without_reference", first)
        elif token.kind in (Tok.PARAGRAPH, Tok.ITEM):
            self._fail("reference_without_article", self.pos)
        elif token.kind not in (Tok.ARTICLE, Tok.ADDENDUM, Tok.BRACKET):
            self._fail(f"unexpected_{token.kind.name.lower()}", first)

    def _emit_whole(self, first: int, is_preamble: bool) -> None:
        assert self.law is not None
        raw = self._span(self.tokens[first].start, self.tokens[self.pos - 1].end)
        self.designator_start = None
        self.citations.append(
            Citation(
                law_name=self.law.name,
                is_old_version=self.law.is_old,
                is_addendum=self.law.is_addendum,
                is_preamble=is_preamble,
                raw=raw,
            )
        )

    def _reference_is_part_of_name(self) -> bool:
        """Look past a reference chain: a glued `의`/`에` (or `본문의`) followed by more words means the chain
        belongs to a longer name, such as `… 법률 제1조의2 제1항의 경계표지 및 건물번호표지에 관한 규정`."""
        offset = 0
        while self._at(*_REFS, *_SKIPPABLE_IN_REF, offset=offset):
            offset += 1
        after = self._peek(offset)
        if after is None or after.kind is not Tok.WORD or not _NAME_CONTINUATION.match(after.text):
            return False
        return self._at(Tok.WORD, Tok.QUOTED, offset=offset + 1)

    def _consume_reference_as_name(self, glued: bool) -> str:
        start = self._peek()
        assert start is not None
        end = start
        while self._at(*_REFS, *_SKIPPABLE_IN_REF):
            end = self._advance()
        text = self._span(start.start, end.end)
        return text if glued else " " + text

    @staticmethod
    def _clean_name(name: str) -> tuple[str, bool]:
        """Strip quotes and the `구 ` prefix; unify middle dots. Returns (name, cited as an old version)."""
        name = _WS.sub(" ", name).strip().strip("‘’“”「」『』'\"")
        name = name.translate(_MIDDLE_DOTS)
        is_old = False
        if re.match(r"^구\s", name) or re.match(r"^구[‘“「『]", name):
            name, is_old = name[1:].strip().strip("‘’“”「」『』'\""), True
        return name, is_old

    def _resolve_same_law(self, name: str) -> _Law | None:
        """`같은 법`/`동법` (+ 시행령/시행규칙), `같은 영`, `같은 규칙` → the law named last; None otherwise.

        `같은 법` keeps the version of the law it repeats: in `구 X법(…) 제1조, 같은 법 제2조` both are old.
        """
        if self.last_named is None:
            return None
        base = _SUBORDINATE_SUFFIX.sub("", self.last_named.name)
        same = _SAME_LAW.match(name)
        if same and same.group(1) is None:
            return _Law(base, self.last_named.is_old and base == self.last_named.name)
        if same:
            return _Law(f"{base} {same.group(1)}")
        if _SAME_DECREE.match(name):
            return _Law(f"{base} 시행령")
        if _SAME_RULE.match(name):
            return _Law(f"{base} 시행규칙")
        return None

    # ----- 부칙
    def _parse_addendum(self) -> None:
        first = self.pos
        self._advance()
        if self._at(Tok.PAREN):
            self._advance()
        if self.law is None:
            self._fail("addendum_without_law", first)
            return
        self.law = replace(self.law, is_addendum=True)
        self.previous = None
        if self.designator_start is None:  # `X법 부칙(…) 제1조` keeps the law name in the raw snippet
            self.designator_start = self.tokens[first].start
        if not self._at(*_REFS):
            self._emit_whole(first, is_preamble=False)

    # ----- references
    def _parse_reference_list(self) -> None:
        """ref [range ref] — emits one citation per provision (a range is expanded)."""
        first = self.pos
        if self.law is None:
            self._fail("no_law_name", first)
            return
        # The first reference after a law name carries the name in its raw snippet.
        raw_start = self.designator_start if self.previous is None else None
        self.designator_start = None
        left = self._parse_reference()
        if left is None:
            self._fail("reference_without_article", first)
            return
        refs = [left]
        if self._at(Tok.RANGE):
            self._advance()
            self.previous = left  # `제3조 제1항 내지 제3항`: the right side continues the left one
            right = self._parse_reference() if self._at(*_REFS) else None
            if self._at_text("까지"):
                self._advance()
            expanded = _expand_range(left, right) if right is not None else None
            if expanded is None:
                self._fail("bad_range", first)
                return
            refs = expanded
        if raw_start is None:
            raw_start = self.tokens[first].start
        raw = self._span(raw_start, self.tokens[self.pos - 1].end)
        skip = self.in_appendix and left.level == 2
        if not skip:
            self.last_chain = []
            for ref in refs:
                self.last_chain.append(len(self.citations))
                self.citations.append(self._citation(ref, raw))
        self.previous = refs[-1]

    def _parse_reference(self) -> _Reference | None:
        """One `[제N조[의M]] [제N항] [제N호[의M]]` chain; a continuation inherits from the previous one."""
        first = self._peek()
        assert first is not None
        level = _LEVEL[first.kind]
        if level > 0 and self.previous is None and not (self.law and self.law.is_addendum):
            return None
        if level == 0 or self.previous is None:  # `부칙(…) 제2항`: an addendum may have 항 but no 조
            ref = _Reference(level=0, start=first.start)
            self.in_appendix = False
        else:
            prev = self.previous
            assert prev is not None
            ref = _Reference(
                level=level,
                article=prev.article,
                article_branch=prev.article_branch,
                paragraph=prev.paragraph if level > 1 else None,
                start=first.start,
            )
            if level == 1:
                self.in_appendix = False
        current = level - 1
        while (token := self._peek()) is not None:
            if token.kind in _REFS and _LEVEL[token.kind] > current:
                current = _LEVEL[token.kind]
                self._set_level(ref, token)
            elif token.kind in _SKIPPABLE_IN_REF and token.text != "까지":
                pass
            elif (
                token.kind is Tok.WORD
                and token.text in _CONJUNCTIONS
                and token.glued
                and self._at(*_REFS, offset=1)
            ):
                pass  # `제1항은 제1호` — the particle is dropped, the next chain continues this one
            else:
                break
            ref.end = token.end
            self._advance()
        return ref

    @staticmethod
    def _set_level(ref: _Reference, token: Token) -> None:
        if token.kind is Tok.ARTICLE:
            ref.article, ref.article_branch = token.number, token.branch
        elif token.kind is Tok.PARAGRAPH:
            ref.paragraph = token.number
        else:
            ref.item, ref.item_branch = token.number, token.branch

    def _citation(self, ref: _Reference, raw: str) -> Citation:
        assert self.law is not None
        return Citation(
            law_name=self.law.name,
            article=ref.article,
            article_branch=ref.article_branch,
            paragraph=ref.paragraph,
            item=ref.item,
            item_branch=ref.item_branch,
            is_old_version=self.law.is_old,
            is_addendum=self.law.is_addendum,
            raw=raw,
        )

    # ----- notes after a reference
    def _parse_note(self) -> None:
        """`(현행 …)` → Citation.current; `[별표 N]` → appendix mode; anything else is a topic tag."""
        token = self._advance()
        inner = token.inner.strip()
        if inner.startswith("현행"):
            self._attach_current(inner)
        elif re.match(r"^별표", inner):
            self.in_appendix = True

    def _attach_current(self, inner: str) -> None:
        if not self.last_chain or self.law is None:
            return
        body = re.sub(r"^현행\s*", "", inner)
        body = re.sub(r"\s*참조\s*$", "", body)
        if not body or body == "삭제":
            return
        nested = _Parser(body, tokenize(body), _Law(self.law.name))
        current = tuple(nested.parse_body(stop_at_issue=False))
        self.unparsed.extend(UnparsedPiece(f"current_note_{p.reason}", p.text) for p in nested.unparsed)
        for index in self.last_chain:
            self.citations[index] = replace(self.citations[index], current=current)


def _is_same_law_reference(name: str) -> bool:
    return any(pattern.match(name) for pattern in (_SAME_LAW, _SAME_DECREE, _SAME_RULE))


def _expand_range(left: _Reference, right: _Reference) -> list[_Reference] | None:
    """`제3조 내지 제5조` → 제3조, 제4조, 제5조; `제3조 제1항 내지 제3항` → 제3조 제1·2·3항;
    `제3조의2 내지 제3조의4` → the 가지 numbers of one article. Endpoints stay as written; the numbers in
    between are whole units."""
    level = right.level
    if level < left.level:
        return None
    if level == 0 and left.article == right.article:
        return _branches_between(left, right)
    attr = ("article", "paragraph", "item")[level]
    low, high = getattr(left, attr), getattr(right, attr)
    if low is None or high is None or high <= low or high - low > _MAX_RANGE:
        return None
    middle = [_truncate(replace(left, **{attr: number}), level) for number in range(low + 1, high)]
    return [left, *middle, right]


def _branches_between(left: _Reference, right: _Reference) -> list[_Reference] | None:
    low, high = left.article_branch or 1, right.article_branch
    if high is None or high <= low or high - low > _MAX_RANGE:
        return None
    middle = [_truncate(replace(left, article_branch=b), 0) for b in range(low + 1, high)]
    return [left, *middle, right]


def _truncate(ref: _Reference, level: int) -> _Reference:
    """Drop the units below `level` (and the 가지 number of the level itself)."""
    if level == 0:
        return replace(ref, paragraph=None, item=None, item_branch=None)
    if level == 1:
        return replace(ref, item=None, item_branch=None)
    return replace(ref, item_branch=None)


_MIDDLE_DOTS = str.maketrans({"·": "ㆍ", "・": "ㆍ", "‧": "ㆍ", "∙": "ㆍ", "•": "ㆍ"})


def _number_groups(groups: list[tuple[list[int], list[Citation]]]) -> list[CitationGroup]:
    """One CitationGroup per issue; an unmarked group among marked ones gets the number its neighbours
    imply."""
    numbered = any(issues for issues, _ in groups)
    out: list[CitationGroup] = []
    previous: int | None = None
    for index, (issues, citations) in enumerate(groups):
        frozen = tuple(citations)
        if not issues and numbered:
            following = next((g[0][0] for g in groups[index + 1 :] if g[0]), None)
            guess = previous + 1 if previous is not None else (following - 1 if following else None)
            issues = [guess] if guess and (following is None or guess < following) else []
        if not issues:
            out.append(CitationGroup(None, frozen))
            continue
        out.extend(CitationGroup(issue, frozen) for issue in issues)
        previous = issues[-1]
    return out


def parse_references(text: str) -> ParseResult:
    """Parse a 참조조문 field into issue groups, collecting whatever the grammar could not read."""
    if not text or not text.strip():
        return ParseResult([])
    parser = _Parser(text, tokenize(text))
    groups = parser.parse_document()
    citations = [citation for _, group in groups for citation in group]
    return ParseResult(_number_groups(groups), parser.unparsed, citations)


def parse_reference_articles(text: str) -> list[CitationGroup]:
    """The citation groups of a 참조조문 field (see `parse_references` for the unparsed pieces)."""
    return parse_references(text).groups


# ------------------------------------------------------------------------------------------- issue splitting

_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_OTHER_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_ISSUE_MARKER = re.compile(r"(?:(?<=^)|(?<=[\s/\]]))\[\s*(\d{1,2})\s*\]")


def split_issues(text: str) -> list[tuple[int | None, str]]:
    """Split 판시사항/판결요지 text into (issue number, cleaned text).

    `<br/>` lines without a marker continue the current issue (판결요지 has several paragraphs per issue).
    A marker only counts when its number is higher than the current one, so a stray `[3]` inside a sentence
    after issue [5] stays text. `[1][2] text` gives the same text to both issues. Unnumbered text is one item
    with issue None.
    """
    if not text or not text.strip():
        return []
    body = _OTHER_TAG.sub(" ", _BR_TAG.sub("\n", text))
    pieces: list[tuple[list[int], list[str]]] = [([], [])]
    position = 0
    for match in _ISSUE_MARKER.finditer(body):
        number = int(match.group(1))
        current = pieces[-1][0]
        if current and number <= current[-1]:
            continue
        pieces[-1][1].append(body[position : match.start()])
        position = match.end()
        if current and not _clean("".join(pieces[-1][1])):
            current.append(number)  # `[1][2]`: the previous marker had no text of its own
        else:
            pieces.append(([number], []))
    pieces[-1][1].append(body[position:])
    out: list[tuple[int | None, str]] = []
    for numbers, chunks in pieces:
        cleaned = _clean("".join(chunks))
        if not numbers:
            if cleaned:
                out.append((None, cleaned))
            continue
        out.extend((number, cleaned) for number in numbers)
    return out


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()
