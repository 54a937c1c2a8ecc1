"""Pages of own-organisation information (本级机构信息 5.1.1.1) and its review (机构信息修改审核 5.1.4.2)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.core import change_review
from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import InvalidInput, ServiceError
from lms.declarations.forms import CsrfForm
from lms.extensions import db
from lms.orgs import changes
from lms.orgs.access import admin_org
from lms.orgs.permissions import Permission

bp = Blueprint("org_changes", __name__, template_folder="templates")


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
    return change_review.queue_page(changes, "orgs/changes.html", **_helpers())


@bp.post("/org/changes/decisions")
@page_user(permission=Permission.REVIEW_ORG_CHANGES)
def decide():
    """Approve one change, or reject the chosen ones with one reason (批量驳回, all or nothing)."""
    return change_review.decide_from_form(
        changes, url_for("org_changes.queue"),
        lambda change: f"已通过{change.org.name}的信息修改。", "单位信息修改")
