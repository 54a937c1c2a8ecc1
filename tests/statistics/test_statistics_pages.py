"""Statistics pages and API for each admin level: only their subtree, drill-down, the people search, the export."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lms.accounts.models import Role
from lms.audit.models import AuditEntry
from lms.courses.models import Category
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import SourceType
from tests.conftest import api_token, login, make_user
from tests.player import live_server
from tests.support.browser import chromium, log_in

YEAR = dt.date.today().year
CHINESE = re.compile(r"[\u4e00-\u9fff]")
_sources = itertools.count(5_000_000)


def _credit(person, public, professional):
    postings = [ledger.Posting(Category.PUBLIC, Decimal(public)), ledger.Posting(Category.PROFESSIONAL,
                                                                                 Decimal(professional))]
    ledger.post(person, year=YEAR, source_type=SourceType.COURSE, source_id=next(_sources), postings=postings,
                earned_on=dt.date(YEAR, 1, 15), description="课程")
    db.session.commit()


@pytest.fixture
def staff(tree):
    """Unit A: one who met the year, one close, one short, one without hours; unit B: one who met it."""
    done = tree.learner_a
    close = make_user(tree.unit_a, Role.LEARNER, name="接近者")
    short = make_user(tree.unit_a, Role.LEARNER, name="落后者")
    make_user(tree.unit_a, Role.LEARNER, name="无学时者")
    _credit(done, 30, 60)
    _credit(close, 20, 55)
    _credit(short, 5, 10)
    _credit(tree.learner_b, 40, 60)
    return tree, {"met": done, "close": close, "short": short}


def test_the_city_sees_its_children_and_drills_down_to_the_unit_behind(client, staff):
    tree, people = staff
    headers = api_token(client, tree.admins["city"])
    city = client.get("/api/v1/statistics", headers=headers).get_json()
    assert city["total"]["people"]["approved"] == 5 and city["total"]["standings"]["met"] == 2
    children = {c["name"]: c for c in city["children"]}
    assert set(children) == {tree.county.name, tree.dept_a.name}
    dept = children[tree.dept_a.name]
    assert dept["standings"] == {"met": 1, "close": 1, "short": 1, "none": 1, "voided": 0}  # pending_a is not approved
    assert dept["hours"] == {"public": "55.0", "professional": "125.0"}
    unit = client.get(f"/api/v1/statistics?org_id={tree.unit_a.id}", headers=headers).get_json()
    assert unit["total"]["standings"]["close"] == 1 and unit["children"][0]["name"].endswith("（本级）")
    behind = client.get(f"/api/v1/statistics/people?org_id={tree.unit_a.id}&standing=close", headers=headers)
    item = behind.get_json()["items"][0]
    # The city's super admin holds 查看完整身份证号码; a statistician's role below does not.
    assert item["name"] == "接近者" and item["missing"] == "15.0" and item["id_number"] == people["close"].id_number


@pytest.mark.parametrize("who, where", [("unit_b", "unit_a"), ("dept_a", "county"), ("county", "dept_a")])
def test_a_subtree_outside_ones_own_is_refused_not_empty(client, staff, who, where):
    tree, _ = staff
    headers = api_token(client, tree.admins[who])
    for url in (f"/api/v1/statistics?org_id={getattr(tree, where).id}",
                f"/api/v1/statistics/people?org_id={getattr(tree, where).id}",
                f"/api/v1/statistics/people?unit_id={getattr(tree, where).id}"):
        response = client.get(url, headers=headers)
        assert response.status_code == 403, url
        assert CHINESE.search(response.get_json()["error"]["message"])
    assert client.get("/api/v1/statistics?org_id=999999", headers=headers).status_code == 403


def test_a_learner_and_an_admin_without_the_permission_are_refused(client, staff):
    tree, _ = staff
    assert client.get("/api/v1/statistics", headers=api_token(client, tree.learner_a)).status_code == 403
    login(client, tree.learner_a)
    assert client.get("/statistics").status_code == 403


@pytest.mark.parametrize("query, field", [
    ("year=abc", "year"), ("year=1999", "year"), ("org_id=x", "org_id"), ("standing=good", "standing"),
    ("min_hours=lots", "min_hours"), ("max_hours=-3", "max_hours"), ("id_suffix=12", "id_suffix"),
])
def test_a_malformed_filter_is_a_chinese_422(client, staff, query, field):
    tree, _ = staff
    path = "/api/v1/statistics/people" if field not in ("year", "org_id") else "/api/v1/statistics"
    response = client.get(f"{path}?{query}", headers=api_token(client, tree.admins["city"]))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["error"]["fields"]
    assert CHINESE.search(response.get_json()["error"]["fields"][field])


def test_the_people_search_filters_by_hours_and_name(client, staff):
    tree, people = staff
    headers = api_token(client, tree.admins["dept_a"])
    between = client.get("/api/v1/statistics/people?min_hours=10&max_hours=80", headers=headers).get_json()
    assert [i["name"] for i in between["items"]] == ["接近者", "落后者"]
    named = client.get("/api/v1/statistics/people?name=无学时", headers=headers).get_json()
    assert named["total"] == 1 and named["items"][0]["standing"] == "none" and named["items"][0]["missing"] == "90.0"


def _statistician(client, tree):
    """An admin of unit A whose role holds 查看统计 only."""
    headers = api_token(client, tree.admins["unit_a"])
    role = client.post("/api/v1/org/roles", json={"name": "统计员", "permissions": ["view_statistics"]},
                       headers=headers).get_json()["id"]
    person = make_user(tree.unit_a, Role.LEARNER, name="统计员甲")
    added = client.post("/api/v1/org/admins", json={"method": "member", "user_id": person.id, "role_id": role},
                        headers=headers)
    assert added.status_code == 201, added.get_json()
    return person


def test_the_export_is_a_masked_xlsx_for_a_statistician_and_is_logged(client, staff):
    tree, people = staff
    login(client, _statistician(client, tree))
    response = client.get("/statistics/people.xlsx?standing=short")
    assert response.status_code == 200
    data = response.data
    response.close()  # the workbook is streamed from a temporary file, closed with the response
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    rows = list(sheet.values)
    assert rows[0][0] == "姓名" and len(rows) == 2
    assert rows[1][0] == "落后者" and rows[1][1] == people["short"].masked_id_number and "*" in rows[1][1]
    assert rows[1][7] == 15 and rows[1][9] == 75
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "statistics.export_people")).one()
    assert entry.after["rows"] == 1 and entry.after["standing"] == "short" and entry.after["full_id_numbers"] is False
    assert people["short"].id_number not in str(entry.after)


def test_the_pages_show_the_table_and_the_drill_down(client, staff):
    tree, _ = staff
    login(client, tree.admins["city"])
    page = client.get("/statistics").get_data(as_text=True)
    assert tree.dept_a.name in page and 'id="standing-table"' in page and "echarts.min.js" in page
    unit = client.get(f"/statistics/people?org_id={tree.unit_a.id}").get_data(as_text=True)
    assert "接近者" in unit and "15.0 学时" in unit
    bad = client.get("/statistics?year=abc")
    assert bad.status_code == 422 and "年度应为四位数字" in bad.get_data(as_text=True)


def test_the_chart_renders_in_chromium_and_a_bar_opens_the_child(app, staff):
    tree, _ = staff
    with live_server(app) as url, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(20_000)
        log_in(page, url, tree.admins["city"])
        page.goto(f"{url}/statistics")
        page.wait_for_selector("#standing-chart[data-rendered=true] svg")
        assert page.locator("#standing-chart svg path").count() > 0
        assert "已达标" in page.inner_text("#standing-chart")
        page.click(f"#standing-table >> text={tree.dept_a.name}")
        page.wait_for_url(re.compile(rf".*org_id={tree.dept_a.id}.*"))
        assert tree.unit_a.name in page.inner_text("#standing-table")
        page.click("text=职称系列分布")
        page.wait_for_selector("#standing-chart[data-rendered=true] svg")
        assert "工程技术人员" in page.inner_text("#standing-chart")


def test_the_title_series_distribution_counts_each_series_and_exports(client, staff):
    tree, people = staff
    people["close"].title_series = "卫生技术人员"
    people["met"].title_level = people["short"].title_level = "中级"
    db.session.commit()
    headers = api_token(client, tree.admins["dept_a"])
    items = client.get("/api/v1/statistics/series", headers=headers).get_json()["items"]
    assert [(i["series"], i["people"], i["standings"]["met"], i["standings"]["close"]) for i in items] == [
        ("工程技术人员", 3, 1, 0), ("卫生技术人员", 1, 0, 1)]
    assert items[0]["met_percent"] == 33.3
    # The level breakdown (issue 14, 5.4.2): by series and title level, the unrated counted apart.
    assert items[0]["levels"] == {"正高级": 0, "副高级": 0, "中级": 2, "初级": 0, "未评定": 1}
    assert items[1]["levels"]["未评定"] == 1
    middle = client.get("/api/v1/statistics/people?title_series=工程技术人员&title_level=中级", headers=headers)
    assert {row["name"] for row in middle.get_json()["items"]} == {people["met"].name, people["short"].name}
    assert client.get("/api/v1/statistics/people?title_level=特级", headers=headers).status_code == 422
    refused = client.get(f"/api/v1/statistics/series?org_id={tree.unit_b.id}", headers=headers)
    assert refused.status_code == 403
    login(client, tree.admins["dept_a"])
    page = client.get("/statistics/series").get_data(as_text=True)
    assert "卫生技术人员" in page and 'id="series-table"' in page
    response = client.get("/statistics/series.xlsx")
    data = response.data
    response.close()
    rows = list(load_workbook(io.BytesIO(data), read_only=True).active.values)
    assert rows[0][:3] == ("职称系列", "人数", "已达标") and rows[1][:3] == ("工程技术人员", 3, 1)
    assert rows[0][-5:] == ("正高级", "副高级", "中级", "初级", "未评定") and rows[1][-5:] == (0, 0, 2, 0, 1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "statistics.export_series")) == 1


def test_the_unit_admin_home_page_says_how_many_are_behind(client, staff):
    tree, _ = staff
    login(client, tree.admins["unit_a"])
    home = client.get("/").get_data(as_text=True)
    progress = home[home.index('id="progress"'):]
    assert "已达标 <strong>1</strong> 人（25.0%）" in progress and "standing=close" in progress
    login(client, tree.learner_a)
    assert 'id="progress"' not in client.get("/").get_data(as_text=True)
