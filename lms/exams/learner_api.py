"""The learner's quiz through the JSON API (bearer token): the quiz's state, start, questions, answers, hand-in,
result. The same service functions as the pages, and the same integrity evidence (``lms.exams.integrity``):

- the reading times start when the server first sends the questions (``GET …/questions`` marks the attempt shown,
  as the attempt page does), and each question's time runs to its first saved answer;
- an answer is refused until the questions were sent, so a client cannot answer first and fetch later to make
  the spans look long; answers handed in with the submission are saved at that moment, as the page's sheet is;
- the address, the client's User-Agent and an optional device id are kept with the attempt for the shared-device
  and shared-address evidence; questions never carry which option is right.
"""

from __future__ import annotations

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.accounts.models import Role
from lms.core.auth import api_user
from lms.core.errors import Conflict, InvalidInput, ServiceError
from lms.exams import integrity, service
from lms.extensions import db
from lms.tracking.events import client_address
from lms.tracking.models import HoldState

blp = Blueprint("quiz_api", __name__, url_prefix="/api/v1/my", description="课程测验（学员）")
BEARER = [{"bearer": []}]
NOT_SHOWN = ("请先取得本次测验的题目（GET /api/v1/my/quiz-attempts/<编号>/questions）再作答："
             "每题的作答时间从题目发出时算起。")


class StartIn(Schema):
    device = fields.String(load_default=None, metadata={"description": "客户端设备标识（8–64 位字母数字），可选"})


class AnswerIn(Schema):
    choices = fields.Raw(required=True, metadata={"description": "所选选项的序号（从 0 起）列表，如 [0] 或 [0, 2]"})


class SubmitIn(Schema):
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=None,
                          metadata={"description": "可选：题号 → 选项序号列表；未填的按已保存的答案评分"})


def _attempt_json(attempt, moment) -> dict:
    return {"id": attempt.id, "course_id": attempt.course_id, "number": attempt.number,
            "state": "graded" if attempt.graded_at else "open",
            "started_at": attempt.started_at.isoformat() + "Z", "deadline_at": attempt.deadline_at.isoformat() + "Z",
            "remaining_seconds": service.remaining_seconds(attempt, moment),
            "question_count": len(attempt.questions),
            "questions_sent": attempt.shown_at is not None}


def _no_store(body, status: int = 200):
    return body, status, {"Cache-Control": "no-store"}


ATTEMPT_EXAMPLE = {"id": 9, "course_id": 3, "number": 1, "state": "open", "started_at": "2026-05-12T02:00:00Z",
                   "deadline_at": "2026-05-12T02:30:00Z", "remaining_seconds": 1795, "question_count": 10,
                   "questions_sent": False}


@blp.route("/courses/<int:course_id>/quiz", methods=["GET"])
@blp.doc(security=BEARER)
@blp.alt_response(200, description="测验规则、历次测验与能否开始", example={
    "course_id": 3, "course_title": "专业技术人员职业道德", "quiz": {
        "draw_count": 10, "pass_percent": 60, "time_limit_minutes": 30, "max_attempts": 3, "wait_minutes": 0,
        "is_open": True}, "attempts": [], "open_attempt_id": None, "passed": False, "may_start": True, "refusal": None})
@blp.alt_response(403, description="未选修该课程", example={"error": {"code": "forbidden",
                                                                  "message": "请先选修本课程，再参加测验。"}})
@api_user(Role.LEARNER)
def quiz_state(course_id: int):
    """The course's quiz for the caller: its rules, the attempts so far, and whether (or why not) one may start."""
    moment = service.now()
    state = service.learner_quiz(g.api_user, course_id, moment)
    db.session.commit()  # an attempt whose time ran out was just graded
    quiz = state.quiz
    return _no_store({
        "course_id": state.course.id, "course_title": state.course.title,
        "quiz": None if quiz is None else {"draw_count": quiz.draw_count, "pass_percent": quiz.pass_percent,
                                           "time_limit_minutes": quiz.time_limit_minutes,
                                           "max_attempts": quiz.max_attempts, "wait_minutes": quiz.wait_minutes,
                                           "is_open": quiz.is_open},
        "attempts": [_attempt_json(a, moment) | {"passed": a.passed, "score_percent": a.score_percent}
                     for a in state.attempts],
        "open_attempt_id": state.open_attempt.id if state.open_attempt else None,
        "passed": state.passed_attempt is not None,
        "may_start": state.refusal is None, "refusal": state.refusal})


