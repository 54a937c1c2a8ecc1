"""The review pages shared by the changes that wait for a reviewer: personal data (人员信息修改审核) and an
organisation's identifying fields (机构信息修改审核). Each domain's ``changes`` module supplies the rules."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from flask import flash, redirect, render_template, request
from flask_login import current_user

from lms.core.errors import ServiceError
from lms.declarations.forms import CsrfForm
from lms.extensions import db

PER_PAGE = 50


def queue_page(changes: ModuleType, template: str, **context):
    """Render the reviewer's queue filtered by ``?status=`` (an unknown status shows the default queue)."""
    status = request.args.get("status", "")
    try:
        query = changes.review_queue(current_user, status)
    except ServiceError as error:
        flash(error.message, "error")
        status, query = "", changes.review_queue(current_user)
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template(template, page=page, status=status, **context)


def decide_from_form(changes: ModuleType, back: str, approved: Callable[[object], str], rejected: str):
    """Approve the request named by ``approve``, or reject the chosen ``ids`` with one reason, all or nothing.

    ``approved`` says what was approved; ``rejected`` names what the count of rejections counts.
    """
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(back)
    try:
        if request.form.get("approve"):
            message = approved(changes.approve_change(current_user, request.form.get("approve")))
        else:
            done = changes.reject_changes(current_user, request.form.getlist("ids"), request.form.get("reason"))
            message = f"已驳回 {len(done)} 项{rejected}。"
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未处理：{error.message}", "error")
        return redirect(back)
    flash(message, "success")
    return redirect(back)
