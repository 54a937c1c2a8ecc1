"""Personal-data changes (人员信息修改审核, admin manual 5.1.4.1) and the fields a person changes at once.

An approved learner asks to change reviewed fields (专业技术职务, 职称系列, 职称级别, 学历); the admin of the
person's unit with ``REVIEW_PERSON_CHANGES`` approves or rejects it with a reason (rejection in batches too).
One pending request per person, held by the database. The phone number changes at once (audited). The name and
the ID-card number change only through an admin's correction with a reason (``correct_identity``), never by the
learner. A request whose old values no longer match the person (someone changed them since) is stale and is
refused at approval. Approval locks the person's row, as a transfer's confirmation does
(``lms.transfers.service.confirm_transfer``): of a change and a transfer decided at once, the second sees the
first's result. Services only flush; callers commit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lms.accounts.lifecycle import person_label
from lms.accounts.models import PersonChange, Role, User
from lms.accounts.service import decision_reason, learner_fields_problems, parse_id_batch
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.idcard import id_number_problem, mask_id_number, normalise_id_number
from lms.core.validation import clean_text, phone_problem, text_problem
from lms.extensions import db
from lms.notices import notify_on
from lms.orgs.access import has_permission, require, scope_org
from lms.orgs.models import ReviewStatus
from lms.orgs.permissions import Permission
from lms.transfers.models import PersonTransfer, TransferStatus

# The fields a learner changes only with the unit's approval, in the order the pages show them.
REVIEWED_FIELDS = {"professional_post": "专业技术职务", "title_series": "职称系列", "title_level": "职称级别",
                   "education": "学历"}
REVIEW = Permission.REVIEW_PERSON_CHANGES
CORRECT = Permission.MANAGE_PEOPLE


# ------------------------------------------------------------------------------------------------ the learner

def _own_account(user: User) -> None:
    if user.role != Role.LEARNER:
        raise NotAllowed("只有专业技术人员可以申请修改个人信息。")
    if user.disabled_at is not None:
        raise Conflict("账号已停用，不能修改个人信息。")
    if user.status != ReviewStatus.APPROVED:
        raise Conflict("注册尚未通过审核：请在“我的注册”中修改注册信息。")


def request_change(user: User, data: dict) -> PersonChange:
    """Ask the unit to change reviewed fields; only the fields whose value differs are asked for."""
    _own_account(user)
    wanted = {key: data.get(key, getattr(user, key)) for key in REVIEWED_FIELDS}
    cleaned, problems = learner_fields_problems({**wanted, "name": user.name, "phone": user.phone})
    problems = {key: message for key, message in problems.items() if key in REVIEWED_FIELDS}
    if problems:
        raise InvalidInput(problems)
    after = {key: cleaned[key] or None for key in REVIEWED_FIELDS if (cleaned[key] or None) != getattr(user, key)}
    if not after:
        raise InvalidInput({"fields": "申请的信息与现有信息相同，没有需要审核的修改。"})
    if open_change_of(user.id) is not None:
        raise Conflict("已有一项待审核的信息修改申请，请等待单位审核后再申请。")
    change = PersonChange(user_id=user.id, status=ReviewStatus.PENDING, after=after,
                          before={key: getattr(user, key) for key in after}, requested_at=utcnow())
    try:
        with db.session.begin_nested():  # a concurrent request of the same person hits the one-open index
            db.session.add(change)
    except IntegrityError:
        raise Conflict("已有一项待审核的信息修改申请，请等待单位审核后再申请。") from None
    audit.record(user, "person_change.request", object_type="person_change", object_id=change.id,
                 label=person_label(user), org=user.org, before=change.before, after=change.after)
    return change


def change_phone(user: User, phone: Any) -> User:
    """Change the caller's own phone number at once (it needs no review); the change is audit-logged."""
    if user.disabled_at is not None:
        raise Conflict("账号已停用，不能修改手机号码。")
    number = clean_text(phone)
    problem = phone_problem(number)
    if problem:
        raise InvalidInput({"phone": problem})
    if number == user.phone:
        raise InvalidInput({"phone": "新手机号码与原号码相同。"})
    before = {"phone": user.masked_phone}
    user.phone = number
    db.session.flush()
    audit.record(user, "person.phone_change", object_type="user", object_id=user.id, label=person_label(user),
                 org=user.org, before=before, after={"phone": user.masked_phone})
    return user


