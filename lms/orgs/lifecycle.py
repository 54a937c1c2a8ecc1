"""Disabling and re-enabling sub-organisations (下级单位管理, admin manual 5.1.2).

A disabled organisation's admins and people, and everyone under it, cannot log in; every session of
theirs ends at once; all their data stays. An admin never disables their own organisation or one above it.
"""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.lifecycle import lifecycle_reason
from lms.accounts.models import User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, NotAllowed
from lms.extensions import db
from lms.orgs.access import require
from lms.orgs.models import Org, OrgAdmin
from lms.orgs.permissions import Permission
from lms.orgs.service import get_org


def _sub_org(actor: User, org_id) -> Org:
    try:
        org = get_org(int(org_id))
    except (TypeError, ValueError):
        org = get_org(0)
    home = require(actor, Permission.MANAGE_SUB_ORGS, org, message=f"{org.name}不在本单位管辖范围内，无权操作。")
    if org.id == home.id or home.path.startswith(org.path):
        raise NotAllowed("不能停用或启用本单位自己，请联系上级管理部门。")
    return org


def disable_org(actor: User, org_id, reason) -> Org:
    """Disable a sub-organisation with a reason; everyone under it is logged out now."""
    org = _sub_org(actor, org_id)
    text = lifecycle_reason(reason, "停用")
    if org.disabled_at is not None:
        raise Conflict(f"{org.name}已是停用状态。")
    org.disabled_at, org.disabled_reason = utcnow(), text
    subtree = sa.select(Org.id).where(Org.path.startswith(org.path))
    administering = sa.select(OrgAdmin.user_id).where(OrgAdmin.org_id.in_(subtree))
    db.session.execute(sa.update(User).where(User.org_id.in_(subtree) | User.id.in_(administering))
                       .values(session_version=User.session_version + 1).execution_options(synchronize_session=False))
    db.session.flush()
    record(actor, "org.disable", object_type="org", object_id=org.id, label=org.name, org=org, reason=text,
           before={"disabled": False}, after={"disabled": True})
    return org


def enable_org(actor: User, org_id, reason) -> Org:
    """Re-enable a disabled sub-organisation."""
    org = _sub_org(actor, org_id)
    text = lifecycle_reason(reason, "启用")
    if org.disabled_at is None:
        raise Conflict(f"{org.name}未停用。")
    org.disabled_at, org.disabled_reason = None, None
    db.session.flush()
    record(actor, "org.enable", object_type="org", object_id=org.id, label=org.name, org=org, reason=text,
           before={"disabled": True}, after={"disabled": False})
    return org
