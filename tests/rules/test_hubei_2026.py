"""hubei-2026: every kind of 学时管理办法 第十一条, facts in, hours and category out, with each cap's edge.

Expected hours are written from the text of the 办法, not read from the rule file.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms.rules import CreditedThisYear, compute, rule_set_for

HUBEI = rule_set_for("hubei", 2026)
ART_1 = "学时管理办法第十一条（一）"


def case(name, kind, facts, hours, category, article, *, used=None, cuts=(), message=None):
    """One row: ``used`` is what the year already has per kind, ``cuts`` the caps expected to cut."""
    return pytest.param(kind, facts, used or {}, Decimal(hours), category, article, cuts, message, id=name)


def training(days: int, travel: int, hours: str, category: str = "professional") -> dict:
    return {"start_date": "2026-03-01", "end_date": f"2026-03-{days:02d}", "travel_days": travel, "hours": hours,
            "category": category, "organiser": "hr"}


def conference(paper: bool, **overrides) -> dict:
    """A national conference of the person's field, so that 第十一条（三）'s conditions hold."""
    return {"level": "national", "field": "临床医学", "in_own_field": True, "presented_paper": paper, **overrides}


CASES = [
    # 第十一条（一）: actual hours, at most 8 a day, travel days not counted, part days as attended.
    case("org training counts the actual hours in the declared category", "org_training",
         training(1, 0, "6.5", "public"), "6.5", "public", ART_1),
    case("org training part day counts as attended", "org_training", training(1, 0, "3"), "3", "professional", ART_1),
    case("org training exactly 8 on one day is not cut", "org_training", training(1, 0, "8"), "8", "professional",
         ART_1),
    case("org training 8.1 on one day is cut to 8", "org_training", training(1, 0, "8.1"), "8", "professional", ART_1,
         cuts=["org_training_day"],
         message="线下培训每天最多计 8 学时（学时管理办法第十一条（一）），共 1 天，1 天最多计 8 学时，"
                 "本次按 8 学时计"),
    case("org training three days with one travel day allows exactly 16", "org_training", training(3, 1, "16"), "16",
         "professional", ART_1),
    case("org training three days with one travel day cuts 17 to 16", "org_training", training(3, 1, "17"), "16",
         "professional", ART_1, cuts=["org_training_day"],
         message="线下培训每天最多计 8 学时（学时管理办法第十一条（一）），共 3 天，不计在途天数 1 天，"
                 "2 天最多计 16 学时，本次按 16 学时计"),
    case("unit training is 专业 at its actual hours", "unit_training",
         {"hours": "6", "has_training_record": True}, "6", "professional", ART_1),
    case("unit training exactly reaching 20 a year is not cut", "unit_training",
         {"hours": "5", "has_training_record": True}, "5", "professional", ART_1, used={"unit_training": 15}),
    case("unit training one over 20 a year is cut", "unit_training",
         {"hours": "6", "has_training_record": True}, "5", "professional", ART_1, used={"unit_training": 15},
         cuts=["unit_training_year"],
         message="本单位组织的线下培训每年最多计 20 学时（学时管理办法第十一条（一）），本年已计 15 学时，"
                 "本次按 5 学时计"),
    case("unit training without a training record is not credited", "unit_training",
         {"hours": "6", "has_training_record": False}, "0", "professional", ART_1),
    case("offline training exactly reaching 90 a year is not cut", "org_training", training(2, 0, "16"), "16",
         "professional", ART_1, used={"org_training": 60, "unit_training": 14}),
    case("offline training one over 90 a year is cut", "org_training", training(2, 0, "16"), "15", "professional",
         ART_1, used={"org_training": 61, "unit_training": 14}, cuts=["offline_training_year"],
         message="各类线下培训合计每年最多计 90 学时（学时管理办法第十一条（一）），本年已计 75 学时，"
                 "本次按 15 学时计"),
    case("unit training cut by its own cap and then by the shared 90", "unit_training",
         {"hours": "10", "has_training_record": True}, "3", "professional", ART_1,
         used={"unit_training": 15, "org_training": 72}, cuts=["unit_training_year", "offline_training_year"]),
    case("offline training after 90 a year is credited nothing", "org_training", training(1, 0, "4"), "0",
         "professional", ART_1, used={"org_training": 90}, cuts=["offline_training_year"]),
    # 第十一条（三）: 8 专业 per conference, +4 with a paper, 30 a year.
    case("conference without a paper is 8", "conference", conference(False), "8", "professional",
         "学时管理办法第十一条（三）"),
    case("conference with a paper is 12", "conference", conference(True), "12", "professional",
         "学时管理办法第十一条（三）"),
    case("conference exactly reaching 30 a year is not cut", "conference", conference(True), "12",
         "professional", "学时管理办法第十一条（三）", used={"conference": 18}),
    case("conference one over 30 a year is cut", "conference", conference(True), "11", "professional",
         "学时管理办法第十一条（三）", used={"conference": 19}, cuts=["conference_year"]),
    case("third conference with a paper gets the 6 hours left and says so", "conference", conference(True),
         "6", "professional", "学时管理办法第十一条（三）", used={"conference": 24}, cuts=["conference_year"],
         message="学术会议每年最多计 30 学时（学时管理办法第十一条（三）），本年已计 24 学时，本次按 6 学时计"),
    # 第十一条（四）: 6 times the courseware's hours, 公需.
    case("teaching a catalogue courseware is 6 times its hours", "catalogue_teaching", {"courseware_hours": "2"},
         "12", "public", "学时管理办法第十一条（四）"),
    case("teaching a catalogue courseware of 1.5 hours is 9", "catalogue_teaching", {"courseware_hours": "1.5"},
         "9", "public", "学时管理办法第十一条（四）"),
    # 第十一条（五）: a passed qualification exam is 60 专业 that year.
    case("qualification exam is 60 专业", "qualification_exam", {}, "60", "professional", "学时管理办法第十一条（五）"),
    case("a second qualification exam in the year adds nothing", "qualification_exam", {}, "0", "professional",
         "学时管理办法第十一条（五）", used={"qualification_exam": 60}, cuts=["qualification_exam_year"]),
    # 第十一条（八）: forms approved by a provincial industry department, by hours or by credits.
    case("industry-approved form counts its hours", "industry_form", {"hours": "12.5", "category": "professional"},
         "12.5", "professional", "学时管理办法第十一条（八）"),
    case("industry credits convert by the declared factor", "industry_credits",
         {"credits": "3", "hours_per_credit": "2.5", "category": "public"}, "7.5", "public",
         "学时管理办法第十一条（八）"),
    case("industry credits round half up to one decimal", "industry_credits",
         {"credits": "3", "hours_per_credit": "0.25", "category": "professional"}, "0.8", "professional",
         "学时管理办法第十一条（八）"),
]


@pytest.mark.parametrize(("kind", "facts", "used", "hours", "category", "article", "cuts", "message"), CASES)
def test_hubei_kind_credits_hours_in_category_citing_article(kind, facts, used, hours, category, article, cuts,
                                                             message):
    credited = CreditedThisYear(by_kind={kind_id: Decimal(value) for kind_id, value in used.items()})
    outcome = compute(HUBEI, kind, facts, credited)
    assert (outcome.hours, outcome.category, outcome.article) == (hours, category, article)
    assert outcome.hours.as_tuple().exponent == -1  # one decimal place
    assert [cut.cap_id for cut in outcome.cuts] == list(cuts)
    assert sum((cut.reduced_by for cut in outcome.cuts), Decimal(0)) == outcome.uncapped_hours - outcome.hours
    assert all(article_of(cut.cap_id) in cut.message for cut in outcome.cuts)
    if message:
        assert outcome.cuts[-1].message == message
    assert article in outcome.basis


def article_of(cap_id: str) -> str:
    return next(cap.article for cap in HUBEI.caps if cap.id == cap_id)


def test_every_hubei_kind_has_a_row():
    assert {param.values[0] for param in CASES} | {"degree", "aid_work"} == set(HUBEI.kinds)


def test_hubei_requirement_is_90_hours_30_public_60_professional_of_45_minutes():
    assert HUBEI.total_hours == 90
    assert {category.id: category.minimum for category in HUBEI.categories.values()} == {
        "public": 30, "professional": 60}
    assert (HUBEI.minutes_per_hour, HUBEI.requirement_article) == (45, "学时管理办法第四条")
    assert (HUBEI.deferral.max_months, HUBEI.deferral.article) == (12, "学时管理办法第十七条")


def test_unit_training_without_record_says_why_with_article():
    outcome = compute(HUBEI, "unit_training", {"hours": "6", "has_training_record": False})
    assert outcome.not_credited_reason == (
        "用人单位未建立学习档案的，不予认定学时（学时管理办法第十一条（一）），本次不计学时")
    assert outcome.by_category == {"professional": 0}


@pytest.mark.parametrize(("kind", "facts", "article"), [
    ("degree", {"degree_level": "bachelor"}, "学时管理办法第十一条（六）"),
    ("aid_work", {"destination": "xinjiang", "appraisal_passed": True}, "学时管理办法第十一条（七）"),
])
def test_degree_or_aid_work_completes_the_year_with_what_is_missing(kind, facts, article):
    credited = CreditedThisYear(by_category={"public": Decimal(12), "professional": Decimal("70.5")})
    outcome = compute(HUBEI, kind, facts, credited)
    assert outcome.completes_year
    assert outcome.by_category == {"public": Decimal(18), "professional": Decimal(0)}
    assert outcome.hours == 18
    assert outcome.article == article
    assert outcome.basis.endswith(f"视为完成当年度继续教育学时（{article}），本年尚差公需科目 18 学时，按此计入")


def test_completing_an_already_complete_year_adds_nothing():
    credited = CreditedThisYear(by_category={"public": Decimal(30), "professional": Decimal(60)})
    outcome = compute(HUBEI, "degree", {"degree_level": "doctor"}, credited)
    assert (outcome.completes_year, outcome.hours) == (True, 0)


def test_aid_work_without_a_pass_appraisal_does_not_complete_the_year():
    outcome = compute(HUBEI, "aid_work", {"destination": "tibet", "appraisal_passed": False})
    assert (outcome.completes_year, outcome.hours) == (False, 0)
    assert "学时管理办法第十一条（七）" in outcome.not_credited_reason
