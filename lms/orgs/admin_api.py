"""JSON API of admins, roles, the to-do list, lifecycle of people and sub-organisations, and the audit log."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from lms.accounts import lifecycle as people_lifecycle
from lms.accounts.schemas import Person
from lms.audit import service as audit
from lms.core.api import page_body, page_schema
from lms.core.auth import api_user
from lms.core.errors import InvalidInput
from lms.extensions import db
from lms.orgs import admins, lifecycle, schemas
from lms.orgs.access import admin_org
from lms.orgs.permissions import Permission, permissions_for_kind
from lms.orgs.todo import todo_items

blp = Blueprint("org_admin_api", __name__, url_prefix="/api/v1", description="管理员、角色、待办、停用启用与操作日志")
BEARER = [{"bearer": []}]
AuditPage = page_schema(schemas.AuditOut, "AuditPage")


def _committed(result):
    db.session.commit()
    return result


@blp.route("/me/todo", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.TodoOut(many=True))
@api_user()
def todo():
    """Count what waits for the caller: registrations, declarations at their step, held sessions, …"""
    return todo_items(g.api_user)


@blp.route("/permissions", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.PermissionOut(many=True))
@api_user(permission=Permission.MANAGE_ADMINS)
def permission_catalogue():
    """The permissions that exist for the caller's kind of organisation."""
    return permissions_for_kind(admin_org(g.api_user).kind)


@blp.route("/org/roles", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.RoleOut(many=True))
@api_user(permission=Permission.MANAGE_ADMINS)
def roles():
    """The roles of the caller's organisation."""
    return admins.roles_of(admin_org(g.api_user))


@blp.route("/org/roles", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.RoleIn)
@blp.response(201, schemas.RoleOut)
@api_user(permission=Permission.MANAGE_ADMINS)
def create_role(body):
    """Create a role from permissions the caller holds."""
    return _committed(admins.create_role(g.api_user, body))


@blp.route("/org/roles/<int:role_id>", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.RoleIn)
@blp.response(200, schemas.RoleOut)
@api_user(permission=Permission.MANAGE_ADMINS)
def update_role(body, role_id: int):
    """Rename a role or change its permissions."""
    return _committed(admins.update_role(g.api_user, role_id, body))


@blp.route("/org/roles/<int:role_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@blp.response(204)
@api_user(permission=Permission.MANAGE_ADMINS)
def delete_role(role_id: int):
    """Delete a role nobody holds."""
    admins.delete_role(g.api_user, role_id)
    db.session.commit()


@blp.route("/org/admins", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.AdminOut(many=True))
@api_user(permission=Permission.MANAGE_ADMINS)
def list_admins():
    """The admins of the caller's organisation, the super admin first."""
    return admins.admins_of(admin_org(g.api_user))


@blp.route("/org/admins", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.AdminIn)
@blp.response(201, schemas.AdminOut)
@api_user(permission=Permission.MANAGE_ADMINS)
def add_admin(body):
    """Add an admin: a person of the organisation, a new person, or a person registered elsewhere."""
    return _committed(admins.add_admin(g.api_user, body))


@blp.route("/org/admins/<int:admin_id>/role", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.AdminRoleChange)
@blp.response(200, schemas.AdminOut)
@api_user(permission=Permission.MANAGE_ADMINS)
def set_admin_role(body, admin_id: int):
    """Give an admin another role."""
    return _committed(admins.set_admin_role(g.api_user, admin_id, body["role_id"]))


@blp.route("/org/admins/<int:admin_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@blp.response(204)
@api_user(permission=Permission.MANAGE_ADMINS)
def remove_admin(admin_id: int):
    """Take an admin's rights away (never the super admin's, never one's own)."""
    admins.remove_admin(g.api_user, admin_id)
    db.session.commit()


@blp.route("/org/admins/<int:admin_id>/super", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.SuperHandOver)
@blp.response(200, schemas.AdminOut)
@api_user(permission=Permission.MANAGE_ADMINS)
def hand_over_super(body, admin_id: int):
    """Make another admin the super admin (only the super admin does this)."""
    return _committed(admins.hand_over_super(g.api_user, admin_id, body["keep_role_id"]))


@blp.route("/people/<int:user_id>/disable", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.Reason)
@blp.response(200, Person)
@api_user(permission=Permission.MANAGE_PEOPLE)
def disable_person(body, user_id: int):
    """Disable a person of the caller's subtree; their sessions and tokens end now."""
    return _committed(people_lifecycle.disable_person(g.api_user, user_id, body["reason"]))


@blp.route("/people/<int:user_id>/enable", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.Reason)
@blp.response(200, Person)
@api_user(permission=Permission.MANAGE_PEOPLE)
def enable_person(body, user_id: int):
    """Re-enable a disabled person."""
    return _committed(people_lifecycle.enable_person(g.api_user, user_id, body["reason"]))


@blp.route("/orgs/<int:org_id>/disable", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.Reason)
@blp.response(200, schemas.OrgOut)
@api_user(permission=Permission.MANAGE_SUB_ORGS)
def disable_org(body, org_id: int):
    """Disable a sub-organisation; everyone under it is logged out."""
    return _committed(lifecycle.disable_org(g.api_user, org_id, body["reason"]))


@blp.route("/orgs/<int:org_id>/enable", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.Reason)
@blp.response(200, schemas.OrgOut)
@api_user(permission=Permission.MANAGE_SUB_ORGS)
def enable_org(body, org_id: int):
    """Re-enable a disabled sub-organisation."""
    return _committed(lifecycle.enable_org(g.api_user, org_id, body["reason"]))


@blp.route("/audit", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.AuditQuery, location="query")
@blp.response(200, AuditPage)
@api_user(permission=Permission.VIEW_AUDIT_LOG)
def audit_log(args):
    """The audit rows of the caller's subtree, newest first."""
    if not 1 <= args["per_page"] <= 200 or args["page"] < 1:
        raise InvalidInput({"per_page": "每页 1–200 条，页码从 1 开始。"})
    page = db.paginate(audit.log_query(g.api_user, args), page=args["page"], per_page=args["per_page"],
                       error_out=False)
    return page_body(page)
