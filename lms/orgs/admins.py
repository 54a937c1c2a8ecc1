"""An organisation's admins and roles (管理员管理, admin manual 5.1.1.3).

An organisation has exactly one super admin (超级管理员) and any number of further admins, each with
one of the organisation's roles. Admins are added in the three ways of 5.1.1.3.2: a person already
registered in the organisation, a new person registered as admin, or a person registered elsewhere
(found by ID-card number and name together, so the form cannot be used to look people up). Nobody
grants a permission they do not hold; the super admin role changes hands only by an explicit hand-over.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from lms.accounts.models import ADMIN_ROLE_FOR_KIND, Role, User
from lms.accounts.passwords import hash_password, password_problem
from lms.accounts.service import login_taken
from lms.audit.service import record
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.idcard import id_number_problem, mask_id_number, normalise_id_number
from lms.core.validation import clean_text, collect, phone_problem, text_problem
from lms.extensions import db
from lms.orgs.access import membership_permissions, permissions_of, require
from lms.orgs.models import AdminRole, Org, OrgAdmin, ReviewStatus
from lms.orgs.permissions import Permission, parse_permissions, super_admin_permissions

SESSION_REVIEWER = "session_reviewer"
BUILTIN_ROLES = {SESSION_REVIEWER: ("防作弊审核员", (Permission.VIEW_SESSIONS, Permission.REVIEW_SESSIONS))}
FULL_ADMIN_ROLE_NAME = "管理员（全部权限）"
ROLE_NAME_MAX = 40


def builtin_role(code: str) -> AdminRole:
    """Return a built-in role (made on first use, so that an empty database needs no seeding)."""
    role = db.session.scalar(sa.select(AdminRole).where(AdminRole.code == code))
    if role is None:
        name, permissions = BUILTIN_ROLES[code]
        role = AdminRole(code=code, name=name, permission_codes=" ".join(permissions))
        db.session.add(role)
        db.session.flush()
    return role


def ensure_default_membership(user: User, created_by: User | None = None) -> OrgAdmin | None:
    """Give an admin or reviewer account the rights of its account kind at its own organisation.

    The first admin of an organisation becomes its super admin, a further one gets the organisation's
    full-rights role; a reviewer gets the built-in reviewer role. Used by the demo and the factories.
    """
    if user.admin_membership is not None or user.role == Role.LEARNER:
        return user.admin_membership
    if user.role == Role.REVIEWER:
        membership = OrgAdmin(user_id=user.id, org_id=user.org_id, role_id=builtin_role(SESSION_REVIEWER).id)
    elif _super_admin(user.org_id) is None:
        membership = OrgAdmin(user_id=user.id, org_id=user.org_id, is_super=True)
    else:
        membership = OrgAdmin(user_id=user.id, org_id=user.org_id, role_id=_full_rights_role(user.org).id)
    membership.created_by_id = created_by.id if created_by else None
    db.session.add(membership)
    db.session.flush()
    db.session.expire(user, ["admin_membership"])
    return membership


def _full_rights_role(org: Org) -> AdminRole:
    role = db.session.scalar(sa.select(AdminRole).where(AdminRole.org_id == org.id,
                                                        AdminRole.name == FULL_ADMIN_ROLE_NAME))
    if role is None:
        role = AdminRole(org_id=org.id, name=FULL_ADMIN_ROLE_NAME,
                         permission_codes=" ".join(sorted(super_admin_permissions(org.kind))))
        db.session.add(role)
        db.session.flush()
    return role


def _super_admin(org_id: int) -> OrgAdmin | None:
    return db.session.scalar(sa.select(OrgAdmin).where(OrgAdmin.org_id == org_id, OrgAdmin.is_super))


def _managed_org(actor: User) -> Org:
    return require(actor, Permission.MANAGE_ADMINS, message="只有有“管理员管理”权限的管理员可以管理管理员和角色。")


def _grantable(actor: User, permissions) -> None:
    missing = [p for p in permissions if p not in permissions_of(actor)]
    if missing:
        labels = "、".join(f"“{Permission(p).label}”" for p in missing)
        raise NotAllowed(f"不能授予自己没有的权限：{labels}。")


# ------------------------------------------------------------------------------------------------ roles


def roles_of(org: Org) -> list[AdminRole]:
    """Return the organisation's own roles, by name."""
    return list(db.session.scalars(sa.select(AdminRole).where(AdminRole.org_id == org.id).order_by(AdminRole.name)))


