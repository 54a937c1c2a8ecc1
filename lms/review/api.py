"""JSON API of the review: the queue of held sessions, one session's evidence, decisions, a learner's records.

The same rules as the pages (``lms.review.service``): reviewers and HR admins read the sessions of their subtree,
only reviewers decide, a learner reads their own records. A session's evidence comes as data (trace points and
events) for a client to draw; ``chart_url`` is the reviewer's page with the drawn chart.
"""

from __future__ import annotations

from flask import g, request, url_for
from flask_smorest import Blueprint

from lms.accounts.models import Role
from lms.core.api import page_body
from lms.core.auth import api_user
from lms.core.db import utcnow
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.review import routing, schemas, service
from lms.tracking.models import HoldState
from lms.tracking.service import tracking_settings

blp = Blueprint("review_api", __name__, url_prefix="/api/v1", description="观看记录审核")
BEARER = [{"bearer": []}]


class _With:
    """A row as a schema reads it, with some attributes added (or replaced) for the answer."""

    def __init__(self, row, **added):
        self.__dict__.update(added)
        self._row = row

    def __getattr__(self, name):  # only for names not added
        return getattr(self._row, name)


@blp.route("/review/sessions", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.QueueQuery, location="query")
@blp.response(200, schemas.QueuePage)
@api_user(permission=Permission.VIEW_SESSIONS)
def queue(_args):
    """List the held sessions of the caller's subtree (or released / voided ones), riskiest and oldest first."""
    # The service reads the raw query arguments itself, so a bad filter gets its Chinese message.
    page = service.queue_page(g.api_user, service.parse_queue_filters(request.args))
    expected, now = routing.expected_reviewers(page.items), utcnow()
    body = page_body(page)
    body["items"] = [_With(s, expected_reviewer=expected[s.id],
                           waiting_s=routing.waiting_seconds(s, now) if s.hold_state == HoldState.HELD else None)
                     for s in page.items]
    return body


@blp.route("/review/figures", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.FiguresOut)
@api_user(permission=Permission.VIEW_SESSIONS)
def figures():
    """Holds, releases and voids of the last 90 days per organisation directly below the caller's."""
    return {"days": 90, "items": routing.figures_by_org(g.api_user, 90)}


@blp.route("/review/sessions/<int:session_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.SessionDetail)
@api_user(permission=Permission.VIEW_SESSIONS)
def session_detail(session_id: int):
    """Return one session with its trace, events, the learner's other sessions and the decision, if any."""
    session = service.session_for_viewer(g.api_user, session_id)
    return _With(
        session, hold_threshold=tracking_settings().hold_threshold,
        chart_url=url_for("review.session_page", session_id=session.id, _external=True),
        events=service.event_rows(session),
        trace=[{"t_ms": t, "position_ms": position, "credited_ms": credited, "reason": reason}
               for t, position, credited, reason in session.trace],
        other_sessions=service.other_sessions(session), same_address=service.same_address_accounts(g.api_user, session),
        decision=service.decision_for(session.id))


@blp.route("/review/decisions", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(schemas.DecisionIn)
@blp.response(201, schemas.DecisionOut(many=True))
@api_user(permission=Permission.REVIEW_SESSIONS)
def decide(body):
    """Release or void held sessions with one reason the learners read (all or nothing; reviewers only)."""
    decisions = service.decide_sessions(g.api_user, body["ids"], body["decision"], body["reason"])
    db.session.commit()
    return decisions


@blp.route("/my/watch-records", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, schemas.WatchRecordOut(many=True))
@api_user(Role.LEARNER)
def my_records():
    """List the caller's own playback sessions per courseware: time counted, review state and outcome."""
    records = service.learner_records(g.api_user)
    typical = routing.typical_review_seconds(g.api_user) if any(r.held_count for r in records) else None
    return [{"courseware": record.courseware, "progress": record.progress, "held_count": record.held_count,
             "typical_review_s": typical if record.held_count else None,
             "sessions": [_With(s, decision=record.decisions.get(s.id), hold_reasons=record.hold_reasons.get(s.id, []))
                          for s in record.sessions]}
            for record in records]
