"""Pages for people: log in and out, register, follow and correct a registration, change a password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm

from lms.accounts import lifecycle, service
from lms.accounts.forms import LearnerRegistrationForm, LoginForm, PasswordForm, ResubmitForm, attach_errors
from lms.accounts.models import Role
from lms.certificates.service import certificate_of
from lms.core.auth import page_user
from lms.core.errors import InvalidInput, ServiceError
from lms.extensions import db, limiter
from lms.ledger import service as ledger
from lms.orgs.models import Org, ReviewStatus
from lms.orgs.permissions import Permission
from lms.orgs.service import unit_choices
from lms.orgs.todo import todo_items

bp = Blueprint("accounts", __name__, template_folder="templates")


def login_rate_key() -> str:
    """Count login attempts per address and account, so one person cannot lock out everyone behind a NAT."""
    login = (request.form.get("login") or (request.get_json(silent=True) or {}).get("login") or "")[:40]
    return f"login:{request.remote_addr}:{login.strip().lower()}"


def login_rate_limit() -> str:
    return current_app.extensions["lms.config"].login_rate_limit


def only_failures(response) -> bool:
    return response.status_code == 401


login_limits = [
    limiter.limit(login_rate_limit, key_func=login_rate_key, methods=["POST"], deduct_when=only_failures),
    limiter.limit("30 per minute", methods=["POST"], deduct_when=only_failures),
]


def _rate_limited(view):
    for limit in login_limits:
        view = limit(view)
    return view


@bp.get("/")
def home():
    """Send visitors to log in, people under review to their status, and others to their start page."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if not current_user.is_approved:
        return redirect(url_for("accounts.me"))
    summary = steps = None
    if current_user.role == Role.LEARNER:
        summary = ledger.year_summary(current_user, ledger.china_today().year)
        steps = ledger.next_steps(current_user, summary,
                                  has_certificate=certificate_of(current_user.id, summary.year) is not None)
    return render_template("accounts/home.html", user=current_user, summary=summary, steps=steps,
                           todo=todo_items(current_user) if current_user.is_admin else [])


@bp.route("/login", methods=["GET", "POST"])
@_rate_limited
def login():
    """Log in with an ID-card number (learners) or an account name (admins)."""
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.login.data, form.password.data)
        if user is None:
            db.session.rollback()
            form.password.errors = ["账号或密码不正确。"]
            return render_template("accounts/login.html", form=form), 401
        refusal = service.login_refusal(user)
        if refusal:
            db.session.rollback()
            form.login.errors = [refusal]
            return render_template("accounts/login.html", form=form), 403
        login_user(user)
        db.session.commit()
        return redirect(url_for("accounts.home"))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    """End the session (POST, so that a link on another site cannot log anyone out)."""
    logout_user()
    flash("已退出登录。", "info")
    # Only the registration page may be asked for next (from "log out to register"): no open redirect.
    if request.form.get("next") == "register":
        return redirect(url_for("accounts.register"))
    return redirect(url_for("accounts.login"))


