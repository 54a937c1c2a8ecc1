"""Pages of the organisation tree: organisation registration, the review queue, the tree, HR bureaus."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm

from lms.accounts import service as accounts
from lms.accounts.forms import DecisionForm, attach_errors
from lms.core.auth import page_user
from lms.core.errors import InvalidInput, ServiceError
from lms.core.queues import page_filters
from lms.extensions import db
from lms.orgs import service
from lms.orgs.access import admin_org, has_permission
from lms.orgs.forms import BureauForm, OrgRegistrationForm, OrgResubmitForm, OrgSettingsForm
from lms.orgs.models import ALLOWED_PARENTS, OrgKind, ReviewStatus
from lms.orgs.permissions import TREE_VIEWERS, Permission

bp = Blueprint("orgs", __name__, template_folder="templates")



def _parent_choices(kinds) -> list[tuple[str, str]]:
    seen, choices = set(), [("", "请选择")]
    for kind in kinds:
        for org in service.parent_choices(kind):
            if org.id not in seen:
                seen.add(org.id)
                choices.append((str(org.id), f"{org.name}（{org.kind.label}）"))
    return choices


def _render_errors(form, template: str, error: ServiceError, **context):
    db.session.rollback()
    unmatched = attach_errors(form, error) if isinstance(error, InvalidInput) else [error.message]
    if error.fields and not isinstance(error, InvalidInput):
        attach_errors(form, InvalidInput(error.fields))
    for message in unmatched:
        flash(message, "error")
    return render_template(template, form=form, **context), error.status


@bp.route("/register/org", methods=["GET", "POST"])
def register():
    """Register a competent department, employer unit or base with its admin account."""
    form = OrgRegistrationForm()
    form.parent_id.choices = _parent_choices(OrgKind(k) for k in (OrgKind.DEPARTMENT, OrgKind.UNIT))
    if form.validate_on_submit():
        try:
            _org, admin = service.register_org(form.data)
            db.session.commit()
        except ServiceError as error:
            return _render_errors(form, "orgs/register.html", error)
        login_user(admin)
        flash("单位注册已提交，请等待上级审核。", "success")
        return redirect(url_for("orgs.status"))
    return render_template("orgs/register.html", form=form), 422 if form.errors else 200


@bp.get("/org/status")
@login_required
def status():
    """Show an organisation admin the review status of their organisation, with a form when rejected."""
    org = current_user.org
    form = None
    if org.status == ReviewStatus.REJECTED and service.administers_own_registration(current_user, org):
        form = OrgResubmitForm(obj=org)
        form.parent_id.choices = _parent_choices(ALLOWED_PARENTS[org.kind])
        form.parent_id.data = str(org.parent_id)
    return render_template("orgs/status.html", org=org, form=form,
                           history=accounts.registration_history(org=org))


@bp.post("/org/resubmit")
@login_required
def resubmit():
    """Correct a rejected organisation registration and send it back to the level above."""
    form = OrgResubmitForm()
    org = current_user.org
    form.parent_id.choices = _parent_choices(ALLOWED_PARENTS[org.kind])
    if not form.validate_on_submit():
        flash("表单已过期，请重试。", "error")
        return redirect(url_for("orgs.status"))
    try:
        service.resubmit_org(current_user, form.data)
        db.session.commit()
    except ServiceError as error:
        return _render_errors(form, "orgs/status.html", error, org=org,
                              history=accounts.registration_history(org=org))
    flash("已重新提交，请等待上级审核。", "success")
    return redirect(url_for("orgs.status"))


@bp.get("/registrations")
@page_user(permission=(Permission.APPROVE_PEOPLE, Permission.APPROVE_ORGS))
def registrations_page():
    """The admin's queue: pending learners (unit admins) or pending organisations (departments, HR)."""
    return _render_queue()


def _render_queue():
    """Render the review queues of the current admin, filtered and one page at a time."""
    args, filters = page_filters(request.args.to_dict())
    learners = filters.paginate(db, accounts.filter_registrations(accounts.reviewable_learners_query(current_user),
                                                                  filters))
    orgs = filters.paginate(db, service.filter_registrations(service.reviewable_orgs_query(current_user), filters))
    return render_template("orgs/registrations.html", learners=learners, orgs=orgs, filters=args,
                           learner_form=DecisionForm(prefix="learners"), org_form=DecisionForm(prefix="orgs"))


