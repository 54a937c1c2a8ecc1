"""Disabling and re-enabling people (停用/启用, admin manual 5.1.2).

A disabled account cannot log in and every session and token it had ends at once (its session version
moves on); its ledger, certificates and history stay. 学时管理办法第二十二条 is why such sanctions exist.
"""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotFound
from lms.core.idcard import mask_id_number
from lms.extensions import db
from lms.orgs.access import require
from lms.orgs.models import OrgAdmin
from lms.orgs.permissions import Permission

REASON_MAX = 200


def lifecycle_reason(raw, what: str) -> str:
    """Return the reason a disable or enable needs, or refuse."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise InvalidInput({"reason": f"请填写{what}的原因。"})
    if len(text) > REASON_MAX:
        raise InvalidInput({"reason": f"原因不能超过 {REASON_MAX} 字。"})
    return text


def _person_in_scope(actor: User, user_id) -> User:
    try:
        person = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        person = None
    if person is None:
        raise NotFound("人员不存在。")
    require(actor, Permission.MANAGE_PEOPLE, person.org, message=f"{person.name}不在本单位管辖范围内，无权操作。")
    return person


def person_label(person: User) -> str:
    return f"{person.name}（{mask_id_number(person.id_number) if person.id_number else person.login}）"


def disable_person(actor: User, user_id, reason) -> User:
    """Disable a person of the actor's subtree with a reason; their sessions end now."""
    person = _person_in_scope(actor, user_id)
    text = lifecycle_reason(reason, "停用")
    if person.id == actor.id:
        raise Conflict("不能停用自己的账号。")
    if person.disabled_at is not None:
        raise Conflict(f"{person.name}的账号已是停用状态。")
    if db.session.scalar(sa.select(OrgAdmin.id).where(OrgAdmin.user_id == person.id, OrgAdmin.is_super)):
        raise Conflict(f"{person.name}是超级管理员，停用前请先由其把超级管理员移交给另一名管理员。")
    person.disabled_at, person.disabled_reason = utcnow(), text
    person.session_version += 1
    db.session.flush()
    record(actor, "person.disable", object_type="user", object_id=person.id, label=person_label(person),
           org=person.org, reason=text, before={"disabled": False}, after={"disabled": True})
    return person


def enable_person(actor: User, user_id, reason) -> User:
    """Re-enable a disabled person of the actor's subtree."""
    person = _person_in_scope(actor, user_id)
    text = lifecycle_reason(reason, "启用")
    if person.disabled_at is None:
        raise Conflict(f"{person.name}的账号未停用。")
    person.disabled_at, person.disabled_reason = None, None
    db.session.flush()
    record(actor, "person.enable", object_type="user", object_id=person.id, label=person_label(person),
           org=person.org, reason=text, before={"disabled": True}, after={"disabled": False})
    return person
