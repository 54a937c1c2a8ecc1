"""Pages of 人员调转: records (调转记录), transfers out (人员调出, 调出省外), requests in (申请调入), answers."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.db import utcnow
from lms.core.errors import ServiceError
from lms.declarations.forms import CsrfForm
from lms.extensions import db
from lms.orgs.access import has_permission
from lms.orgs.permissions import Permission
from lms.transfers import service
from lms.transfers.models import TransferSide, TransferStatus

bp = Blueprint("transfers", __name__, template_folder="templates")
PER_PAGE = 50
OUTSIDE_CHOICE = "outside"  # the 调出省外 choice among the destination units of the start form


def _may_decide(transfer) -> bool:
    return (transfer.status == TransferStatus.PENDING and has_permission(current_user, Permission.TRANSFER_PEOPLE)
            and current_user.admin_membership.org_id == transfer.deciding_org_id)


def _starting_org(transfer):
    return transfer.from_org if transfer.initiated_by == TransferSide.OUT else transfer.to_org


def _may_cancel(transfer) -> bool:
    starting = _starting_org(transfer)
    return (transfer.status == TransferStatus.PENDING and starting is not None
            and has_permission(current_user, Permission.TRANSFER_PEOPLE, starting))


def _may_complete(transfer) -> bool:
    return (_may_cancel(transfer) and transfer.initiated_by == TransferSide.IN
            and transfer.answer_due_at is not None and transfer.answer_due_at <= utcnow())


def _helpers() -> dict:
    return {"china_time": china_time, "may_decide": _may_decide, "may_cancel": _may_cancel,
            "may_complete": _may_complete,
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
    leaving = request.form.get("to_org_id") == OUTSIDE_CHOICE
    try:
        if leaving:
            transfer = service.leave_province(current_user, request.form.get("person_id"),
                                              request.form.get("outside_destination"), request.form.get("note"))
        else:
            transfer = service.start_transfer(current_user, request.form.get("person_id"),
                                              to_org_id=request.form.get("to_org_id") or None,
                                              target=request.form.get("target"), note=request.form.get("note"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未发起调转：{error.message}", "error")
        return _render_start(error.status)
    if leaving:
        flash(f"{transfer.person_name}已调出省外（{transfer.outside_destination}），其账号已停用，学时和证书保留。",
              "success")
    else:
        flash(f"已发起{transfer.person_name}调往{transfer.to_org.name}的调转，请等待调入单位确认。", "success")
    return redirect(url_for("transfers.records_page"))


@bp.get("/transfers/in")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def request_in_page():
    """Ask for a person of another unit, at their request, by their ID number and name (申请调入)."""
    return render_template("transfers/request_in.html", chosen={}, **_helpers())


@bp.post("/transfers/in")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def request_in():
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("transfers.request_in_page"))
    try:
        transfer = service.request_transfer_in(current_user, id_number=request.form.get("id_number"),
                                               name=request.form.get("name"), note=request.form.get("note"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未发起调入申请：{error.message}", "error")
        return render_template("transfers/request_in.html", chosen=request.form, **_helpers()), error.status
    due = (f"；{china_time(transfer.answer_due_at, '%Y-%m-%d')}前未答复的，调转自动完成"
           if transfer.answer_due_at else "")
    flash(f"已向{transfer.from_org.name}申请调入{transfer.person_name}，请等待调出单位确认{due}。", "success")
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
    """Confirm a transfer awaiting the admin's unit (确认调转, or consent to a request for one of its people)."""
    return _decision(transfer_id, lambda key: service.confirm_transfer(current_user, key), "调转已确认")


@bp.post("/transfers/<int:transfer_id>/refuse")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def refuse(transfer_id: int):
    """Refuse a transfer awaiting the admin's unit, with a reason."""
    return _decision(transfer_id, lambda key: service.refuse_transfer(current_user, key, request.form.get("reason")),
                     "已拒绝调转")


@bp.post("/transfers/<int:transfer_id>/complete")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def complete(transfer_id: int):
    """Complete a transfer the admin's unit asked for, once the old unit let its answer period pass."""
    return _decision(transfer_id, lambda key: service.complete_after_silence(current_user, key),
                     "调出单位逾期未答复，已调入本单位")


@bp.post("/transfers/<int:transfer_id>/cancel")
@page_user(permission=Permission.TRANSFER_PEOPLE)
def cancel(transfer_id: int):
    """Withdraw a transfer the admin's unit started."""
    return _decision(transfer_id, lambda key: service.cancel_transfer(current_user, key), "调转已撤回")
