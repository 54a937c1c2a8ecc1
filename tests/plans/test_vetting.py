"""课程审核 (学时管理办法第十五条): a base's course reaches the catalogue once its department approved it — where the
rule set asks (hubei-2026), not where it does not (hunan-2026)."""

from __future__ import annotations

import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.audit.service import ACTION_LABELS
from lms.courses.models import CourseState
from lms.extensions import db
from lms.orgs.models import OrgKind
from lms.plans.models import CourseVetting, VettingStatus
from lms.rules import rule_set_for
from tests.conftest import api_token, make_org, make_user
from tests.player import make_course, make_media


def _publishable(base):
    return make_course(base, hours=(1.0,), media=[make_media(base, write_files=False)])


def _catalogue_titles(client, learner) -> list[str]:
    headers = api_token(client, learner)
    response = client.get("/api/v1/catalogue", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [c["title"] for c in response.get_json()["items"]]


def test_the_rule_sets_say_where_courses_are_vetted():
    assert rule_set_for("hubei", 2026).courses.require_department_approval is True
    assert "第十五条" in rule_set_for("hubei", 2026).courses.basis
    assert rule_set_for("hunan", 2026).courses.require_department_approval is False


def test_a_published_course_waits_for_its_department_then_enters_the_catalogue(app, client, tree):
    course = _publishable(tree.base_a)
    base = api_token(client, tree.admins["base_a"])
    assert client.post(f"/api/v1/base/courses/{course.id}/publish", headers=base).status_code == 200
    assert course.title not in _catalogue_titles(client, tree.learner_a)
    learner = api_token(client, tree.learner_a)
    assert client.post(f"/api/v1/courses/{course.id}/enrollment", headers=learner).status_code == 404

    department = api_token(client, tree.admins["dept_a"])
    queue = client.get("/api/v1/plans/courses?status=pending", headers=department).get_json()
    assert [v["course"]["id"] for v in queue["items"]] == [course.id]
    outside = api_token(client, tree.admins["dept_b"])
    assert client.post(f"/api/v1/plans/courses/{course.id}/decision", headers=outside,
                       json={"decision": "approve"}).status_code == 404
    city = api_token(client, tree.admins["city"])
    assert client.post(f"/api/v1/plans/courses/{course.id}/decision", headers=city,
                       json={"decision": "approve"}).status_code == 403
    approved = client.post(f"/api/v1/plans/courses/{course.id}/decision", headers=department,
                           json={"decision": "approve"})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    twice = client.post(f"/api/v1/plans/courses/{course.id}/decision", headers=department,
                        json={"decision": "reject", "reason": "迟到的点击"})
    assert twice.status_code == 409 and "已审核" in twice.get_json()["error"]["message"]
    assert course.title in _catalogue_titles(client, tree.learner_a)
    assert client.post(f"/api/v1/courses/{course.id}/enrollment", headers=learner).status_code in (200, 201)
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("course_vetting.%"))
                                      .order_by(AuditEntry.id)))
    assert actions == ["course_vetting.request", "course_vetting.approve"] and set(actions) <= set(ACTION_LABELS)


def test_a_rejected_course_is_withdrawn_with_the_reason_and_asks_again_when_published_again(app, client, tree):
    course = _publishable(tree.base_a)
    base = api_token(client, tree.admins["base_a"])
    department = api_token(client, tree.admins["dept_a"])
    client.post(f"/api/v1/base/courses/{course.id}/publish", headers=base)
    no_reason = client.post(f"/api/v1/plans/courses/{course.id}/decision", headers=department,
                            json={"decision": "reject"})
    assert no_reason.status_code == 422 and "请填写原因" in no_reason.get_json()["error"]["message"]
    rejected = client.post(f"/api/v1/plans/courses/{course.id}/decision", headers=department,
                           json={"decision": "reject", "reason": "课件内容与标题不符"})
    assert rejected.status_code == 200 and rejected.get_json()["reason"] == "课件内容与标题不符"
    db.session.expire_all()
    assert db.session.get(type(course), course.id).state == CourseState.WITHDRAWN
    assert course.title not in _catalogue_titles(client, tree.learner_a)
    assert client.post(f"/api/v1/base/courses/{course.id}/publish", headers=base).status_code == 200
    db.session.expire_all()
    vetting = db.session.scalar(sa.select(CourseVetting).where(CourseVetting.course_id == course.id))
    assert vetting.status == VettingStatus.PENDING and course.title not in _catalogue_titles(client, tree.learner_a)


def test_where_the_rule_set_does_not_ask_a_published_course_is_listed_at_once(app, client, tree):
    hunan = make_org(OrgKind.CITY_HR, tree.province, name="长沙市人社局")
    hunan.region = "hunan"
    department = make_org(OrgKind.DEPARTMENT, hunan)
    base = make_org(OrgKind.BASE, department)
    unit = make_org(OrgKind.UNIT, department)
    base_admin = make_user(base, login="hunan_base")
    learner = make_user(unit, role=tree.learner_a.role)
    course = _publishable(base)
    assert client.post(f"/api/v1/base/courses/{course.id}/publish",
                       headers=api_token(client, base_admin)).status_code == 200
    assert db.session.scalar(sa.select(CourseVetting).where(CourseVetting.course_id == course.id)) is None
    assert course.title in _catalogue_titles(client, learner)


def test_the_vetting_page_lets_the_department_approve_and_the_home_counts_it(app, client, tree):
    from tests.conftest import csrf_token
    from tests.declarations import client_for

    course = _publishable(tree.base_a)
    client.post(f"/api/v1/base/courses/{course.id}/publish", headers=api_token(client, tree.admins["base_a"]))
    page = client_for(app, tree.admins["dept_a"])
    assert 'data-key="course_vettings">1<' in page.get("/").get_data(as_text=True)
    assert course.title in page.get("/plans/courses").get_data(as_text=True)
    base_page = client_for(app, tree.admins["base_a"]).get(f"/base/courses/{course.id}").get_data(as_text=True)
    assert "待主管部门审核" in base_page and tree.dept_a.name in base_page
    response = page.post(f"/plans/courses/{course.id}/decision",
                         data={"csrf_token": csrf_token(page, "/plans/courses"), "decision": "approve"})
    assert response.status_code == 302
    assert "主管部门已通过" in page.get(response.headers["Location"]).get_data(as_text=True)
