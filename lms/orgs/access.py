"""The one place that answers "may this account do that, there": permission × subtree.

An account holds admin rights through its ``OrgAdmin`` membership: the super admin holds every
permission of the organisation's kind (``permissions.super_admin_permissions``), any other admin the
permissions of the role given to them. A permission reaches the organisation itself and its subtree
(``Org.path`` prefix); rules narrower than the subtree (only the direct parent approves a registration,
only the step's organisation decides a declaration) stay in the services that own them.
"""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import User
from lms.core.errors import NotAllowed
from lms.orgs.models import AdminRole, Org, OrgAdmin
from lms.orgs.permissions import CATALOGUE, Permission, super_admin_permissions


def membership_permissions(membership: OrgAdmin) -> frozenset[Permission]:
    """Return the permissions a membership grants over its organisation's subtree."""
    kind = membership.org.kind
    if membership.is_super:
        granted = set(super_admin_permissions(kind))
        if membership.role is not None:  # a super admin may also be given a separate duty, e.g. session review
            granted |= _role_permissions(membership.role)
    elif membership.role is not None:
        granted = _role_permissions(membership.role)
    else:
        granted = set()
    return frozenset(p for p in granted if kind in CATALOGUE[p].kinds)


def _role_permissions(role: AdminRole) -> set[Permission]:
    return {Permission(code) for code in role.permission_set if code in Permission.__members__.values()}


def admin_org(actor: User | None) -> Org | None:
    """Return the organisation the account administers, if its rights are in force."""
    if actor is None or not getattr(actor, "is_authenticated", True):
        return None
    membership = actor.admin_membership
    if membership is None or not actor.is_approved or not membership.org.is_active:
        return None
    return membership.org


def permissions_of(actor: User | None) -> frozenset[Permission]:
    """Return every permission the account holds now (none when disabled, unapproved or not an admin)."""
    if admin_org(actor) is None:
        return frozenset()
    return membership_permissions(actor.admin_membership)


def has_permission(actor: User | None, permission: Permission, org: Org | None = None) -> bool:
    """Tell whether the account holds ``permission`` over ``org`` (its own organisation when None)."""
    home = admin_org(actor)
    if home is None or permission not in membership_permissions(actor.admin_membership):
        return False
    return org is None or org.path.startswith(home.path)


def require(actor: User | None, permission: Permission, org: Org | None = None, message: str | None = None) -> Org:
    """Refuse with a Chinese 403 unless the account holds ``permission`` over ``org``; return its admin org."""
    if not has_permission(actor, permission, org):
        home = admin_org(actor)
        if home is not None and permission in membership_permissions(actor.admin_membership):
            raise NotAllowed(message or f"{org.name}不在本单位管辖范围内，无权操作。")
        raise NotAllowed(message or f"当前账号没有“{permission.label}”权限，请联系本单位超级管理员。")
    return admin_org(actor)


def scope_org(actor: User | None, permission: Permission) -> Org | None:
    """Return the organisation whose subtree the permission reaches for this account, or None."""
    return admin_org(actor) if has_permission(actor, permission) else None


def within_scope(column, actor: User | None, permission: Permission):
    """A SQL condition: the organisation path ``column`` lies in the subtree the permission reaches."""
    home = scope_org(actor, permission)
    return column.startswith(home.path) if home is not None else sa.false()