def admins_of(org: Org) -> list[OrgAdmin]:
    """Return the organisation's admins, the super admin first."""
    return list(db.session.scalars(sa.select(OrgAdmin).where(OrgAdmin.org_id == org.id)
                                   .order_by(OrgAdmin.is_super.desc(), OrgAdmin.id)))


def _role_fields(org: Org, data: Mapping) -> tuple[str, frozenset[Permission]]:
    name = clean_text(data.get("name"))
    permissions, problem = parse_permissions(data.get("permissions"), org.kind)
    problems = collect({"name": text_problem(name, "角色名称", ROLE_NAME_MAX), "permissions": problem})
    if problems:
        raise InvalidInput(problems)
    return name, permissions


def create_role(actor: User, data: Mapping) -> AdminRole:
    """Create a role of the actor's organisation from permissions the actor holds."""
    org = _managed_org(actor)
    name, permissions = _role_fields(org, data)
    _grantable(actor, permissions)
    if db.session.scalar(sa.select(AdminRole.id).where(AdminRole.org_id == org.id, AdminRole.name == name)):
        raise Conflict(f"本单位已有名为“{name}”的角色。", {"name": "角色名称已存在。"})
    role = AdminRole(org_id=org.id, name=name, permission_codes=" ".join(sorted(permissions)))
    db.session.add(role)
    db.session.flush()
    record(actor, "role.create", object_type="admin_role", object_id=role.id, label=name, org=org,
           after={"name": name, "permissions": sorted(permissions)})
    return role


def _own_role(org: Org, role_id) -> AdminRole:
    role = db.session.get(AdminRole, _int(role_id, "role_id", "请选择角色。"))
    if role is None or role.org_id != org.id:
        raise NotFound("本单位没有这个角色。")
    return role


def update_role(actor: User, role_id, data: Mapping) -> AdminRole:
    """Rename a role or change its permissions (never beyond the actor's own)."""
    org = _managed_org(actor)
    role = _own_role(org, role_id)
    name, permissions = _role_fields(org, data)
    _grantable(actor, permissions | role.permission_set)  # nor edit a role that holds more than the actor
    clash = db.session.scalar(sa.select(AdminRole.id).where(AdminRole.org_id == org.id, AdminRole.name == name,
                                                            AdminRole.id != role.id))
    if clash:
        raise Conflict(f"本单位已有名为“{name}”的角色。", {"name": "角色名称已存在。"})
    before = {"name": role.name, "permissions": sorted(role.permission_set)}
    role.name, role.permission_codes = name, " ".join(sorted(permissions))
    db.session.flush()
    record(actor, "role.update", object_type="admin_role", object_id=role.id, label=name, org=org,
           before=before, after={"name": name, "permissions": sorted(permissions)})
    return role


def delete_role(actor: User, role_id) -> None:
    """Delete a role that no admin holds."""
    org = _managed_org(actor)
    role = _own_role(org, role_id)
    holders = db.session.scalar(sa.select(sa.func.count()).where(OrgAdmin.role_id == role.id))
    if holders:
        raise Conflict(f"还有 {holders} 名管理员是“{role.name}”角色，请先为他们换一个角色再删除。")
    record(actor, "role.delete", object_type="admin_role", object_id=role.id, label=role.name, org=org,
           before={"name": role.name, "permissions": sorted(role.permission_set)})
    db.session.delete(role)
    db.session.flush()


# ------------------------------------------------------------------------------------------------ admins

ADD_METHODS = ("member", "new", "existing")


