"""Pages of personal-data changes: the learner's own details (个人信息) and the unit's review (人员信息修改审核)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.accounts import changes
from lms.accounts.forms import PersonChangeForm, PhoneForm, show_refusal
from lms.accounts.models import Role
from lms.core import change_review
from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import ServiceError
from lms.declarations.forms import CsrfForm
from lms.extensions import db
from lms.orgs.permissions import Permission

bp = Blueprint("person_changes", __name__, template_folder="templates")


def _helpers() -> dict:
    return {"fields": changes.REVIEWED_FIELDS, "china_time": china_time, "csrf_form": CsrfForm(formdata=None)}


@bp.get("/me/details")
@page_user(Role.LEARNER)
def mine():
    """The learner's details: ask to change the reviewed fields, change the phone at once, follow the requests."""
    return _render_mine(PersonChangeForm(obj=current_user), PhoneForm(formdata=None))


def _render_mine(form, phone_form, status: int = 200):
    return render_template("accounts/details.html", user=current_user, form=form, phone_form=phone_form,
                           pending=changes.open_change_of(current_user.id), requests=changes.changes_of(current_user),
                           **_helpers()), status


@bp.post("/me/details/changes")
@page_user(Role.LEARNER)
def request_change():
    """Send the asked values to the unit for review."""
    form = PersonChangeForm()
    if not form.validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("person_changes.mine"))
    try:
        changes.request_change(current_user, form.data)
        db.session.commit()
    except ServiceError as error:
        show_refusal(form, error)
        return _render_mine(form, PhoneForm(formdata=None), error.status)
    flash("修改申请已提交，请等待单位管理员审核。", "success")
    return redirect(url_for("person_changes.mine"))


@bp.post("/me/details/phone")
@page_user(Role.LEARNER)
def change_phone():
    """Change the phone number at once."""
    phone_form = PhoneForm()
    if not phone_form.validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("person_changes.mine"))
    try:
        changes.change_phone(current_user, phone_form.phone.data)
        db.session.commit()
    except ServiceError as error:
        show_refusal(phone_form, error)
        return _render_mine(PersonChangeForm(obj=current_user), phone_form, error.status)
    flash("手机号码已修改。", "success")
    return redirect(url_for("person_changes.mine"))


@bp.get("/people/changes")
@page_user(permission=Permission.REVIEW_PERSON_CHANGES)
def queue():
    """The requests of the unit's people, with each change as a diff; pending ones first."""
    return change_review.queue_page(changes, "accounts/changes.html", **_helpers())


@bp.post("/people/changes/decisions")
@page_user(permission=Permission.REVIEW_PERSON_CHANGES)
def decide():
    """Approve one request, or reject the chosen ones with one reason (all or nothing)."""
    return change_review.decide_from_form(
        changes, url_for("person_changes.queue"),
        lambda change: f"已通过{change.user.name}的信息修改。", "信息修改申请")


@bp.post("/people/<int:user_id>/identity")
@page_user(permission=Permission.MANAGE_PEOPLE)
def correct_identity(user_id: int):
    """Correct a learner's name or ID-card number with a reason (from the people list)."""
    back = url_for("accounts.people")
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(back)
    try:
        person = changes.correct_identity(current_user, user_id, request.form)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未更正：{error.message}", "error")
        return redirect(back)
    flash(f"已更正{person.name}的身份信息。", "success")
    return redirect(back)
