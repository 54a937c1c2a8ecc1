"""JSON API of the quiz attempt review: held attempts, one attempt's timeline and evidence, decisions.

The same rules as the pages (``lms.review.attempts``): reviewers and HR admins read the attempts of their subtree,
only reviewers decide, all or nothing, with a reason the learner reads.
"""

from __future__ import annotations

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.core.auth import api_user
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.review import attempts
from lms.review.schemas import DecisionIn, PersonOut
from lms.review.service import QUEUE_STATES
from lms.tracking.models import HoldState

blp = Blueprint("review_attempts_api", __name__, url_prefix="/api/v1", description="测验记录审核")
BEARER = [{"bearer": []}]


class AttemptSummary(Schema):
    id = fields.Integer()
    learner = fields.Nested(PersonOut, attribute="user")
    course_id = fields.Integer()
    course = fields.String(attribute="course.title")
    number = fields.Integer(metadata={"description": "第几次测验"})
    started_at = fields.DateTime(metadata={"description": "UTC"})
    shown_at = fields.DateTime(allow_none=True, metadata={"description": "服务器首次发出题目的时间（UTC）"})
    graded_at = fields.DateTime(allow_none=True)
    score_percent = fields.Integer(allow_none=True)
    passed = fields.Boolean(allow_none=True)
    risk_score = fields.Integer()
    hold_state = fields.String(attribute="hold_state.value",
                               metadata={"description": "none / held / released / voided"})
    held_at = fields.DateTime(allow_none=True)
    ip = fields.String()
    device_id = fields.String(allow_none=True)


class QuestionTimingOut(Schema):
    position = fields.Integer()
    shown_at = fields.DateTime(allow_none=True)
    first_answered_at = fields.DateTime(allow_none=True)
    last_saved_at = fields.DateTime(allow_none=True)
    given_s = fields.Float(allow_none=True, metadata={"description": "从上一题首次作答（或出题）到本题首次作答的秒数"})
    needed_s = fields.Float(metadata={"description": "按题目长度算出的最少阅读秒数"})
    fast = fields.Boolean()
    right = fields.Boolean(allow_none=True)


class AttemptEventOut(Schema):
    type = fields.String()
    label = fields.Function(lambda e: attempts.event_label(e.type))
    at = fields.DateTime()
    values = fields.Dict()
    points = fields.Integer()


class ExposureOut(Schema):
    seen = fields.Integer()
    bank = fields.Integer()
    percent = fields.Integer()


class AttemptDecisionOut(Schema):
    attempt_id = fields.Integer()
    decision = fields.String(attribute="decision.value", metadata={"description": "release / void"})
    reason = fields.String()
    reviewer = fields.String(attribute="reviewer.name")
    decided_at = fields.DateTime()


class AttemptDetail(Schema):
    attempt = fields.Nested(AttemptSummary)
    timeline = fields.List(fields.Nested(QuestionTimingOut))
    events = fields.List(fields.Nested(AttemptEventOut))
    exposure = fields.Nested(ExposureOut)
    decision = fields.Nested(AttemptDecisionOut, allow_none=True)
    hold_threshold = fields.Integer()


class AttemptQueueQuery(Schema):
    state = fields.String(metadata={"description": "held（默认）/ released / voided"})


@blp.route("/review/attempts", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(AttemptQueueQuery, location="query")
@blp.response(200, AttemptSummary(many=True))
@api_user(permission=Permission.VIEW_SESSIONS)
def queue(_args):
    """List the held quiz attempts of the caller's subtree (or released / voided ones), riskiest first."""
    return attempts.held_attempts(g.api_user, QUEUE_STATES.get(request.args.get("state", ""), HoldState.HELD))


@blp.route("/review/attempts/<int:attempt_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, AttemptDetail)
@api_user(permission=Permission.VIEW_SESSIONS)
def attempt_detail(attempt_id: int):
    """Return one attempt with its per-question timeline, its evidence, the bank exposure and the decision."""
    return attempts.evidence(g.api_user, attempt_id)


@blp.route("/review/attempt-decisions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(DecisionIn)
@blp.response(201, AttemptDecisionOut(many=True))
@api_user(permission=Permission.REVIEW_SESSIONS)
def decide(body):
    """Release or void held attempts with one reason the learners read (all or nothing; reviewers only)."""
    decisions = attempts.decide_attempts(g.api_user, body["ids"], body["decision"], body["reason"])
    db.session.commit()
    return decisions
