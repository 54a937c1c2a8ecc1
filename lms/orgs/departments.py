"""Internal departments (管理内设部门, admin manual 5.1.1.2): an organisation's own tree of departments.

An internal department is not an organisation: it approves nothing and has no admins. The organisation's admin
adds, renames, reorders, moves and deletes (only when empty) its departments and assigns the organisation's own
people to one each; people lists and the statistics' people search filter by a department with its
sub-departments. Every write locks the organisation's row, so sibling names stay unique and a department is never
deleted while someone is being assigned to it. Callers commit; a refusal raises before anything changed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit.service import changed_fields, record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.validation import clean_text
from lms.extensions import db
from lms.orgs.access import has_permission, require
from lms.orgs.models import DepartmentMember, InternalDepartment, Org
from lms.orgs.permissions import Permission

NAME_MAX = 50
MAX_DEPTH = 8
POSITION_MAX = 9999
MEMBER_SEARCH_LIMIT = 50


@dataclasses.dataclass(frozen=True)
class DepartmentNode:
    department: InternalDepartment
    depth: int
    members: int  # people assigned to this department itself (not its sub-departments)
    children: int


def department_tree(org: Org) -> list[DepartmentNode]:
    """The organisation's departments depth first, siblings by their order and name."""
    departments = db.session.scalars(sa.select(InternalDepartment).where(InternalDepartment.org_id == org.id)
                                     .order_by(InternalDepartment.position, InternalDepartment.name,
                                               InternalDepartment.id)).all()
    counts = dict(db.session.execute(
        sa.select(DepartmentMember.department_id, sa.func.count()).join(InternalDepartment)
        .where(InternalDepartment.org_id == org.id).group_by(DepartmentMember.department_id)).all())
    by_parent: dict[int | None, list[InternalDepartment]] = {}
    for department in departments:
        by_parent.setdefault(department.parent_id, []).append(department)
    nodes: list[DepartmentNode] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for department in by_parent.get(parent_id, []):
            nodes.append(DepartmentNode(department, depth, counts.get(department.id, 0),
                                        len(by_parent.get(department.id, []))))
            walk(department.id, depth + 1)

    walk(None, 0)
    return nodes


def create_department(actor: User, data: dict) -> InternalDepartment:
    """Add a department to the actor's organisation, at the top or under one of its departments."""
    org = _locked_home(actor)
    name = _name(data.get("name"))
    parent = _parent(org, data.get("parent_id"))
    position = _position(data.get("position"))
    _refuse_sibling_name(org, parent.id if parent else None, name)
    if parent is not None and _depth(parent) + 1 >= MAX_DEPTH:
        raise InvalidInput({"parent_id": f"内设部门最多 {MAX_DEPTH} 级。"})
    department = InternalDepartment(org_id=org.id, parent_id=parent.id if parent else None, name=name,
                                    position=position)
    db.session.add(department)
    db.session.flush()
    department.path = f"{parent.path if parent else '/'}{department.id}/"
    db.session.flush()
    record(actor, "department.create", object_type="internal_department", object_id=department.id,
           label=f"{org.name}：{_full_name(department)}", org=org,
           after={"name": name, "parent": parent.name if parent else None, "position": position})
    return department


