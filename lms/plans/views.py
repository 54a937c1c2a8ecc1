"""Pages of the yearly work: a base's plans, trainings and summaries; the department's review and course vetting;
the department's annual materials and the HR bureau's overview of who has sent them."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import InvalidInput, ServiceError
from lms.declarations.forms import CsrfForm
from lms.extensions import csrf, db
from lms.ledger.service import china_today
from lms.orgs.permissions import Permission
from lms.plans import content, files, materials, service, vetting
from lms.plans.models import FilingKind, FilingStatus, MaterialKind, VettingStatus

bp = Blueprint("plans", __name__, template_folder="templates")
PER_PAGE = 50
READERS = (Permission.SUBMIT_PLANS, Permission.REVIEW_PLANS)
MATERIAL_READERS = (Permission.SUBMIT_MATERIALS, Permission.VIEW_MATERIALS)


def _helpers() -> dict:
    today = china_today()
    return {"china_time": china_time, "csrf_form": CsrfForm(formdata=None), "kinds": list(FilingKind),
            "statuses": list(FilingStatus), "item_forms": content.ITEM_FORMS,
            "item_categories": content.ITEM_CATEGORIES, "item_label": content.item_label,
            "years": [today.year - 1, today.year, today.year + 1], "this_year": today.year,
            "size_text": files.size_text, "settings": files.PlanFileSettings.current(),
            "may_decide": lambda f: service.may_decide(current_user, f),
            "may_revise": lambda f: service.may_revise(current_user, f)}


def _form_content() -> dict:
    """The plan's items from the form's parallel lists (item_title, item_form, ...), or the summary's text."""
    columns = {name: request.form.getlist(f"item_{name}") for name in content.ITEM_FIELDS}
    rows = max((len(values) for values in columns.values()), default=0)
    items = [{name: (values[i] if i < len(values) else "") for name, values in columns.items()} for i in range(rows)]
    return {"items": items, "text": request.form.get("text"), "trained_people": request.form.get("trained_people")}


def _filters() -> dict:
    return {key: request.args.get(key, "") for key in ("kind", "status", "year")}


# ------------------------------------------------------------------------------------------------ the base

@bp.get("/plans")
@page_user(permission=Permission.SUBMIT_PLANS)
def own_page():
    """The base's filings with their state, newest first, and links to file new ones."""
    filters = _filters()
    try:
        query = service.own_query(current_user, **filters)
    except ServiceError as error:
        flash(error.message, "error")
        filters, query = {"kind": "", "status": "", "year": ""}, service.own_query(current_user)
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template("plans/own.html", page=page, filters=filters, **_helpers())


def _render_form(kind: FilingKind, values: dict, errors: dict, filing=None, status: int = 200):
    return render_template("plans/form.html", kind=kind, values=values, errors=errors, filing=filing,
                           **_helpers()), status


@bp.get("/plans/new")
@page_user(permission=Permission.SUBMIT_PLANS)
def new_page():
    """The empty form of a plan (rows for several items), a single training, or a summary."""
    try:
        kind = service.parse_kind(request.args.get("kind") or FilingKind.ANNUAL_PLAN.value)
    except InvalidInput as problem:
        flash(problem.message, "error")
        return redirect(url_for("plans.own_page"))
    return _render_form(kind, {"year": request.args.get("year") or china_today().year, "items": []}, {})


@bp.post("/plans/new")
@page_user(permission=Permission.SUBMIT_PLANS)
def submit():
    """File the plan, training or summary with its attachments, all or nothing."""
    kind_code = request.form.get("kind") or ""
    try:
        uploads = files.request_uploads()
        filing, keys = service.submit(current_user, kind_code, request.form.get("year"), request.form.get("title"),
                                      _form_content(), request.form.get("note"), uploads)
    except ServiceError as problem:
        db.session.rollback()
        kind = FilingKind(kind_code) if kind_code in FilingKind.__members__.values() else FilingKind.ANNUAL_PLAN
        flash(f"未报送：{problem.message}", "error")
        return _render_form(kind, {**request.form.to_dict(), **_form_content()}, problem.fields, status=problem.status)
    files.commit_or_unstore(keys)
    flash(f"已向{filing.department.name}报送{filing.year}年{filing.kind.label}“{filing.title}”，请等待审核。",
          "success")
    return redirect(url_for("plans.detail_page", filing_id=filing.id))


