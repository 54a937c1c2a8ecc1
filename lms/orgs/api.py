"""JSON API of the organisation tree."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from lms.accounts.schemas import Decision, ListQuery
from lms.core.auth import api_user
from lms.core.queues import ListFilters
from lms.extensions import db
from lms.orgs import schemas, service
from lms.orgs.permissions import TREE_VIEWERS, Permission

blp = Blueprint("orgs_api", __name__, url_prefix="/api/v1", description="组织机构与单位注册")
BEARER = [{"bearer": []}]


@blp.route("/units", methods=["GET"])
@blp.arguments(schemas.UnitQuery, location="query")
@blp.response(200, schemas.OrgOut(many=True))
def units(args):
    """List approved employer units (public: the learner registration form picks from it)."""
    return service.unit_choices(args["q"])


@blp.route("/registrations/orgs", methods=["POST"])
@blp.arguments(schemas.OrgRegistration)
@blp.response(201, schemas.OrgOut)
def register_org(body):
    """Register a department, unit or base with its admin account; the level above approves."""
    org, _admin = service.register_org(body)
    db.session.commit()
    return org


@blp.route("/registrations/orgs/pending", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(ListQuery, location="query")
@blp.response(200, schemas.OrgOut(many=True), headers={"X-Total-Count": {"description": "符合条件的总数"}})
@api_user(permission=Permission.APPROVE_ORGS)
def pending_orgs(args):
    """List the organisations waiting for the caller's approval, filtered, one page at a time (X-Total-Count)."""
    filters = ListFilters.parse(args)
    page = filters.paginate(db, service.filter_registrations(service.reviewable_orgs_query(g.api_user), filters))
    return page.items, {"X-Total-Count": str(page.total)}


@blp.route("/registrations/orgs/decisions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(Decision)
@blp.response(200, schemas.OrgOut(many=True))
@api_user(permission=Permission.APPROVE_ORGS)
def decide_orgs(body):
    """Approve or reject pending organisations in one batch (all or nothing)."""
    orgs = service.decide_orgs(g.api_user, body["ids"], body["approve"], body["reason"])
    db.session.commit()
    return orgs


@blp.route("/org/registration", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.OrgResubmission)
@blp.response(200, schemas.OrgOut)
@api_user(approved=False)
def resubmit_org(body):
    """Correct the caller's rejected organisation registration and send it for review again."""
    org = service.resubmit_org(g.api_user, body)
    db.session.commit()
    return org


@blp.route("/orgs", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.OrgOut(many=True))
@api_user(permission=TREE_VIEWERS)
def subtree():
    """List the organisations of the caller's subtree."""
    return db.session.scalars(service.visible_orgs_query(g.api_user)).all()


@blp.route("/orgs/bureaus", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.BureauCreation)
@blp.response(201, schemas.OrgOut)
@api_user(permission=Permission.CREATE_BUREAUS)
def create_bureau(body):
    """Create a city or county HR bureau with its admin account (province HR admin only)."""
    org, _admin = service.create_hr_bureau(g.api_user, body)
    db.session.commit()
    return org