def _fill_unit_choices(form, selected_id=None) -> None:
    units = unit_choices(request.args.get("unit_q"), limit=200)
    choices = [("", "请选择")] + [(str(u.id), u.name) for u in units]
    if selected_id and str(selected_id) not in {c[0] for c in choices}:
        unit = db.session.get(Org, int(selected_id)) if str(selected_id).isdigit() else None
        if unit is not None:
            choices.append((str(unit.id), unit.name))
    form.unit_id.choices = choices


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Register as a learner; the employer unit's admin approves. A logged-in person is told so instead."""
    refusal = service.registration_refusal(current_user)
    if refusal:
        if request.method == "POST":
            flash(refusal, "error")
        return render_template("accounts/register_logged_in.html", user=current_user), 409
    form = LearnerRegistrationForm()
    _fill_unit_choices(form, form.unit_id.data)
    if form.validate_on_submit():
        try:
            user = service.register_learner(form.data, registrant=current_user)
            db.session.commit()
        except InvalidInput as error:
            db.session.rollback()
            for message in attach_errors(form, error):
                flash(message, "error")
            return render_template("accounts/register.html", form=form), 422
        except ServiceError as error:
            db.session.rollback()
            if error.fields:
                attach_errors(form, InvalidInput(error.fields))
            flash(error.message, "error")
            return render_template("accounts/register.html", form=form), error.status
        login_user(user)
        flash("注册已提交，请等待单位管理员审核。", "success")
        return redirect(url_for("accounts.me"))
    if form.is_submitted():
        # The form checked only what it owns (the confirmation); flag the rest too, so every problem shows at once.
        problems = service.registration_problems(form.data)
        if problems:
            attach_errors(form, InvalidInput(problems))
    status = 422 if form.errors else 200
    return render_template("accounts/register.html", form=form), status


@bp.get("/me")
@login_required
def me():
    """Show the registration status, the reason of a rejection and the history of decisions."""
    form = None
    if current_user.status == ReviewStatus.REJECTED and current_user.role == Role.LEARNER:
        form = ResubmitForm(obj=current_user)
        form.unit_id.data = str(current_user.org_id)
        _fill_unit_choices(form, current_user.org_id)
    history = service.registration_history(user=current_user)
    return render_template("accounts/me.html", user=current_user, form=form, history=history)


@bp.post("/me/resubmit")
@login_required
def resubmit():
    """Correct a rejected learner registration and send it back for review."""
    form = ResubmitForm()
    _fill_unit_choices(form, form.unit_id.data)
    if not form.validate_on_submit():
        return render_template("accounts/me.html", user=current_user, form=form,
                               history=service.registration_history(user=current_user)), 400
    try:
        service.resubmit_learner(current_user, form.data)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        if isinstance(error, InvalidInput):
            attach_errors(form, error)
        flash(error.message, "error")
        return render_template("accounts/me.html", user=current_user, form=form,
                               history=service.registration_history(user=current_user)), error.status
    flash("已重新提交，请等待审核。", "success")
    return redirect(url_for("accounts.me"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change the password; the old one is required and other sessions end."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(current_user, form.old_password.data, form.new_password.data)
            db.session.commit()
        except InvalidInput as error:
            db.session.rollback()
            attach_errors(form, error)
            return render_template("accounts/password.html", form=form), 422
        login_user(current_user)  # re-issue this session with the new session version
        flash("密码已修改，其他设备上的登录已失效。", "success")
        return redirect(url_for("accounts.home"))
    return render_template("accounts/password.html", form=form), 422 if form.errors else 200


@bp.get("/people")
@page_user(permission=Permission.MANAGE_PEOPLE)
def people():
    """List the people of the admin's subtree, filtered, numbers masked, with the lifecycle actions."""
    filters = request.args.to_dict()
    try:
        query = service.filtered_people_query(current_user, filters)
    except ServiceError as error:
        flash(error.message, "error")
        filters, query = {}, service.visible_people_query(current_user)
    page = db.paginate(query, per_page=50, error_out=False)
    return render_template("accounts/people.html", page=page, filters=filters, states=service.PEOPLE_STATES,
                           form=FlaskForm())


@bp.post("/people/<int:user_id>/<any(disable, enable):change>")
@page_user(permission=Permission.MANAGE_PEOPLE)
def change_person_state(user_id: int, change: str):
    """Disable or re-enable a person with a reason."""
    back = request.form.get("next") or url_for("accounts.people")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("accounts.people")
    if not FlaskForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(back)
    action = lifecycle.disable_person if change == "disable" else lifecycle.enable_person
    try:
        person = action(current_user, user_id, request.form.get("reason"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash(f"已{'停用' if change == 'disable' else '启用'}{person.name}的账号。", "success")
    return redirect(back)
