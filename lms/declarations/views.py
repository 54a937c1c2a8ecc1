"""Pages of declarations: the learner declares and follows; reviewers decide, in batches too; department and
HR admins void a false one (第二十一条); unit admins grant deferrals (第十七条). Rules in ``service``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from lms.accounts.forms import attach_errors
from lms.accounts.models import Role
from lms.core.auth import page_user
from lms.core.errors import InvalidInput, NotFound, ServiceError
from lms.core.queues import page_filters
from lms.declarations import deferrals as deferrals_service
from lms.declarations import evidence, materials, service
from lms.declarations.forms import ArchiveHostingForm, CsrfForm, DeferralForm
from lms.declarations.models import DeclarationEvidence
from lms.declarations.queue import QueueFilters, queue_kinds, queue_query, queue_units
from lms.extensions import csrf, db
from lms.ledger import service as ledger
from lms.orgs.permissions import Permission
from lms.rules import default_rule_sets

bp = Blueprint("declarations", __name__, template_folder="templates")


@bp.app_template_filter("hours_text")
def hours_text(value) -> str:
    """Write hours as a person would: 12, 2.5."""
    if value is None or value == "":
        return ""
    return format(Decimal(str(value)).normalize(), "f")


def _check_csrf() -> None:
    csrf.protect()  # raises CSRFError, rendered as a Chinese page


def _uploads() -> tuple[list[service.Upload], dict[str, list[service.Upload]]]:
    return materials.read_uploads(request, while_reading=_check_csrf)


def _commit_or_unstore(keys: list[str]) -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        evidence.delete_quietly(keys)
        raise


# ------------------------------------------------------------------------------------------------ learner


@bp.get("/declarations")
@page_user(Role.LEARNER)
def mine():
    """The learner's declarations with their status, this year's progress and any deferral."""
    today = ledger.china_today()
    declarations = service.my_declarations(current_user)
    years = sorted({today.year, *(d.year for d in declarations)}, reverse=True)
    summaries = []
    for year in years[:3]:
        try:
            summaries.append(ledger.year_summary(current_user, year))
        except NotFound:
            continue
    deferrals = [(d, service.deferral_state(d, today)) for d in service.deferrals_of(current_user.id)]
    return render_template("declarations/mine.html", declarations=declarations,
                           summaries=summaries, deferrals=deferrals, title_note=deferrals_service.title_note)


def _form_year() -> int:
    today = ledger.china_today()
    raw = request.args.get("year", "")
    return int(raw) if raw.isdigit() and service.EARLIEST_YEAR <= int(raw) <= today.year else today.year


def _render_form(rule_set, kind, year: int, errors: dict | None = None, status: int = 200):
    today = ledger.china_today()
    deferrals = [d for d in service.deferrals_of(current_user.id) if d.year < today.year and today <= d.ends_on]
    settings = evidence.EvidenceSettings.current()
    return render_template("declarations/form.html", rule_set=rule_set, kind=kind, year=year,
                           fields=service.fact_fields(kind), form_data=_posted_fields(), errors=errors or {},
                           slots=materials.form_slots(kind), material_hints=materials.form_hints(kind),
                           deferrals=deferrals, settings=settings, csrf_form=CsrfForm(formdata=None)), status


def _posted_fields():
    try:
        return request.form
    except RequestEntityTooLarge:  # the body was refused unread; the form starts empty again
        return {}


@bp.get("/declarations/new")
@page_user(Role.LEARNER)
def new():
    """Choose a kind from the person's rule set (by region and year), then fill in its facts and evidence."""
    year = _form_year()
    rule_set = service.rule_set_for_person(current_user, year)
    if not request.args.get("kind"):
        return render_template("declarations/kinds.html", rule_set=rule_set, year=year)
    return _render_form(rule_set, service.kind_of(rule_set, request.args["kind"]), year)


