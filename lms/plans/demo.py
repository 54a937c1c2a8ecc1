"""The demo's yearly work: the department has vetted its base's demo courses, the base has filed this year's
training plan (waiting for the department), and the department has sent this year's 学习指南 to the city."""

from __future__ import annotations

import io

import sqlalchemy as sa

from lms.accounts.models import User
from lms.extensions import db
from lms.ledger.service import china_today
from lms.plans import materials, service, vetting
from lms.plans.models import CourseVetting, FilingKind, PlanFiling, VettingStatus, WorkMaterial

DEMO_PLAN_TITLE = "{year}年度继续教育培训计划"
DEMO_MATERIAL_TITLE = "{year}年度卫生健康系统专业技术人员继续教育学习指南"


def _pdf(text: str) -> io.BytesIO:
    """A one-page PDF standing in for a scanned document (files are checked by content)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (595, 842), "white")
    ImageDraw.Draw(image).text((60, 80), text, fill="black")
    stream = io.BytesIO()
    image.save(stream, format="PDF")
    stream.seek(0)
    return stream


def seed_demo_course_vetting(dept_admin: User) -> list[str]:
    """Approve the demo courses waiting for the department (课程审核), so learners find them in the catalogue."""
    waiting = list(db.session.scalars(sa.select(CourseVetting).where(
        CourseVetting.department_id == dept_admin.org_id, CourseVetting.status == VettingStatus.PENDING)))
    titles = []
    for item in waiting:
        vetting.decide(dept_admin, item.course_id, "approve")
        titles.append(item.course.title)
    db.session.commit()
    return titles


def seed_demo_plan(base_admin: User) -> str | None:
    """File this year's training plan of the demo base, left for the department to approve; safe to run again."""
    year = china_today().year
    if db.session.scalar(sa.select(PlanFiling.id).where(PlanFiling.base_id == base_admin.org_id,
                                                        PlanFiling.kind == FilingKind.ANNUAL_PLAN,
                                                        PlanFiling.year == year)):
        return None
    items = [
        {"title": "专业技术人员职业道德与诚信建设", "form": "course", "category": "public",
         "start_date": f"{year}-03-01", "end_date": f"{year}-12-31", "hours": "6", "expected": "2000"},
        {"title": "医疗质量安全核心制度培训班", "form": "training", "category": "professional",
         "start_date": f"{year}-06-10", "end_date": f"{year}-06-12", "hours": "24", "expected": "120"},
    ]
    title = DEMO_PLAN_TITLE.format(year=year)
    _, keys = service.submit(base_admin, "annual_plan", year, title, {"items": items},
                             "含线上公需课程一门、线下专业培训班一期。", [(_pdf(f"{title}"), "培训计划.pdf")])
    db.session.commit()
    return f"{base_admin.org.name}已报送{title}，待主管部门审核（{len(keys)} 个附件）"


def seed_demo_material(dept_admin: User) -> str | None:
    """Send this year's 学习指南 of the demo department to the HR bureau above; safe to run again."""
    year = china_today().year
    if db.session.scalar(sa.select(WorkMaterial.id).where(WorkMaterial.department_id == dept_admin.org_id,
                                                          WorkMaterial.year == year)):
        return None
    title = DEMO_MATERIAL_TITLE.format(year=year)
    material, _ = materials.submit(dept_admin, {"year": year, "kind": "guide", "title": title},
                                   [(_pdf(title), "学习指南.pdf")])
    db.session.commit()
    return f"{dept_admin.org.name}已向{material.bureau.name}报送{title}"