def open_change_of(user_id: int) -> PersonChange | None:
    return db.session.scalar(sa.select(PersonChange).where(PersonChange.user_id == user_id,
                                                           PersonChange.status == ReviewStatus.PENDING))


def changes_of(user: User) -> list[PersonChange]:
    """The person's own requests, newest first (state, and the reason of a rejection)."""
    return list(db.session.scalars(sa.select(PersonChange).where(PersonChange.user_id == user.id)
                                   .order_by(PersonChange.requested_at.desc(), PersonChange.id.desc())))


# ------------------------------------------------------------------------------------------------ the unit

def review_queue_condition(actor: User):
    """The condition "pending and of a person of the actor's unit" (false without the permission)."""
    unit = scope_org(actor, REVIEW)
    if unit is None:
        return sa.false()
    return (PersonChange.status == ReviewStatus.PENDING) & PersonChange.user_id.in_(
        sa.select(User.id).where(User.org_id == unit.id))


def review_queue(actor: User, status: str | None = None):
    """Select the requests of the actor's unit's people: pending ones by default, oldest first."""
    unit = require(actor, REVIEW)
    query = (sa.select(PersonChange).join(User, PersonChange.user_id == User.id).where(User.org_id == unit.id))
    if status in (None, "", "pending"):
        return query.where(PersonChange.status == ReviewStatus.PENDING).order_by(PersonChange.requested_at,
                                                                                 PersonChange.id)
    try:
        query = query.where(PersonChange.status == ReviewStatus(status))
    except ValueError:
        raise InvalidInput({"status": "状态应为 pending、approved 或 rejected。"}) from None
    return query.order_by(PersonChange.decided_at.desc(), PersonChange.id.desc())


def change_for(actor: User, change_id: Any) -> PersonChange:
    """One request the actor may read: the person's own, or one of a person of the reviewer's unit."""
    change = _load(change_id)
    if change is None:
        raise NotFound("修改申请不存在。")
    if change.user_id != actor.id:
        require(actor, REVIEW, change.user.org, message="该修改申请不在本单位管辖范围内。")
    return change


def approve_change(actor: User, change_id: Any) -> PersonChange:
    """Approve a pending request: the person's fields take the asked values, unless they changed since."""
    change, person = _locked_for_decision(actor, change_id)
    stale = {key: getattr(person, key) for key, value in change.before.items() if getattr(person, key) != value}
    if stale:
        labels = "、".join(REVIEWED_FIELDS[key] for key in stale)
        raise Conflict(f"{person.name}的{labels}在申请后已被修改，该申请已过时，请驳回后由本人重新申请。")
    for key, value in change.after.items():
        setattr(person, key, value)
    _decide(actor, change, person, ReviewStatus.APPROVED, None)
    return change


def reject_change(actor: User, change_id: Any, reason: Any) -> PersonChange:
    """Reject a pending request with a reason the person reads; nothing of theirs changes."""
    text = decision_reason(False, reason if isinstance(reason, str) else None)
    change, person = _locked_for_decision(actor, change_id)
    _decide(actor, change, person, ReviewStatus.REJECTED, text)
    return change


def reject_changes(actor: User, change_ids, reason: Any) -> list[PersonChange]:
    """Reject a batch of pending requests with one reason, all or nothing."""
    text = decision_reason(False, reason if isinstance(reason, str) else None)
    ids = parse_id_batch(change_ids)
    return [reject_change(actor, key, text) for key in ids]


