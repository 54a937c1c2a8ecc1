"""Own-organisation information (基本信息管理 5.1.1.1) and its review by the level above (机构信息修改审核 5.1.4.2).

An organisation's admin with ``EDIT_OWN_ORG`` edits its details. Contact fields (address, contact person, phone)
change at once, audit-logged. The fields that identify the organisation — its name and, for the kinds that have
one, its unified social credit code — change only through an ``OrgChange`` that an admin of the direct parent with
``REVIEW_ORG_CHANGES`` approves or rejects with a reason (rejections in batches too). One pending change per
organisation, held by the database; the credit code's uniqueness is checked when asked and again at approval, and
a change whose old values no longer match is stale and refused. Services only flush; callers commit.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import User
from lms.accounts.service import decision_reason, parse_id_batch
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.validation import clean_text, collect, text_problem
from lms.extensions import db
from lms.notices import notify_on
from lms.orgs.access import admin_org, require, scope_org
from lms.orgs.models import HR_KINDS, Org, OrgChange, ReviewStatus
from lms.orgs.permissions import Permission
from lms.orgs.service import credit_code_problem

EDIT = Permission.EDIT_OWN_ORG
REVIEW = Permission.REVIEW_ORG_CHANGES
CONTACT_FIELDS = {"address": "地址", "contact_name": "联系人", "contact_phone": "联系电话"}
IDENTIFYING_LABELS = {"name": "单位名称", "credit_code": "统一社会信用代码"}
FIELD_LABELS = {**IDENTIFYING_LABELS, **CONTACT_FIELDS}
_CONTACT_PHONE = re.compile(r"^[0-9+\-() ]{7,20}$")


def identifying_fields(org: Org) -> tuple[str, ...]:
    """HR bureaus are created by the province without a credit code: only their name identifies them."""
    return ("name",) if org.kind in HR_KINDS else ("name", "credit_code")


# ------------------------------------------------------------------------------------------------ the organisation

def edit_own_org(actor: User, data: dict) -> tuple[Org, OrgChange | None]:
    """Apply the contact fields at once and ask the level above for the identifying ones; all checked first."""
    org = require(actor, EDIT)
    contacts = {key: clean_text(data.get(key, getattr(org, key))) or None for key in CONTACT_FIELDS}
    wanted = {key: clean_text(data.get(key, getattr(org, key))) for key in identifying_fields(org)}
    if "credit_code" in wanted:
        wanted["credit_code"] = wanted["credit_code"].upper()
    problems = collect({
        "address": text_problem(contacts["address"] or "", "地址", 200, required=False),
        "contact_name": text_problem(contacts["contact_name"] or "", "联系人", 50, required=False),
        "contact_phone": None if contacts["contact_phone"] is None or _CONTACT_PHONE.match(contacts["contact_phone"])
        else "联系电话应为 7–20 位数字，可含区号连字符。",
        "name": text_problem(wanted["name"], "单位名称", 100),
        "credit_code": credit_code_problem(wanted["credit_code"]) if "credit_code" in wanted else None,
    })
    if problems:
        raise InvalidInput(problems)
    contact_changes = {key: value for key, value in contacts.items() if value != getattr(org, key)}
    asked = {key: value for key, value in wanted.items() if value != getattr(org, key)}
    if not contact_changes and not asked:
        raise InvalidInput({"name": "提交的信息与现有信息相同，没有需要修改的内容。"})
    if asked:
        if org.parent_id is None:
            raise Conflict(f"{org.name}没有上级单位审核其名称的修改，请联系系统运维人员。")
        if open_change_of(org.id) is not None:
            raise Conflict(f"{org.name}已有一项待上级审核的信息修改，请等待审核后再申请。")
        taken = _taken(org, asked)
        if taken:
            raise InvalidInput(taken)
    before = {key: getattr(org, key) for key in contact_changes}
    for key, value in contact_changes.items():
        setattr(org, key, value)
    db.session.flush()
    if contact_changes:
        audit.record(actor, "org.contact_change", object_type="org", object_id=org.id, label=org.name, org=org,
                     before=before, after=contact_changes)
    change = _ask(actor, org, asked) if asked else None
    return org, change


def _ask(actor: User, org: Org, asked: dict) -> OrgChange:
    change = OrgChange(org_id=org.id, status=ReviewStatus.PENDING, before={key: getattr(org, key) for key in asked},
                       after=asked, requested_by_id=actor.id, requested_at=utcnow())
    try:
        with db.session.begin_nested():  # a concurrent request of the same organisation hits the one-open index
            db.session.add(change)
    except IntegrityError:
        raise Conflict(f"{org.name}已有一项待上级审核的信息修改，请等待审核后再申请。") from None
    audit.record(actor, "org_change.request", object_type="org_change", object_id=change.id, label=org.name,
                 org=org, before=change.before, after=change.after)
    return change


def _taken(org: Org, asked: dict) -> dict[str, str]:
    """The asked values another organisation already holds (credit code anywhere, name under the same parent)."""
    problems = {}
    if "credit_code" in asked and db.session.scalar(
            sa.select(Org.id).where(Org.credit_code == asked["credit_code"], Org.id != org.id)):
        problems["credit_code"] = "该统一社会信用代码已被其他单位使用。"
    if "name" in asked and db.session.scalar(
            sa.select(Org.id).where(Org.parent_id == org.parent_id, Org.name == asked["name"], Org.id != org.id)):
        problems["name"] = "同一上级下已有同名单位。"
    return problems


def open_change_of(org_id: int) -> OrgChange | None:
    return db.session.scalar(sa.select(OrgChange).where(OrgChange.org_id == org_id,
                                                        OrgChange.status == ReviewStatus.PENDING))


def changes_of(org: Org) -> list[OrgChange]:
    """The organisation's own requests, newest first."""
    return list(db.session.scalars(sa.select(OrgChange).where(OrgChange.org_id == org.id)
                                   .order_by(OrgChange.requested_at.desc(), OrgChange.id.desc())))


