"""JSON API of the review queue of declarations: what waits for the caller's step, filtered and paged, and batch
decisions (approve / reject / send back with one reason, all or nothing). The same rules as the page
(``lms.declarations.service`` and ``queue``); the learners' own declaration API lives elsewhere.
"""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.accounts.schemas import ListQuery
from lms.core.api import page_body, page_schema
from lms.core.auth import api_user
from lms.core.queues import ListFilters
from lms.declarations import service
from lms.declarations.queue import QueueFilters, queue_query
from lms.extensions import db
from lms.orgs.permissions import Permission

blp = Blueprint("declaration_reviews_api", __name__, url_prefix="/api/v1", description="学时申报审核")
BEARER = [{"bearer": []}]


class ReviewQuery(ListQuery):
    kind = fields.String(load_default=None, metadata={"description": "规则集中的学时类型，如 conference"})
    unit_id = fields.String(load_default=None, metadata={"description": "申报人所在单位（或其上级）的编号"})
    hours_min = fields.String(load_default=None, metadata={"description": "计算学时不少于"})
    hours_max = fields.String(load_default=None, metadata={"description": "计算学时不多于"})
    q = fields.String(load_default=None, metadata={"description": "活动名称、申报人姓名或完整身份证号"})
    per_page = fields.Integer(load_default=50)


class StepOut(Schema):
    position = fields.Integer()
    label = fields.String()
    org_id = fields.Integer()
    org_name = fields.String(attribute="org.name")


class ReviewItemOut(Schema):
    id = fields.Integer()
    title = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    year = fields.Integer()
    start_date = fields.Date()
    end_date = fields.Date()
    hours = fields.Decimal(as_string=True)
    category = fields.String()
    status = fields.String(attribute="status.value")
    applicant = fields.String(attribute="user.name")
    id_number = fields.String(attribute="user.masked_id_number")
    unit = fields.String(attribute="user.org.name")
    step_index = fields.Integer(allow_none=True)
    steps = fields.List(fields.Nested(StepOut), attribute="review_steps")
    submitted_at = fields.DateTime(attribute="created_at")


ReviewPage = page_schema(ReviewItemOut, "DeclarationReviewPage")


class BatchDecisionIn(Schema):
    ids = fields.List(fields.Raw(), required=True, metadata={"description": "申报编号"})
    decision = fields.String(required=True, metadata={"description": "approve、reject 或 return（退回补充材料）"})
    reason = fields.String(load_default=None, metadata={"description": "不通过或退回时必填，申报人可见"})


@blp.route("/declaration-reviews", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(ReviewQuery, location="query")
@blp.response(200, ReviewPage)
@api_user(permission=Permission.REVIEW_DECLARATIONS)
def queue(args):
    """The declarations waiting for the caller's step, oldest first, filtered, one page at a time."""
    filters, queue_filters = ListFilters.parse(args), QueueFilters.parse(args)
    return page_body(filters.paginate(db, queue_query(g.api_user, filters, queue_filters)))


@blp.route("/declaration-reviews/decisions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(BatchDecisionIn)
@blp.response(200, ReviewItemOut(many=True))
@blp.alt_response(409, description="已被他人处理或状态已变")
@api_user(permission=Permission.REVIEW_DECLARATIONS)
def decide(body):
    """Decide the caller's step of several declarations with one decision and reason; one refusal refuses all."""
    decided = service.decide_many(g.api_user, body["ids"], body["decision"], body["reason"])
    db.session.commit()
    return decided
