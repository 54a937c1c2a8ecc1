"""Pages of trainings declared with a roster (admin manual 5.2): a base or unit declares and follows its trainings;
the reviewers of each step of the chain decide, one by one or in a batch. Rules in ``lms.plans.trainings``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from lms.core.auth import page_user
from lms.core.errors import InvalidInput, NotFound, ServiceError
from lms.core.queues import page_filters
from lms.core.xlsx import SheetRejected, xlsx_download
from lms.declarations.forms import CsrfForm
from lms.extensions import csrf, db
from lms.ledger import service as ledger
from lms.orgs.access import has_permission
from lms.orgs.permissions import Permission
from lms.plans import trainings as service

bp = Blueprint("trainings", __name__, template_folder="templates")
PROBLEMS_SHOWN = 1000


def _roster_upload() -> tuple[bytes, str]:
    """Read the roster file with the request limit raised to the roster's for this request, then check CSRF."""
    limits = service.LIMITS
    request.max_content_length = limits.max_bytes + 64 * 1024
    try:
        upload = request.files.get("roster")
        csrf.protect()
    except RequestEntityTooLarge:
        raise InvalidInput({"roster": f"名单文件太大：不超过 {limits.max_mb} MB。"}) from None
    data = upload.stream.read(limits.max_bytes + 1) if upload and upload.filename else b""
    return data, (upload.filename or "") if upload else ""


def _declared_facts(form, kind_id) -> dict[str, str]:
    """The chosen kind's own facts from the form (``fact-<kind>-<fact>``); the other kinds' selects are ignored."""
    prefix = f"fact-{kind_id}-"
    return {key[len(prefix):]: value for key, value in form.items() if kind_id and key.startswith(prefix)}


def _form_data():
    try:
        return request.form
    except RequestEntityTooLarge:
        return {}


# ------------------------------------------------------------------------------------------------ declarer


@bp.get("/trainings")
@page_user(permission=Permission.DECLARE_TRAININGS)
def mine():
    """The trainings the admin's base or unit declared, with their state."""
    return render_template("trainings/mine.html", trainings=service.declared_by_org(current_user))


def _render_form(problems=None, message: str | None = None, errors: dict | None = None, status: int = 200):
    org = service.declarer_org(current_user)
    year = ledger.china_today().year
    rule_set = service.rule_set_of_org(org, year)
    kinds = service.training_kinds(rule_set)
    return render_template("trainings/form.html", org=org, rule_set=rule_set, kinds=kinds,
                           kind_facts={kind.id: service.declared_facts(kind) for kind in kinds},
                           form_data=_form_data(), errors=errors or {}, problems=(problems or [])[:PROBLEMS_SHOWN],
                           problem_count=len(problems or []), message=message, limits=service.LIMITS,
                           csrf_form=CsrfForm(formdata=None)), status


@bp.get("/trainings/new")
@page_user(permission=Permission.DECLARE_TRAININGS)
def new():
    """The declaration form: the training's dates, hours per day, category, kind and the roster file."""
    return _render_form()


@bp.post("/trainings/new")
@page_user(permission=Permission.DECLARE_TRAININGS)
def create():
    """Declare a training with its roster; a roster with any bad row is refused whole, every row named."""
    try:
        data, filename = _roster_upload()
        form = request.form
        training = service.declare(current_user, title=form.get("title"), kind_id=form.get("kind"),
                                   start_date=form.get("start_date"), end_date=form.get("end_date"),
                                   hours_per_day=form.get("hours_per_day"), category=form.get("category"),
                                   roster=data, roster_name=filename,
                                   facts=_declared_facts(form, form.get("kind")))
        db.session.commit()
    except SheetRejected as error:
        db.session.rollback()
        return _render_form(problems=error.problems, message=error.message, status=error.status)
    except ServiceError as error:
        db.session.rollback()
        flash("培训未申报：" + error.message, "error")
        return _render_form(errors=error.fields, status=error.status)
    step = training.current_step
    flash(f"已申报培训“{training.title}”，名单 {len(training.attendees)} 人，"
          + (f"请等待{step.org.name}{step.label}。" if step else "已备案并为每人计入学时。"), "success")
    return redirect(url_for("trainings.detail", training_id=training.id))