def add_admin(actor: User, data: Mapping) -> OrgAdmin:
    """Add an admin to the actor's organisation in one of the three ways of 5.1.1.3.2, with a role."""
    org = _managed_org(actor)
    method = clean_text(data.get("method"))
    if method not in ADD_METHODS:
        raise InvalidInput({"method": "请选择添加方式：本单位已注册人员、注册新人员或系统中已有人员。"})
    role = _own_role(org, data.get("role_id"))
    _grantable(actor, role.permission_set)
    if method == "member":
        person = db.session.get(User, _int(data.get("user_id"), "user_id", "请选择本单位人员。"))
        if person is None or person.org_id != org.id or person.status != ReviewStatus.APPROVED:
            raise NotFound("本单位没有这名已通过审核的人员。")
    elif method == "existing":
        person = _person_by_id_and_name(data)
    else:
        person = _register_admin_person(org, data)
    if person.disabled_at is not None:
        raise Conflict(f"{person.name}的账号已停用，不能设为管理员。")
    current = db.session.scalar(sa.select(OrgAdmin).where(OrgAdmin.user_id == person.id))
    if current is not None:
        where = "本单位" if current.org_id == org.id else current.org.name
        raise Conflict(f"{person.name}已是{where}的管理员；一个账号只能管理一个单位。")
    membership = OrgAdmin(user_id=person.id, org_id=org.id, role_id=role.id, created_by_id=actor.id)
    db.session.add(membership)
    db.session.flush()
    db.session.expire(person, ["admin_membership"])
    record(actor, "admin.add", object_type="user", object_id=person.id, label=_person_label(person), org=org,
           after={"method": method, "role": role.name})
    return membership


def _person_by_id_and_name(data: Mapping) -> User:
    number, name = normalise_id_number(str(data.get("id_number") or "")), clean_text(data.get("name"))
    problems = collect({"id_number": id_number_problem(number), "name": text_problem(name, "姓名", 50)})
    if problems:
        raise InvalidInput(problems)
    person = db.session.scalar(sa.select(User).where(User.id_number == number))
    if person is None or person.name != name or person.status != ReviewStatus.APPROVED:
        raise InvalidInput({"id_number": "系统中没有身份证号码和姓名都相符、已通过审核的人员，请核对。"})
    return person


def _register_admin_person(org: Org, data: Mapping) -> User:
    number = normalise_id_number(str(data.get("id_number") or ""))
    login, name, phone = clean_text(data.get("login")), clean_text(data.get("name")), clean_text(data.get("phone"))
    password = data.get("password") or ""
    problems = collect({
        "id_number": id_number_problem(number), "name": text_problem(name, "姓名", 50), "phone": phone_problem(phone),
        "login": None if 4 <= len(login) <= 40 and login.isascii() and login[:1].isalpha() else
        "管理员账号应为 4–40 位字母、数字、下划线、点或连字符，以字母开头。",
        "password": password_problem(password),
    })
    if problems:
        raise InvalidInput(problems)
    if db.session.scalar(sa.select(User.id).where(User.id_number == number)):
        raise Conflict("该身份证号码已在系统中注册，请改用“系统中已有人员”的方式添加。",
                       {"id_number": "该身份证号码已注册。"})
    if login_taken(login):
        raise Conflict("该管理员账号已被使用，请换一个。", {"login": "该管理员账号已被使用。"})
    person = User(login=login, id_number=number, name=name, phone=phone, role=ADMIN_ROLE_FOR_KIND[org.kind],
                  org=org, status=ReviewStatus.APPROVED, password_hash=hash_password(password))
    db.session.add(person)
    db.session.flush()
    return person


def _own_admin(org: Org, membership_id) -> OrgAdmin:
    membership = db.session.get(OrgAdmin, _int(membership_id, "admin_id", "请选择管理员。"))
    if membership is None or membership.org_id != org.id:
        raise NotFound("本单位没有这名管理员。")
    return membership


