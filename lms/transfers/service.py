"""The rules of 人员调转 (admin manual 5.1.6): start, confirm, refuse, cancel, and who sees which records.

The old unit's admin starts the transfer of an approved learner of its subtree to an approved, active unit anywhere
in the province; the new unit's admin confirms (确认调转) or refuses with a reason; the old unit may withdraw it
before that. The other way round, the new unit asks for a person at their request (申请调入): the old unit confirms
or refuses, and its silence past the rule set's answer period completes the transfer. A person leaving the
province (调出省外) is transferred out at once: their account is disabled, their records stay.

On confirmation the person's tallies move and the person belongs to the new unit from that moment:
the ledger, certificates and history are the person's and stay as they are, and declarations already in review
keep the reviewing organisations fixed on them at submission (``Declaration.review_steps``).
Every step writes an audit row. Callers commit; a refusal raises before anything changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from lms.accounts.lifecycle import person_label
from lms.accounts.models import Role, User
from lms.audit.service import record
from lms.core.clock import china_time
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound, ServiceError
from lms.extensions import db
from lms.ledger.service import china_today, region_of_org
from lms.notices import notify_on
from lms.orgs.access import admin_org, has_permission, require, within_scope
from lms.orgs.departments import leave_department
from lms.orgs.models import Org, OrgAdmin, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission
from lms.rules import rule_set_for
from lms.statistics import tally
from lms.transfers.models import PersonTransfer, TransferSide, TransferStatus

NOTE_MAX = 500
OUTSIDE_MAX = 100
log = logging.getLogger(__name__)
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
    person = _transferable_by(actor, person_id)
    destination = resolve_target(to_org_id, target)
    _check_destination(person, destination)
    text = _text(note, "备注", required=False)
    transfer = _open(person, actor, TransferSide.OUT, destination, text)
    record(actor, "transfer.start", object_type="person_transfer", object_id=transfer.id,
           label=f"{person_label(person)}：{person.org.name} → {destination.name}", org=person.org, reason=text,
           after={"from_org": person.org.name, "to_org": destination.name})
    return transfer


def leave_province(actor: User, person_id: Any, destination: Any, note: Any = None) -> PersonTransfer:
    """Transfer a learner of the actor's subtree out of the province (调出省外), at once.

    Nobody here can confirm it, so it is done now: the account is disabled with the destination as the reason
    (its sessions end), and the person's ledger and certificates stay (certificates verify by their code as before).
    """
    person = _transferable_by(actor, person_id)
    outside = _text(destination, "省外的调入单位（省份和单位名称）", required=True, field="outside_destination",
                    limit=OUTSIDE_MAX)
    text = _text(note, "备注", required=False)
    transfer = _open(person, actor, TransferSide.OUT, None, text, outside_destination=outside)
    locked = _locked_person(person.id)
    now = utcnow()
    locked.disabled_at, locked.disabled_reason = now, f"调出省外：{outside}"[:200]
    locked.session_version += 1
    transfer.status, transfer.decided_by_id, transfer.decided_at = TransferStatus.CONFIRMED, actor.id, now
    db.session.flush()
    record(actor, "transfer.leave_province", object_type="person_transfer", object_id=transfer.id,
           label=f"{person_label(locked)}：{locked.org.name} → 省外 {outside}", org=locked.org, reason=text,
           after={"from_org": locked.org.name, "outside": outside})
    return transfer


def request_transfer_in(actor: User, *, id_number: Any, name: Any, note: Any = None) -> PersonTransfer:
    """Ask, at the person's request, for a learner of another unit to move into the actor's unit (申请调入).

    The person is found only by their ID number and name together, so that a unit cannot probe who is registered
    where: any mismatch reads the same. The old unit confirms or refuses; if it stays silent for the rule set's
    ``transfers.answer_within_days``, the transfer completes (``complete_after_silence``).
    """
    home = require(actor, Permission.TRANSFER_PEOPLE)
    number = id_number.strip().upper() if isinstance(id_number, str) else ""
    person_name = name.strip() if isinstance(name, str) else ""
    if not number or not person_name:
        raise InvalidInput({"id_number": "请填写申请调入人员的身份证号码和姓名。"})
    person = db.session.scalar(sa.select(User).where(User.id_number == number, User.role == Role.LEARNER))
    if person is None or person.name != person_name:
        raise NotFound("没有找到身份证号码和姓名都相符的专业技术人员，请核对。")
    if person.org_id == home.id:
        raise Conflict(f"{person.name}已在本单位，不需要调入。")
    _check_transferable(person)
    _check_destination(person, home)
    text = _text(note, "备注", required=False)
    transfer = _open(person, actor, TransferSide.IN, home, text)
    rules = rule_set_for(region_of_org(person.org), china_today().year).transfers
    if rules is not None:
        transfer.answer_due_at = transfer.started_at + dt.timedelta(days=rules.answer_within_days)
    db.session.flush()
    record(actor, "transfer.request_in", object_type="person_transfer", object_id=transfer.id,
           label=f"{person_label(person)}：{person.org.name} → {home.name}", org=home, reason=text,
           after={"from_org": person.org.name, "to_org": home.name,
                  "answer_due_at": transfer.answer_due_at.isoformat() if transfer.answer_due_at else None})
    return transfer


def confirm_transfer(actor: User, transfer_id: Any) -> PersonTransfer:
    """Confirm a transfer awaiting the actor's unit: the new unit's 确认调转, or the old unit's consent to a request.

    The person and their tallies move to the new unit now.
    """
    transfer = _pending_for_decision(actor, transfer_id, deciding=True)
    _move(actor, transfer, "transfer.confirm")
    transfer.decided_by_id = actor.id
    return transfer


def complete_after_silence(actor: User | None, transfer_id: Any, now: dt.datetime | None = None) -> PersonTransfer:
    """Complete a transfer the new unit asked for, once the old unit let its answer period pass in silence.

    ``actor`` is the new unit's admin, or None when the scheduled sweep (``complete_overdue``) does it.
    """
    transfer = (_pending_for_decision(actor, transfer_id, deciding=False) if actor is not None
                else _locked(transfer_id))
    if transfer is None or transfer.status != TransferStatus.PENDING:
        raise Conflict("该调转已处理，不能再按逾期完成。")
    if transfer.initiated_by != TransferSide.IN or transfer.answer_due_at is None:
        raise Conflict("只有调入单位发起、且规则规定了答复期限的调转，才能在调出单位逾期未答复时完成。")
    if (now or utcnow()) < transfer.answer_due_at:
        raise Conflict(f"调出单位的答复期限到 {china_time(transfer.answer_due_at, '%Y-%m-%d %H:%M')} 为止，"
                       "期限未到不能完成调转。")
    transfer.completed_by_silence = True
    _move(actor, transfer, "transfer.complete_after_silence")
    transfer.decided_by_id = actor.id if actor is not None else None
    return transfer


def complete_overdue(now: dt.datetime | None = None) -> int:
    """Complete every transfer whose old unit stayed silent past its period; one commit each; return how many.

    Run by ``flask transfers complete-overdue`` (daily from cron or the scheduler). A transfer that can no longer
    complete (the person moved or left meanwhile) is left pending for the units, and logged.
    """
    moment = now or utcnow()
    due = list(db.session.scalars(
        sa.select(PersonTransfer.id).where(PersonTransfer.status == TransferStatus.PENDING,
                                           PersonTransfer.initiated_by == TransferSide.IN,
                                           PersonTransfer.answer_due_at <= moment)
        .order_by(PersonTransfer.answer_due_at)))
    completed = 0
    for key in due:
        try:
            complete_after_silence(None, key, now=moment)
            db.session.commit()
            completed += 1
        except ServiceError as error:
            db.session.rollback()
            log.warning("overdue transfer %s not completed: %s", key, error.message)
    return completed


def refuse_transfer(actor: User, transfer_id: Any, reason: Any) -> PersonTransfer:
    """Refuse a transfer awaiting the actor's unit, with a reason; the person stays where they are."""
    text = _text(reason, "拒绝调转的原因", required=True)
    transfer = _pending_for_decision(actor, transfer_id, deciding=True)
    transfer.status, transfer.decided_by_id, transfer.decided_at = TransferStatus.REFUSED, actor.id, utcnow()
    transfer.reason = text
    db.session.flush()
    deciding = transfer.to_org if transfer.initiated_by == TransferSide.OUT else transfer.from_org
    record(actor, "transfer.refuse", object_type="person_transfer", object_id=transfer.id,
           label=f"{transfer.person_name}：{transfer.from_org.name} → {transfer.destination_name}", org=deciding,
           reason=text)
    notify_on.transfer_decided(transfer)
    return transfer


