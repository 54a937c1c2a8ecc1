"""Required materials (附件2 一; 第十一条 where it names evidence) and the facts the texts make conditions, as data.

Expected materials and sentences are written from the texts, not read from the rule files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lms.rules import FactsError, RuleSetError, check_facts, compute, default_rule_sets, load_rule_sets, rule_set_for
from lms.rules.materials import check_materials, missing_message, slot_text
from tests.rules.test_loader import VALID, write

HUBEI = rule_set_for("hubei", 2026)
HUNAN = rule_set_for("hunan", 2026)


def conference(**overrides) -> dict:
    return {"level": "national", "field": "临床医学", "in_own_field": True, "presented_paper": False, **overrides}


def training(**overrides) -> dict:
    return {"start_date": "2026-03-01", "end_date": "2026-03-01", "travel_days": 0, "hours": "6",
            "category": "professional", "organiser": "hr", **overrides}


def meeting(activity: str) -> dict:
    return {"activity": activity, "days": "1", "category": "professional"}


def case(name, rule_set, kind, facts, provided, missing=()):
    """``missing``: the labels of the slots still missing (a slot of alternatives reads "A（或B、C之一）")."""
    return pytest.param(rule_set, kind, facts, set(provided), list(missing), id=name)


MATERIALS = [
    # Hubei 第十一条（一） "能提供参训证明的", "用人单位未建立学习档案的不予认定学时"; （五） "凭获得的资格证书".
    case("hubei org training needs the attendance proof", HUBEI, "org_training", training(), [],
         ["参训证明（结业证书，或培训通知及签到记录）"]),
    case("hubei org training with the proof is complete", HUBEI, "org_training", training(), ["attendance_proof"]),
    case("hubei unit training needs the unit's training record", HUBEI, "unit_training",
         {"hours": "6", "has_training_record": True}, [], ["用人单位建立的学习档案（含本次培训）"]),
    case("hubei exam needs the certificate", HUBEI, "qualification_exam", {}, [], ["资格证书"]),
    case("hubei aid work needs posting and appraisal", HUBEI, "aid_work",
         {"destination": "tibet", "appraisal_passed": True}, ["posting"], ["援派期间年度考核表"]),
    # Hubei 第十一条（三）: the notice always, the paper when one is reported (the 4 extra hours).
    case("hubei conference without a paper needs only the notice", HUBEI, "conference", conference(), ["notice"]),
    case("hubei conference with a paper needs the paper too", HUBEI, "conference", conference(presented_paper=True),
         ["notice"], ["在会上报告的论文"]),
    case("hubei conference with notice and paper is complete", HUBEI, "conference",
         conference(presented_paper=True), ["notice", "paper"]),
    # Hunan 附件2 一.1: (1) 培训通知、培训课程表、培训签到表, or (2) one of 通知/签到表/课程表 plus 结业证书.
    case("hunan training with option (1) is complete", HUNAN, "training_or_meeting", meeting("training"),
         ["notice", "schedule", "sign_in"]),
    case("hunan training with a sign-in sheet and certificate is option (2)", HUNAN, "training_or_meeting",
         meeting("training"), ["sign_in", "certificate"]),
    case("hunan training with notice only lacks the certificate of option (2)", HUNAN, "training_or_meeting",
         meeting("training"), ["notice"], ["结业证书"]),
    case("hunan training with only a certificate lacks the notice slot", HUNAN, "training_or_meeting",
         meeting("training"), ["certificate"],
         ["培训通知（或培训签到表（或其他签到形式）、培训课程表（或培训日程安排）之一）"]),
    # 一.2 practice, 一.4 meetings: the activity chooses the list; a meeting's files do not make a training complete.
    case("hunan practice with notice and dispatch order is complete", HUNAN, "training_or_meeting",
         meeting("practice"), ["practice_notice", "dispatch"]),
    case("hunan practice with sign-up form and log is option (2)", HUNAN, "training_or_meeting",
         meeting("practice"), ["practice_signup", "practice_log"]),
    case("hunan meeting with other supporting proof is option (2)", HUNAN, "training_or_meeting", meeting("meeting"),
         ["other_proof"]),
    case("hunan meeting evidence does not complete a training", HUNAN, "training_or_meeting", meeting("training"),
         ["other_proof"], ["培训通知（或培训签到表（或其他签到形式）、培训课程表（或培训日程安排）之一）", "结业证书"]),
    # 一.6: a paper needs the journal's cover, its ISSN and the contents page.
    case("hunan paper needs cover, ISSN and contents", HUNAN, "paper", {"author": "first"}, ["journal_cover"],
         ["刊号（页）", "含论文标题和作者姓名的目录复印件"]),
    # 一.11: an invitation and one of receipt / study materials / certificate.
    case("hunan exchange with invitation and study materials is complete", HUNAN, "overseas_exchange",
         {"months": 12, "appraisal_passed": True}, ["invitation", "study_materials"]),
    case("hunan exchange without the invitation lacks it", HUNAN, "overseas_exchange",
         {"months": 12, "appraisal_passed": True}, ["receipt"], ["邀请函"]),
]


@pytest.mark.parametrize(("rule_set", "kind_id", "facts", "provided", "missing"), MATERIALS)
def test_each_kind_asks_for_the_materials_its_text_names(rule_set, kind_id, facts, provided, missing):
    kind = rule_set.kinds[kind_id]
    check = check_materials(kind, check_facts(kind, facts), provided)
    assert [slot_text(slot) for slot in check.missing] == missing
    assert check.complete == (not missing)


def test_the_refusal_names_what_is_missing_the_article_and_the_other_options():
    kind = HUNAN.kinds["training_or_meeting"]
    check = check_materials(kind, check_facts(kind, meeting("training")), {"notice"})
    assert missing_message(kind, check) == (
        "缺少证明材料：结业证书（学时折算细则第一部分第1、2、4条）。可提供以下材料之一："
        "（1）培训通知、培训课程表（或培训日程安排）、培训签到表（或其他签到形式）；"
        "（2）培训通知（或培训签到表（或其他签到形式）、培训课程表（或培训日程安排）之一）、结业证书。")


def test_every_shipped_kind_names_its_materials():
    for rule_set in default_rule_sets().values():
        for kind in rule_set.kinds.values():
            assert kind.materials is not None and kind.materials.options, f"{rule_set.id} {kind.id}"


# ---------------------------------------------------------------- conditions (第十一条（一）（三）)

CONDITIONS = [
    pytest.param(HUBEI, "conference", conference(level="provincial"), "8", None, id="provincial conference counts"),
    pytest.param(HUBEI, "conference", conference(level="international"), "8", None, id="international counts"),
    pytest.param(HUBEI, "conference", conference(level="local"), "0",
                 "第十一条（三）只认定省级以上学术会议，市（州）级及以下的会议不予认定（学时管理办法第十一条（三）），本次不计学时",
                 id="city-level conference is refused with the article"),
    pytest.param(HUBEI, "conference", conference(in_own_field=False), "0",
                 "第十一条（三）只认定本专业领域的学术会议（学时管理办法第十一条（三）），本次不计学时",
                 id="conference outside the person's field is refused"),
    pytest.param(HUBEI, "org_training", training(organiser="organisation"), "6", None, id="组织部门 training counts"),
    pytest.param(HUBEI, "org_training", training(organiser="industry"), "6", None, id="行业主管部门 training counts"),
    pytest.param(HUBEI, "org_training", training(organiser="other"), "0",
                 "第十一条（一）只认定由各级组织部门、人力资源社会保障部门、行业主管部门举办的线下培训班、研修班、进修班"
                 "（学时管理办法第十一条（一）），本次不计学时", id="training by another organiser is refused"),
]


@pytest.mark.parametrize(("rule_set", "kind", "facts", "hours", "reason"), CONDITIONS)
def test_the_facts_the_text_makes_conditions_decide_whether_anything_counts(rule_set, kind, facts, hours, reason):
    outcome = compute(rule_set, kind, facts)
    assert (str(outcome.hours.normalize()), outcome.not_credited_reason) == (hours, reason)


# ---------------------------------------------------------------- categories (第三条)

CATEGORY = {  # kind -> the category the text fixes, or None where the text leaves it to the content
    ("hubei", "org_training"): None, ("hubei", "unit_training"): "professional",
    ("hubei", "conference"): "professional", ("hubei", "catalogue_teaching"): "public",
    ("hubei", "qualification_exam"): "professional", ("hubei", "degree"): "professional",
    ("hubei", "aid_work"): "professional", ("hubei", "industry_form"): None, ("hubei", "industry_credits"): None,
    ("hunan", "training_or_meeting"): None, ("hunan", "remote_course"): None, ("hunan", "expert_service_onsite"): None,
    ("hunan", "expert_service_online"): None,
}


@pytest.mark.parametrize("rule_set", [HUBEI, HUNAN], ids=lambda r: r.id)
def test_the_rule_set_fixes_each_category_the_text_decides_and_says_why_the_learner_chooses_the_rest(rule_set):
    for kind in rule_set.kinds.values():
        expected = CATEGORY.get((rule_set.region, kind.id), "professional")
        assert kind.category == expected, kind.id
        assert kind.learner_chooses_category == (expected is None), kind.id
        assert (kind.category_basis is not None) == (expected is None), kind.id


def test_a_learner_cannot_choose_the_category_the_text_fixes():
    with pytest.raises(FactsError) as caught:
        compute(HUBEI, "conference", {**conference(), "category": "public"})
    assert caught.value.fields == {"category": "此类申报不需要填写 category。"}


# ---------------------------------------------------------------- broken materials in a file

CONFERENCE = 'facts.presented_paper = { type = "bool", label = "报告论文" }\n'


@pytest.mark.parametrize(("addition", "message"), [
    pytest.param('materials = { article = "第3条", items = {} }',
                 "kinds.conference.materials.items：至少要有一项证明材料", id="no items"),
    pytest.param('materials = { article = "第3条", items = { notice = "通知" }, options = [{ needs = ["paper"] }] }',
                 "kinds.conference.materials.options.0.needs：引用了未定义的证明材料 'paper'（已定义：notice）",
                 id="unknown material"),
    pytest.param('materials = { article = "第3条", items = { notice = "通知", paper = "论文" }, '
                 'options = [{ needs = ["notice"] }] }',
                 "kinds.conference.materials.items：证明材料 paper 不在任何材料组合中", id="unused material"),
    pytest.param('materials = { article = "第3条", items = { notice = "通知" }, '
                 'options = [{ needs = ["notice"], when = { presented_paper = true } }] }',
                 "kinds.conference.materials.options：没有适用于 presented_paper = False 的材料组合",
                 id="a fact value without an option"),
    pytest.param('materials = { article = "第3条", items = { notice = "通知" }, '
                 'options = [{ needs = ["notice"], when = { presented_paper = "yes" } }] }',
                 "kinds.conference.materials.options.0.when.presented_paper：应为 true 或 false", id="bad when value"),
    pytest.param('category_basis = "文件未规定"',
                 "kinds.conference.category_basis：科目由规则固定（category）时不需要 category_basis",
                 id="basis for a fixed category"),
])
def test_broken_materials_are_refused_naming_the_entry(tmp_path: Path, addition: str, message: str):
    text = VALID.replace(CONFERENCE, CONFERENCE + addition + "\n")
    assert text != VALID
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(write(tmp_path, text))
    assert str(caught.value) == f"testland-2026.toml：{message}"
