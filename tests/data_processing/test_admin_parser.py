"""Admin rules (docs/lawgo-quirks.md, items 10–11): article lists, one long string, 제1-1조, chapters."""

from __future__ import annotations

from typing import Any

import pytest

from lexdpr.data_processing.admin_parser import parse_admin_rule
from lexdpr.data_processing.passage import Granularity, PassageOptions
from lexdpr.errors import InputError


def rule(content: Any, rule_id: str = "53846", name: str = "금융회사 지배구조 감독규정") -> dict[str, Any]:
    return {
        "AdmRulService": {
            "행정규칙기본정보": {
                "행정규칙일련번호": "2100000243102",
                "행정규칙ID": rule_id,
                "행정규칙명": name,
                "시행일자": "20240703",
            },
            "조문내용": content,
            "부칙": {"부칙공포일자": "20160728", "부칙내용": "이 규정은 공포한 날부터 시행한다."},
        }
    }


def ids(doc: dict[str, Any], options: PassageOptions | None = None) -> list[str]:
    return [p.id for p in parse_admin_rule(doc, "admin_rules/x.json", options or PassageOptions())[0]]


def test_list_of_article_strings_with_chapter_headings() -> None:
    doc = rule(
        [
            "제1장 총 칙 ",
            "제1조(목적) 이 규정은 목적을 정한다. ",
            "제2조(정의) ① 첫째. ② 둘째. ",
            "제2장 보칙 ",
            "제3조(시행) 시행한다.",
        ]
    )
    passages, _ = parse_admin_rule(doc, "f", PassageOptions())
    assert [p.id for p in passages] == ["ADM_53846_제1조", "ADM_53846_제2조", "ADM_53846_제3조"]
    assert passages[0].parent_id == "53846"  # 행정규칙ID, not the 일련번호 of the file name
    assert passages[0].title == "목적"
    assert passages[0].chapter == "제1장 총 칙"
    assert passages[2].chapter == "제2장 보칙"
    assert passages[0].text == "금융회사 지배구조 감독규정 제1조(목적) 이 규정은 목적을 정한다."


def test_one_long_string_is_split_on_forward_moving_heads() -> None:
    text = (
        "제1장 총칙 제1-1조(목적) 이 규정은 법 제2조(정의)에 따른 사항을 정한다. "
        "제1-2조(용어의 정의 등) ① 재무사항은 따른다. ② 용어는 따른다. "
        "제2장 증권신고서 제2-1조(적용범위) 증권에 적용한다. 제2-1조의2(특례) 특례를 둔다."
    )
    passages, _ = parse_admin_rule(
        rule(text, "36044", "증권의 발행 및 공시 등에 관한 규정"), "f", PassageOptions()
    )
    assert [p.article for p in passages] == ["제1-1조", "제1-2조", "제2-1조", "제2-1조의2"]
    assert "법 제2조(정의)에 따른" in passages[0].text  # an in-text reference is no new article
    assert passages[1].text.endswith("② 용어는 따른다.")  # the next chapter heading is not article text
    assert passages[2].chapter == "제2장 증권신고서"


def test_paragraph_granularity_splits_only_on_the_running_sequence() -> None:
    doc = rule(
        ["제4조(서식) ① 신고서를 제출한다. ② 서식은 다음과 같다. [서식] ① 성명 ② 주소 ③ 전자문서로 낸다."]
    )
    passages, _ = parse_admin_rule(doc, "f", PassageOptions(granularity=Granularity.PARAGRAPH))
    assert [p.id for p in passages] == ["ADM_53846_제4조_1", "ADM_53846_제4조_2", "ADM_53846_제4조_3"]
    assert passages[1].text.endswith(
        "② 서식은 다음과 같다. [서식] ① 성명 ② 주소"
    )  # the form's ①② stay inside
    assert passages[2].text == "금융회사 지배구조 감독규정 제4조(서식)\n③ 전자문서로 낸다."


def test_deleted_articles_and_amendment_tags() -> None:
    doc = rule(["제1조(목적) 목적. <개정 2020. 1. 1.>", "제2조 삭제 <2019. 1. 1.>", "제3조(기타) 기타."])
    passages, dropped = parse_admin_rule(doc, "f", PassageOptions())
    assert [p.id for p in passages] == ["ADM_53846_제1조", "ADM_53846_제3조"]
    assert passages[0].text.endswith("제1조(목적) 목적.")
    assert dropped == ["제2조 (deleted article)"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"AdmRulService": "x"}, "AdmRulService"),
        (rule("제1조(목적) 목적.", rule_id="abc"), "행정규칙기본정보.행정규칙ID"),
        (rule("제1조(목적) 목적.", name=""), "행정규칙기본정보.행정규칙명"),
        (rule([]), "AdmRulService.조문내용"),
        (rule([{"x": 1}]), "AdmRulService.조문내용"),
    ],
)
def test_bad_fields_raise_input_errors(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        ids(doc)
    assert info.value.field == field
