"""Pages for people: log in and out, register, follow and correct a registration, change a password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge

from lms.accounts import lifecycle, resets, service, staff_import
from lms.accounts.forms import (
    CodeResetForm,
    ForgotPasswordForm,
    LearnerRegistrationForm,
    LoginForm,
    PasswordForm,
    ResubmitForm,
    attach_errors,
    show_refusal,
)
from lms.accounts.models import Role
from lms.certificates.service import certificate_of
from lms.core.auth import page_user
from lms.core.errors import InvalidInput, ServiceError
from lms.core.validation import clean_text
from lms.core.xlsx import SheetRejected, xlsx_download
from lms.extensions import csrf, db, limiter
from lms.ledger import service as ledger
from lms.orgs.access import has_permission
from lms.orgs.models import Org, ReviewStatus
from lms.orgs.permissions import Permission
from lms.orgs.service import unit_choices
from lms.orgs.todo import todo_items
from lms.statistics import service as statistics

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


def rate_limited(limits):
    """Apply a list of Flask-Limiter limits to a view."""

    def decorator(view):
        for limit in limits:
            view = limit(view)
        return view

    return decorator


def _reset_phone_key() -> str:
    phone = request.form.get("phone") or (request.get_json(silent=True) or {}).get("phone") or ""
    return f"reset-code:phone:{clean_text(str(phone))[:20]}"


def _address_key() -> str:
    return request.remote_addr or ""


def _config():
    return current_app.extensions["lms.config"]


# Shared by the page and the API (one scope each), so that using both does not double what a number or an
# address may ask for. The per-number limit counts every request, whether the number is registered or not.
reset_code_limits = [
    limiter.shared_limit(lambda: _config().reset_code_rate_limit, scope="reset-code-phone", key_func=_reset_phone_key,
                         methods=["POST"]),
    limiter.shared_limit(lambda: _config().reset_address_rate_limit, scope="reset-code-address",
                         key_func=_address_key, methods=["POST"]),
]
reset_verify_limits = [limiter.shared_limit("30 per hour", scope="reset-code-verify", key_func=_address_key,
                                            methods=["POST"])]
admin_reset_limits = [limiter.shared_limit("30 per minute", scope="admin-password-reset", key_func=_address_key,
                                           methods=["POST"])]

# What a person whose password an admin reset may still open before choosing a new one. Presigned storage URLs
# and the health check carry no session, so they are not asked to load the account at all.
TEMPORARY_PASSWORD_ENDPOINTS = {"accounts.password", "accounts.logout", "static"}
SESSIONLESS_BLUEPRINTS = {"storage", "health"}


@bp.before_app_request
def force_password_change():
    """After an admin's reset every page leads to the password change until a new password is chosen."""
    if request.path.startswith("/api/") or request.endpoint in TEMPORARY_PASSWORD_ENDPOINTS:
        return None  # the API answers 403 itself (lms.core.auth.api_user)
    if request.blueprint in SESSIONLESS_BLUEPRINTS or (request.endpoint or "").endswith(".static"):
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        flash("管理员已重置您的密码，请先设置新密码。", "warning")
        return redirect(url_for("accounts.password"))
    return None


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
                           todo=todo_items(current_user) if current_user.is_admin else [],
                           progress=statistics.home_progress(current_user))


@bp.route("/login", methods=["GET", "POST"])
@rate_limited(login_limits)
def login():
    """Log in with an ID-card number (learners) or an account name (admins)."""
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.login.data, form.password.data)
        if user is None:
            db.session.rollback()
            form.password.errors = [service.LOGIN_FAILED]
            return render_template("accounts/login.html", form=form), 401
        refusal = service.login_refusal(user)
        if refusal:
            db.session.rollback()
            form.login.errors = [refusal]
            return render_template("accounts/login.html", form=form), 403
        login_user(user)
        db.session.commit()
        return redirect(url_for("accounts.password" if user.must_change_password else "accounts.home"))
    return render_template("accounts/login.html", form=form)


@bp.route("/password/forgot", methods=["GET", "POST"])
@rate_limited(reset_code_limits)
def forgot_password():
    """Ask for a code by text message to the registered phone (忘记密码); the answer never says if it matched."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            message = resets.request_reset_code(form.login.data, form.phone.data)
            db.session.commit()
        except InvalidInput as error:
            show_refusal(form, error)
            return render_template("accounts/forgot_password.html", form=form), 422
        code_form = CodeResetForm(formdata=None, login=form.login.data, phone=form.phone.data)
        flash(message, "info")
        return render_template("accounts/reset_with_code.html", form=code_form)
    return render_template("accounts/forgot_password.html", form=form), 422 if form.errors else 200


@bp.post("/password/forgot/code")
@rate_limited(reset_verify_limits)
def reset_with_code():
    """Set a new password with the code from the text message."""
    form = CodeResetForm()
    if not form.validate_on_submit():
        return render_template("accounts/reset_with_code.html", form=form), 422
    try:
        resets.reset_with_code(form.login.data, form.phone.data, form.code.data, form.new_password.data)
        db.session.commit()
    except resets.CodeRefused as error:
        db.session.commit()  # the wrong guess counts
        attach_errors(form, error)
        return render_template("accounts/reset_with_code.html", form=form), 422
    except InvalidInput as error:
        show_refusal(form, error)
        return render_template("accounts/reset_with_code.html", form=form), 422
    flash("密码已重置，请用新密码登录。", "success")
    return redirect(url_for("accounts.login"))


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


@bp.post("/people/<int:user_id>/password-reset")
@page_user(permission=Permission.RESET_PASSWORDS)
@rate_limited(admin_reset_limits)
def reset_person_password(user_id: int):
    """Reset a person's password and show the temporary password this once (never stored in the session)."""
    back = _safe_back(request.form.get("next"))
    if not FlaskForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(back)
    try:
        person, password = resets.reset_password(current_user, user_id, request.form.get("password") or None)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    response = make_response(render_template("accounts/password_reset_done.html", person=person, password=password,
                                             chosen=bool(request.form.get("password")), back=back))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/people")
