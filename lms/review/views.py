"""Pages of the review: the queue of held sessions, one session's evidence and decision, the learner's records."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.accounts.forms import attach_errors
from lms.accounts.models import Role
from lms.core.auth import page_user
from lms.core.clock import china_time
from lms.core.db import utcnow
from lms.core.errors import InvalidInput, ServiceError
from lms.extensions import db
from lms.orgs.access import admin_org
from lms.orgs.permissions import Permission
from lms.review import routing, service
from lms.review.chart import chart_for
from lms.review.evidence import EVENT_KINDS, LANES, mmss
from lms.review.forms import ReviewDecisionForm
from lms.review.models import ReviewOutcome
from lms.tracking.models import HoldState
from lms.tracking.service import format_duration, tracking_settings

bp = Blueprint("review", __name__, template_folder="templates")



def _duration(seconds: float | None) -> str:
    return format_duration(seconds * 1000) if seconds and seconds >= 0.5 else "0 秒"


@bp.context_processor
def _helpers():
    return {"cst": china_time, "mmss": mmss, "duration": _duration,
            "HoldState": HoldState}


def _event_type_choices() -> list[tuple[str, str]]:
    order = list(LANES)
    return [(t, f"{LANES[k.lane]} · {k.label}") for t, k in sorted(EVENT_KINDS.items(),
                                                                  key=lambda item: (order.index(item[1].lane),
                                                                                    item[1].label))]


def _render_queue(form: ReviewDecisionForm | None = None, status: int = 200):
    try:
        filters = service.parse_queue_filters(request.args)
    except InvalidInput as error:
        filters = service.QueueFilters(problems=error.fields)
        flash(error.message, "error")
        status = 422
    page = service.queue_page(current_user, filters)
    return render_template(
        "review/queue.html", page=page, filters=filters, args=filters.query_args(),
        expected=routing.expected_reviewers(page.items), now=utcnow(), waiting=routing.waiting_seconds,
        home=admin_org(current_user),
        choices=service.queue_choices(current_user), event_types=_event_type_choices(),
        can_decide=service.can_decide(current_user), form=form or ReviewDecisionForm(),
        states=list(service.QUEUE_STATES.values()), per_page_max=service.PER_PAGE_MAX), status


@bp.get("/review/sessions")
@page_user(permission=Permission.VIEW_SESSIONS)
def queue():
    """The queue of held sessions of the viewer's subtree, filterable, riskiest and oldest first."""
    return _render_queue()


@bp.get("/review/weekly")
@page_user(permission=Permission.VIEW_SESSIONS)
def weekly():
    """Sessions held, released and voided per week in the viewer's subtree (the last 12 weeks)."""
    return render_template("review/weekly.html", weeks=service.weekly_figures(current_user),
                           by_org=routing.figures_by_org(current_user, 90))


@bp.post("/review/sessions/decide")
@page_user(permission=Permission.REVIEW_SESSIONS)
def decide_batch():
    """Release or void the ticked sessions with one reason."""
    form = ReviewDecisionForm()
    if not form.validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("review.queue"))
    try:
        decided = service.decide_sessions(current_user, request.form.getlist("session_ids"), form.decision.data,
                                          form.reason.data)
        db.session.commit()
    except ServiceError as error:
        _show_error(form, error)
        return _render_queue(form, error.status)
    flash(_decided_message(decided), "success")
    return redirect(url_for("review.queue", **{k: v for k, v in request.args.items() if k != "page"}))


def _render_session(session_id: int, form: ReviewDecisionForm | None = None, status: int = 200):
    session = service.session_for_viewer(current_user, session_id)
    settings = tracking_settings()
    chart = chart_for(session, settings.allowed_rate)
    return render_template(
        "review/session.html", s=session, chart=chart, events=service.event_rows(session),
        others=service.other_sessions(session), same_address=service.same_address_accounts(current_user, session),
        decision=service.decision_for(session.id), can_decide=service.can_decide(current_user),
        form=form or ReviewDecisionForm(), hold_threshold=settings.hold_threshold), status


@bp.get("/review/sessions/<int:session_id>")
@page_user(permission=Permission.VIEW_SESSIONS)
def session_page(session_id: int):
    """One session: the chart of media position against real time, its facts, events and the decision."""
    return _render_session(session_id)


@bp.post("/review/sessions/<int:session_id>/decide")
@page_user(permission=Permission.REVIEW_SESSIONS)
def decide_one(session_id: int):
    """Release or void one held session."""
    form = ReviewDecisionForm()
    if not form.validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for("review.session_page", session_id=session_id))
    try:
        decided = service.decide_sessions(current_user, [session_id], form.decision.data, form.reason.data)
        db.session.commit()
    except ServiceError as error:
        _show_error(form, error)
        return _render_session(session_id, form, error.status)
    flash(_decided_message(decided), "success")
    return redirect(url_for("review.session_page", session_id=session_id))


def _show_error(form: ReviewDecisionForm, error: ServiceError) -> None:
    db.session.rollback()
    unmatched = attach_errors(form, error) if isinstance(error, InvalidInput) else [error.message]
    for message in unmatched:
        flash(message, "error")
    if isinstance(error, InvalidInput) and not unmatched:
        # The messages are beside their fields already; repeating them at the top showed each one twice.
        flash("审核未提交，请按表单中标出的提示修改。", "error")


def _decided_message(decided) -> str:
    outcome = decided[0].decision
    if outcome == ReviewOutcome.RELEASE:
        return f"已审核通过 {len(decided)} 条观看记录：其时长计入学时，学员的课件进度和课程学时已重新计算。"
    return f"已作废 {len(decided)} 条观看记录：其时长不计入学时，学员的课件进度和课程学时已重新计算。"


@bp.get("/my/watch-records")
@page_user(Role.LEARNER)
def my_records():
    """The learner's own playback sessions per courseware: time counted, review state and outcome."""
    records = service.learner_records(current_user)
    typical = routing.typical_review_seconds(current_user) if any(r.held_count for r in records) else None
    return render_template("review/my_records.html", records=records, typical_review_s=typical)
