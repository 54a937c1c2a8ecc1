"""The to-do list of an admin's home page (待办事项, admin manual section 5): counts of what waits for them.

Each source is one indexed COUNT over its queue's own condition, never a loaded list; later domains add
their queues to ``TODO_SOURCES``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import sqlalchemy as sa
from flask import url_for

from lms.accounts import changes as person_changes
from lms.accounts.models import PersonChange, User
from lms.accounts.service import reviewable_learners_query
from lms.declarations.models import Declaration
from lms.declarations.service import review_queue_condition
from lms.extensions import db
from lms.orgs import changes as org_changes
from lms.orgs import moves
from lms.orgs.access import has_permission
from lms.orgs.models import OrgChange, ParentMove
from lms.orgs.permissions import Permission
from lms.orgs.service import reviewable_orgs_query
from lms.plans import service as plans
from lms.plans import vetting
from lms.plans.models import CourseVetting, PlanFiling
from lms.review.attempts import held_attempt_count
from lms.review.service import held_count
from lms.transfers.models import PersonTransfer
from lms.transfers.service import awaiting_condition


@dataclasses.dataclass(frozen=True)
class TodoItem:
    key: str
    label: str
    count: int
    url: str


def _count(query) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


def _learner_registrations(actor: User) -> int:
    return _count(reviewable_learners_query(actor))


def _org_registrations(actor: User) -> int:
    return _count(reviewable_orgs_query(actor))


def _declarations(actor: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Declaration)
                             .where(review_queue_condition(actor)))


def _transfers(actor: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PersonTransfer).where(awaiting_condition(actor)))


def _trainings(actor: User) -> int:
    from lms.plans.trainings import Training, review_queue_condition

    return db.session.scalar(sa.select(sa.func.count()).select_from(Training).where(review_queue_condition(actor)))


def _person_changes(actor: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PersonChange)
                             .where(person_changes.review_queue_condition(actor)))


def _org_changes(actor: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OrgChange)
                             .where(org_changes.review_queue_condition(actor)))


def _parent_moves(actor: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ParentMove).where(moves.awaiting_condition(actor)))


def _plans(actor: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PlanFiling).where(plans.awaiting_condition(actor)))


def _course_vettings(actor: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(CourseVetting)
                             .where(vetting.awaiting_condition(actor)))


# (key, label, permission, count, endpoint): shown only to admins holding the permission.
TODO_SOURCES: list[tuple[str, str, Permission, Callable[[User], int], str]] = [
    ("learner_registrations", "待审核的人员注册", Permission.APPROVE_PEOPLE, _learner_registrations,
     "orgs.registrations_page"),
    ("org_registrations", "待审核的单位注册", Permission.APPROVE_ORGS, _org_registrations, "orgs.registrations_page"),
    ("declarations", "轮到本单位审核的学时申报", Permission.REVIEW_DECLARATIONS, _declarations, "declarations.review"),
    ("trainings", "轮到本单位审核的培训申报", Permission.REVIEW_DECLARATIONS, _trainings, "trainings.review"),
    ("held_sessions", "待审核的挂起观看记录", Permission.REVIEW_SESSIONS, held_count, "review.queue"),
    ("held_attempts", "待审核的暂扣测验记录", Permission.REVIEW_SESSIONS, held_attempt_count, "review_attempts.queue"),
    ("transfers", "待本单位答复的人员调转", Permission.TRANSFER_PEOPLE, _transfers, "transfers.records_page"),
    ("person_changes", "待审核的人员信息修改", Permission.REVIEW_PERSON_CHANGES, _person_changes,
     "person_changes.queue"),
    ("org_changes", "待审核的下级单位信息修改", Permission.REVIEW_ORG_CHANGES, _org_changes, "org_changes.queue"),
    ("parent_moves", "待本单位审核的更换上级部门", Permission.REVIEW_PARENT_CHANGES, _parent_moves, "orgs.moves_page"),
    ("plans", "待审核的基地培训计划和总结", Permission.REVIEW_PLANS, _plans, "plans.review_page"),
    ("course_vettings", "待审核的基地课程", Permission.VET_COURSES, _course_vettings, "plans.vetting_page"),
]


def todo_items(actor: User) -> list[TodoItem]:
    """Return the actor's to-do counts, one per queue they work on."""
    return [TodoItem(key, label, count(actor), url_for(endpoint))
            for key, label, permission, count, endpoint in TODO_SOURCES if has_permission(actor, permission)]