# ------------------------------------------------------------------------------------------------ the level above

def review_queue_condition(actor: User):
    """The condition "pending and of a direct child of the actor's organisation" (false without the permission)."""
    home = scope_org(actor, REVIEW)
    if home is None:
        return sa.false()
    return (OrgChange.status == ReviewStatus.PENDING) & OrgChange.org_id.in_(
        sa.select(Org.id).where(Org.parent_id == home.id))


def review_queue(actor: User, status: str | None = None):
    """Select the changes of the actor's direct children: pending ones by default, oldest first."""
    home = require(actor, REVIEW)
    query = sa.select(OrgChange).join(Org, OrgChange.org_id == Org.id).where(Org.parent_id == home.id)
    if status in (None, "", "pending"):
        return query.where(OrgChange.status == ReviewStatus.PENDING).order_by(OrgChange.requested_at, OrgChange.id)
    try:
        query = query.where(OrgChange.status == ReviewStatus(status))
    except ValueError:
        raise InvalidInput({"status": "状态应为 pending、approved 或 rejected。"}) from None
    return query.order_by(OrgChange.decided_at.desc(), OrgChange.id.desc())


def change_for(actor: User, change_id: Any) -> OrgChange:
    """One change the actor may read: their own organisation's, or one of a direct child they review."""
    change = _load(change_id)
    if change is None:
        raise NotFound("修改申请不存在。")
    home = admin_org(actor)
    if home is None or change.org_id != home.id:
        _require_parent(actor, change.org)
    return change


def _require_parent(actor: User, org: Org) -> None:
    home = require(actor, REVIEW)
    if org.parent_id != home.id:
        raise NotAllowed(f"{org.name}不是本单位的直属下级，无权审核其信息修改。")


def approve_change(actor: User, change_id: Any) -> OrgChange:
    """Approve a pending change: the organisation takes the asked values, unless stale or now taken."""
    change, org = _locked_for_decision(actor, change_id)
    stale = [key for key, value in change.before.items() if getattr(org, key) != value]
    if stale:
        labels = "、".join(FIELD_LABELS[key] for key in stale)
        raise Conflict(f"{org.name}的{labels}在申请后已被修改，该申请已过时，请驳回后重新申请。")
    taken = _taken(org, change.after)
    if taken:
        raise Conflict(f"不能通过：{'；'.join(taken.values())}", taken)
    for key, value in change.after.items():
        setattr(org, key, value)
    try:
        with db.session.begin_nested():  # the database's unique keys have the last word against a concurrent change
            db.session.flush()
    except IntegrityError:
        raise Conflict("不能通过：名称或统一社会信用代码刚被其他单位使用。") from None
    _decide(actor, change, org, ReviewStatus.APPROVED, None)
    return change


def reject_change(actor: User, change_id: Any, reason: Any) -> OrgChange:
    """Reject a pending change with a reason the organisation's admin reads; nothing of the organisation changes."""
    text = decision_reason(False, reason if isinstance(reason, str) else None)
    change, org = _locked_for_decision(actor, change_id)
    _decide(actor, change, org, ReviewStatus.REJECTED, text)
    return change


def reject_changes(actor: User, change_ids, reason: Any) -> list[OrgChange]:
    """Reject a batch of pending changes with one reason, all or nothing (批量驳回)."""
    text = decision_reason(False, reason if isinstance(reason, str) else None)
    return [reject_change(actor, key, text) for key in parse_id_batch(change_ids)]


def _locked_for_decision(actor: User, change_id: Any) -> tuple[OrgChange, Org]:
    require(actor, REVIEW)
    change = _load(change_id, lock=True)
    if change is None:
        raise NotFound("修改申请不存在。")
    org = db.session.execute(sa.select(Org).where(Org.id == change.org_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one()
    _require_parent(actor, org)
    if change.status != ReviewStatus.PENDING:
        raise Conflict(f"该修改申请已{'通过' if change.status == ReviewStatus.APPROVED else '驳回'}，不能再处理。")
    if org.disabled_at is not None:
        raise Conflict(f"{org.name}已停用，不能审核其信息修改。")
    return change, org


def _decide(actor: User, change: OrgChange, org: Org, status: ReviewStatus, reason: str | None) -> None:
    change.status, change.decided_by_id, change.decided_at, change.reason = status, actor.id, utcnow(), reason
    db.session.flush()
    approved = status == ReviewStatus.APPROVED
    audit.record(actor, "org_change.approve" if approved else "org_change.reject", object_type="org_change",
                 object_id=change.id, label=org.name, org=org, reason=reason, before=change.before,
                 after=change.after)
    fields = "、".join(FIELD_LABELS[key] for key in change.after)
    text = (f"{org.name}的{fields}修改已由上级审核通过。" if approved else
            f"{org.name}的{fields}修改未通过上级审核，原因：{reason}")
    notify_on.org_change_decided(change.requested_by, approved, text)


def _load(change_id: Any, lock: bool = False) -> OrgChange | None:
    try:
        key = int(change_id)
    except (TypeError, ValueError):
        return None
    query = sa.select(OrgChange).where(OrgChange.id == key)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()