@page_user(permission=(Permission.MANAGE_PEOPLE, Permission.IMPORT_PEOPLE))
def people():
    """List the people of the admin's subtree, filtered, numbers masked, with the lifecycle actions and the import."""
    return _render_people()


# The page shows this many problems of a refused sheet (the API answers with all of them).
PROBLEMS_SHOWN = 1000


def _render_people(import_problems=None, import_message: str | None = None, status: int = 200):
    filters = request.args.to_dict()
    try:
        query = service.filtered_people_query(current_user, filters)
    except ServiceError as error:
        flash(error.message, "error")
        filters, query = {}, service.visible_people_query(current_user)
    page = db.paginate(query, per_page=50, error_out=False)
    can_import = has_permission(current_user, Permission.IMPORT_PEOPLE)
    return render_template("accounts/people.html", page=page, filters=filters, states=service.PEOPLE_STATES,
                           form=FlaskForm(formdata=None), sms_outbox=_config().sms_backend == "outbox",
                           can_import=can_import,
                           import_units=staff_import.import_choices(current_user) if can_import else [],
                           import_limits=staff_import.LIMITS, import_message=import_message,
                           import_problems=(import_problems or [])[:PROBLEMS_SHOWN],
                           import_problem_count=len(import_problems or [])), status


def import_rate_limit() -> str:
    return current_app.config.get("LMS_IMPORT_RATE_LIMIT") or "30 per hour"


def importer_key() -> str:
    """Count imports per admin account (page and API alike), so one admin cannot hold the server parsing files."""
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    return f"people-import:{user.id}" if user is not None else f"people-import:{request.remote_addr}"


import_limit = limiter.shared_limit(import_rate_limit, scope="people-import", key_func=importer_key)


def read_import_upload() -> tuple[bytes, str, str | None]:
    """Read the uploaded sheet and the chosen unit, the request size limit raised to the import's for this request."""
    limits = staff_import.LIMITS
    # Room for the largest allowed file and the form's other fields; anything larger is refused before it is read.
    request.max_content_length = limits.max_bytes + 64 * 1024
    try:
        upload = request.files.get("file")
        org_id = request.form.get("org_id")
    except RequestEntityTooLarge:
        raise InvalidInput({"file": f"文件太大：每个文件不超过 {limits.max_mb} MB，人数较多时请分成几个文件导入。"}) \
            from None
    # One byte past the limit tells the file is too big without holding a huge one in memory.
    data = upload.stream.read(limits.max_bytes + 1) if upload else b""
    return data, (upload.filename or "") if upload else "", org_id


@bp.get("/people/import/template.xlsx")
@page_user(permission=Permission.IMPORT_PEOPLE)
def import_template():
    """Download the .xlsx template of the bulk staff import."""
    return xlsx_download(staff_import.template_bytes(), "people-import-template.xlsx", staff_import.TEMPLATE_NAME)


@bp.post("/people/import")
@page_user(permission=Permission.IMPORT_PEOPLE)
@import_limit
def import_people():
    """Import a filled-in template into a unit: every row checked, all or nothing, every problem shown."""
    try:
        data, filename, org_id = read_import_upload()
        csrf.protect()  # after the limit is raised: reading the form with the default limit would refuse the file
        result = staff_import.import_staff(current_user, data, filename, org_id)
        db.session.commit()
    except SheetRejected as error:
        db.session.rollback()
        return _render_people(import_problems=error.problems, import_message=error.message, status=error.status)
    except ServiceError as error:
        db.session.rollback()
        return _render_people(import_message=error.fields.get("file") or error.message, status=error.status)
    flash(f"已向{result.org.name}导入 {result.count} 人，均已审核通过。"
          "请通知他们用“忘记密码”通过登记的手机号码设置密码后登录。", "success")
    return redirect(url_for("accounts.people"))


csrf.exempt(import_people)


@bp.post("/people/<int:user_id>/<any(disable, enable):change>")
@page_user(permission=Permission.MANAGE_PEOPLE)
def change_person_state(user_id: int, change: str):
    """Disable or re-enable a person with a reason."""
    back = _safe_back(request.form.get("next"))
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


def _safe_back(target: str | None) -> str:
    """Return a local address to go back to (never another site), the people list by default."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("accounts.people")
    return target