@bp.post("/declarations/new")
@page_user(Role.LEARNER)
def create():
    """Submit a declaration: the engine computes the hours now, with the year's caps; the evidence is stored."""
    year = _form_year()
    rule_set = service.rule_set_for_person(current_user, year)
    kind = service.kind_of(rule_set, request.args.get("kind"))
    try:
        uploads, named = _uploads()
        form = request.form
        start, end = service.parse_date(form.get("start_date")), service.parse_date(form.get("end_date"))
        declaration, keys = service.submit(
            current_user, kind_id=kind.id, title=form.get("title"), start_date=form.get("start_date"),
            end_date=form.get("end_date"), year=form.get("year"),
            facts=service.facts_from_form(kind, form, start, end), uploads=uploads, materials=named)
        _commit_or_unstore(keys)
    except ServiceError as error:
        db.session.rollback()
        flash("申报未提交：" + error.message, "error")
        return _render_form(rule_set, kind, year, error.fields, error.status)
    cut_text = "".join(f"（{cut['message']}）" for cut in declaration.outcome["cuts"])
    step = declaration.current_step
    flash(f"申报已提交，按规则计 {hours_text(declaration.hours)} 学时{cut_text}，请等待"
          f"{step.org.name}{step.label}。", "success")
    return redirect(url_for("declarations.detail", declaration_id=declaration.id))


def _change_on_detail_page(declaration_id: int, act):
    """Run a change to one declaration and commit it; return (its result, None), or (None, the declaration's page
    showing why it was refused). Nothing of a refused change is kept; an unknown or hidden declaration is a 404."""
    try:
        result = act()
        db.session.commit()
    except NotFound:
        db.session.rollback()
        raise
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return None, _render_detail(declaration_id, error.status)
    return result, None


@bp.post("/declarations/<int:declaration_id>/resubmit")
@page_user(Role.LEARNER)
def resubmit(declaration_id: int):
    """Add the evidence a reviewer asked for and send the declaration back to that reviewer."""
    def act():
        uploads, named = _uploads()
        declaration, keys = service.resubmit(current_user, declaration_id, uploads, request.form.get("note"),
                                             materials=named)
        _commit_or_unstore(keys)
        return declaration

    declaration, refused = _change_on_detail_page(declaration_id, act)
    if refused:
        return refused
    flash("已补充材料并重新提交。", "success")
    return redirect(url_for("declarations.detail", declaration_id=declaration.id))


csrf.exempt(create)  # checked in _uploads, once the request may be larger than the default limit
csrf.exempt(resubmit)


# ------------------------------------------------------------------------------------------------ everyone


def _fact_rows(declaration) -> list[tuple[str, str]]:
    rule_set = default_rule_sets().get(declaration.rule_set_id)
    kind = rule_set.kinds.get(declaration.kind) if rule_set else None
    rows = []
    for key, value in declaration.facts.items():
        fact = kind.facts.get(key) if kind else None
        label = fact.label if fact else key
        if isinstance(value, bool):
            text = "是" if value else "否"
        elif fact is not None and fact.type == "enum":
            text = fact.values.get(value, value)
        else:
            text = str(value)
        rows.append((label, text))
    return rows


@bp.get("/declarations/<int:declaration_id>")
@page_user()
def detail(declaration_id: int):
    """A declaration: facts, computed hours and why, evidence, every step of its history, and the actions."""
    return _render_detail(declaration_id)


def _render_detail(declaration_id: int, status: int = 200):
    declaration = service.declaration_for(current_user, declaration_id)
    return render_template("declarations/detail.html", d=declaration, facts=_fact_rows(declaration),
                           checklist=materials.checklist(declaration),
                           is_owner=declaration.user_id == current_user.id,
                           may_decide=service.reviewer_of_step(current_user, declaration),
                           may_void=service.may_void(current_user, declaration),
                           step_org=service.step_org(declaration), decisions=service.Decision.LABELS,
                           settings=evidence.EvidenceSettings.current(), csrf_form=CsrfForm(formdata=None)), status


