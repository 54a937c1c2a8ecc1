"""Pages of own-organisation information (本级机构信息 5.1.1.1) and its review (机构信息修改审核 5.1.4.2)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import InvalidInput, ServiceError
from lms.declarations.forms import CsrfForm
from lms.extensions import db
from lms.orgs import changes
from lms.orgs.access import admin_org
from lms.orgs.permissions import Permission

bp = Blueprint("org_changes", __name__, template_folder="templates")
PER_PAGE = 50


def _helpers() -> dict:
    return {"fields": changes.FIELD_LABELS, "china_time": china_time, "csrf_form": CsrfForm(formdata=None)}


@bp.get("/org/info")
@page_user(permission=Permission.EDIT_OWN_ORG)
def own():
    """The organisation's details: contacts change at once, the name and credit code go to the level above."""
    return _render_own({})


def _render_own(problems: dict, values=None, status: int = 200):
    org = admin_org(current_user)
    return render_template("orgs/info.html", org=org, values=values or {}, problems=problems,
                           identifying=changes.identifying_fields(org), contacts=changes.CONTACT_FIELDS,
                           pending=changes.open_change_of(org.id), requests=changes.changes_of(org),
                           **_helpers()), status


@bp.post("/org/info")
@page_user(permission=Permission.EDIT_OWN_ORG)
def edit():
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("org_changes.own"))
    try:
        _org, change = changes.edit_own_org(current_user, request.form)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        if not isinstance(error, InvalidInput):
            flash(error.message, "error")
        return _render_own(error.fields, request.form, error.status)
    flash("已提交上级审核名称和统一社会信用代码的修改；联系信息已保存。" if change else "联系信息已保存。", "success")
    return redirect(url_for("org_changes.own"))


@bp.get("/org/changes")
@page_user(permission=Permission.REVIEW_ORG_CHANGES)
def queue():
    """The changes of the direct children's identifying fields, as diffs; pending ones first."""
    status = request.args.get("status", "")
    try:
        query = changes.review_queue(current_user, status)
    except ServiceError as error:
        flash(error.message, "error")
        status, query = "", changes.review_queue(current_user)
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template("orgs/changes.html", page=page, status=status, **_helpers())


@bp.post("/org/changes/decisions")
@page_user(permission=Permission.REVIEW_ORG_CHANGES)
def decide():
    """Approve one change, or reject the chosen ones with one reason (批量驳回, all or nothing)."""
    back = url_for("org_changes.queue")
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(back)
    try:
        if request.form.get("approve"):
            change = changes.approve_change(current_user, request.form.get("approve"))
            message = f"已通过{change.org.name}的信息修改。"
        else:
            done = changes.reject_changes(current_user, request.form.getlist("ids"), request.form.get("reason"))
            message = f"已驳回 {len(done)} 项单位信息修改。"
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未处理：{error.message}", "error")
        return redirect(back)
    flash(message, "success")
    return redirect(back)
