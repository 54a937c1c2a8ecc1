"""The learner's yearly page and its .xlsx: every number is the ledger's, every entry shows where it came from."""

from __future__ import annotations

import io
import re
import urllib.parse
from decimal import Decimal

import openpyxl

from lms.courses.models import Category
from lms.extensions import db
from lms.ledger import service
from lms.ledger.models import AdjustmentKind
from tests.certificates import post_hours
from tests.conftest import login
from tests.ledger import mark_watched
from tests.player import make_published_course


def _figures(html: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Read (hours, minimum) per category block of the page."""
    found = re.findall(r'data-category="(\w+)">\s*<label[^>]*>[^<]*<span class="hours">([\d.-]+)</span> / '
                       r'<span class="minimum">([\d.]+)</span>', html)
    return {category: (Decimal(hours), Decimal(minimum)) for category, hours, minimum in found}


def _fill_year(tree):
    """A course credit, two declarations (one titled like a formula) and a correction with its reason."""
    learner = tree.learner_a
    course = make_published_course(tree.base_a, hours=(1.5, 1.0), category=Category.PROFESSIONAL,
                                   title="数据安全实务")
    mark_watched(learner, course)
    service.credit_course(learner, course)
    db.session.commit()
    post_hours(learner, Category.PUBLIC, 12, "学术会议报告")
    post_hours(learner, Category.PROFESSIONAL, 8, "=HYPERLINK(\"http://evil.example\",\"点我\")")
    service.adjust(learner, year=service.china_today().year, kind=AdjustmentKind.CORRECTION,
                   reason="补录 3 月线下培训", decided_by=tree.admins["unit_a"],
                   postings=[service.Posting(Category.PUBLIC, Decimal("1.5"))])
    db.session.commit()
    return learner


def test_yearly_page_shows_the_ledger_sums_against_the_rule_set_minimums(client, tree):
    learner = _fill_year(tree)
    year = service.china_today().year
    login(client, learner)
    response = client.get(f"/my/hours/{year}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    totals = service.balances(learner.id, year)
    rule_set = service.rule_set_of(learner, year)
    figures = _figures(html)
    assert figures["public"] == (totals[Category.PUBLIC], rule_set.categories["public"].minimum)
    assert figures["professional"] == (totals[Category.PROFESSIONAL], rule_set.categories["professional"].minimum)
    assert figures["total"] == (sum(totals.values()), rule_set.total_hours)
    assert figures["public"][0] == Decimal("13.5") and figures["professional"][0] == Decimal("10.5")
    entries = service.entries(learner.id, year)
    shown = [Decimal(h) for h in re.findall(r'class="entry-hours">([\d.-]+)<', html)]
    assert shown == [e.hours for e in entries] and len(shown) == 4
    assert "网络课程《数据安全实务》" in html and "学术会议报告" in html
    assert "原因：补录 3 月线下培训" in html and "更正" in html
    assert 'id="progress-public" max="100" value="45"' in html  # 13.5 of 30 hours
    assert "本年度学时已作废" not in html and "/my/certificates/" not in html  # not met: no certificate yet
    assert client.get("/my/hours").get_data(as_text=True) == html  # the current year by default


def test_the_year_downloads_as_xlsx_with_the_entries_and_totals(client, tree):
    learner = _fill_year(tree)
    year = service.china_today().year
    login(client, learner)
    response = client.get(f"/my/hours/{year}.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    expected_name = f"{year}年度继续教育学时_{learner.name}.xlsx"
    assert f"filename*=UTF-8''{urllib.parse.quote(expected_name)}" in disposition
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["学时明细", "汇总"]
    rows = list(workbook["学时明细"].iter_rows(min_row=3, values_only=True))
    entries = service.entries(learner.id, year)
    assert [Decimal(str(row[2])) for row in rows] == [e.hours for e in entries]
    assert [row[1] for row in rows] == [e.category.label for e in entries]
    assert rows[0][3] == "网络课程" and rows[0][4] == "网络课程《数据安全实务》"
    assert rows[-1][3] == "更正" and rows[-1][5] == "补录 3 月线下培训"
    formula_like = workbook["学时明细"].cell(3 + 2, 5)
    assert formula_like.data_type == "s" and formula_like.value.startswith("=HYPERLINK")  # text, not a formula
    totals = {row[0]: row for row in workbook["汇总"].iter_rows(min_row=3, values_only=True)}
    balances = service.balances(learner.id, year)
    assert Decimal(str(totals["公需科目"][1])) == balances[Category.PUBLIC]
    assert Decimal(str(totals["专业科目"][1])) == balances[Category.PROFESSIONAL]
    assert Decimal(str(totals["合计"][1])) == sum(balances.values()) == Decimal(24)
    assert (totals["公需科目"][2], totals["专业科目"][2], totals["合计"][2]) == (30, 60, 90)
    assert totals["年度要求"][1] == "未完成"


def test_a_voided_year_says_so_and_sums_to_zero(client, tree):
    learner = _fill_year(tree)
    year = service.china_today().year
    service.adjust(learner, year=year, kind=AdjustmentKind.VOID_YEAR, reason="申报材料虚假",
                   decided_by=tree.admins["city"])
    db.session.commit()
    login(client, learner)
    html = client.get(f"/my/hours/{year}").get_data(as_text=True)
    assert "本年度学时已作废" in html and "第二十一条" in html
    assert {key: hours for key, (hours, _minimum) in _figures(html).items()} == {
        "public": Decimal(0), "professional": Decimal(0), "total": Decimal(0)}
    assert "原因：申报材料虚假" in html and "（冲销）" in html


def test_the_yearly_page_is_the_learners_own_and_only_for_years_begun(client, tree):
    year = service.china_today().year
    assert client.get("/my/hours").status_code == 302  # to the login page
    login(client, tree.admins["unit_a"])
    assert client.get("/my/hours").status_code == 403
    assert client.get(f"/my/hours/{year}.xlsx").status_code == 403
    learner_client = client.application.test_client()
    login(learner_client, tree.learner_b)
    post_hours(tree.learner_a, Category.PUBLIC, 7, "别人的学时")
    html = learner_client.get("/my/hours").get_data(as_text=True)
    assert "别人的学时" not in html and _figures(html)["total"][0] == 0
    future = learner_client.get(f"/my/hours/{year + 1}")
    assert future.status_code == 404 and "尚未开始" in future.get_data(as_text=True)
    assert learner_client.get("/my/hours/0").status_code == 404
    past = learner_client.get("/my/hours/2019")
    assert past.status_code == 404 and "没有适用于该地区" in past.get_data(as_text=True)
