"""The rules of 人员调转 (admin manual 5.1.6): start, confirm, refuse, cancel, and who sees which records.

The old unit's admin starts the transfer of an approved learner of its subtree to an approved, active unit anywhere
in the province; the new unit's admin confirms (确认调转) or refuses with a reason; the old unit may withdraw it
before that. On confirmation the person's tallies move and the person belongs to the new unit from that moment:
the ledger, certificates and history are the person's and stay as they are, and declarations already in review
keep the reviewing organisations fixed on them at submission (``Declaration.first_org_id`` / ``second_org_id``).
Every step writes an audit row. Callers commit; a refusal raises before anything changed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from lms.accounts.lifecycle import person_label
from lms.accounts.models import Role, User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.ledger.service import region_of_org
from lms.orgs.access import admin_org, has_permission, require, within_scope
from lms.orgs.departments import leave_department
from lms.orgs.models import Org, OrgAdmin, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission
from lms.rules import rule_set_for
from lms.statistics import tally
from lms.transfers.models import PersonTransfer, TransferStatus

NOTE_MAX = 500
SEARCH_LIMIT = 20
# Who sees the records (调转记录): the units on both sides and the levels above them (people managers).
RECORDS_PERMISSION = Permission.MANAGE_PEOPLE


# ------------------------------------------------------------------------------------------------ target units

def target_units(actor: User, query: Any) -> list[Org]:
    """Find approved, active units of the province by credit code or part of the name (not the actor's own)."""
    require(actor, Permission.TRANSFER_PEOPLE)
    text = query.strip() if isinstance(query, str) else ""
    if not text:
        return []
    home = admin_org(actor)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(db.session.scalars(
        sa.select(Org).where(Org.kind == OrgKind.UNIT, Org.status == ReviewStatus.APPROVED, Org.disabled_at.is_(None),
                             Org.id != home.id,
                             sa.or_(Org.credit_code == text.upper(), Org.name.like(pattern, escape="\\")))
        .order_by(Org.name).limit(SEARCH_LIMIT)))


def resolve_target(to_org_id: Any = None, target: Any = None) -> Org:
    """Return the unit chosen by id, or by credit code or exact name; refuse when none or several match."""
    org = None
    if to_org_id not in (None, ""):
        try:
            org = db.session.get(Org, int(to_org_id))
        except (TypeError, ValueError):
            org = None
    elif isinstance(target, str) and target.strip():
        text = target.strip()
        org = db.session.scalar(sa.select(Org).where(Org.credit_code == text.upper()))
        if org is None:
            named = db.session.scalars(sa.select(Org).where(Org.name == text, Org.kind == OrgKind.UNIT).limit(2)).all()
            if len(named) > 1:
                raise InvalidInput({"target": f"名为“{text[:50]}”的单位不止一个，请用统一社会信用代码选择调入单位。"})
            org = named[0] if named else None
    else:
        raise InvalidInput({"target": "请选择调入单位（统一社会信用代码或单位名称）。"})
    if org is None or org.kind != OrgKind.UNIT:
        raise InvalidInput({"target": "没有找到该调入单位，请核对统一社会信用代码或单位名称。"})
    return org


# ------------------------------------------------------------------------------------------------ workflow

def start_transfer(actor: User, person_id: Any, *, to_org_id: Any = None, target: Any = None,
                   note: Any = None) -> PersonTransfer:
    """Start the transfer of a learner of the actor's subtree to another unit of the province (人员调出)."""
    require(actor, Permission.TRANSFER_PEOPLE)
    person = _person(person_id)
    require(actor, Permission.TRANSFER_PEOPLE, person.org,
            message=f"{person.name}不在本单位管辖范围内，无权调出。")
    if person.role != Role.LEARNER or person.status != ReviewStatus.APPROVED or person.disabled_at is not None:
        raise Conflict(f"{person.name}不是已通过审核的在用专业技术人员，不能调转。")
    if db.session.scalar(sa.select(OrgAdmin.id).where(OrgAdmin.user_id == person.id)):
        raise Conflict(f"{person.name}是管理员，请先移除其管理员身份再办理调转。")
    destination = resolve_target(to_org_id, target)
    if destination.id == person.org_id:
        raise Conflict(f"{person.name}已在{destination.name}，不能调转到本单位。")
    if not destination.is_active:
        raise Conflict(f"{destination.name}尚未通过审核或已停用，不能调入人员。")
    text = _text(note, "备注", required=False)
    if open_transfer_of(person.id) is not None:
        raise Conflict(f"{person.name}已有一项尚未办结的调转，不能再发起。")
    transfer = PersonTransfer(user_id=person.id, from_org_id=person.org_id, to_org_id=destination.id,
                              status=TransferStatus.PENDING, person_name=person.name,
                              title_series=person.title_series, professional_post=person.professional_post,
                              note=text, started_by_id=actor.id, started_at=utcnow())
    try:
        with db.session.begin_nested():  # a concurrent start of the same person hits the one-open index
            db.session.add(transfer)
    except IntegrityError:
        raise Conflict(f"{person.name}已有一项尚未办结的调转，不能再发起。") from None
    record(actor, "transfer.start", object_type="person_transfer", object_id=transfer.id,
           label=f"{person_label(person)}：{person.org.name} → {destination.name}", org=person.org, reason=text,
           after={"from_org": person.org.name, "to_org": destination.name})
    return transfer


def confirm_transfer(actor: User, transfer_id: Any) -> PersonTransfer:
    """Confirm a transfer into the actor's unit (确认调转): the person and their tallies move to it now."""
    transfer = _pending_for_decision(actor, transfer_id, to_side=True)
    person = db.session.execute(sa.select(User).where(User.id == transfer.user_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one()
    destination = transfer.to_org
    if person.org_id != transfer.from_org_id:
        raise Conflict(f"{person.name}已不在{transfer.from_org.name}，该调转不能再确认。")
    if not destination.is_active:
        raise Conflict(f"{destination.name}已停用，不能调入人员。")
    old_org = person.org
    region = region_of_org(destination)  # the rule set of the person at the new unit: its region may differ
    tally.transfer_person(person, destination.id, lambda year: rule_set_for(region, year))
    leave_department(person)  # the old unit's internal departments are not the new unit's
    person.org = destination
    transfer.status, transfer.decided_by_id, transfer.decided_at = TransferStatus.CONFIRMED, actor.id, utcnow()
    db.session.flush()
    record(actor, "transfer.confirm", object_type="person_transfer", object_id=transfer.id,
           label=f"{person_label(person)}：{old_org.name} → {destination.name}", org=destination,
           before={"org": old_org.name}, after={"org": destination.name})
    return transfer


def refuse_transfer(actor: User, transfer_id: Any, reason: Any) -> PersonTransfer:
    """Refuse a transfer into the actor's unit, with a reason; the person stays where they are."""
    text = _text(reason, "拒绝调入的原因", required=True)
    transfer = _pending_for_decision(actor, transfer_id, to_side=True)
    transfer.status, transfer.decided_by_id, transfer.decided_at = TransferStatus.REFUSED, actor.id, utcnow()
    transfer.reason = text
    db.session.flush()
    record(actor, "transfer.refuse", object_type="person_transfer", object_id=transfer.id,
           label=f"{transfer.person_name}：{transfer.from_org.name} → {transfer.to_org.name}", org=transfer.to_org,
           reason=text)
    return transfer


def cancel_transfer(actor: User, transfer_id: Any) -> PersonTransfer:
    """Withdraw a transfer the actor's unit started, before the new unit decided."""
    transfer = _pending_for_decision(actor, transfer_id, to_side=False)
    transfer.status, transfer.decided_by_id, transfer.decided_at = TransferStatus.CANCELLED, actor.id, utcnow()
    db.session.flush()
    record(actor, "transfer.cancel", object_type="person_transfer", object_id=transfer.id,
           label=f"{transfer.person_name}：{transfer.from_org.name} → {transfer.to_org.name}", org=transfer.from_org)
    return transfer


def _pending_for_decision(actor: User, transfer_id: Any, to_side: bool) -> PersonTransfer:
    """Lock the transfer row, then check that the actor's unit is the side that decides and that it is open."""
    home = require(actor, Permission.TRANSFER_PEOPLE)
    try:
        key = int(transfer_id)
    except (TypeError, ValueError):
        key = None
    # FOR UPDATE: two concurrent decisions queue here; the second reads the first one's result.
    transfer = key is not None and db.session.execute(
        sa.select(PersonTransfer).where(PersonTransfer.id == key).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if not transfer or not may_view(actor, transfer):
        raise NotFound("调转记录不存在或不在本单位管辖范围内。")
    if to_side and transfer.to_org_id != home.id:
        raise NotAllowed(f"该调转是调入{transfer.to_org.name}的，只有调入单位可以确认或拒绝。")
    if not to_side and not has_permission(actor, Permission.TRANSFER_PEOPLE, transfer.from_org):
        raise NotAllowed(f"该调转由{transfer.from_org.name}发起，只有调出单位可以撤回。")
    if transfer.status != TransferStatus.PENDING:
        raise Conflict(f"该调转已{transfer.status.label}，不能再处理。")
    return transfer


# ------------------------------------------------------------------------------------------------ reading

def open_transfer_of(user_id: int) -> PersonTransfer | None:
    return db.session.scalar(sa.select(PersonTransfer).where(PersonTransfer.user_id == user_id,
                                                             PersonTransfer.status == TransferStatus.PENDING))


def may_view(actor: User, transfer: PersonTransfer) -> bool:
    """Either side's unit or a level above either side, with people or transfer rights there."""
    return any(has_permission(actor, permission, org) for permission in (RECORDS_PERMISSION, Permission.TRANSFER_PEOPLE)
               for org in (transfer.from_org, transfer.to_org))


def transfer_for(actor: User, transfer_id: int) -> PersonTransfer:
    transfer = db.session.get(PersonTransfer, transfer_id)
    if transfer is None or not may_view(actor, transfer):
        raise NotFound("调转记录不存在或不在本单位管辖范围内。")
    return transfer


DIRECTIONS = {"in": "调入", "out": "调出"}


def records_query(actor: User, direction: str | None = None, status: str | None = None):
    """Select the transfers into or out of the actor's subtree (调转记录), newest first.

    A people manager reads the whole subtree's; an admin who only does transfers, their own unit's.
    """
    permission = RECORDS_PERMISSION if has_permission(actor, RECORDS_PERMISSION) else Permission.TRANSFER_PEOPLE
    require(actor, permission)
    source, destination = aliased(Org), aliased(Org)
    into = within_scope(destination.path, actor, permission)
    out_of = within_scope(source.path, actor, permission)
    condition = {"in": into, "out": out_of}.get(direction or "", sa.or_(into, out_of))
    query = (sa.select(PersonTransfer).join(source, PersonTransfer.from_org_id == source.id)
             .join(destination, PersonTransfer.to_org_id == destination.id).where(condition)
             .order_by(PersonTransfer.started_at.desc(), PersonTransfer.id.desc()))
    if status:
        try:
            query = query.where(PersonTransfer.status == TransferStatus(status))
        except ValueError:
            raise InvalidInput({"status": "调转状态无效。"}) from None
    return query


def awaiting_condition(actor: User):
    """The condition "pending and addressed to the actor's unit" (false without the permission)."""
    home = admin_org(actor) if has_permission(actor, Permission.TRANSFER_PEOPLE) else None
    if home is None:
        return sa.false()
    return (PersonTransfer.status == TransferStatus.PENDING) & (PersonTransfer.to_org_id == home.id)


def awaiting(actor: User) -> list[PersonTransfer]:
    """The transfers waiting for the actor's unit to confirm or refuse (人员调入审核)."""
    return list(db.session.scalars(sa.select(PersonTransfer).where(awaiting_condition(actor))
                                   .order_by(PersonTransfer.started_at)))


def transferable_people(actor: User, query: Any = None, limit: int = 50) -> list[User]:
    """Approved, active learners of the actor's subtree, by name or ID number, to choose whom to transfer out."""
    require(actor, Permission.TRANSFER_PEOPLE)
    statement = (sa.select(User).join(Org, User.org_id == Org.id)
                 .where(within_scope(Org.path, actor, Permission.TRANSFER_PEOPLE), User.role == Role.LEARNER,
                        User.status == ReviewStatus.APPROVED, User.disabled_at.is_(None))
                 .order_by(User.name, User.id).limit(limit))
    text = query.strip() if isinstance(query, str) else ""
    if text:
        statement = statement.where(sa.or_(User.name.contains(text, autoescape=True), User.id_number == text.upper()))
    return list(db.session.scalars(statement))


# ------------------------------------------------------------------------------------------------ helpers

def _person(person_id: Any) -> User:
    try:
        person = db.session.get(User, int(person_id))
    except (TypeError, ValueError):
        person = None
    if person is None:
        raise NotFound("人员不存在。")
    return person


def _text(value: Any, what: str, required: bool) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput({"reason": f"请填写{what}。"})
    if len(text) > NOTE_MAX:
        raise InvalidInput({"reason" if required else "note": f"{what}不能超过 {NOTE_MAX} 字。"})
    return text or None
