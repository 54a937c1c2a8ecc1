"""The page of an organisation's known addresses: register, decide the level below's, withdraw."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from lms.addresses import service
from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import ServiceError
from lms.extensions import db
from lms.orgs.permissions import Permission

bp = Blueprint("addresses", __name__, template_folder="templates")


def _page(status: int = 200):
    return render_template("addresses/list.html", lists=service.addresses_of(current_user), form=FlaskForm(),
                           cst=china_time), status


@bp.get("/org/addresses")
@page_user(permission=Permission.MANAGE_ADDRESSES)
def address_page():
    """The organisation's addresses and the registrations waiting for its decision."""
    return _page()


def _act(action, success: str):
    if not FlaskForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("addresses.address_page"))
    try:
        action()
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _page(error.status)
    flash(success, "success")
    return redirect(url_for("addresses.address_page"))


@bp.post("/org/addresses")
@page_user(permission=Permission.MANAGE_ADDRESSES)
def register():
    form = request.form
    return _act(lambda: service.register_address(current_user, form.get("cidr"), form.get("reason"),
                                                 form.get("covers_subtree") == "1"),
                "已提交登记，上级单位审核通过后生效。")


@bp.post("/org/addresses/<int:address_id>/decide")
@page_user(permission=Permission.MANAGE_ADDRESSES)
def decide(address_id: int):
    approve = request.form.get("approve")
    return _act(lambda: service.decide_address(current_user, address_id, {"1": True, "0": False}.get(approve, approve),
                                               request.form.get("reason")), "已记录审核结果。")


@bp.post("/org/addresses/<int:address_id>/withdraw")
@page_user(permission=Permission.MANAGE_ADDRESSES)
def withdraw(address_id: int):
    return _act(lambda: service.withdraw_address(current_user, address_id, request.form.get("reason")),
                "已撤销该地址。")
