"""Each law quirk (docs/lawgo-quirks.md, items 1–8) on a minimal, real-shaped fixture."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lexdpr.data_processing.law_parser import parse_law
from lexdpr.data_processing.passage import Granularity, PassageOptions
from lexdpr.data_processing.passage_ids import article_id_of
from lexdpr.errors import InputError

ARTICLE = PassageOptions()
PARAGRAPH = PassageOptions(granularity=Granularity.PARAGRAPH)


def law(
    *units: dict[str, Any], name: str = "민법", law_id: str = "001706", short: str = ""
) -> dict[str, Any]:
    return {
        "법령": {
            "법령키": f"{law_id}2024092020432",
            "기본정보": {"법령ID": law_id, "법령명_한글": name, "법령명약칭": short, "시행일자": "20250131"},
            "조문": {"조문단위": list(units) if len(units) != 1 else units[0]},
        }
    }


def row(number: str, content: Any, kind: str = "조문", **extra: Any) -> dict[str, Any]:
    return {
        "조문번호": number,
        "조문여부": kind,
        "조문키": f"{int(number):04d}001",
        "조문내용": content,
        **extra,
    }


def parse(doc: dict[str, Any], options: PassageOptions = ARTICLE) -> list[dict[str, Any]]:
    passages, _ = parse_law(doc, "laws/x.json", options)
    return [p.to_record() for p in passages]


def test_plain_article_text_ids_and_fields() -> None:
    [p] = parse(
        law(
            row(
                "750",
                "제750조(불법행위의 내용) 고의 또는 과실로 인한 위법행위로 타인에게 손해를 가한 자는 그 손해를 배상할 책임이 있다.",
                조문제목="불법행위의 내용",
            )
        )
    )
    assert p["id"] == "LAW_001706_제750조"
    assert p["parent_id"] == "001706"
    assert p["type"] == "law"
    assert p["article"] == "제750조"
    assert p["title"] == "불법행위의 내용"
    assert p["text"].startswith("민법 제750조(불법행위의 내용) 고의 또는 과실로")
    assert p["source"] == "laws/x.json"


def test_single_article_row_as_dict_not_list() -> None:
    doc = law(row("1", "제1조(목적) 목적을 정한다."))
    assert isinstance(doc["법령"]["조문"]["조문단위"], dict)
    assert [p["id"] for p in parse(doc)] == ["LAW_001706_제1조"]


def test_text_as_nested_line_lists_is_flattened() -> None:
    [p] = parse(
        law(row("69", [["제69조 대통령은 취임에 즈음하여 다음의 선서를 한다.", "“나는 헌법을 준수하고 …”"]]))
    )
    assert p["text"].endswith("제69조 대통령은 취임에 즈음하여 다음의 선서를 한다.\n“나는 헌법을 준수하고 …”")


def test_paragraph_list_with_items_and_subitems() -> None:
    unit = row(
        "2",
        "제2조(정의)",
        항=[
            {
                "항번호": "①",
                "항내용": "①이 법에서 사용하는 용어의 뜻은 다음과 같다.",
                "호": [
                    {
                        "호번호": "1.",
                        "호내용": '1.  "정보통신망"이란 설비를 말한다.',
                        "목": [
                            {"목번호": "가.", "목내용": "가.  해킹"},
                            {"목번호": "나.", "목내용": [["나.  우회하는 방법", "(세부)"]]},
                        ],
                    },
                    {"호번호": "1.", "호가지번호": "2", "호내용": "1의2. 추가된 호"},
                ],
            },
            {"항번호": "②", "항내용": "② 그 밖의 용어는 따로 정한다."},
        ],
    )
    [p] = parse(law(unit))
    lines = p["text"].split("\n")
    assert lines[0] == "민법 제2조(정의)"
    assert lines[1] == "① 이 법에서 사용하는 용어의 뜻은 다음과 같다."  # `①이` gets its space
    assert lines[2] == '1. "정보통신망"이란 설비를 말한다.'  # double space collapsed
    assert lines[3:6] == ["가. 해킹", "나. 우회하는 방법", "(세부)"]
    assert lines[6] == "1의2. 추가된 호"  # 호가지번호: the branch lives in the text, not in 호번호
    assert lines[7] == "② 그 밖의 용어는 따로 정한다."


def test_paragraph_as_dict_of_items_without_numbered_paragraphs() -> None:
    unit = row(
        "4",
        "제4조의2(전자문서의 서면요건) 다음 요건을 갖춘 때에는 서면으로 본다.",
        조문가지번호="2",
        항={
            "호": [
                {"호번호": "1.", "호내용": "1.  전자문서의 내용을 열람할 수 있을 것"},
                {"호번호": "2.", "호내용": "2.  형태로 보존될 것"},
            ]
        },
    )
    [p] = parse(law(unit), PARAGRAPH)
    assert p["id"] == "LAW_001706_제4조의2"  # nothing to split on: 호 only
    assert p["article"] == "제4조의2"
    assert "1. 전자문서의 내용을 열람할 수 있을 것" in p["text"]


def test_single_paragraph_dict() -> None:
    unit = row(
        "54",
        "제54조(사고발생 시의 조치)",
        항={
            "항번호": "①",
            "항내용": "① 차의 운전자는 즉시 정차하여야 한다.",
            "호": {"호번호": "1.", "호내용": "1. 사상자를 구호하는 일"},
        },
    )
    [p] = parse(law(unit), PARAGRAPH)
    assert p["id"] == "LAW_001706_제54조"  # one 항 is no reason to split
    assert p["text"].endswith("① 차의 운전자는 즉시 정차하여야 한다.\n1. 사상자를 구호하는 일")


def test_paragraph_granularity_ids_derive_the_article() -> None:
    unit = row(
        "3",
        "제3조(권리능력)",
        항=[{"항번호": "①", "항내용": "① 첫째 항"}, {"항번호": "②", "항내용": "② 둘째 항"}],
    )
    passages = parse(law(unit), PARAGRAPH)
    assert [p["id"] for p in passages] == ["LAW_001706_제3조_1", "LAW_001706_제3조_2"]
    assert [p["paragraph"] for p in passages] == [1, 2]
    assert {article_id_of(p["id"]) for p in passages} == {"LAW_001706_제3조"}
    assert all(p["text"].startswith("민법 제3조(권리능력)\n") for p in passages)


def test_long_article_is_split_on_paragraphs_within_token_budget() -> None:
    long_text = "가" * 600
    unit = row(
        "5",
        "제5조(긴 조문)",
        항=[{"항번호": "①", "항내용": f"① {long_text}"}, {"항번호": "②", "항내용": f"② {long_text}"}],
    )
    assert [p["id"] for p in parse(law(unit))] == ["LAW_001706_제5조_1", "LAW_001706_제5조_2"]
    assert [p["id"] for p in parse(law(unit), PassageOptions(max_tokens=10_000))] == ["LAW_001706_제5조"]


def test_chapter_headings_are_context_not_passages() -> None:
    doc = law(
        row("1", [["   제1편 총칙", "   제1장 통칙"]], kind="전문"),
        row("1", "제1조(법원) 민사에 관하여 법률에 규정이 없으면 관습법에 의한다."),
        row("2", "     제2장 인 <개정 2011.3.7>", kind="전문"),
        row("3", "제3조(권리능력의 존속기간) 사람은 생존한 동안 권리와 의무의 주체가 된다."),
    )
    passages = parse(doc)
    assert [p["id"] for p in passages] == ["LAW_001706_제1조", "LAW_001706_제3조"]
    assert passages[0]["chapter"] == "제1편 총칙 > 제1장 통칙"
    assert passages[1]["chapter"] == "제1편 총칙 > 제2장 인"


def test_constitution_preamble_is_a_passage() -> None:
    doc = law(
        row("0", "        전문", kind="전문"),
        row("0", "        유구한 역사와 전통에 빛나는 우리 대한국민은 … 개정한다.", kind="전문"),
        row("0", "1987년 10월 29일", kind="전문"),
        row("1", "     제1장 총강", kind="전문"),
        row("1", "제1조 ①대한민국은 민주공화국이다."),
        name="대한민국헌법",
        law_id="001444",
    )
    passages = parse(doc)
    assert [p["id"] for p in passages] == ["LAW_001444_전문", "LAW_001444_제1조"]
    assert (
        passages[0]["text"]
        == "대한민국헌법 유구한 역사와 전통에 빛나는 우리 대한국민은 … 개정한다.\n1987년 10월 29일"
    )
    assert passages[1]["chapter"] == "제1장 총강"


@pytest.mark.parametrize(
    "content",
    ["제18조 삭제 <2017.10.24>", "제18조삭제", "제18조(폐지된 조문) 삭제 <2014.12.30>"],
)
def test_deleted_articles_are_dropped_and_reported(content: str) -> None:
    passages, dropped = parse_law(
        law(row("18", content), row("19", "제19조(남은 조문) 유효하다.")), "f", ARTICLE
    )
    assert [p.id for p in passages] == ["LAW_001706_제19조"]
    assert len(dropped) == 1


def test_deleted_paragraphs_and_items_are_left_out_of_the_text() -> None:
    unit = row(
        "7",
        "제7조(조문)",
        항=[
            {"항번호": "①", "항내용": "① 유효한 항"},
            {"항번호": "②", "항내용": "② 삭제 <2014.1.1>"},
            {"항번호": "③", "항내용": "③ 셋째 항", "호": [{"호번호": "1.", "호내용": "1. 삭제 <2015.1.1>"}]},
        ],
    )
    [p] = parse(law(unit))
    assert "삭제" not in p["text"]
    assert "③ 셋째 항" in p["text"]


def test_amendment_tags_and_history_notes_are_stripped() -> None:
    [p] = parse(
        law(
            row(
                "9",
                "제9조(성년후견개시의 심판) 가정법원은 심판을 한다. <개정 2011.3.7, 2016.12.20> [전문개정 2011.3.7]",
                조문참고자료=[["[본조신설 2012.6.1]", "[제목개정 2020.6.9]"]],
            )
        )
    )
    assert p["text"] == "민법 제9조(성년후견개시의 심판) 가정법원은 심판을 한다."


def test_middle_dots_are_unified_and_move_markers_tolerated() -> None:
    [p] = parse(law(row("2", "제2조(정의) 수집·가공・저장ㆍ검색", 조문이동이전="000000", 조문이동이후="")))
    assert p["text"].endswith("수집ㆍ가공ㆍ저장ㆍ검색")


def test_article_ids_are_unique_and_stable() -> None:
    doc = law(row("1", "제1조 하나"), row("1", "제1조의2 둘", 조문가지번호="2"), row("2", "제2조 셋"))
    assert [p["id"] for p in parse(doc)] == ["LAW_001706_제1조", "LAW_001706_제1조의2", "LAW_001706_제2조"]
    assert parse(copy.deepcopy(doc)) == parse(doc)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["법령"]["기본정보"].update({"법령ID": "../../etc"}), "법령.기본정보.법령ID"),
        (lambda d: d["법령"]["기본정보"].pop("법령명_한글"), "법령.기본정보.법령명_한글"),
        (lambda d: d["법령"].pop("기본정보"), "법령.기본정보"),
        (lambda d: d["법령"]["조문"].update({"조문단위": []}), "법령.조문.조문단위"),
        (lambda d: d["법령"]["조문"]["조문단위"].update({"조문번호": "제1"}), "조문번호"),
        (lambda d: d["법령"]["조문"]["조문단위"].update({"조문내용": 17.5}), "조문내용"),
        (lambda d: d["법령"]["조문"]["조문단위"].update({"항": ["text"]}), "항"),
    ],
)
def test_bad_fields_raise_input_errors_naming_the_field(mutate: Any, field: str) -> None:
    doc = law(row("1", "제1조 하나"))
    mutate(doc)
    with pytest.raises(InputError) as info:
        parse(doc)
    assert info.value.field == field
    assert info.value.file == "laws/x.json"