@bp.get("/plans/<int:filing_id>/revise")
@page_user(permission=Permission.SUBMIT_PLANS)
def revise_page(filing_id: int):
    """The form filled with the latest version, to revise a filing that was sent back."""
    filing = service.filing_for(current_user, filing_id)
    latest = filing.latest
    values = {"year": filing.year, "title": latest.title, "note": latest.note or "", **latest.content}
    return _render_form(filing.kind, values, {}, filing=filing)


@bp.post("/plans/<int:filing_id>/revise")
@page_user(permission=Permission.SUBMIT_PLANS)
def revise(filing_id: int):
    """Submit the revision as a new version; the files of the last version that stay ticked are kept."""
    filing = service.filing_for(current_user, filing_id)
    try:
        uploads = files.request_uploads()
        filing, keys = service.revise(current_user, filing_id, request.form.get("title"), _form_content(),
                                      request.form.get("note"), uploads, request.form.getlist("keep_attachment"))
    except ServiceError as problem:
        db.session.rollback()
        flash(f"未重新提交：{problem.message}", "error")
        filing = service.filing_for(current_user, filing_id)
        return _render_form(filing.kind, {**request.form.to_dict(), **_form_content(), "year": filing.year},
                            problem.fields, filing=filing, status=problem.status)
    files.commit_or_unstore(keys)
    flash(f"已重新提交第 {filing.version_count} 版，请等待{filing.department.name}审核。", "success")
    return redirect(url_for("plans.detail_page", filing_id=filing.id))


# ------------------------------------------------------------------------------------------------ both sides

@bp.get("/plans/<int:filing_id>")
@page_user(permission=READERS)
def detail_page(filing_id: int):
    """A filing: every version as submitted with the department's answer, and the decision form for the reviewer."""
    filing = service.filing_for(current_user, filing_id)
    return render_template("plans/detail.html", filing=filing, **_helpers())


@bp.get("/plans/<int:filing_id>/compare")
@page_user(permission=READERS)
def compare_page(filing_id: int):
    """Two versions side by side, the items that changed marked."""
    filing = service.filing_for(current_user, filing_id)
    comparison = service.compare(filing, request.args.get("version") or filing.version_count,
                                 request.args.get("against"))
    return render_template("plans/compare.html", filing=filing, comparison=comparison, **_helpers())


@bp.get("/plans/<int:filing_id>/attachments/<int:attachment_id>")
@page_user(permission=READERS)
def attachment_file(filing_id: int, attachment_id: int):
    """Send one attachment of any version to whoever may read the filing."""
    item = service.attachment_of(service.filing_for(current_user, filing_id), attachment_id)
    return files.download(item.key, item.filename, item.content_type, item.size_bytes)


@bp.post("/plans/<int:filing_id>/decision")
@page_user(permission=Permission.REVIEW_PLANS)
def decide(filing_id: int):
    """Approve, reject or send back the filing (a second click finds it decided and changes nothing)."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("plans.detail_page", filing_id=filing_id))
    decision = request.form.get("decision")
    try:
        filing = service.decide(current_user, filing_id, decision, request.form.get("reason"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未审核：{error.message}", "error")
        return redirect(url_for("plans.detail_page", filing_id=filing_id))
    flash(f"{filing.base.name}的{filing.kind.label}：{service.DECISION_LABELS[decision]}。", "success")
    return redirect(url_for("plans.review_page"))


# ------------------------------------------------------------------------------------------------ the department

@bp.get("/plans/review")
@page_user(permission=Permission.REVIEW_PLANS)
def review_page():
    """The filings of the bases of the subtree, those waiting for this department first."""
    filters = _filters()
    try:
        query = service.review_query(current_user, **filters)
    except ServiceError as error:
        flash(error.message, "error")
        filters, query = {"kind": "", "status": "", "year": ""}, service.review_query(current_user)
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template("plans/review.html", page=page, filters=filters, **_helpers())


@bp.get("/plans/courses")
@page_user(permission=Permission.VET_COURSES)
def vetting_page():
    """Courses of the subtree's bases and their vetting (课程审核), those waiting for this department first."""
    status = request.args.get("status", "")
    try:
        query = vetting.vetting_query(current_user, status)
    except ServiceError as error:
        flash(error.message, "error")
        status, query = "", vetting.vetting_query(current_user)
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template("plans/vetting.html", page=page, status=status, vetting_statuses=list(VettingStatus),
                           may_vet=lambda v: vetting.may_decide(current_user, v), **_helpers())