@blp.route("/courses/<int:course_id>/quiz/attempts", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(StartIn, example={"device": "a1b2c3d4e5f6a7b8"})
@blp.alt_response(201, description="已开始（或返回进行中的一次）", example=ATTEMPT_EXAMPLE)
@blp.alt_response(403, description="测验未开放，或未达到观看要求", example={"error": {
    "code": "forbidden", "message": "请先完成课程的观看要求，再参加测验。"}})
@blp.alt_response(409, description="次数已用完、已通过、须等待间隔或题库看过太多", example={"error": {
    "code": "conflict", "message": "测验次数已用完（每人最多 3 次）。"}})
@api_user(Role.LEARNER)
def start(body, course_id: int):
    """Start an attempt (or resume the one in progress); its questions come from ``GET …/questions``."""
    moment = service.now()
    try:
        attempt = service.start_attempt(g.api_user, course_id, moment, ip=client_address(),
                                        user_agent=request.headers.get("User-Agent", ""), device=body["device"])
    except ServiceError:
        db.session.commit()  # as the page: the grading of an attempt whose time ran out is kept
        raise
    db.session.commit()
    return _no_store(_attempt_json(attempt, moment), 201)


@blp.route("/quiz-attempts/<int:attempt_id>", methods=["GET"])
@blp.doc(security=BEARER)
@blp.alt_response(200, description="测验状态", example=ATTEMPT_EXAMPLE)
@blp.alt_response(404, description="测验记录不存在（或不是本人的）")
@api_user(Role.LEARNER)
def attempt_state(attempt_id: int):
    """The attempt's state and seconds left (grading it first if its time ran out)."""
    moment = service.now()
    attempt = service.attempt_for_learner(g.api_user, attempt_id, moment)
    db.session.commit()
    return _no_store(_attempt_json(attempt, moment))


@blp.route("/quiz-attempts/<int:attempt_id>/questions", methods=["GET"])
@blp.doc(security=BEARER)
@blp.alt_response(200, description="题目（不含答案）与已保存的选择", example={
    "attempt": ATTEMPT_EXAMPLE, "questions": [{"number": 1, "kind": "single", "prompt": "继续教育学时每年不少于多少？",
                                               "options": ["60", "90", "120"], "chosen": []}]})
@blp.alt_response(409, description="本次测验已交卷")
@api_user(Role.LEARNER)
def questions(attempt_id: int):
    """The attempt's questions with the caller's saved choices; from this moment the reading times run."""
    moment = service.now()
    attempt = service.attempt_for_learner(g.api_user, attempt_id, moment)
    if attempt.graded_at is not None:
        db.session.commit()
        raise Conflict("本次测验已经交卷，请查看结果（GET /api/v1/my/quiz-attempts/<编号>/result）。")
    integrity.mark_shown(attempt, moment)
    db.session.commit()
    return _no_store({"attempt": _attempt_json(attempt, moment), "questions": [
        {"number": q.position, "kind": q.kind.value, "kind_label": q.kind.label, "prompt": q.prompt,
         "options": q.options, "chosen": q.chosen} for q in service.shown_questions(attempt)]})


def _shown_attempt(attempt_id: int, moment):
    attempt = service.attempt_for_learner(g.api_user, attempt_id, moment)
    db.session.commit()  # an attempt whose time ran out stays graded even though what follows is refused
    if attempt.graded_at is None and attempt.shown_at is None:
        raise Conflict(NOT_SHOWN)
    return attempt


@blp.route("/quiz-attempts/<int:attempt_id>/answers/<int:number>", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(AnswerIn, example={"choices": [1]})
@blp.alt_response(200, description="已保存", example={"saved": True, "question": 1, "choices": [1],
                                                   "remaining_seconds": 1700})
@blp.alt_response(409, description="尚未取得题目、已交卷或已超时", example={"error": {
    "code": "conflict", "message": "已超过答题时限，答案未保存；本次测验按时限内已保存的答案评分。"}})
@blp.alt_response(422, description="题号或选项无效", example={"error": {
    "code": "invalid_input", "message": "第 1 题是单选题，只能选一个答案。",
    "fields": {"choices": "第 1 题是单选题，只能选一个答案。"}}})
@api_user(Role.LEARNER)
def answer(body, attempt_id: int, number: int):
    """Save the answer to one question (its first saving is that question's answering time)."""
    moment = service.now()
    attempt = _shown_attempt(attempt_id, moment)
    choices = service.save_answer(g.api_user, attempt.id, number, body["choices"], moment)
    db.session.commit()
    return _no_store({"saved": True, "question": number, "choices": choices,
                      "remaining_seconds": service.remaining_seconds(attempt, moment)})


def _sheet(raw) -> dict[int, list] | None:
    if raw is None:
        return None
    sheet = {}
    for key, choices in raw.items():
        if not str(key).isdigit():
            raise InvalidInput({"answers": f"题号“{str(key)[:10]}”无效：应为从 1 起的整数。"})
        sheet[int(key)] = choices
    return sheet


@blp.route("/quiz-attempts/<int:attempt_id>/submit", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(SubmitIn, example={"answers": {"1": [1], "2": [0, 2]}})
@blp.alt_response(200, description="已交卷并评分（结果见 result）")
@api_user(Role.LEARNER)
def submit(body, attempt_id: int):
    """Hand in the attempt and grade it once; answers sent with it count only if in time."""
    moment = service.now()
    sheet = _sheet(body["answers"])
    attempt = _shown_attempt(attempt_id, moment) if sheet else service.attempt_for_learner(g.api_user, attempt_id,
                                                                                           moment)
    db.session.commit()
    service.submit_attempt(g.api_user, attempt.id, moment, sheet)
    db.session.commit()
    return _no_store(_result(attempt.id, moment))


def _result(attempt_id: int, moment) -> dict:
    result = service.attempt_result(g.api_user, attempt_id, moment)
    attempt, credit = result.attempt, result.credit
    return {"attempt": _attempt_json(attempt, moment), "passed": attempt.passed,
            "score_percent": attempt.score_percent, "correct_count": attempt.correct_count,
            "pass_percent": attempt.pass_percent, "closed_by": attempt.closed_by.value,
            "questions": [{"number": n, "prompt": prompt, "right": right} for n, prompt, right in result.questions],
            "held": attempt.hold_state == HoldState.HELD,
            "hold_reasons": integrity.hold_reasons(attempt.id) if attempt.hold_state == HoldState.HELD else [],
            "credit": None if credit is None else {"state": credit.state.value, "label": credit.state.label,
                                                   "hours": format(credit.hours, "f"), "year": credit.year}}


@blp.route("/quiz-attempts/<int:attempt_id>/result", methods=["GET"])
@blp.doc(security=BEARER)
@blp.alt_response(200, description="成绩", example={
    "attempt": ATTEMPT_EXAMPLE | {"state": "graded"}, "passed": True, "score_percent": 90, "correct_count": 9,
    "pass_percent": 60, "closed_by": "submitted", "questions": [{"number": 1, "prompt": "…", "right": True}],
    "held": False, "hold_reasons": [], "credit": {"state": "posted", "label": "已入账", "hours": "2.0", "year": 2026}})
@blp.alt_response(409, description="本次测验还没有交卷")
@api_user(Role.LEARNER)
def result(attempt_id: int):
    """A graded attempt's score, pass or fail, which questions were missed, and the state of the course's hours."""
    moment = service.now()
    service.attempt_for_learner(g.api_user, attempt_id, moment)
    db.session.commit()
    return _no_store(_result(attempt_id, moment))
