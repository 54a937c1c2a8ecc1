"""Pages of 人员调转: the records (调转记录), a transfer out (人员调出) and confirming one in (人员调入审核)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import ServiceError
from lms.declarations.forms import CsrfForm
from lms.extensions import db
from lms.orgs.access import has_permission
from lms.orgs.permissions import Permission
from lms.transfers import service
from lms.transfers.models import TransferStatus

bp = Blueprint("transfers", __name__, template_folder="templates")
PER_PAGE = 50


def _may_decide(transfer) -> bool:
    return (transfer.status == TransferStatus.PENDING and has_permission(current_user, Permission.TRANSFER_PEOPLE)
            and current_user.admin_membership.org_id == transfer.to_org_id)


def _may_cancel(transfer) -> bool:
    return (transfer.status == TransferStatus.PENDING
            and has_permission(current_user, Permission.TRANSFER_PEOPLE, transfer.from_org))


def _helpers() -> dict:
    return {"china_time": china_time, "may_decide": _may_decide, "may_cancel": _may_cancel,
            "csrf_form": CsrfForm(formdata=None), "statuses": list(TransferStatus), "directions": service.DIRECTIONS}


# An admin who only does transfers still needs this page: the transfers awaiting them are listed here.
@bp.get("/transfers")
@page_user(permission=(service.RECORDS_PERMISSION, Permission.TRANSFER_PEOPLE))
def records_page():
    """The transfers into and out of the admin's subtree, newest first, by direction and state."""
    filters = {key: request.args.get(key, "") for key in ("direction", "status")}
    try:
        query = service.records_query(current_user, filters["direction"] or None, filters["status"] or None)
    except ServiceError as error:
        flash(error.message, "error")
        filters, query = {"direction": "", "status": ""}, service.records_query(current_user)
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template("transfers/records.html", page=page, filters=filters,
                           awaiting=service.awaiting(current_user), **_helpers())


@bp.get("/transfers/<int:transfer_id>")
@page_user(permission=(service.RECORDS_PERMISSION, Permission.TRANSFER_PEOPLE))
def detail_page(transfer_id: int):
    """One transfer: the person's record as filed, both units, who started and who decided, when and why."""
    return render_template("transfers/detail.html", transfer=service.transfer_for(current_user, transfer_id),
                           **_helpers())


@bp.get("/transfers/out")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def start_page():
    """Choose the person and the unit they move to (by credit code or name), add a note, and start."""
    return _render_start()


def _render_start(status: int = 200):
    person_query, target_query = request.values.get("q", ""), request.values.get("target_q", "")
    return render_template("transfers/start.html", people=service.transferable_people(current_user, person_query),
                           units=service.target_units(current_user, target_query), person_query=person_query,
                           target_query=target_query, chosen=request.form, **_helpers()), status


@bp.post("/transfers/out")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def start():
    """Start the transfer out (人员调出)."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("transfers.start_page"))
    try:
        transfer = service.start_transfer(current_user, request.form.get("person_id"),
                                          to_org_id=request.form.get("to_org_id") or None,
                                          target=request.form.get("target"), note=request.form.get("note"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未发起调转：{error.message}", "error")
        return _render_start(error.status)
    flash(f"已发起{transfer.person_name}调往{transfer.to_org.name}的调转，请等待调入单位确认。", "success")
    return redirect(url_for("transfers.records_page"))


def _decision(transfer_id: int, act, done: str):
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("transfers.records_page"))
    try:
        transfer = act(transfer_id)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未处理：{error.message}", "error")
        return redirect(url_for("transfers.records_page"))
    flash(f"{transfer.person_name}：{done}。", "success")
    return redirect(url_for("transfers.records_page"))


@bp.post("/transfers/<int:transfer_id>/confirm")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def confirm(transfer_id: int):
    """Confirm a transfer into the admin's unit (确认调转)."""
    return _decision(transfer_id, lambda key: service.confirm_transfer(current_user, key), "已确认调入本单位")


@bp.post("/transfers/<int:transfer_id>/refuse")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def refuse(transfer_id: int):
    """Refuse a transfer into the admin's unit, with a reason."""
    return _decision(transfer_id, lambda key: service.refuse_transfer(current_user, key, request.form.get("reason")),
                     "已拒绝调入")


@bp.post("/transfers/<int:transfer_id>/cancel")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def cancel(transfer_id: int):
    """Withdraw a transfer the admin's unit started."""
    return _decision(transfer_id, lambda key: service.cancel_transfer(current_user, key), "调转已撤回")