@bp.post("/plans/courses/<int:course_id>/decision")
@page_user(permission=Permission.VET_COURSES)
def vet(course_id: int):
    """Approve a course (it enters the catalogue) or reject it with a reason (it is withdrawn)."""
    if not CsrfForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("plans.vetting_page"))
    try:
        decided = vetting.decide(current_user, course_id, request.form.get("decision"), request.form.get("reason"))
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(f"未审核：{error.message}", "error")
        return redirect(url_for("plans.vetting_page"))
    flash(f"课程“{decided.course.title}”：{decided.status.label}。", "success")
    return redirect(url_for("plans.vetting_page"))


# ------------------------------------------------------------------------------------------------ materials

def _material_form(material=None, values=None, errors=None, status: int = 200):
    return render_template("plans/materials.html", materials=materials.own_materials(current_user),
                           material=material, values=values or {"year": china_today().year}, errors=errors or {},
                           material_kinds=list(MaterialKind), **_helpers()), status


@bp.get("/plans/materials")
@page_user(permission=Permission.SUBMIT_MATERIALS)
def materials_page():
    """The department's annual materials by year, and the form to add one."""
    return _material_form()


@bp.post("/plans/materials")
@page_user(permission=Permission.SUBMIT_MATERIALS)
def submit_material():
    """Send a material with its files to the HR bureau above, all or nothing."""
    try:
        material, keys = materials.submit(current_user, request.form.to_dict(), files.request_uploads())
    except ServiceError as problem:
        db.session.rollback()
        flash(f"未报送：{problem.message}", "error")
        return _material_form(values=request.form.to_dict(), errors=problem.fields, status=problem.status)
    files.commit_or_unstore(keys)
    flash(f"已向{material.bureau.name}报送{material.year}年{material.kind.label}“{material.title}”。", "success")
    return redirect(url_for("plans.materials_page"))


@bp.get("/plans/materials/<int:material_id>/edit")
@page_user(permission=Permission.SUBMIT_MATERIALS)
def edit_material_page(material_id: int):
    """The material's form filled as stored, with its files to keep or remove."""
    material = materials.material_for(current_user, material_id)
    values = {"year": material.year, "kind": material.kind.value, "title": material.title, "note": material.note}
    return _material_form(material, values)


@bp.post("/plans/materials/<int:material_id>/edit")
@page_user(permission=Permission.SUBMIT_MATERIALS)
def edit_material(material_id: int):
    """Save the material's changes: title, kind, note, files removed and added."""
    try:
        material, keys = materials.edit(current_user, material_id, request.form.to_dict(), files.request_uploads(),
                                        request.form.getlist("remove_file"))
    except ServiceError as problem:
        db.session.rollback()
        flash(f"未保存：{problem.message}", "error")
        return _material_form(materials.material_for(current_user, material_id), request.form.to_dict(),
                              problem.fields, status=problem.status)
    files.commit_or_unstore(keys)
    flash(f"已保存“{material.title}”。", "success")
    return redirect(url_for("plans.materials_page"))


@bp.get("/plans/materials/<int:material_id>/files/<int:file_id>")
@page_user(permission=MATERIAL_READERS)
def material_file(material_id: int, file_id: int):
    """Send a material's file to its department or an HR bureau above it."""
    item = materials.file_of(materials.material_for(current_user, material_id), file_id)
    return files.download(item.key, item.filename, item.content_type, item.size_bytes)


@bp.get("/plans/materials/overview")
@page_user(permission=Permission.VIEW_MATERIALS)
def materials_overview():
    """For a year, which departments of the subtree have sent materials and which have not."""
    try:
        data = materials.overview(current_user, request.args.get("year"))
    except ServiceError as error:
        flash(error.message, "error")
        data = materials.overview(current_user)
    return render_template("plans/overview.html", data=data, **_helpers())


# The upload forms check CSRF in files.request_uploads, once the request may be larger than the default limit.
for _view in (submit, revise, submit_material, edit_material):
    csrf.exempt(_view)
