"""The engine on its own terms: fact checking, per-day caps across declarations, and properties of every cap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms.core.errors import InvalidInput, joined_sentences
from lms.rules import CreditedThisYear, FactsError, UnknownKind, compute, default_rule_sets, rule_set_for
from lms.rules.model import Fact, Kind

HUBEI = rule_set_for("hubei", 2026)
HUNAN = rule_set_for("hunan", 2026)
MARCH = [dt.date(2026, 3, day) for day in range(1, 32)]


def org_training(**overrides) -> dict:
    facts = {"start_date": "2026-03-01", "end_date": "2026-03-03", "travel_days": 0, "hours": "20",
             "category": "professional", "organiser": "hr"}
    return {**facts, **overrides}


def conference(paper=True, **overrides) -> dict:
    """A national conference of the person's field (第十一条（三）'s conditions hold)."""
    facts = {"level": "national", "field": "临床医学", "in_own_field": True, "presented_paper": paper}
    return {**facts, **overrides}


# ---------------------------------------------------------------- bad facts


def test_unknown_kind_is_refused_in_chinese():
    with pytest.raises(UnknownKind) as caught:
        compute(HUBEI, "karaoke", {})
    assert caught.value.fields == {"kind": "没有这种学时类型：karaoke。"}


@pytest.mark.parametrize(("rule_set", "kind", "facts", "fact", "message"), [
    pytest.param(HUBEI, "conference", conference(presented_paper=None), "presented_paper", "请填写在会上报告论文。",
                 id="missing bool"),
    pytest.param(HUBEI, "org_training", org_training(hours=" "), "hours", "请填写实际培训学时。", id="blank decimal"),
    pytest.param(HUBEI, "conference", conference("yes"), "presented_paper",
                 "在会上报告论文应为“是”或“否”。", id="bool as text"),
    pytest.param(HUBEI, "org_training", org_training(travel_days="one"), "travel_days", "在途天数应为整数。",
                 id="int as word"),
    pytest.param(HUBEI, "org_training", org_training(travel_days=1.0), "travel_days", "在途天数应为整数。",
                 id="int as float"),
    pytest.param(HUBEI, "org_training", org_training(hours="abc"), "hours", "实际培训学时应为数字。",
                 id="decimal as word"),
    pytest.param(HUBEI, "org_training", org_training(hours="NaN"), "hours", "实际培训学时应为数字。",
                 id="decimal NaN"),
    pytest.param(HUBEI, "org_training", org_training(hours="2.55"), "hours", "实际培训学时最多保留一位小数。",
                 id="decimal with two places"),
    pytest.param(HUBEI, "org_training", org_training(hours="1e9"), "hours", "实际培训学时数值过大。",
                 id="decimal huge"),
    pytest.param(HUBEI, "org_training", org_training(category="art"), "category",
                 "科目类别应为以下之一：公需科目、专业科目。", id="enum outside values"),
    pytest.param(HUBEI, "org_training", org_training(start_date="2026-13-01"), "start_date",
                 "开始日期应为日期（如 2026-03-01）。", id="date impossible"),
    pytest.param(HUBEI, "org_training", org_training(start_date=dt.datetime(2026, 3, 1)), "start_date",
                 "开始日期应为日期（如 2026-03-01）。", id="datetime is not a date"),
    pytest.param(HUBEI, "org_training", org_training(travel_days=-1), "travel_days", "在途天数不能小于 0。",
                 id="int below range"),
    pytest.param(HUBEI, "org_training", org_training(hours="0"), "hours", "实际培训学时不能小于 0.1。",
                 id="decimal below range"),
    pytest.param(HUNAN, "training_or_meeting", {"activity": "meeting", "days": "0.7", "category": "public"}, "days",
                 "天数（半天计 0.5）应为 0.5 的整数倍。", id="decimal off its step"),
    pytest.param(HUNAN, "aid_work", {"destination": "tibet", "months": 0, "appraisal_passed": True}, "months",
                 "外派工作时间（月）不能小于 1。", id="months below range"),
    pytest.param(HUBEI, "org_training", org_training(end_date="2026-02-28"), "end_date",
                 "结束日期不能早于开始日期。", id="span ends before it starts"),
    pytest.param(HUBEI, "org_training", org_training(travel_days=3), "travel_days",
                 "在途天数应少于活动总天数（3 天）。", id="span all travel"),
    pytest.param(HUBEI, "org_training", org_training(end_date="2027-03-03"), "end_date",
                 "开始日期到结束日期不能超过 366 天。", id="span over a year"),
    pytest.param(HUBEI, "conference", conference(venue="武汉"), "venue",
                 "此类申报不需要填写 venue。", id="fact the kind does not have"),
    pytest.param(HUBEI, "conference", conference(field="临" * 51), "field", "会议所属专业领域最多 50 字。",
                 id="text over its length"),
    pytest.param(HUBEI, "conference", conference(field=3), "field", "会议所属专业领域应为文字。",
                 id="text not a string"),
    pytest.param(HUBEI, "conference", conference(field="  "), "field", "请填写会议所属专业领域。",
                 id="text blank"),
])
def test_bad_fact_is_refused_with_a_chinese_message_naming_it(rule_set, kind, facts, fact, message):
    with pytest.raises(FactsError) as caught:
        compute(rule_set, kind, facts)
    assert caught.value.fields == {fact: message}


def test_every_bad_fact_is_reported_at_once_as_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        compute(HUBEI, "org_training", {"start_date": "soon", "travel_days": True, "hours": "-1"})
    assert set(caught.value.fields) == {"start_date", "end_date", "travel_days", "hours", "category", "organiser"}
    assert caught.value.status == 422
    # One sentence: the fields' messages joined by "；" without their own full stops, ending in one.
    assert caught.value.message == joined_sentences(caught.value.fields.values())
    assert "。；" not in caught.value.message and caught.value.message.endswith("。")


def test_facts_from_a_form_as_text_are_accepted():
    outcome = compute(HUBEI, "org_training", org_training(travel_days="1", hours=" 7.5 "))
    assert outcome.hours == Decimal("7.5")


def test_credited_hours_with_unknown_ids_are_a_programming_error():
    with pytest.raises(ValueError, match="conferences"):
        compute(HUBEI, "conference", conference(), CreditedThisYear(by_kind={"conferences": Decimal(8)}))
    with pytest.raises(ValueError, match="one decimal place"):
        compute(HUBEI, "conference", conference(), CreditedThisYear(by_kind={"conference": 8.5}))


# ---------------------------------------------------------------- per-day cap across declarations


def test_per_day_cap_counts_hours_already_credited_on_the_same_days():
    earlier = {dt.date(2026, 3, 2): Decimal(6), dt.date(2026, 3, 3): Decimal(8)}
    credited = CreditedThisYear(by_kind={"org_training": Decimal(14)}, by_kind_day={"org_training": earlier})
    outcome = compute(HUBEI, "org_training", org_training(hours="20"), credited)
    assert outcome.hours == 10  # 8 on 1 March, 2 on 2 March, nothing on the full 3 March
    assert outcome.by_day == {dt.date(2026, 3, 1): 8, dt.date(2026, 3, 2): 2}
    assert outcome.cuts[0].message == (
        "线下培训每天最多计 8 学时（学时管理办法第十一条（一）），共 3 天，3 天最多计 24 学时，"
        "其中 14 学时已由同日的其他申报计入，本次按 10 学时计")


def test_travel_day_is_taken_as_the_day_already_full():
    credited = CreditedThisYear(by_kind={"org_training": Decimal(8)},
                                by_kind_day={"org_training": {dt.date(2026, 3, 2): Decimal(8)}})
    outcome = compute(HUBEI, "org_training", org_training(travel_days=1, hours="16"), credited)
    assert outcome.hours == 16
    assert outcome.cuts == ()
    assert outcome.by_day == {dt.date(2026, 3, 1): 8, dt.date(2026, 3, 3): 8}


def test_by_day_holds_the_hours_after_a_yearly_cap_cut_them():
    credited = CreditedThisYear(by_kind={"org_training": Decimal(85)})
    outcome = compute(HUBEI, "org_training", org_training(hours="20"), credited)
    assert outcome.hours == 5
    assert [cut.cap_id for cut in outcome.cuts] == ["offline_training_year"]
    assert outcome.by_day == {dt.date(2026, 3, 1): 5}


# ---------------------------------------------------------------- properties

tenths = st.integers(0, 1200).map(lambda n: Decimal(n) / 10)


@given(kind=st.sampled_from(["conference", "unit_training", "qualification_exam", "org_training"]),
       paper=st.booleans(), hours=st.integers(1, 400).map(lambda n: Decimal(n) / 10),
       days=st.integers(1, 5), used=st.dictionaries(st.sampled_from(sorted(HUBEI.kinds)), tenths))
def test_credited_hours_never_exceed_any_cap_left_and_are_never_negative(kind, paper, hours, days, used):
    facts = {
        "conference": conference(paper),
        "unit_training": {"hours": hours, "has_training_record": True},
        "qualification_exam": {},
        "org_training": org_training(end_date=MARCH[days - 1].isoformat(), hours=hours),
    }[kind]
    outcome = compute(HUBEI, kind, facts, CreditedThisYear(by_kind=used))
    rooms = [max(Decimal(0), cap.maximum - sum(used.get(k, 0) for k in cap.kinds))
             for cap in HUBEI.caps_for(kind) if cap.per == "year"]
    rooms += [cap.maximum * days for cap in HUBEI.caps_for(kind) if cap.per == "day"]
    assert outcome.hours == min([outcome.uncapped_hours, *rooms])
    assert 0 <= outcome.hours <= outcome.uncapped_hours
    assert sum((cut.reduced_by for cut in outcome.cuts), Decimal(0)) == outcome.uncapped_hours - outcome.hours
    assert all(cut.reduced_by > 0 for cut in outcome.cuts)


@given(start=st.integers(0, 20), length=st.integers(1, 8), data=st.data(),
       earlier=st.dictionaries(st.sampled_from(MARCH), st.integers(0, 80).map(lambda n: Decimal(n) / 10)))
def test_per_day_cap_holds_on_every_day_across_declarations(start, length, data, earlier):
    travel = data.draw(st.integers(0, length - 1))
    hours = data.draw(st.integers(1, 800).map(lambda n: Decimal(n) / 10))
    first, last = MARCH[start], MARCH[start + length - 1]
    credited = CreditedThisYear(by_kind_day={"org_training": earlier})
    facts = org_training(start_date=first, end_date=last, travel_days=travel, hours=hours)
    outcome = compute(HUBEI, "org_training", facts, credited)
    assert sum(outcome.by_day.values(), Decimal(0)) == outcome.hours
    assert len(outcome.by_day) <= length - travel
    for day, value in outcome.by_day.items():
        assert first <= day <= last
        assert 0 < value and value + earlier.get(day, 0) <= 8


def valid_value(fact: Fact) -> st.SearchStrategy:
    if fact.type == "bool":
        return st.booleans()
    if fact.type == "enum":
        return st.sampled_from(list(fact.values))
    if fact.type == "date":
        return st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    if fact.type == "text":
        return st.text(st.characters(codec="utf-8", categories=["Lo", "Nd"]), min_size=1, max_size=fact.maximum)
    low = fact.minimum if fact.minimum is not None else 0
    high = fact.maximum if fact.maximum is not None else low + 500
    if fact.type == "int":
        return st.integers(low, high)
    step = fact.step or Decimal("0.1")
    return st.integers(int(low / step) + (low % step > 0), int(high / step)).map(lambda n: n * step)


@st.composite
def kind_and_facts(draw) -> tuple:
    rule_set = draw(st.sampled_from(list(default_rule_sets().values())))
    kind: Kind = draw(st.sampled_from(list(rule_set.kinds.values())))
    facts = {fact.id: draw(valid_value(fact)) for fact in kind.facts.values()}
    if kind.span:
        length = draw(st.integers(1, 10))
        facts[kind.span.end] = facts[kind.span.start] + dt.timedelta(days=length - 1)
        if kind.span.excluded_days:
            facts[kind.span.excluded_days] = draw(st.integers(0, length - 1))
    return rule_set, kind, facts


@given(choice=kind_and_facts(), public=tenths, professional=tenths)
def test_every_shipped_kind_computes_for_any_facts_its_schema_allows(choice, public, professional):
    rule_set, kind, facts = choice
    credited = CreditedThisYear(by_category={"public": public, "professional": professional})
    outcome = compute(rule_set, kind.id, facts, credited)
    assert outcome.hours >= 0
    assert outcome.category in rule_set.categories
    assert outcome.hours.as_tuple().exponent == -1
    assert sum(outcome.by_category.values(), Decimal(0)) == outcome.hours
    assert kind.article in outcome.basis
    if outcome.completes_year:
        assert public + outcome.by_category["public"] >= 30
        assert professional + outcome.by_category["professional"] >= 60
        assert public + professional + outcome.hours >= 90