def cancel_transfer(actor: User, transfer_id: Any) -> PersonTransfer:
    """Withdraw a transfer the actor's unit started, before the other unit decided."""
    transfer = _pending_for_decision(actor, transfer_id, deciding=False)
    transfer.status, transfer.decided_by_id, transfer.decided_at = TransferStatus.CANCELLED, actor.id, utcnow()
    db.session.flush()
    starting = transfer.from_org if transfer.initiated_by == TransferSide.OUT else transfer.to_org
    record(actor, "transfer.cancel", object_type="person_transfer", object_id=transfer.id,
           label=f"{transfer.person_name}：{transfer.from_org.name} → {transfer.destination_name}", org=starting)
    return transfer


def _transferable_by(actor: User, person_id: Any) -> User:
    require(actor, Permission.TRANSFER_PEOPLE)
    person = _person(person_id)
    require(actor, Permission.TRANSFER_PEOPLE, person.org,
            message=f"{person.name}不在本单位管辖范围内，无权调出。")
    _check_transferable(person)
    return person


def _check_transferable(person: User) -> None:
    if person.role != Role.LEARNER or person.status != ReviewStatus.APPROVED or person.disabled_at is not None:
        raise Conflict(f"{person.name}不是已通过审核的在用专业技术人员，不能调转。")
    if db.session.scalar(sa.select(OrgAdmin.id).where(OrgAdmin.user_id == person.id)):
        raise Conflict(f"{person.name}是管理员，请先移除其管理员身份再办理调转。")


