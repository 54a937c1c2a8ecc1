"""The demo's yearly work: vetted courses, a plan the department can approve, the department's material sent up."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import User
from lms.courses import service as courses
from lms.demo import seed_demo_data
from lms.extensions import db
from lms.plans import service
from lms.plans.demo import seed_demo_course_vetting, seed_demo_material, seed_demo_plan
from lms.plans.models import FilingStatus, PlanFiling, WorkMaterial
from lms.plans.vetting import is_listed
from tests.player import make_course, make_media


def test_the_demo_department_vets_its_courses_and_has_a_plan_to_approve_and_a_material_sent(app):
    seed_demo_data()
    db.session.commit()
    users = {login: db.session.scalar(sa.select(User).where(User.login == login))
             for login in ("base_admin", "dept_admin", "city_admin")}
    course = make_course(users["base_admin"].org, hours=(1.0,), media=[make_media(users["base_admin"].org,
                                                                                  write_files=False)])
    courses.publish_course(users["base_admin"], course.id)
    db.session.commit()
    assert not is_listed(course)
    assert seed_demo_course_vetting(users["dept_admin"]) == [course.title]
    assert is_listed(course)

    assert "待主管部门审核" in seed_demo_plan(users["base_admin"])
    assert seed_demo_plan(users["base_admin"]) is None
    filing = db.session.scalar(sa.select(PlanFiling))
    assert service.may_decide(users["dept_admin"], filing) and len(filing.latest.attachments) == 1
    service.decide(users["dept_admin"], filing.id, "approve")
    db.session.commit()
    assert db.session.get(PlanFiling, filing.id).status == FilingStatus.APPROVED

    assert "学习指南" in seed_demo_material(users["dept_admin"])
    assert seed_demo_material(users["dept_admin"]) is None
    material = db.session.scalar(sa.select(WorkMaterial))
    assert material.bureau.name == users["city_admin"].org.name and material.files[0].content_type == "application/pdf"
