"""Pages of the quiz attempt review: the held attempts of the viewer's subtree, one attempt's timeline, decisions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.errors import ServiceError
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.review import attempts
from lms.review.forms import ReviewDecisionForm
from lms.review.models import ReviewOutcome
from lms.review.service import QUEUE_STATES, can_decide
from lms.review.views import _show_error
from lms.tracking.models import HoldState

bp = Blueprint("review_attempts", __name__, template_folder="templates")


@bp.context_processor
def _helpers():
    return {"cst": china_time, "HoldState": HoldState, "event_label": attempts.event_label}


@bp.get("/review/attempts")
@page_user(permission=Permission.VIEW_SESSIONS)
def queue():
    """The held quiz attempts of the viewer's subtree (or decided ones), riskiest and oldest first."""
    state = QUEUE_STATES.get(request.args.get("state", ""), HoldState.HELD)
    return render_template("review/attempts.html", attempts=attempts.held_attempts(current_user, state),
                           state=state, states=list(QUEUE_STATES.values()))


def _render_attempt(attempt_id: int, form: ReviewDecisionForm | None = None, status: int = 200):
    found = attempts.evidence(current_user, attempt_id)
    return render_template("review/attempt.html", e=found, a=found.attempt, can_decide=can_decide(current_user),
                           form=form or ReviewDecisionForm()), status


@bp.get("/review/attempts/<int:attempt_id>")
@page_user(permission=Permission.VIEW_SESSIONS)
def attempt_page(attempt_id: int):
    """One attempt: its per-question timeline on the server's clock, its evidence and the decision."""
    return _render_attempt(attempt_id)


@bp.post("/review/attempts/<int:attempt_id>/decide")
@page_user(permission=Permission.REVIEW_SESSIONS)
def decide_one(attempt_id: int):
    """Release or void one held attempt, with the reason the learner reads."""
    form = ReviewDecisionForm()
    if not form.validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("review_attempts.attempt_page", attempt_id=attempt_id))
    try:
        [decided] = attempts.decide_attempts(current_user, [attempt_id], form.decision.data, form.reason.data)
        db.session.commit()
    except ServiceError as error:
        _show_error(form, error)
        return _render_attempt(attempt_id, form, error.status)
    flash("已审核通过该测验记录，课程学时已按规则入账。" if decided.decision == ReviewOutcome.RELEASE
          else "已作废该测验记录，其课程学时不予入账。", "success")
    return redirect(url_for("review_attempts.attempt_page", attempt_id=attempt_id))