@bp.post("/registrations/learners")
@page_user(permission=Permission.APPROVE_PEOPLE)
def decide_learners():
    """Approve or reject the selected learners in one batch."""
    return _decide(DecisionForm(prefix="learners"), accounts.decide_learners, "learners-ids", "人")


@bp.post("/registrations/orgs")
@page_user(permission=Permission.APPROVE_ORGS)
def decide_orgs():
    """Approve or reject the selected organisations in one batch."""
    return _decide(DecisionForm(prefix="orgs"), service.decide_orgs, "orgs-ids", "个单位")


def _decide(form: DecisionForm, decide, ids_field: str, noun: str):
    if not form.validate_on_submit():
        flash("表单已过期，请刷新后重试。", "error")
        return redirect(url_for("orgs.registrations_page"))
    approve = form.decision.data == "approve"
    try:
        decided = decide(current_user, request.form.getlist(ids_field), approve, form.reason.data)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _render_queue(), error.status
    flash(f"已{'通过' if approve else '驳回'} {len(decided)} {noun}的注册。", "success")
    return redirect(url_for("orgs.registrations_page"))


@bp.get("/orgs")
@page_user(permission=TREE_VIEWERS)
def tree():
    """Show one level of the admin's subtree (lazily, level by level), with status and the lifecycle actions."""
    home = admin_org(current_user)
    under = service.org_in_subtree(current_user, request.args.get("under", type=int) or home.id)
    page = db.paginate(service.children_query(under), page=request.args.get("page", 1, type=int), per_page=50,
                       error_out=False)
    editable = {org.id for org in page.items if service.may_edit_settings(current_user, org)}
    trail = [o for o in service.ancestors_within(under, home)]
    return render_template("orgs/tree.html", under=under, page=page, trail=trail, editable=editable,
                           child_counts=service.child_counts([o.id for o in page.items]),
                           manages=has_permission(current_user, Permission.MANAGE_SUB_ORGS),
                           under_editable=service.may_edit_settings(current_user, under),
                           region_labels=service.region_labels(), form=FlaskForm())


@bp.route("/orgs/<int:org_id>/settings", methods=["GET", "POST"])
@page_user(permission=Permission.EDIT_ORG_SETTINGS)
def settings(org_id: int):
    """Set an organisation's rule-set region and, for a unit, its 第十四条 review role (HR admins above it)."""
    org = service.org_for_settings(current_user, org_id)
    form = OrgSettingsForm(data={"region": org.region or "", "archive_agency": org.archive_agency,
                                 "reviews_own_hours": org.reviews_own_hours})
    labels = service.region_labels()
    inherited_region = service.inherited_region(org)
    inherited = labels.get(inherited_region, inherited_region)
    form.region.choices = [("", f"继承上级（{inherited}）" if org.parent else f"默认（{inherited}）"),
                           *labels.items()]
    effective = service.effective_region(org)
    context = {"org": org, "effective_label": labels.get(effective, effective)}
    if request.method == "POST":
        if not form.validate_on_submit():
            flash("页面已过期，请刷新后重试。", "error")
            return render_template("orgs/settings.html", form=form, **context), 400
        try:
            service.update_org_settings(current_user, org.id, form.data)
            db.session.commit()
        except ServiceError as error:
            return _render_errors(form, "orgs/settings.html", error, **context)
        region = service.effective_region(org)
        flash(f"已保存{org.name}的设置：学时规则地区为{labels.get(region, region)}"
              f"{'（继承上级）' if org.region is None else ''}。", "success")
        return redirect(url_for("orgs.tree"))
    return render_template("orgs/settings.html", form=form, **context)


@bp.route("/orgs/bureaus/new", methods=["GET", "POST"])
@page_user(permission=Permission.CREATE_BUREAUS)
def create_bureau():
    """Create a city or county HR bureau with its admin account (province only)."""
    form = BureauForm()
    form.parent_id.choices = [("", "请选择")] + [
        (str(o.id), f"{o.name}（{o.kind.label}）") for o in service.hr_parent_choices(current_user)
    ]
    if form.validate_on_submit():
        try:
            org, _admin = service.create_hr_bureau(current_user, form.data)
            db.session.commit()
        except ServiceError as error:
            return _render_errors(form, "orgs/bureau.html", error)
        flash(f"已创建 {org.name} 及其管理员账号。", "success")
        return redirect(url_for("orgs.tree"))
    return render_template("orgs/bureau.html", form=form), 422 if form.errors else 200


from lms.orgs import admin_views, structure_views  # noqa: E402, F401  (their routes join this blueprint)