def update_department(actor: User, department_id: Any, data: dict) -> InternalDepartment:
    """Rename a department, change its order, or move it under another department of the organisation (or the top)."""
    org = _locked_home(actor)
    department = _department(org, department_id)
    before = {"name": department.name, "parent": department.parent.name if department.parent else None,
              "position": department.position}
    name = _name(data.get("name")) if "name" in data else department.name
    parent = _parent(org, data.get("parent_id")) if "parent_id" in data else department.parent
    position = _position(data.get("position")) if "position" in data else department.position
    if parent is not None and parent.path.startswith(department.path):
        raise Conflict(f"不能把“{department.name}”移到它自己或它的下级部门之下。")
    parent_id = parent.id if parent else None
    if name != department.name or parent_id != department.parent_id:
        _refuse_sibling_name(org, parent_id, name, exclude_id=department.id)
    if parent_id != department.parent_id:
        height = max((_depth_of_path(p) for p in db.session.scalars(
            sa.select(InternalDepartment.path).where(InternalDepartment.org_id == org.id,
                                                     InternalDepartment.path.startswith(department.path)))),
                     default=_depth_of_path(department.path)) - _depth_of_path(department.path)
        if (_depth(parent) + 1 if parent else 0) + height >= MAX_DEPTH:
            raise InvalidInput({"parent_id": f"内设部门最多 {MAX_DEPTH} 级。"})
        old_path, new_path = department.path, f"{parent.path if parent else '/'}{department.id}/"
        db.session.execute(
            sa.update(InternalDepartment)
            .where(InternalDepartment.org_id == org.id, InternalDepartment.path.startswith(old_path))
            .values(path=sa.literal(new_path) + sa.func.substr(InternalDepartment.path, len(old_path) + 1))
            .execution_options(synchronize_session=False))
        db.session.expire_all()  # the rows under it were rewritten in SQL
        department = db.session.get(InternalDepartment, department.id)
        department.parent_id = parent_id
    department.name, department.position = name, position
    db.session.flush()
    after = {"name": department.name, "parent": parent.name if parent else None, "position": department.position}
    changed_before, changed_after = changed_fields(before, after)
    record(actor, "department.update", object_type="internal_department", object_id=department.id,
           label=f"{org.name}：{_full_name(department)}", org=org, before=changed_before, after=changed_after)
    return department


def delete_department(actor: User, department_id: Any) -> None:
    """Delete a department that has neither sub-departments nor people."""
    org = _locked_home(actor)
    department = _department(org, department_id)
    children = db.session.scalar(sa.select(sa.func.count()).where(InternalDepartment.parent_id == department.id))
    members = db.session.scalar(sa.select(sa.func.count()).where(DepartmentMember.department_id == department.id))
    if children or members:
        held = "、".join(part for part in (f"{children} 个下级部门" if children else "",
                                          f"{members} 名人员" if members else "") if part)
        raise Conflict(f"“{department.name}”下还有{held}，请先移走后再删除。")
    label = f"{org.name}：{_full_name(department)}"
    db.session.delete(department)
    db.session.flush()
    record(actor, "department.delete", object_type="internal_department", object_id=department_id, label=label,
           org=org, before={"name": department.name})


def assign_person(actor: User, person_id: Any, department_id: Any) -> DepartmentMember | None:
    """Put one of the organisation's own people in one of its departments (None or "": in none)."""
    require(actor, Permission.MANAGE_DEPARTMENTS)
    person = _person(person_id)
    require(actor, Permission.MANAGE_DEPARTMENTS, person.org, message=f"{person.name}不在本单位管辖范围内。")
    org = _locked_home(actor)
    if person.org_id != org.id:
        raise Conflict(f"{person.name}属于{person.org.name}，只能由本单位把自己的人员分到内设部门。")
    department = None if department_id in (None, "") else _department(org, department_id)
    membership = db.session.get(DepartmentMember, person.id)
    before = membership.department.name if membership else None
    if department is None:
        if membership is not None:
            db.session.delete(membership)
        membership = None
    elif membership is None:
        membership = DepartmentMember(user_id=person.id, department_id=department.id, assigned_by_id=actor.id)
        db.session.add(membership)
    else:
        membership.department_id, membership.assigned_by_id = department.id, actor.id
        membership.assigned_at = utcnow()
    db.session.flush()
    record(actor, "department.assign", object_type="user", object_id=person.id, label=person.name, org=org,
           before={"department": before}, after={"department": department.name if department else None})
    return membership


def leave_department(user: User) -> None:
    """Take a person out of their internal department (they are leaving the organisation: 人员调转)."""
    db.session.execute(sa.delete(DepartmentMember).where(DepartmentMember.user_id == user.id))


def department_of(user_id: int) -> InternalDepartment | None:
    membership = db.session.get(DepartmentMember, user_id)
    return membership.department if membership else None