@bp.get("/declarations/<int:declaration_id>/evidence/<int:evidence_id>")
@page_user()
def evidence_file(declaration_id: int, evidence_id: int):
    """Send one evidence file to the learner or a reviewer of the declaration, never to anyone else."""
    declaration = service.declaration_for(current_user, declaration_id)
    item = db.session.get(DeclarationEvidence, evidence_id)
    if item is None or item.declaration_id != declaration.id:
        raise NotFound("材料不存在。")
    chunks = evidence.stream(item.key)
    first = next(chunks, b"")  # open it now, so that a storage failure is an error page, not a cut download
    # The generator already holds the open object, so it needs no request context while it streams.
    response = Response(_chain(first, chunks), mimetype=item.content_type)
    response.content_length = item.size_bytes
    response.headers["Content-Disposition"] = _inline(item.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def _chain(first: bytes, rest):
    if first:
        yield first
    yield from rest


def _inline(filename: str) -> str:
    from urllib.parse import quote

    return f"inline; filename*=UTF-8''{quote(filename)}"


# ------------------------------------------------------------------------------------------------ reviewers


@bp.get("/declarations/review")
@page_user(permission=Permission.REVIEW_DECLARATIONS)
def review():
    """The declarations waiting for the admin's decision, and the recent ones of their subtree."""
    return _render_review()


def _render_review(status: int = 200):
    args, filters = page_filters(request.args.to_dict())
    try:
        queue_filters = QueueFilters.parse(args)
    except ServiceError as error:
        flash(error.message, "error")
        args, queue_filters = {}, QueueFilters()
    queue = filters.paginate(db, queue_query(current_user, filters, queue_filters))
    return render_template("declarations/review.html", queue=queue, filters=args,
                           kinds=queue_kinds(current_user), units=queue_units(current_user),
                           recent=service.subtree_declarations(current_user), decisions=service.Decision.LABELS,
                           csrf_form=CsrfForm()), status


@bp.post("/declarations/review")
@page_user(permission=Permission.REVIEW_DECLARATIONS)
def decide_batch():
    """Approve, reject or send back the selected declarations together."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("declarations.review"))
    decision = request.form.get("decision", "")
    try:
        decided = service.decide_many(current_user, request.form.getlist("ids"), decision, request.form.get("reason"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未处理任何申报：{error.message}", "error")
        return _render_review(error.status)
    flash(f"已{service.Decision.LABELS[decision]} {len(decided)} 份申报。", "success")
    return redirect(url_for("declarations.review"))


@bp.post("/declarations/<int:declaration_id>/decision")
@page_user(permission=Permission.REVIEW_DECLARATIONS)
def decide(declaration_id: int):
    """Decide one declaration's current step."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("declarations.detail", declaration_id=declaration_id))
    decision = request.form.get("decision", "")
    _declaration, refused = _change_on_detail_page(declaration_id, lambda: service.decide(
        current_user, declaration_id, decision, request.form.get("reason")))
    if refused:
        return refused
    flash(f"已{service.Decision.LABELS[decision]}。", "success")
    return redirect(url_for("declarations.detail", declaration_id=declaration_id))


@bp.post("/declarations/<int:declaration_id>/void")
@page_user(permission=Permission.VOID_DECLARATIONS)
def void(declaration_id: int):
    """第二十一条: record that a filed declaration was false; the person's hours of that year are voided."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("declarations.detail", declaration_id=declaration_id))
    declaration, refused = _change_on_detail_page(declaration_id, lambda: service.void(
        current_user, declaration_id, request.form.get("reason")))
    if refused:
        return refused
    flash(f"已认定弄虚作假，{declaration.user.name} {declaration.year} 年度的学时已取消（学时管理办法第二十一条）。",
          "success")
    return redirect(url_for("declarations.detail", declaration_id=declaration_id))


# ------------------------------------------------------------------------------------------------ deferral


@bp.route("/declarations/deferrals", methods=["GET", "POST"])
@page_user(permission=Permission.GRANT_DEFERRALS)
def deferrals():
    """第十七条: grant a learner of the unit a deferral; list the unit's deferrals and whether each year failed."""
    # Room for the unit's certificate; the form is read only after the limit is raised.
    request.max_content_length = evidence.EvidenceSettings.current().evidence_max_bytes + 64 * 1024
    try:
        form = DeferralForm()
    except RequestEntityTooLarge:
        flash(f"单位证明文件超过 {evidence.EvidenceSettings.current().max_size_text} 的上限。", "error")
        return redirect(url_for("declarations.deferrals"))
    form.learner_id.choices = [("", "请选择")] + [(str(p.id), f"{p.name}（{p.masked_id_number}）")
                                                  for p in service.unit_learners(current_user)]
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit() and "csrf_token" in form.errors:
            flash("页面已过期，请刷新后重试。", "error")
            return redirect(url_for("declarations.deferrals"))
        try:
            upload = request.files.get("attachment")
            attachment = (upload.stream, upload.filename) if upload and upload.filename else None
            deferral = service.grant_deferral(current_user, form.learner_id.data, form.year.data,
                                              form.reason_kind.data, form.reason.data,
                                              form.ends_on.data, attachment=attachment)
            _commit_or_unstore([deferral.attachment_key] if deferral.attachment_key else [])
        except ServiceError as error:
            db.session.rollback()
            for message in attach_errors(form, error) if isinstance(error, InvalidInput) else [error.message]:
                flash(message, "error")
            status = error.status
        else:
            flash(f"已为 {deferral.user.name} 办理 {deferral.year} 年度顺延补学，截止 {deferral.ends_on.isoformat()}。",
                  "success")
            return redirect(url_for("declarations.deferrals"))
    elif not form.year.data:
        form.year.data = str(ledger.china_today().year)
    today = ledger.china_today()
    rows = [(d, service.deferral_state(d, today)) for d in service.unit_deferrals(current_user)]
    return render_template("declarations/deferrals.html", form=form, rows=rows, csrf_form=CsrfForm(formdata=None),
                           title_note=deferrals_service.title_note, max_end=dt.date(today.year + 1, 12, 31)), status


@bp.post("/declarations/deferrals/<int:deferral_id>/title-extension")
@page_user(permission=Permission.GRANT_DEFERRALS)
def title_extension(deferral_id: int):
    """第十七条: record on a failed deferred year that the person did not make it up without good reason."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("declarations.deferrals"))
    try:
        deferral = deferrals_service.record_title_extension(current_user, deferral_id, request.form.get("reason"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        if isinstance(error, NotFound):
            raise
        flash(error.message, "error")
        return redirect(url_for("declarations.deferrals"))
    flash(f"已记录 {deferral.user.name} {deferral.year} 年度无正当理由未参加补学：申报职称时应延长相应年限。",
          "success")
    return redirect(url_for("declarations.deferrals"))


@bp.get("/declarations/deferrals/<int:deferral_id>/attachment")
@page_user()
def deferral_attachment(deferral_id: int):
    """The unit's certificate of a deferral, to the person, the unit and the reviewers above it only."""
    deferral = deferrals_service.deferral_for_attachment(current_user, deferral_id)
    chunks = evidence.stream(deferral.attachment_key)
    first = next(chunks, b"")
    response = Response(_chain(first, chunks), mimetype=deferral.attachment_content_type)
    response.content_length = deferral.attachment_size
    response.headers["Content-Disposition"] = _inline(deferral.attachment_filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


# ------------------------------------------------------------------------------------------------ archive hosting


@bp.route("/declarations/archive-hostings", methods=["GET", "POST"])
@page_user(permission=Permission.HOST_ARCHIVES)
def archive_hostings():
    """第十四条: an archive agency registers the people whose archives it hosts; it then first-reviews their hours."""
    agency = service.hosting_agency(current_user)
    form = ArchiveHostingForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            flash("页面已过期，请刷新后重试。", "error")
            return redirect(url_for("declarations.archive_hostings"))
        try:
            _hosting, person = service.host_archive(current_user, form.id_number.data, form.name.data)
            db.session.commit()
        except ServiceError as error:
            db.session.rollback()
            for message in attach_errors(form, error) if isinstance(error, InvalidInput) else [error.message]:
                flash(message, "error")
            status = error.status
        else:
            flash(f"已登记 {person.name}（{person.masked_id_number}）的档案由本机构托管，"
                  "此后其学时申报先由本机构初审。", "success")
            return redirect(url_for("declarations.archive_hostings"))
    return render_template("declarations/archive_hostings.html", form=form, agency=agency,
                           rows=service.hosted_people(current_user), csrf_form=CsrfForm(formdata=None)), status


@bp.post("/declarations/archive-hostings/<int:hosting_id>/remove")
@page_user(permission=Permission.HOST_ARCHIVES)
def remove_archive_hosting(hosting_id: int):
    """Remove a person from the agency's hosting list; later declarations go to their own unit again."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("declarations.archive_hostings"))
    try:
        person = service.end_archive_hosting(current_user, hosting_id)
        db.session.commit()
    except ServiceError:
        db.session.rollback()
        raise
    flash(f"已移除 {person.name} 的档案托管登记，此后其学时申报由所在单位初审。", "success")
    return redirect(url_for("declarations.archive_hostings"))
