"""The learners' catalogue and enrolment (SPEC §1, §7).

Approved learners browse published courses by category, year, base and keyword, a page at a time, each with
its total hours; enrolling is idempotent (a unique constraint keeps one row however often, or however
concurrently, it is asked); a withdrawn course leaves the catalogue but stays with those enrolled.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from lms.accounts.models import Role
from lms.courses.models import Category, CourseState, Enrollment
from lms.courses.service import current_year
from lms.extensions import db
from lms.orgs.models import OrgKind, ReviewStatus
from tests.conftest import api_token, csrf_token, login, make_org, make_user
from tests.player import enroll, make_course, make_published_course

CATALOGUE = "/api/v1/catalogue"


@pytest.fixture
def shelf(tree):
    """Published courses in two bases, two categories and two years, plus a draft and a withdrawn course."""
    base_b = make_org(OrgKind.BASE, tree.dept_b, name="荆楚理工学院继续教育基地")
    year, last = current_year(), current_year() - 1
    courses = {
        "ethics": make_published_course(tree.base_a, hours=(1.0, 0.5), title="专业技术人员职业道德",
                                        category=Category.PUBLIC, year=year, description="诚信与规范"),
        "law": make_published_course(tree.base_a, hours=(2.0,), title="法治素养", category=Category.PUBLIC,
                                     year=last, description="宪法与民法典"),
        "drugs": make_published_course(base_b, hours=(1.1, 1.1, 0.8), title="临床合理用药",
                                       category=Category.PROFESSIONAL, year=year, description="抗菌药物 100% 规范"),
        "nursing": make_published_course(base_b, hours=(1.0,), title="护理质量管理", category=Category.PROFESSIONAL,
                                         year=year, description="病区管理"),
        "draft": make_course(tree.base_a, hours=(1.0,), title="尚未发布的职业道德课"),
        "withdrawn": make_published_course(tree.base_a, hours=(1.0,), title="已下架的职业道德课"),
    }
    courses["withdrawn"].state = CourseState.WITHDRAWN
    db.session.commit()
    return {"base_b": base_b, **courses}


def titles(client, headers, **query) -> list[str]:
    response = client.get(CATALOGUE, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return sorted(c["title"] for c in response.get_json()["items"])


def test_the_catalogue_lists_published_courses_only_with_their_total_hours(client, tree, shelf):
    headers = api_token(client, tree.learner_a)
    body = client.get(CATALOGUE, headers=headers).get_json()
    assert body["total"] == 4
    hours = {c["title"]: (c["labelled_hours"], c["courseware_count"], c["category_label"]) for c in body["items"]}
    assert hours == {"专业技术人员职业道德": ("1.5", 2, "公需科目"), "法治素养": ("2.0", 1, "公需科目"),
                     "临床合理用药": ("3.0", 3, "专业科目"), "护理质量管理": ("1.0", 1, "专业科目")}


def test_the_catalogue_filters_by_category_year_base_and_keyword(client, tree, shelf):
    headers = api_token(client, tree.learner_a)
    assert titles(client, headers, category="professional") == sorted(["临床合理用药", "护理质量管理"])
    assert titles(client, headers, year=current_year() - 1) == ["法治素养"]
    assert titles(client, headers, base_id=shelf["base_b"].id) == sorted(["临床合理用药", "护理质量管理"])
    assert titles(client, headers, q="道德") == ["专业技术人员职业道德"]  # the draft and the withdrawn one are not
    assert titles(client, headers, q="民法典") == ["法治素养"]  # description
    assert titles(client, headers, q="100%") == ["临床合理用药"]  # LIKE wildcards are literal
    assert titles(client, headers, q="%") == ["临床合理用药"]
    assert titles(client, headers, category="public", year=current_year(), base_id=tree.base_a.id) == [
        "专业技术人员职业道德"]
    assert titles(client, headers, category="professional", base_id=tree.base_a.id) == []


def test_the_catalogue_is_paginated(client, tree, shelf):
    headers = api_token(client, tree.learner_a)
    first = client.get(CATALOGUE, query_string={"per_page": 3}, headers=headers).get_json()
    second = client.get(CATALOGUE, query_string={"per_page": 3, "page": 2}, headers=headers).get_json()
    beyond = client.get(CATALOGUE, query_string={"per_page": 3, "page": 9}, headers=headers).get_json()
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (4, 2, 3, 1)
    assert {c["id"] for c in first["items"]}.isdisjoint({c["id"] for c in second["items"]})
    assert beyond["items"] == []


@pytest.mark.parametrize(("query", "field", "message"), [
    ({"category": "elective"}, "category", "请选择课程类别"),
    ({"year": "今年"}, "year", "年度应为整数"),
    ({"base_id": "x"}, "base_id", "基地应为整数"),
    ({"page": "0"}, "page", "页码应为正整数"),
    ({"per_page": "500"}, "per_page", "每页最多 50 条"),
    ({"q": "词" * 51}, "q", "关键词最多 50 个字符"),
])
def test_bad_catalogue_filters_are_refused_with_the_reason(client, tree, query, field, message):
    response = client.get(CATALOGUE, query_string=query, headers=api_token(client, tree.learner_a))
    assert response.status_code == 422
    assert message in response.get_json()["error"]["fields"][field]


@pytest.mark.parametrize("actor", ["base_a", "unit_a", "dept_a", "pending_learner", "anonymous"])
def test_the_catalogue_and_enrolment_are_for_approved_learners_only(client, tree, shelf, actor):
    headers = {}
    if actor == "pending_learner":
        headers = api_token(client, tree.pending_a)
    elif actor != "anonymous":
        headers = api_token(client, tree.admins[actor])
    status = 401 if actor == "anonymous" else 403
    assert client.get(CATALOGUE, headers=headers).status_code == status
    assert client.post(f"/api/v1/courses/{shelf['ethics'].id}/enrollment", headers=headers).status_code == status
    assert client.get("/api/v1/me/courses", headers=headers).status_code == status
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 0


def test_enrolling_twice_is_harmless_and_keeps_one_row(client, tree, shelf):
    headers = api_token(client, tree.learner_a)
    url = f"/api/v1/courses/{shelf['ethics'].id}/enrollment"
    first, second = client.post(url, headers=headers), client.post(url, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["course"]["title"] == "专业技术人员职业道德"
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 1


def test_concurrent_enrolments_leave_one_row(app, tree, shelf):
    headers = api_token(app.test_client(), tree.learner_a)
    url = f"/api/v1/courses/{shelf['ethics'].id}/enrollment"
    statuses, barrier = [], threading.Barrier(4)

    def click():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(url, headers=headers).status_code)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 1


def test_drafts_and_withdrawn_courses_cannot_be_enrolled_in(client, tree, shelf):
    headers = api_token(client, tree.learner_a)
    for key in ("draft", "withdrawn"):
        response = client.post(f"/api/v1/courses/{shelf[key].id}/enrollment", headers=headers)
        assert response.status_code == 404
        assert "不存在或已下架" in response.get_json()["error"]["message"]
    assert client.get(f"/api/v1/catalogue/{shelf['draft'].id}", headers=headers).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 0


def test_a_withdrawn_course_leaves_the_catalogue_but_stays_with_the_enrolled(client, tree, shelf):
    learner = api_token(client, tree.learner_a)
    other = api_token(client, tree.learner_b)
    course = shelf["ethics"]
    assert client.post(f"/api/v1/courses/{course.id}/enrollment", headers=learner).status_code == 201
    base = api_token(client, tree.admins["base_a"])
    assert client.post(f"/api/v1/base/courses/{course.id}/withdraw", headers=base).status_code == 200
    assert "专业技术人员职业道德" not in titles(client, learner)
    mine = client.get("/api/v1/me/courses", headers=learner).get_json()
    assert [(e["course"]["title"], e["course"]["state"]) for e in mine] == [("专业技术人员职业道德", "withdrawn")]
    detail = client.get(f"/api/v1/catalogue/{course.id}", headers=learner).get_json()
    assert detail["enrolled"] is True and len(detail["coursewares"]) == 2
    assert client.post(f"/api/v1/courses/{course.id}/enrollment", headers=learner).status_code == 200
    assert client.get(f"/api/v1/catalogue/{course.id}", headers=other).status_code == 404
    assert client.post(f"/api/v1/courses/{course.id}/enrollment", headers=other).status_code == 404


def test_a_course_detail_shows_coursewares_and_whether_the_learner_is_enrolled(client, tree, shelf):
    headers = api_token(client, tree.learner_a)
    course = shelf["drugs"]
    before = client.get(f"/api/v1/catalogue/{course.id}", headers=headers).get_json()
    assert before["enrolled"] is False and before["course"]["labelled_hours"] == "3.0"
    assert [(c["title"], c["labelled_hours"]) for c in before["coursewares"]] == [
        ("第1讲", "1.1"), ("第2讲", "1.1"), ("第3讲", "0.8")]
    assert "media" not in before["coursewares"][0]
    client.post(f"/api/v1/courses/{course.id}/enrollment", headers=headers)
    assert client.get(f"/api/v1/catalogue/{course.id}", headers=headers).get_json()["enrolled"] is True


# ------------------------------------------------------------------------------------------------ the pages


def test_a_learner_browses_filters_and_enrols_through_the_pages(client, tree, shelf):
    login(client, tree.learner_a)
    home = client.get("/").get_data(as_text=True)
    assert "/courses" in home and "/my/courses" in home  # the menu
    page = client.get("/courses", query_string={"category": "professional"}).get_data(as_text=True)
    assert "临床合理用药" in page and "共 3.0 学时" in page and "专业技术人员职业道德" not in page
    assert "荆楚理工学院继续教育基地" in page and "尚未发布" not in page
    url = f"/courses/{shelf['drugs'].id}"
    detail = client.get(url).get_data(as_text=True)
    assert "选修本课程" in detail and "开始学习" not in detail
    token = csrf_token(client, url)
    assert client.post(f"{url}/enroll", data={"csrf_token": token}).status_code == 302
    assert "选课成功" in client.get(url).get_data(as_text=True)
    client.post(f"{url}/enroll", data={"csrf_token": token})
    again = client.get(url).get_data(as_text=True)
    assert "您已选修该课程" in again and "开始学习" in again
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == 1
    mine = client.get("/my/courses").get_data(as_text=True)
    assert "临床合理用药" in mine


def test_the_catalogue_page_paginates_keeping_the_filters(client, tree):
    for number in range(23):
        make_published_course(tree.base_a, title=f"公需课程{number:02d}")
    login(client, tree.learner_a)
    first = client.get("/courses", query_string={"q": "公需课程"}).get_data(as_text=True)
    assert "第 1 / 2 页" in first and "page=2" in first and "q=%E5%85%AC%E9%9C%80" in first
    second = client.get("/courses", query_string={"q": "公需课程", "page": 2}).get_data(as_text=True)
    assert second.count('<li class="card">') == 3


def test_a_bad_filter_on_the_page_gets_a_chinese_error(client, tree):
    login(client, tree.learner_a)
    response = client.get("/courses", query_string={"year": "abc"})
    assert response.status_code == 422 and "年度应为整数" in response.get_data(as_text=True)


def test_a_withdrawn_course_shows_on_my_courses_with_its_state(client, tree, shelf):
    enroll(tree.learner_a, shelf["withdrawn"])
    login(client, tree.learner_a)
    assert "已下架的职业道德课" not in client.get("/courses").get_data(as_text=True)
    mine = client.get("/my/courses").get_data(as_text=True)
    assert "已下架的职业道德课" in mine and "已下架" in mine
    assert "仍可继续学习" in client.get(f"/courses/{shelf['withdrawn'].id}").get_data(as_text=True)


@pytest.mark.parametrize("actor", ["base_a", "unit_a", "pending_learner"])
def test_catalogue_pages_are_for_approved_learners(client, tree, actor):
    user = tree.pending_a if actor == "pending_learner" else tree.admins[actor]
    login(client, user)
    response = client.get("/courses")
    # A pending learner is sent to their registration status; admins are refused.
    assert response.status_code == (302 if actor == "pending_learner" else 403)


def test_another_units_learner_sees_the_same_catalogue(client, tree, shelf):
    assert titles(client, api_token(client, tree.learner_b)) == titles(client, api_token(client, tree.learner_a))


def test_a_learner_of_an_unapproved_unit_is_refused(client, tree, shelf):
    unit = make_org(OrgKind.UNIT, tree.dept_a, status=ReviewStatus.PENDING)
    learner = make_user(unit, Role.LEARNER)
    assert client.get(CATALOGUE, headers=api_token(client, learner)).status_code == 403