def _check_destination(person: User, destination: Org) -> None:
    if destination.id == person.org_id:
        raise Conflict(f"{person.name}已在{destination.name}，不能调转到本单位。")
    if not destination.is_active:
        raise Conflict(f"{destination.name}尚未通过审核或已停用，不能调入人员。")


def _open(person: User, actor: User, side: TransferSide, destination: Org | None, note: str | None,
          outside_destination: str | None = None) -> PersonTransfer:
    """Insert the open transfer; the one-open index refuses a second one, even from a concurrent request."""
    if open_transfer_of(person.id) is not None:
        raise Conflict(f"{person.name}已有一项尚未办结的调转，不能再发起。")
    transfer = PersonTransfer(user_id=person.id, from_org_id=person.org_id,
                              to_org_id=destination.id if destination is not None else None,
                              outside_destination=outside_destination, initiated_by=side,
                              status=TransferStatus.PENDING, person_name=person.name,
                              title_series=person.title_series, professional_post=person.professional_post,
                              note=note, started_by_id=actor.id, started_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(transfer)
    except IntegrityError:
        raise Conflict(f"{person.name}已有一项尚未办结的调转，不能再发起。") from None
    return transfer


def _move(actor: User | None, transfer: PersonTransfer, action: str) -> None:
    """Move the person and their tallies to the new unit now; refuse when the person is no longer where it began."""
    person = _locked_person(transfer.user_id)
    destination = transfer.to_org
    if person.org_id != transfer.from_org_id:
        raise Conflict(f"{person.name}已不在{transfer.from_org.name}，该调转不能再完成。")
    if person.disabled_at is not None:
        raise Conflict(f"{person.name}的账号已停用，该调转不能再完成。")
    if not destination.is_active:
        raise Conflict(f"{destination.name}已停用，不能调入人员。")
    old_org = person.org
    region = region_of_org(destination)  # the rule set of the person at the new unit: its region may differ
    tally.transfer_person(person, destination.id, lambda year: rule_set_for(region, year))
    leave_department(person)  # the old unit's internal departments are not the new unit's
    person.org = destination
    transfer.status, transfer.decided_at = TransferStatus.CONFIRMED, utcnow()
    db.session.flush()
    record(actor, action, object_type="person_transfer", object_id=transfer.id,
           label=f"{person_label(person)}：{old_org.name} → {destination.name}",
           org=destination if transfer.initiated_by == TransferSide.OUT or actor is None else old_org,
           before={"org": old_org.name}, after={"org": destination.name})
    notify_on.transfer_decided(transfer)


def _locked_person(user_id: int) -> User:
    return db.session.execute(sa.select(User).where(User.id == user_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()


def _locked(transfer_id: Any) -> PersonTransfer | None:
    """Lock the transfer row: two concurrent decisions queue here; the second reads the first one's result."""
    try:
        key = int(transfer_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(sa.select(PersonTransfer).where(PersonTransfer.id == key).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def _pending_for_decision(actor: User, transfer_id: Any, deciding: bool) -> PersonTransfer:
    """Lock the transfer, then check that the actor's unit is the side that decides (or started it) and it is open."""
    home = require(actor, Permission.TRANSFER_PEOPLE)
    transfer = _locked(transfer_id)
    if not transfer or not may_view(actor, transfer):
        raise NotFound("调转记录不存在或不在本单位管辖范围内。")
    if deciding and transfer.deciding_org_id != home.id:
        other = transfer.to_org if transfer.initiated_by == TransferSide.OUT else transfer.from_org
        raise NotAllowed(f"该调转等待{other.name if other else '对方单位'}答复，本单位不能确认或拒绝。")
    if not deciding:
        starting = transfer.from_org if transfer.initiated_by == TransferSide.OUT else transfer.to_org
        if starting is None or not has_permission(actor, Permission.TRANSFER_PEOPLE, starting):
            raise NotAllowed(f"该调转由{transfer.started_by_org_name}发起，只有发起单位可以撤回或完成。")
    if transfer.status != TransferStatus.PENDING:
        raise Conflict(f"该调转的状态是“{transfer.status_label}”，不能再处理。")
    return transfer


# ------------------------------------------------------------------------------------------------ reading

def open_transfer_of(user_id: int) -> PersonTransfer | None:
    return db.session.scalar(sa.select(PersonTransfer).where(PersonTransfer.user_id == user_id,
                                                             PersonTransfer.status == TransferStatus.PENDING))


def may_view(actor: User, transfer: PersonTransfer) -> bool:
    """Either side's unit or a level above either side, with people or transfer rights there."""
    return any(has_permission(actor, permission, org) for permission in (RECORDS_PERMISSION, Permission.TRANSFER_PEOPLE)
               for org in (transfer.from_org, transfer.to_org) if org is not None)


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
             .outerjoin(destination, PersonTransfer.to_org_id == destination.id).where(condition)
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
    return (PersonTransfer.status == TransferStatus.PENDING) & sa.or_(
        (PersonTransfer.initiated_by == TransferSide.OUT) & (PersonTransfer.to_org_id == home.id),
        (PersonTransfer.initiated_by == TransferSide.IN) & (PersonTransfer.from_org_id == home.id))


def awaiting(actor: User) -> list[PersonTransfer]:
    """The transfers awaiting the actor's unit: people coming in (人员调入审核) and requests for its own people."""
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


def _text(value: Any, what: str, required: bool, field: str | None = None, limit: int = NOTE_MAX) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    key = field or ("reason" if required else "note")
    if required and not text:
        raise InvalidInput({key: f"请填写{what}。"})
    if len(text) > limit:
        raise InvalidInput({key: f"{what}不能超过 {limit} 字。"})
    return text or None
