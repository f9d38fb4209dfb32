"""Court precedents in both shapes (docs/lawgo-quirks.md, items 12–16) as one typed record.

The API wraps the record in `PrecService` and names the id `판례정보일련번호` and the body `판례내용`; LexDPR's
crawler saved a flat 12-key form with `판례일련번호` and an always-empty `판결본문`. Everything downstream sees
only `Precedent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lexdpr.data_processing.raw_values import as_text
from lexdpr.errors import InputError

_DIGITS = re.compile(r"^\d+$")
_TEXT_FIELDS = ("사건명", "사건번호", "법원명", "선고일자", "판시사항", "판결요지", "참조조문", "참조판례")


@dataclass(frozen=True)
class Precedent:
    serial: str  # 판례일련번호 / 판례정보일련번호
    case_name: str
    case_number: str
    court: str
    decided: str  # YYYYMMDD as given
    holdings: str  # 판시사항 (raw, with <br/> and [n] markers)
    summary: str  # 판결요지
    references: str  # 참조조문
    cited_cases: str  # 참조판례
    body: str  # 판례내용 / 판결본문 (empty in LexDPR files)
    case_type: str  # 사건종류명 / 사건유형
    source: str

    @property
    def header(self) -> str:
        """How the case is named in passages and logs: `대법원 2015도2255 사기`."""
        return " ".join(x for x in (self.court, self.case_number, self.case_name) if x)


def parse_precedent(doc: Any, source: str) -> Precedent:
    if not isinstance(doc, dict):
        raise InputError(source, f"expected a JSON object, got {type(doc).__name__}")
    record = doc.get("PrecService", doc)
    if not isinstance(record, dict):
        raise InputError(source, "expected an object", field="PrecService")
    serial_field = "판례정보일련번호" if "판례정보일련번호" in record else "판례일련번호"
    values: dict[str, str] = {}
    for name in (serial_field, *_TEXT_FIELDS, "판례내용", "판결본문", "사건종류명", "사건유형"):
        try:
            values[name] = as_text(record.get(name))
        except TypeError as exc:
            raise InputError(source, str(exc), field=name) from None
    serial = values[serial_field]
    if not serial:
        raise InputError(source, "missing", field=serial_field)
    if not _DIGITS.match(serial):
        raise InputError(source, f"must be digits, got {serial!r}", field=serial_field)
    return Precedent(
        serial=serial,
        case_name=values["사건명"],
        case_number=values["사건번호"],
        court=values["법원명"],
        decided=values["선고일자"],
        holdings=values["판시사항"],
        summary=values["판결요지"],
        references=values["참조조문"],
        cited_cases=values["참조판례"],
        body=values["판례내용"] or values["판결본문"],
        case_type=values["사건종류명"] or values["사건유형"],
        source=source,
    )