csrf.exempt(create)  # checked in _roster_upload, once the request may be larger than the default limit


@bp.get("/trainings/roster-template.xlsx")
@page_user(permission=Permission.DECLARE_TRAININGS)
def roster_template():
    """Download the roster template (姓名、身份证号码、出勤天数)."""
    return xlsx_download(service.template_bytes(), "training-roster-template.xlsx", service.TEMPLATE_NAME)


# ------------------------------------------------------------------------------------------------ everyone


def _render_detail(training_id: int, problems=None, message: str | None = None, status: int = 200):
    training = service.training_for(current_user, training_id)
    is_declarer = has_permission(current_user, Permission.DECLARE_TRAININGS, training.org)
    return render_template("trainings/detail.html", t=training, is_declarer=is_declarer,
                           fact_rows=service.declared_fact_rows(training),
                           may_decide=service.reviewer_of_step(current_user, training),
                           decisions=service.Decision.LABELS, problems=(problems or [])[:PROBLEMS_SHOWN],
                           problem_count=len(problems or []), message=message,
                           csrf_form=CsrfForm(formdata=None)), status


@bp.get("/trainings/<int:training_id>")
@page_user(admin=True)
def detail(training_id: int):
    """A training: its facts, the chain, the roster with each attendee's credited hours, the history, the actions."""
    return _render_detail(training_id)


@bp.post("/trainings/<int:training_id>/resubmit")
@page_user(permission=Permission.DECLARE_TRAININGS)
def resubmit(training_id: int):
    """Correct a training sent back (optionally a new roster) and send it back to the step that asked."""
    try:
        data, filename = _roster_upload()
        service.resubmit(current_user, training_id, data or None, filename, request.form.get("note"))
        db.session.commit()
    except NotFound:
        db.session.rollback()
        raise
    except SheetRejected as error:
        db.session.rollback()
        return _render_detail(training_id, problems=error.problems, message=error.message, status=error.status)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _render_detail(training_id, status=error.status)
    flash("已修改并重新提交。", "success")
    return redirect(url_for("trainings.detail", training_id=training_id))


csrf.exempt(resubmit)


@bp.post("/trainings/<int:training_id>/decision")
@page_user(permission=Permission.REVIEW_DECLARATIONS)
def decide(training_id: int):
    """Decide one training's current step."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("trainings.detail", training_id=training_id))
    decision = request.form.get("decision", "")
    try:
        service.decide(current_user, training_id, decision, request.form.get("reason"))
        db.session.commit()
    except NotFound:
        db.session.rollback()
        raise
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _render_detail(training_id, status=error.status)
    flash(f"已{service.Decision.LABELS[decision]}。", "success")
    return redirect(url_for("trainings.detail", training_id=training_id))


# ------------------------------------------------------------------------------------------------ reviewers


def _render_review(status: int = 200):
    args, filters = page_filters(request.args.to_dict())
    query = service.review_queue_query(current_user, filters, args.get("kind") or None,
                                       (args.get("q") or "").strip()[:50])
    return render_template("trainings/review.html", queue=filters.paginate(db, query), filters=args,
                           decisions=service.Decision.LABELS, csrf_form=CsrfForm()), status


@bp.get("/trainings/review")
@page_user(permission=Permission.REVIEW_DECLARATIONS)
def review():
    """The trainings waiting for the admin's step, with search and pages."""
    return _render_review()


@bp.post("/trainings/review")
@page_user(permission=Permission.REVIEW_DECLARATIONS)
def decide_batch():
    """Approve, reject or send back the selected trainings together (all or nothing)."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("trainings.review"))
    decision = request.form.get("decision", "")
    try:
        decided = service.decide_many(current_user, request.form.getlist("ids"), decision, request.form.get("reason"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未处理任何培训申报：{error.message}", "error")
        return _render_review(error.status)
    flash(f"已{service.Decision.LABELS[decision]} {len(decided)} 项培训申报。", "success")
    return redirect(url_for("trainings.review"))
