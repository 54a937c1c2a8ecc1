"""The attempt page's JSON calls: save one answer as the learner goes, and read the attempt's state.

These are the browser's own calls, authenticated by the session cookie; CSRFProtect requires the page's token
in an ``X-CSRFToken`` header on every POST (this blueprint is not exempt). Under /api/, so errors come back
as JSON. Neither answer ever contains which option is right.
"""

from __future__ import annotations

import functools

from flask import Blueprint, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from lms.accounts.models import Role
from lms.core.auth import Unauthenticated
from lms.core.errors import InvalidInput, NotAllowed
from lms.exams import service
from lms.extensions import db

bp = Blueprint("exams_api", __name__, url_prefix="/api/v1/quiz")
CSRF_HEADER = "X-CSRFToken"


def session_learner(view):
    """Decorate a view for the learner's own page: a logged-in, approved learner (never a bearer token)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            raise Unauthenticated("请先登录。")
        if not current_user.is_approved or current_user.role != Role.LEARNER:
            raise NotAllowed("只有已通过审核的专业技术人员可以参加测验。")
        return view(*args, **kwargs)

    return wrapped


def _state(attempt, moment) -> dict:
    return {"id": attempt.id, "state": "graded" if attempt.graded_at else "open",
            "remaining_seconds": service.remaining_seconds(attempt, moment),
            "answers": {str(position): choices for position, choices in service.saved_answers(attempt.id).items()}}


def _json(body: dict, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    # A page's CSRF token lasts an hour and a quiz may last longer: each answer brings the page a fresh one.
    response.headers[CSRF_HEADER] = generate_csrf()
    return response


@bp.get("/attempts/<int:attempt_id>")
@session_learner
def attempt_state(attempt_id: int):
    """Return the attempt's state, the seconds left and the answers saved (grading it if its time ran out)."""
    moment = service.now()
    attempt = service.attempt_for_learner(current_user, attempt_id, moment)
    db.session.commit()
    return _json(_state(attempt, moment))


@bp.post("/attempts/<int:attempt_id>/answers")
@session_learner
def save_answer(attempt_id: int):
    """Save the answer to one question: {"question": 1-based number, "choices": [0-based option positions]}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput({"body": "请求体应为 JSON 对象，如 {\"question\": 1, \"choices\": [0]}。"})
    moment = service.now()
    attempt = service.attempt_for_learner(current_user, attempt_id, moment)
    db.session.commit()  # an attempt whose time ran out stays graded even though this save is refused
    choices = service.save_answer(current_user, attempt.id, body.get("question"), body.get("choices"), moment)
    db.session.commit()
    return _json({"saved": True, "question": body["question"], "choices": choices,
                  "remaining_seconds": service.remaining_seconds(attempt, moment)})
