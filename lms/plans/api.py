"""JSON API of the yearly work: bases' plans and summaries, course vetting, departments' annual materials.

The same rules as the pages (``lms.plans.service``, ``vetting``, ``materials``). Attachments and material files are
uploaded on the pages (multipart with CSRF); the API files and revises content, decides and reads.
"""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from lms.core.api import page_body
from lms.core.auth import api_user
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.plans import materials, schemas, service, vetting

blp = Blueprint("plans_api", __name__, url_prefix="/api/v1", description="培训计划、课程审核与年度工作材料")
BEARER = [{"bearer": []}]
PER_PAGE = 50
READERS = (Permission.SUBMIT_PLANS, Permission.REVIEW_PLANS)


def _committed(result):
    db.session.commit()
    return result


def _content(body: dict) -> dict:
    return {"items": body["items"], "text": body["text"], "trained_people": body["trained_people"]}


@blp.route("/plans", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanFilingQuery, location="query")
@blp.response(200, schemas.FilingPage)
@api_user(permission=Permission.SUBMIT_PLANS)
def own(args):
    """The caller's base's plans, trainings and summaries, newest first."""
    query = service.own_query(g.api_user, args["kind"], args["status"], args["year"])
    return page_body(db.paginate(query, page=max(args["page"], 1), per_page=PER_PAGE, error_out=False))


@blp.route("/plans", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanFilingIn)
@blp.response(201, schemas.PlanFilingDetail)
@api_user(permission=Permission.SUBMIT_PLANS)
def submit(body):
    """File a 年度培训计划, a 培训计划申报 or a 年度工作总结 with the base's competent department."""
    filing, _ = service.submit(g.api_user, body["kind"], body["year"], body["title"], _content(body), body["note"])
    return _committed(filing)


@blp.route("/plans/review", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanFilingQuery, location="query")
@blp.response(200, schemas.FilingPage)
@api_user(permission=Permission.REVIEW_PLANS)
def review(args):
    """The filings of the bases in the caller's subtree, those waiting for the caller's department first."""
    query = service.review_query(g.api_user, args["kind"], args["status"], args["year"], args["awaiting"])
    return page_body(db.paginate(query, page=max(args["page"], 1), per_page=PER_PAGE, error_out=False))


@blp.route("/plans/<int:filing_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.PlanFilingDetail)
@api_user(permission=READERS)
def detail(filing_id: int):
    """One filing with every version as submitted and the department's answer to each."""
    return service.filing_for(g.api_user, filing_id)


@blp.route("/plans/<int:filing_id>/versions/<int:number>/compare", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanCompareQuery, location="query")
@blp.response(200, schemas.PlanCompareOut)
@api_user(permission=READERS)
def compare(args, filing_id: int, number: int):
    """What changed in a version against another (by default the one before), item by item."""
    return service.compare(service.filing_for(g.api_user, filing_id), number, args["against"])


@blp.route("/plans/<int:filing_id>/revise", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanRevisionIn)
@blp.response(200, schemas.PlanFilingDetail)
@api_user(permission=Permission.SUBMIT_PLANS)
def revise(body, filing_id: int):
    """Submit a new version of a filing the department sent back (409 unless it was sent back)."""
    filing, _ = service.revise(g.api_user, filing_id, body["title"], _content(body), body["note"],
                               keep_attachment_ids=body["keep_attachment_ids"])
    return _committed(filing)


@blp.route("/plans/<int:filing_id>/decision", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanDecisionIn)
@blp.response(200, schemas.PlanFilingDetail)
@api_user(permission=Permission.REVIEW_PLANS)
def decide(body, filing_id: int):
    """Approve, reject or send back a filing waiting for the caller's department (409 when already decided)."""
    return _committed(service.decide(g.api_user, filing_id, body["decision"], body["reason"]))


@blp.route("/plans/courses", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanVettingQuery, location="query")
@blp.response(200, schemas.VettingPage)
@api_user(permission=Permission.VET_COURSES)
def vettings(args):
    """Courses of the bases in the caller's subtree and their vetting (课程审核), pending ones of the caller first."""
    query = vetting.vetting_query(g.api_user, args["status"])
    return page_body(db.paginate(query, page=max(args["page"], 1), per_page=PER_PAGE, error_out=False))


@blp.route("/plans/courses/<int:course_id>/decision", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanDecisionIn)
@blp.response(200, schemas.PlanVettingOut)
@api_user(permission=Permission.VET_COURSES)
def vet(body, course_id: int):
    """Approve a pending course (it enters the catalogue) or reject it with a reason (it is withdrawn)."""
    return _committed(vetting.decide(g.api_user, course_id, body["decision"], body["reason"]))


@blp.route("/plans/materials", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanMaterialQuery, location="query")
@blp.response(200, schemas.PlanMaterialOut(many=True))
@api_user(permission=Permission.SUBMIT_MATERIALS)
def own_materials(args):
    """The caller's department's annual work materials (files are uploaded on the page)."""
    return materials.own_materials(g.api_user, args["year"])


@blp.route("/plans/materials/overview", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PlanMaterialQuery, location="query")
@blp.response(200, schemas.PlanOverviewOut)
@api_user(permission=Permission.VIEW_MATERIALS)
def materials_overview(args):
    """For a year (default this one), every department of the caller's subtree: submitted or not, and what."""
    return materials.overview(g.api_user, args["year"])
