"""JSON API for accounts: tokens, learner registration and its review, the caller's own account."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lms.accounts import schemas, service
from lms.accounts.models import Role
from lms.accounts.views import login_limits
from lms.core.api import page_body
from lms.core.auth import API_TOKEN_MAX_AGE_S, Unauthenticated, api_user, bearer_user, issue_api_token
from lms.core.errors import InvalidInput, NotAllowed
from lms.core.queues import ListFilters
from lms.extensions import db
from lms.orgs.permissions import Permission

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="账号、注册与审核")
BEARER = [{"bearer": []}]


def _limited(view):
    for limit in login_limits:
        view = limit(view)
    return view


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(schemas.TokenRequest)
@blp.response(200, schemas.Token)
@blp.alt_response(401, description="账号或密码不正确")
@blp.alt_response(429, description="尝试过于频繁")
@_limited
def create_token(body):
    """Exchange a login and password for a bearer token."""
    user = service.authenticate(body["login"], body["password"])
    if user is None:
        db.session.rollback()
        raise Unauthenticated("账号或密码不正确。")
    refusal = service.login_refusal(user)
    if refusal:
        db.session.rollback()
        raise NotAllowed(refusal)
    db.session.commit()
    return {"token": issue_api_token(user), "expires_in": API_TOKEN_MAX_AGE_S}


@blp.route("/registrations/learners", methods=["POST"])
@blp.arguments(schemas.LearnerRegistration)
@blp.response(201, schemas.Me)
@blp.alt_response(409, description="已注册，或调用者已登录")
def register_learner(body):
    """Register a learner; the account waits for the employer unit's approval. A caller who is logged in (by
    bearer token, or by a page session) is refused: that would be a second account."""
    registrant = bearer_user() or (current_user if current_user.is_authenticated else None)
    user = service.register_learner(body, registrant=registrant)
    db.session.commit()
    return user


@blp.route("/registrations/learners/pending", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.ListQuery, location="query")
@blp.response(200, schemas.Person(many=True), headers={"X-Total-Count": {"description": "符合条件的总数"}})
@api_user(permission=Permission.APPROVE_PEOPLE)
def pending_learners(args):
    """List the learners waiting for the caller's approval, filtered, one page at a time (X-Total-Count)."""
    filters = ListFilters.parse(args)
    page = filters.paginate(db, service.filter_registrations(service.reviewable_learners_query(g.api_user), filters))
    return page.items, {"X-Total-Count": str(page.total)}


@blp.route("/registrations/learners/decisions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.Decision)
@blp.response(200, schemas.Person(many=True))
@api_user(permission=Permission.APPROVE_PEOPLE)
def decide_learners(body):
    """Approve or reject pending learners in one batch (all or nothing; a reason is required to reject)."""
    users = service.decide_learners(g.api_user, body["ids"], body["approve"], body["reason"])
    db.session.commit()
    return users


@blp.route("/me")
class MeResource(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(200, schemas.Me)
    @api_user(approved=False)
    def get(self):
        """Return the caller's own account and registration status."""
        return g.api_user


@blp.route("/me/registration", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.LearnerResubmission)
@blp.response(200, schemas.Me)
@api_user(Role.LEARNER, approved=False)
def resubmit_registration(body):
    """Correct a rejected registration and send it for review again."""
    user = service.resubmit_learner(g.api_user, body)
    db.session.commit()
    return user


@blp.route("/me/password", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PasswordChange)
@blp.response(200, schemas.Token)
@api_user(approved=False)
def change_password(body):
    """Change the caller's password (the old one is required); returns a fresh token, old ones stop working."""
    service.change_password(g.api_user, body["old_password"], body["new_password"])
    db.session.commit()
    return {"token": issue_api_token(g.api_user), "expires_in": API_TOKEN_MAX_AGE_S}


@blp.route("/people", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.PeopleQuery, location="query")
@blp.response(200, schemas.PeoplePage)
@api_user(permission=Permission.MANAGE_PEOPLE)
def people(args):
    """List the people of the caller's subtree, filtered, ID and phone numbers masked."""
    query = service.filtered_people_query(g.api_user, args)
    if not 1 <= args["per_page"] <= 200 or args["page"] < 1:
        raise InvalidInput({"per_page": "每页 1–200 条，页码从 1 开始。"})
    page = db.paginate(query, page=args["page"], per_page=args["per_page"], error_out=False)
    return page_body(page)