def _locked_for_decision(actor: User, change_id: Any) -> tuple[PersonChange, User]:
    """Check the actor may decide, then lock the request and the person (FOR UPDATE) and check again."""
    require(actor, REVIEW)
    change = _load(change_id, lock=True)
    if change is None:
        raise NotFound("修改申请不存在。")
    person = db.session.execute(sa.select(User).where(User.id == change.user_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one()
    if not has_permission(actor, REVIEW, person.org):
        if _was_transferred_out(actor, change):
            raise Conflict(f"{person.name}已调离本单位，该申请由其现在的单位审核。")
        raise NotAllowed(f"{person.name}不在本单位管辖范围内，无权审核其信息修改。")
    if change.status != ReviewStatus.PENDING:
        raise Conflict(f"该修改申请已{_done_label(change.status)}，不能再处理。")
    if person.disabled_at is not None:
        raise Conflict(f"{person.name}的账号已停用，不能审核其信息修改。")
    return change, person


def _was_transferred_out(actor: User, change: PersonChange) -> bool:
    """Whether the person was the actor's unit's when they asked (a transfer confirmed since moved them)."""
    unit = scope_org(actor, REVIEW)
    return unit is not None and db.session.scalar(
        sa.select(PersonTransfer.id).where(PersonTransfer.user_id == change.user_id,
                                           PersonTransfer.from_org_id == unit.id,
                                           PersonTransfer.status == TransferStatus.CONFIRMED,
                                           PersonTransfer.decided_at >= change.requested_at)) is not None


def _done_label(status: ReviewStatus) -> str:
    return {ReviewStatus.APPROVED: "通过", ReviewStatus.REJECTED: "驳回"}.get(status, status.label)


def _decide(actor: User, change: PersonChange, person: User, status: ReviewStatus, reason: str | None) -> None:
    change.status, change.decided_by_id, change.decided_at, change.reason = status, actor.id, utcnow(), reason
    db.session.flush()
    approved = status == ReviewStatus.APPROVED
    audit.record(actor, "person_change.approve" if approved else "person_change.reject", object_type="person_change",
                 object_id=change.id, label=person_label(person), org=person.org, reason=reason,
                 before=change.before, after=change.after)
    fields = "、".join(REVIEWED_FIELDS[key] for key in change.after)
    text = (f"您的{fields}修改申请已由{person.org.name}审核通过。" if approved else
            f"您的{fields}修改申请未通过审核，原因：{reason}")
    notify_on.person_change_decided(person, approved, text)


def _load(change_id: Any, lock: bool = False) -> PersonChange | None:
    try:
        key = int(change_id)
    except (TypeError, ValueError):
        return None
    query = sa.select(PersonChange).where(PersonChange.id == key)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()


# ------------------------------------------------------------------------------------------------ corrections

def correct_identity(actor: User, person_id: Any, data: dict) -> User:
    """Correct a learner's name or ID-card number (the ID number is also their login), with a reason.

    Only an admin with people rights over the person's unit; the audit row keeps who, when, why and the old
    and new values (ID numbers masked, as everywhere an admin reads them).
    """
    require(actor, CORRECT)
    try:
        person = db.session.execute(sa.select(User).where(User.id == int(person_id)).with_for_update()
                                    .execution_options(populate_existing=True)).scalar_one_or_none()
    except (TypeError, ValueError):
        person = None
    if person is None:
        raise NotFound("人员不存在。")
    require(actor, CORRECT, person.org, message=f"{person.name}不在本单位管辖范围内，无权更正其身份信息。")
    if person.role != Role.LEARNER:
        raise Conflict("只能更正专业技术人员的姓名和身份证号码。")
    if person.disabled_at is not None:
        raise Conflict(f"{person.name}的账号已停用，请先启用再更正。")
    name = clean_text(data.get("name")) or person.name
    id_number = normalise_id_number(data.get("id_number") or "") or person.id_number
    reason = clean_text(data.get("reason"))
    problems = {key: message for key, message in {
        "name": text_problem(name, "姓名", 50),
        "id_number": id_number_problem(id_number) if id_number != person.id_number else None,
        "reason": text_problem(reason, "更正原因", 200),
    }.items() if message}
    if problems:
        raise InvalidInput(problems)
    if name == person.name and id_number == person.id_number:
        raise InvalidInput({"name": "姓名和身份证号码与现有信息相同，没有需要更正的内容。"})
    if id_number != person.id_number and db.session.scalar(
            sa.select(User.id).where(User.id != person.id, (User.id_number == id_number) | (User.login == id_number))):
        raise Conflict("该身份证号码已被其他账号使用，未做更正。", {"id_number": "该身份证号码已注册。"})
    before = {"name": person.name, "id_number": mask_id_number(person.id_number)}
    person.name = name
    if id_number != person.id_number:
        person.id_number = person.login = id_number  # learners log in with their ID number
    db.session.flush()
    after = {"name": person.name, "id_number": mask_id_number(person.id_number)}
    audit.record(actor, "person.correct_identity", object_type="user", object_id=person.id,
                 label=person_label(person), org=person.org, reason=reason, before=before, after=after)
    return person