def departments_by_person(user_ids) -> dict[int, InternalDepartment]:
    """Each given person's department (people in none are left out)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = db.session.execute(sa.select(DepartmentMember.user_id, InternalDepartment)
                              .join(InternalDepartment).where(DepartmentMember.user_id.in_(ids))).all()
    return dict(rows)


def member_condition(actor: User, permission: Permission, department_id: Any, user_column):
    """A SQL condition: the person ``user_column`` is in the department or one of its sub-departments.

    The department must belong to an organisation the actor reaches with ``permission`` (403 otherwise).
    """
    try:
        department = db.session.get(InternalDepartment, int(department_id))
    except (TypeError, ValueError):
        raise InvalidInput({"department_id": "内设部门编号无效。"}) from None
    if department is None or not has_permission(actor, permission, department.org):
        raise NotAllowed("所选内设部门不在本单位管辖范围内。")
    within = (sa.select(DepartmentMember.user_id).join(InternalDepartment)
              .where(InternalDepartment.org_id == department.org_id,
                     InternalDepartment.path.startswith(department.path)))
    return user_column.in_(within)


def people_of(actor: User, query: Any = None, department_id: Any = None) -> list[User]:
    """The organisation's own people by name or ID number, or those of a department, to assign them."""
    org = require(actor, Permission.MANAGE_DEPARTMENTS)
    statement = sa.select(User).where(User.org_id == org.id).order_by(User.name, User.id).limit(MEMBER_SEARCH_LIMIT)
    text = clean_text(query)
    if text:
        statement = statement.where(sa.or_(User.name.contains(text[:50], autoescape=True),
                                           User.id_number == text.upper()))
    if department_id not in (None, ""):
        statement = statement.where(member_condition(actor, Permission.MANAGE_DEPARTMENTS, department_id, User.id))
    elif not text:
        return []
    return list(db.session.scalars(statement))


def departments_of_org(org: Org) -> list[InternalDepartment]:
    return [node.department for node in department_tree(org)]


# ------------------------------------------------------------------------------------------------ helpers

def _locked_home(actor: User) -> Org:
    org = require(actor, Permission.MANAGE_DEPARTMENTS)
    # NO KEY UPDATE: serialises the organisation's department writes without holding up rows that refer to it.
    db.session.execute(sa.select(Org.id).where(Org.id == org.id).with_for_update(key_share=True))
    return org


def _department(org: Org, department_id: Any) -> InternalDepartment:
    try:
        department = db.session.get(InternalDepartment, int(department_id))
    except (TypeError, ValueError):
        department = None
    if department is None or department.org_id != org.id:
        raise NotFound("内设部门不存在或不属于本单位。")
    return department


def _parent(org: Org, parent_id: Any) -> InternalDepartment | None:
    if parent_id in (None, "", 0, "0"):
        return None
    try:
        parent = db.session.get(InternalDepartment, int(parent_id))
    except (TypeError, ValueError):
        parent = None
    if parent is None or parent.org_id != org.id:
        raise InvalidInput({"parent_id": "所选上级内设部门不存在或不属于本单位。"})
    return parent


def _name(raw: Any) -> str:
    name = clean_text(raw)
    if not name:
        raise InvalidInput({"name": "请填写部门名称。"})
    if len(name) > NAME_MAX:
        raise InvalidInput({"name": f"部门名称不能超过 {NAME_MAX} 字。"})
    return name


def _position(raw: Any) -> int:
    if raw in (None, ""):
        return 0
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput({"position": "排序应为整数。"}) from None
    if not 0 <= value <= POSITION_MAX:
        raise InvalidInput({"position": f"排序应在 0–{POSITION_MAX} 之间。"})
    return value


def _refuse_sibling_name(org: Org, parent_id: int | None, name: str, exclude_id: int | None = None) -> None:
    query = sa.select(InternalDepartment.id).where(
        InternalDepartment.org_id == org.id, InternalDepartment.name == name,
        InternalDepartment.parent_id.is_(None) if parent_id is None else InternalDepartment.parent_id == parent_id)
    if exclude_id is not None:
        query = query.where(InternalDepartment.id != exclude_id)
    if db.session.scalar(query):
        raise InvalidInput({"name": f"同一级已有名为“{name}”的内设部门。"})


def _depth_of_path(path: str) -> int:
    return len([part for part in path.strip("/").split("/") if part]) - 1


def _depth(department: InternalDepartment) -> int:
    return _depth_of_path(department.path)


def _full_name(department: InternalDepartment) -> str:
    ids = [int(part) for part in department.path.strip("/").split("/") if part]
    names = dict(db.session.execute(sa.select(InternalDepartment.id, InternalDepartment.name)
                                    .where(InternalDepartment.id.in_(ids))).all())
    return " / ".join(names.get(i, department.name) for i in ids)


def _person(person_id: Any) -> User:
    try:
        person = db.session.get(User, int(person_id))
    except (TypeError, ValueError):
        person = None
    if person is None:
        raise NotFound("人员不存在。")
    return person
