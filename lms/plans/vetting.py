"""课程审核: a base's course reaches the learners' catalogue only once its competent department approved it.

学时管理办法第十五条 counts only the hours of platforms recognised by the competent authorities; the platform holds
it per course: where the rule set asks (``[courses] require_department_approval``), publishing a course asks the
base's competent department to vet it, and the catalogue lists it once approved. A rejection (with a reason)
takes the course out of the catalogue again (withdrawn); publishing it again asks anew. Courses published where
the rule set does not ask (or before the gate existed) have no vetting row and are listed as they always were.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.courses.models import Course, CourseState
from lms.extensions import db
from lms.ledger.service import region_of_org
from lms.orgs.access import admin_org, has_permission, require, within_scope
from lms.orgs.models import Org
from lms.orgs.permissions import Permission
from lms.plans.models import CourseVetting, VettingStatus
from lms.plans.service import REASON_MAX, competent_department
from lms.rules import rule_set_for


def vetting_required(base: Org, year: int) -> bool:
    """Tell whether the rule set of the base's region for the course's year asks for department vetting."""
    return rule_set_for(region_of_org(base), year).courses.require_department_approval


def on_publish(actor: User, course: Course) -> CourseVetting | None:
    """Ask the competent department to vet a course being published, where the rule set says so.

    An approval stands (the coursewares froze at the first publication); a rejected or pending course asks again.
    """
    vetting = db.session.scalar(sa.select(CourseVetting).where(CourseVetting.course_id == course.id)
                                .with_for_update())
    if vetting is not None and vetting.status == VettingStatus.APPROVED:
        return vetting
    if vetting is None and not vetting_required(course.base, course.year):
        return None
    department = competent_department(course.base)
    if vetting is None:
        vetting = CourseVetting(course_id=course.id, department_id=department.id)
        db.session.add(vetting)
    vetting.status, vetting.requested_at, vetting.department_id = VettingStatus.PENDING, utcnow(), department.id
    vetting.decided_by_id = vetting.decided_at = None
    db.session.flush()
    record(actor, "course_vetting.request", object_type="course", object_id=course.id,
           label=f"{course.base.name}：{course.title}", org=course.base, after={"department": department.name})
    return vetting


def listed_condition():
    """A SQL condition on ``Course``: not held back by a vetting that is not (yet) approved."""
    return ~sa.exists().where(CourseVetting.course_id == Course.id, CourseVetting.status != VettingStatus.APPROVED)


def is_listed(course: Course) -> bool:
    """Tell whether the course's vetting (if any) lets it into the catalogue."""
    vetting = vetting_of(course)
    return vetting is None or vetting.status == VettingStatus.APPROVED


def vetting_of(course: Course) -> CourseVetting | None:
    return db.session.scalar(sa.select(CourseVetting).where(CourseVetting.course_id == course.id))


def decide(actor: User, course_id: Any, decision: Any, reason: Any = None) -> CourseVetting:
    """Approve a pending course of a base under the actor's department, or reject it with a reason (withdrawn)."""
    home = require(actor, Permission.VET_COURSES)
    if decision not in ("approve", "reject"):
        raise InvalidInput({"decision": "请选择审核结果：通过或不通过。"})
    text = reason.strip() if isinstance(reason, str) else ""
    if decision == "reject" and not text:
        raise InvalidInput({"reason": "不通过时请填写原因。"})
    if len(text) > REASON_MAX:
        raise InvalidInput({"reason": f"原因不能超过 {REASON_MAX} 字。"})
    try:
        key = int(course_id)
    except (TypeError, ValueError):
        key = None
    vetting = db.session.execute(sa.select(CourseVetting).where(CourseVetting.course_id == key).with_for_update()
                                 .execution_options(populate_existing=True)).scalar_one_or_none()
    if vetting is None or not has_permission(actor, Permission.VET_COURSES, vetting.course.base):
        raise NotFound("待审核的课程不存在或不在本单位管辖范围内。")
    if vetting.department_id != home.id:
        raise NotAllowed(f"该课程由{vetting.department.name}审核，本单位不能审核。")
    if vetting.status != VettingStatus.PENDING:
        raise Conflict(f"该课程已审核（{vetting.status.label}），不能再审核。")
    course = vetting.course
    vetting.status = VettingStatus.APPROVED if decision == "approve" else VettingStatus.REJECTED
    vetting.decided_by_id, vetting.decided_at, vetting.reason = actor.id, utcnow(), text or None
    if decision == "reject" and course.state == CourseState.PUBLISHED:
        course.state = CourseState.WITHDRAWN  # out of the base's published list too; enrolled learners keep it
    db.session.flush()
    record(actor, f"course_vetting.{decision}", object_type="course", object_id=course.id,
           label=f"{course.base.name}：{course.title}", org=course.base, reason=text or None,
           after={"status": vetting.status.value})
    return vetting


def awaiting_condition(actor: User):
    home = admin_org(actor) if has_permission(actor, Permission.VET_COURSES) else None
    if home is None:
        return sa.false()
    return (CourseVetting.status == VettingStatus.PENDING) & (CourseVetting.department_id == home.id)


def vetting_query(actor: User, status: Any = None):
    """Select the vettings of courses of bases in the actor's subtree, those waiting for the actor first."""
    require(actor, Permission.VET_COURSES)
    query = (sa.select(CourseVetting).join(Course, CourseVetting.course_id == Course.id)
             .join(Org, Course.base_id == Org.id).where(within_scope(Org.path, actor, Permission.VET_COURSES))
             .order_by(sa.case((awaiting_condition(actor), 0), else_=1), CourseVetting.requested_at.desc()))
    if status not in (None, ""):
        try:
            query = query.where(CourseVetting.status == VettingStatus(str(status)))
        except ValueError:
            raise InvalidInput({"status": "审核状态无效。"}) from None
    return query


def may_decide(actor: User, vetting: CourseVetting) -> bool:
    home = admin_org(actor)
    return (vetting.status == VettingStatus.PENDING and home is not None and home.id == vetting.department_id
            and has_permission(actor, Permission.VET_COURSES, vetting.course.base))
