"""Both precedent shapes (docs/lawgo-quirks.md, item 12) become the same `Precedent`."""

from __future__ import annotations

import pytest

from lexdpr.data_processing.precedents import parse_precedent
from lexdpr.errors import InputError

FLAT = {
    "판례일련번호": "180200",
    "사건명": "사기",
    "사건번호": "2015도2255",
    "법원명": "대법원",
    "사건유형": "",
    "판결유형": "판결",
    "선고일자": "20150723",
    "판시사항": "편취의 범의를 판단하는 방법<br/>",
    "판결요지": "",
    "판결본문": "",
    "참조조문": "형법 제13조, 제347조<br/>",
    "참조판례": "",
}
API = {
    "PrecService": {
        "판례정보일련번호": "209130",
        "사건명": "임금",
        "사건번호": "2016다9704",
        "선고일자": "20190814",
        "법원명": "대법원",
        "사건종류명": "민사",
        "판시사항": "[1] 고정성 판단 기준",
        "판결요지": "[1] 요지",
        "참조조문": "[1] 근로기준법 제56조",
        "참조판례": "",
        "판례내용": "【원고, 피상고인】 …",
    }
}


def test_flat_lexdpr_shape() -> None:
    p = parse_precedent(FLAT, "precedents/180200.json")
    assert (p.serial, p.case_number, p.court, p.decided) == ("180200", "2015도2255", "대법원", "20150723")
    assert p.references == "형법 제13조, 제347조<br/>"
    assert p.body == "" and p.case_type == ""
    assert p.header == "대법원 2015도2255 사기"


def test_api_shape_is_unwrapped() -> None:
    p = parse_precedent(API, "precedents/209130.json")
    assert p.serial == "209130"
    assert p.body == "【원고, 피상고인】 …"
    assert p.case_type == "민사"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({**FLAT, "판례일련번호": ""}, "판례일련번호"),
        ({**FLAT, "판례일련번호": "../x"}, "판례일련번호"),
        ({**FLAT, "판시사항": ["a", {"b": 1}]}, "판시사항"),
        ({"PrecService": []}, "PrecService"),
    ],
)
def test_bad_precedents_name_the_field(doc: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        parse_precedent(doc, "p.json")
    assert info.value.field == field
