"""hunan-2026: every row of the 2026 继续教育学时折算细则, facts in, hours and category out, citing the item.

Expected hours are written from the text of 细则 第二部分, not read from the rule file.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms.rules import CreditedThisYear, compute, rule_set_for

HUNAN = rule_set_for("hunan", 2026)


def item(number: int) -> str:
    return f"学时折算细则第二部分第{number}条"


def table(kind: str, number: int, key: str | tuple[str, ...], rows: dict) -> list:
    """Rows of a lookup: {value or tuple of values: hours}, all 专业."""
    keys = (key,) if isinstance(key, str) else key
    params = []
    for values, hours in rows.items():
        values = (values,) if isinstance(values, str) else values
        facts = dict(zip(keys, values, strict=True))
        params.append(pytest.param(kind, facts, Decimal(hours), "professional", item(number),
                                   id=f"{kind} {'/'.join(values)} is {hours}"))
    return params


CASES = [
    # 1. 培训、研讨、会议: 8 a day, 4 a half day; the content decides the category.
    pytest.param("training_or_meeting", {"activity": "training", "days": "1", "category": "public"}, Decimal(8),
                 "public", item(1), id="training one day is 8"),
    pytest.param("training_or_meeting", {"activity": "meeting", "days": "0.5", "category": "professional"},
                 Decimal(4), "professional", item(1), id="meeting half day is 4"),
    pytest.param("training_or_meeting", {"activity": "practice", "days": "2.5", "category": "professional"},
                 Decimal(20), "professional", item(1), id="practice two and a half days is 20"),
    # 第一部分第3条: a course on another network platform counts its stated hours, in the category of its content.
    pytest.param("remote_course", {"hours": "6.5", "category": "public"}, Decimal("6.5"), "public",
                 "学时折算细则第一部分第3条", id="remote course counts its stated hours"),
    # 2. 课题研究与项目开发, by level and role.
    *table("project", 2, ("level", "role"), {
        ("provincial", "host"): 60, ("provincial", "main"): 30, ("provincial", "other"): 10,
        ("city", "host"): 30, ("city", "main"): 10, ("city", "other"): 10,
    }),
    # 3. 著作（译作）、教材; 论文 each.
    *table("book", 3, "author", {"first": 60, "other": 30}),
    *table("paper", 3, "author", {"first": 30, "other": 10}),
    # 4. 发明专利 and 实用新型专利, by rank on the certificate.
    *table("invention_patent", 4, "rank", {"first": 60, "top3": 30, "other": 10}),
    *table("utility_patent", 4, "rank", {"first": 30, "top3": 10}),
    # 5. 科技（社科）奖项, by level and grade.
    *table("award", 5, ("level", "grade"), {
        ("provincial", "first"): 60, ("provincial", "second"): 30, ("provincial", "third"): 10,
        ("city", "first"): 30, ("city", "second"): 10, ("city", "third"): 5,
    }),
    # 6. 专家服务基层: 8 a day on site, actual hours online.
    pytest.param("expert_service_onsite", {"days": 3, "category": "professional"}, Decimal(24), "professional",
                 item(6), id="expert service on site three days is 24"),
    pytest.param("expert_service_online", {"hours": "2.5", "category": "public"}, Decimal("2.5"), "public", item(6),
                 id="expert service online counts actual hours"),
    # 7, 8. 学历教育 courses, 职业资格考试 courses, 数字技术 exam subjects: 30 each.
    pytest.param("degree_course", {"courses_passed": 2}, Decimal(60), "professional", item(7),
                 id="two degree courses passed is 60"),
    pytest.param("qualification_exam", {"courses_passed": 1}, Decimal(30), "professional", item(8),
                 id="one qualification exam course is 30"),
    pytest.param("digital_skills_exam", {"subjects_passed": 2}, Decimal(60), "professional", item(8),
                 id="two digital skills subjects is 60"),
    # 10, 11. 技能大赛, by level and medal.
    *table("national_skills_competition", 10, "medal", {"gold": 60, "silver": 30, "bronze": 10}),
    *table("provincial_skills_competition", 11, "medal", {"gold": 30, "silver": 10, "bronze": 5}),
]


@pytest.mark.parametrize(("kind", "facts", "hours", "category", "article"), CASES)
def test_hunan_row_credits_hours_in_category_citing_item(kind, facts, hours, category, article):
    outcome = compute(HUNAN, kind, facts)
    assert (outcome.hours, outcome.category, outcome.article, outcome.cuts) == (hours, category, article, ())
    assert article in outcome.basis


def test_every_hunan_kind_has_a_row():
    assert {param.values[0] for param in CASES} | {"aid_work", "overseas_exchange"} == set(HUNAN.kinds)


def test_hunan_table_basis_names_the_row():
    outcome = compute(HUNAN, "award", {"level": "provincial", "grade": "second"})
    assert outcome.basis == (
        "获科技（社科）奖项（获奖当年）：省部级及以上、二等奖，计 30 学时（学时折算细则第二部分第5条）")


def test_hunan_requirement_is_90_hours_30_public_60_professional():
    assert (HUNAN.total_hours, HUNAN.categories["public"].minimum, HUNAN.categories["professional"].minimum) == (
        90, 30, 60)
    assert HUNAN.deferral is None  # the 2026 notice says nothing about deferral


@pytest.mark.parametrize(("kind", "facts", "completes", "number"), [
    pytest.param("aid_work", {"destination": "tibet", "months": 6, "appraisal_passed": True}, True, 6,
                 id="aid work of 6 months with a pass completes the year"),
    pytest.param("aid_work", {"destination": "abroad", "months": 5, "appraisal_passed": True}, False, 6,
                 id="aid work of 5 months does not"),
    pytest.param("aid_work", {"destination": "xinjiang", "months": 18, "appraisal_passed": False}, False, 6,
                 id="aid work without a pass does not"),
    pytest.param("overseas_exchange", {"months": 12, "appraisal_passed": True}, True, 9,
                 id="exchange of a year with a pass completes the year"),
    pytest.param("overseas_exchange", {"months": 11, "appraisal_passed": True}, False, 9,
                 id="exchange of 11 months does not"),
])
def test_hunan_aid_work_and_exchange_complete_the_year_only_when_long_enough_and_passed(kind, facts, completes,
                                                                                        number):
    credited = CreditedThisYear(by_category={"public": Decimal(40), "professional": Decimal(20)})
    outcome = compute(HUNAN, kind, facts, credited)
    assert outcome.completes_year is completes
    assert outcome.article == item(number)
    if completes:
        assert outcome.by_category == {"public": 0, "professional": 40}
    else:
        assert outcome.hours == 0
        assert outcome.not_credited_reason.endswith(f"（{item(number)}），本次不计学时")