def set_admin_role(actor: User, membership_id, role_id) -> OrgAdmin:
    """Give an admin (not the super admin) another role of the organisation."""
    org = _managed_org(actor)
    membership = _own_admin(org, membership_id)
    if membership.is_super:
        raise Conflict("超级管理员拥有全部权限，不需要分配角色。")
    role = _own_role(org, role_id)
    _grantable(actor, role.permission_set)
    if membership.role is not None:
        _grantable(actor, membership.role.permission_set)
    before = {"role": membership.role.name if membership.role else None}
    membership.role_id = role.id
    db.session.flush()
    db.session.refresh(membership)
    record(actor, "admin.set_role", object_type="user", object_id=membership.user_id,
           label=_person_label(membership_user(membership)), org=org, before=before, after={"role": role.name})
    return membership


def remove_admin(actor: User, membership_id) -> None:
    """Take admin rights away from an admin; the super admin must hand over first, nobody removes themself."""
    org = _managed_org(actor)
    membership = _own_admin(org, membership_id)
    if membership.is_super:
        raise Conflict("不能移除超级管理员：请先把超级管理员移交给另一名管理员。")
    if membership.user_id == actor.id:
        raise Conflict("不能移除自己的管理员权限，请由超级管理员操作。")
    if membership.role is not None:
        _grantable(actor, membership.role.permission_set)
    person = membership_user(membership)
    record(actor, "admin.remove", object_type="user", object_id=person.id, label=_person_label(person), org=org,
           before={"role": membership.role.name if membership.role else None})
    db.session.delete(membership)
    db.session.flush()
    db.session.expire(person, ["admin_membership"])
    _end_sessions(person)


def hand_over_super(actor: User, membership_id, keep_role_id=None) -> OrgAdmin:
    """Make another admin of the organisation its super admin; the former keeps admin rights only with a role."""
    org = _managed_org(actor)
    db.session.execute(sa.select(Org.id).where(Org.id == org.id).with_for_update())  # one hand-over at a time
    current = actor.admin_membership
    db.session.refresh(current)
    if not current.is_super or current.org_id != org.id:
        raise NotAllowed("只有超级管理员本人可以移交超级管理员。")
    target = _own_admin(org, membership_id)
    if target.id == current.id:
        raise Conflict("您已是超级管理员。")
    keep_role = _own_role(org, keep_role_id) if keep_role_id not in (None, "") else None
    target_user = membership_user(target)
    if target_user.disabled_at is not None or target_user.status != ReviewStatus.APPROVED:
        raise Conflict(f"{target_user.name}的账号已停用或未通过审核，不能成为超级管理员。")
    if keep_role is None:
        db.session.delete(current)
        _end_sessions(actor)
    else:
        current.is_super, current.role_id = False, keep_role.id
    db.session.flush()
    target.is_super, target.role_id = True, None
    db.session.flush()
    record(actor, "admin.hand_over_super", object_type="user", object_id=target_user.id,
           label=_person_label(target_user), org=org,
           after={"former_keeps_role": keep_role.name if keep_role else None})
    db.session.expire(actor, ["admin_membership"])
    db.session.expire(target_user, ["admin_membership"])
    return target


def membership_user(membership: OrgAdmin) -> User:
    return db.session.get(User, membership.user_id)


def effective_permissions(membership: OrgAdmin) -> list[Permission]:
    """The permissions a membership grants, in catalogue order (for the admins page)."""
    held = membership_permissions(membership)
    return [p for p in Permission if p in held]


def candidate_members(org: Org, limit: int = 200) -> list[User]:
    """Approved people of the organisation who are not admins yet (the first way of adding an admin)."""
    return list(db.session.scalars(
        sa.select(User).where(User.org_id == org.id, User.status == ReviewStatus.APPROVED, User.disabled_at.is_(None),
                              ~sa.exists().where(OrgAdmin.user_id == User.id))
        .order_by(User.name).limit(limit)))


def _person_label(person: User) -> str:
    return f"{person.name}（{mask_id_number(person.id_number) if person.id_number else person.login}）"


def _end_sessions(person: User) -> None:
    person.session_version += 1
    db.session.flush()


def _int(value, field: str, message: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput({field: message}) from None
    if not 0 < number < 2**31:
        raise InvalidInput({field: message})
    return number
