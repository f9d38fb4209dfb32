"""Law-name resolution and space restoration, on tables and on the real law and precedent files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lexdpr.data_processing.citations import parse_references
from lexdpr.data_processing.law_names import LawNameIndex, normalize_law_name, restore_spaces

LAWGO = Path(__file__).resolve().parents[3] / "shared" / "data" / "lawgo"

# (법령ID, 법령명_한글, 법령명약칭) exactly as in the 기본정보 of the real law files.
LAWS = [
    ("001706", "민법", ""),
    ("001702", "상법", ""),
    ("001242", "국가배상법", ""),
    ("001444", "대한민국헌법", ""),
    ("001136", "특정경제범죄 가중처벌 등에 관한 법률", ""),
    ("001676", "특정범죄 가중처벌 등에 관한 법률", ""),
    ("001262", "집합건물의 소유 및 관리에 관한 법률", ""),
    ("000143", "노동조합 및 노동관계조정법", ""),
    ("011187", "성폭력범죄의 처벌 등에 관한 특례법", ""),
    ("001591", "독점규제 및 공정거래에 관한 법률", "공정거래법"),
    ("003440", "독점규제 및 공정거래에 관한 법률 시행령", "공정거래법 시행령"),
    ("000130", "남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률", "남녀고용평등법"),
    ("000030", "정보통신망 이용촉진 및 정보보호 등에 관한 법률", "정보통신망법"),
    ("001539", "상호저축은행법", ""),
    ("003825", "상호저축은행법 시행령", ""),
    ("001590", "하도급거래 공정화에 관한 법률", "하도급법"),
    ("011357", "개인정보 보호법", ""),
]


@pytest.fixture(scope="module")
def index() -> LawNameIndex:
    return LawNameIndex(LAWS)


@pytest.mark.parametrize(
    ("name", "law_id"),
    [
        ("민법", "001706"),
        # spaces, as older decisions write names
        ("특정경제범죄 가중처벌 등에 관한 법률", "001136"),
        ("특정경제범죄가중처벌등에관한법률", "001136"),
        ("구 특정경제범죄가중처벌등에관한법률", "001136"),
        ("구특정경제범죄가중처벌등에관한법률", "001136"),
        ("개인정보보호법", "011357"),
        # 구 + version note, quotes
        ("구 민법(2011. 3. 7. 법률 제10429호로 개정되기 전의 것)", "001706"),
        ("‘하도급거래 공정화에 관한 법률’", "001590"),
        ("구 「하도급거래 공정화에 관한 법률」", "001590"),
        # middle dots: ·, ㆍ, ・ and none at all
        ("남녀고용평등과 일·가정 양립 지원에 관한 법률", "000130"),
        ("남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률", "000130"),
        ("남녀고용평등과 일・가정 양립 지원에 관한 법률", "000130"),
        ("남녀고용평등과일가정양립지원에관한법률", "000130"),
        # 약칭 from the data, and a 시행령 named through its law's short name
        ("공정거래법", "001591"),
        ("공정거래법 시행령", "003440"),
        ("공정거래법시행령", "003440"),
        ("정보통신망법", "000030"),
        # aliases (LAW_NAME_ALIASES)
        ("헌법", "001444"),
        ("특경법", "001136"),
        ("특정경제범죄법", "001136"),
        ("특가법", "001676"),
        ("특정범죄가중법", "001676"),
        ("집합건물법", "001262"),
        ("노동조합법", "000143"),
        ("성폭력처벌법", "011187"),
        # a former name of the same law, and of its 시행령
        ("상호신용금고법", "001539"),
        ("상호신용금고법 시행령", "003825"),
        ("정보통신망 이용촉진 등에 관한 법률", "000030"),
        # laws we do not have
        ("근로기준법 시행령", None),
        ("도시 및 주거환경정비법", None),
        ("아동ㆍ청소년의 성보호에 관한 법률", None),
        ("부동산실명법", None),  # an alias, but its law is not in this index
        ("국가", None),
        ("같은 법", None),
        ("", None),
    ],
)
def test_resolve(index: LawNameIndex, name: str, law_id: str | None) -> None:
    assert index.resolve(name) == law_id


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("특정경제범죄 가중처벌 등에 관한 법률", "특정경제범죄가중처벌등에관한법률"),
        ("구 민법(2011. 3. 7. 법률 제10429호로 개정되기 전의 것)", "민법"),
        ("‘하도급거래 공정화에 관한 법률’", "하도급거래공정화에관한법률"),
        ("남녀고용평등과 일·가정 양립", "남녀고용평등과일ㆍ가정양립"),
        ("구로구 조례", "구로구조례"),  # 구 is only a prefix when a space or quote follows
    ],
)
def test_normalize_law_name(name: str, key: str) -> None:
    assert normalize_law_name(name) == key


def test_former_names_from_the_law_documents() -> None:
    document = {
        "법령": {
            "기본정보": {
                "법령ID": "007397",
                "법령명_한글": "상호저축은행법 시행규칙",
                "법령명약칭": "",
                "이전법령명": "상호신용금고법시행규칙",
            }
        }
    }
    index = LawNameIndex.from_law_documents([document, {"AdmRulService": {}}, []])
    assert len(index) == 1
    assert index.resolve("상호신용금고법 시행규칙") == "007397"
    assert index.name_of("007397") == "상호저축은행법 시행규칙"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("없는 한민법 제368조의", "없는 한 민법 제368조의"),
        ("비록부동산등기법 제149조가", "비록 부동산등기법 제149조가"),
        ("원심의 조치가형사소송법 제365조를", "원심의 조치가 형사소송법 제365조를"),
        (
            "행위가특정경제범죄 가중처벌 등에 관한 법률 제3조",
            "행위가 특정경제범죄 가중처벌 등에 관한 법률 제3조",
        ),
        ("행위가구 ‘하도급거래 공정화에 관한 법률’ 제4조", "행위가 구 ‘하도급거래 공정화에 관한 법률’ 제4조"),
        ("관한구 특허법 제29조", "관한 구 특허법 제29조"),
        ("(나)민사소송법 제1조", "(나) 민사소송법 제1조"),
        ("민법제366조", "민법 제366조"),
        # nothing to do
        ("없는 한 민법 제368조", "없는 한 민법 제368조"),
        ("손해배상청구 민법 제750조", "손해배상청구 민법 제750조"),  # 청구, not 구 민법
        ("국가배상법 제5조", "국가배상법 제5조"),  # longest name, not 국가배 + 상법
        ("한국은행법 제3조", "한국은행법 제3조"),
        ("위헌법률심판 제청", "위헌법률심판 제청"),  # 헌법 not followed by 제N조
        ("민법상 채권", "민법상 채권"),
        ("[1]국가배상법 제5조", "[1]국가배상법 제5조"),
        ("", ""),
    ],
)
def test_restore_spaces(text: str, expected: str) -> None:
    names = (
        "민법", "상법", "헌법", "특허법", "부동산등기법", "형사소송법", "민사소송법", "국가배상법",
        "한국은행법", "은행법", "특정경제범죄 가중처벌 등에 관한 법률", "하도급거래 공정화에 관한 법률",
    )  # fmt: skip
    assert restore_spaces(text, names) == expected


def test_restore_spaces_default_and_index_names(index: LawNameIndex) -> None:
    assert restore_spaces("없는 한민법 제368조") == "없는 한 민법 제368조"
    # 공정거래법 is a 약칭 of the index; 성남시 수도급수 조례 comes from the precedent's own 참조조문.
    text = "행위가공정거래법 제23조에 해당하고 이는성남시 수도급수 조례 제6조에"
    assert index.restore_spaces(text, ["성남시 수도급수 조례"]) == (
        "행위가 공정거래법 제23조에 해당하고 이는 성남시 수도급수 조례 제6조에"
    )


# ------------------------------------------------------------------------------------------ the real data


def _real_index_and_precedents() -> tuple[LawNameIndex, list[dict[str, str]]]:
    law_files = sorted((LAWGO / "laws").glob("*.json"))
    precedent_files = sorted((LAWGO / "precedents").glob("*.json"))
    if not law_files or not precedent_files:
        pytest.skip(f"real law.go.kr files not found under {LAWGO}")
    precedents = [json.loads(p.read_text(encoding="utf-8")) for p in precedent_files]
    return LawNameIndex.from_law_files(law_files), precedents


def test_real_law_files_build_the_index() -> None:
    index, _ = _real_index_and_precedents()
    assert len(index) == 82
    for name, law_id in [
        ("헌법", "001444"),
        ("공정거래법 시행령", "003440"),
        ("상호신용금고법시행규칙", "007397"),
    ]:
        assert index.resolve(name) == law_id


def test_real_citations_resolve() -> None:
    """The cited (law, article) pairs of the 2,400 precedents resolve to one of the 82 laws; what does not is
    a law, treaty or rule we do not have (printed, so a new unresolved name shows up in the test log)."""
    index, precedents = _real_index_and_precedents()
    total = resolved = 0
    unresolved: Counter[str] = Counter()
    for record in precedents:
        for citation in parse_references(record.get("참조조문", "")).citations:
            if citation.article is None or citation.is_addendum:
                continue
            total += 1
            if index.resolve(citation.law_name) is None:
                unresolved[citation.law_name] += 1
            else:
                resolved += 1
    share = resolved / total
    print(f"article citations {total}, law resolved {share:.2%}; unresolved {unresolved.most_common()}")
    assert share >= 0.995
    for name in unresolved:
        assert not name.endswith(("민법", "형법", "상법", "소송법")), name
