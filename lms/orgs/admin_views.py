"""Pages of an organisation's admins and roles (管理员管理, 5.1.1.3) and of sub-organisation lifecycle (5.1.2)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from lms.core.auth import page_user
from lms.core.errors import ServiceError
from lms.extensions import db
from lms.orgs import admins, lifecycle
from lms.orgs.access import admin_org, permissions_of
from lms.orgs.permissions import Permission, permissions_for_kind
from lms.orgs.views import bp


def _run(change, success: str, back: str):
    """Run one change from a posted form: commit and say so, or roll back and show the refusal."""
    if not FlaskForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(back)
    try:
        change()
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash(success, "success")
    return redirect(back)


@bp.get("/org/admins")
@page_user(permission=Permission.MANAGE_ADMINS)
def admins_page():
    """The organisation's admins with their roles, the roles with their permissions, and the add form."""
    org = admin_org(current_user)
    return render_template("orgs/admins.html", org=org, admins=admins.admins_of(org), roles=admins.roles_of(org),
                           catalogue=permissions_for_kind(org.kind), held=permissions_of(current_user),
                           members=admins.candidate_members(org), users=admins.membership_user,
                           effective=admins.effective_permissions, form=FlaskForm())


@bp.post("/org/admins")
@page_user(permission=Permission.MANAGE_ADMINS)
def add_admin():
    """Add an admin in one of the three ways."""
    data = request.form.to_dict()
    return _run(lambda: admins.add_admin(current_user, data), "已添加管理员。", url_for("orgs.admins_page"))


@bp.post("/org/admins/<int:admin_id>/role")
@page_user(permission=Permission.MANAGE_ADMINS)
def set_admin_role(admin_id: int):
    """Give an admin another role."""
    role_id = request.form.get("role_id")
    return _run(lambda: admins.set_admin_role(current_user, admin_id, role_id), "已更改管理员角色。",
                url_for("orgs.admins_page"))


@bp.post("/org/admins/<int:admin_id>/remove")
@page_user(permission=Permission.MANAGE_ADMINS)
def remove_admin(admin_id: int):
    """Take an admin's rights away."""
    return _run(lambda: admins.remove_admin(current_user, admin_id), "已移除管理员。", url_for("orgs.admins_page"))


@bp.post("/org/admins/<int:admin_id>/super")
@page_user(permission=Permission.MANAGE_ADMINS)
def hand_over_super(admin_id: int):
    """Hand the super-admin role to another admin."""
    keep = request.form.get("keep_role_id")
    return _run(lambda: admins.hand_over_super(current_user, admin_id, keep), "已移交超级管理员。",
                url_for("accounts.home"))


@bp.post("/org/roles")
@page_user(permission=Permission.MANAGE_ADMINS)
def create_role():
    """Create a role from the chosen permissions."""
    data = {"name": request.form.get("name"), "permissions": request.form.getlist("permissions")}
    return _run(lambda: admins.create_role(current_user, data), "已新建角色。", url_for("orgs.admins_page"))


@bp.post("/org/roles/<int:role_id>")
@page_user(permission=Permission.MANAGE_ADMINS)
def update_role(role_id: int):
    """Rename a role or change its permissions."""
    data = {"name": request.form.get("name"), "permissions": request.form.getlist("permissions")}
    return _run(lambda: admins.update_role(current_user, role_id, data), "已保存角色。", url_for("orgs.admins_page"))


@bp.post("/org/roles/<int:role_id>/delete")
@page_user(permission=Permission.MANAGE_ADMINS)
def delete_role(role_id: int):
    """Delete a role nobody holds."""
    return _run(lambda: admins.delete_role(current_user, role_id), "已删除角色。", url_for("orgs.admins_page"))


@bp.post("/orgs/<int:org_id>/disable")
@page_user(permission=Permission.MANAGE_SUB_ORGS)
def disable_org(org_id: int):
    """Disable a sub-organisation with a reason."""
    reason = request.form.get("reason")
    return _run(lambda: lifecycle.disable_org(current_user, org_id, reason), "已停用该单位，其人员已全部退出登录。",
                url_for("orgs.tree"))


@bp.post("/orgs/<int:org_id>/enable")
@page_user(permission=Permission.MANAGE_SUB_ORGS)
def enable_org(org_id: int):
    """Re-enable a sub-organisation."""
    reason = request.form.get("reason")
    return _run(lambda: lifecycle.enable_org(current_user, org_id, reason), "已启用该单位。", url_for("orgs.tree"))
