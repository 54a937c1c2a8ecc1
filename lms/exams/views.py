"""Pages of quizzes: the question bank and quiz settings for a base's admins; the quiz, attempt and result
pages for learners. Rules live in lms.exams.service; each view parses, authorises through it, and commits once.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.accounts.forms import show_refusal
from lms.accounts.models import Role
from lms.core.auth import page_user
from lms.core.errors import InvalidInput, ServiceError
from lms.core.xlsx import xlsx_download
from lms.courses.service import course_for_author
from lms.exams import integrity, service, xlsx
from lms.exams.forms import ActionForm, ImportForm, QuestionForm, SettingsForm
from lms.exams.models import QuestionKind
from lms.extensions import db
from lms.orgs.permissions import Permission
from lms.tracking.events import client_address
from lms.tracking.models import HoldState

bp = Blueprint("exams", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/exams")

EXPIRED_FORM = "页面已过期，请刷新后重试。"


def _no_store(response):
    response = Response(response) if isinstance(response, str) else response
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------------------ base admins


def _render_bank(course_id: int, *, settings_form: SettingsForm | None = None, import_problems=None,
                 import_message: str | None = None, status: int = 200):
    course, questions = service.bank(current_user, course_id)
    quiz = service.quiz_of(course.id)
    if settings_form is None:
        values = {name: getattr(quiz, name) for name in service.SETTINGS} if quiz else service.default_settings()
        settings_form = SettingsForm(formdata=None, data={name: str(value) for name, value in values.items()})
    return render_template(
        "exams/bank.html", course=course, questions=questions, quiz=quiz, settings_form=settings_form,
        import_form=ImportForm(formdata=None), problems=service.setting_problems(quiz, len(questions)),
        import_problems=import_problems, import_message=import_message, answer_letters=service.answer_letters,
        max_import_mb=xlsx.MAX_BYTES // 1024 // 1024, max_import_questions=xlsx.MAX_QUESTIONS,
        letters=service.OPTION_LETTERS,
        bank_warning=quiz and integrity.small_bank_warning(len(questions), quiz.draw_count, quiz.max_attempts),
    ), status


@bp.get("/base/courses/<int:course_id>/quiz")
@page_user(permission=Permission.MANAGE_COURSES)
def bank_page(course_id: int):
    """Show the course's question bank, the quiz settings and the spreadsheet import."""
    return _render_bank(course_id)


def _question_form_page(form: QuestionForm, course, question=None, status: int = 200):
    return render_template("exams/question_form.html", form=form, course=course, question=question,
                           letters=service.OPTION_LETTERS, option_field=service.option_field), status


@bp.route("/base/courses/<int:course_id>/questions/new", methods=["GET", "POST"])
@page_user(permission=Permission.MANAGE_COURSES)
def new_question(course_id: int):
    """Write a question into the course's bank."""
    course = course_for_author(current_user, course_id)
    form = QuestionForm()
    if form.validate_on_submit():
        try:
            service.add_question(current_user, course.id, form.data)
            db.session.commit()
        except ServiceError as error:
            show_refusal(form, error)
            return _question_form_page(form, course_for_author(current_user, course_id), status=error.status)
        flash("题目已添加。", "success")
        if request.form.get("next") == "another":
            return redirect(url_for("exams.new_question", course_id=course.id))
        return redirect(url_for("exams.bank_page", course_id=course.id, _anchor="questions"))
    if request.method == "POST":
        flash(EXPIRED_FORM, "error")
    return _question_form_page(form, course, status=400 if request.method == "POST" else 200)


@bp.route("/base/questions/<int:question_id>/edit", methods=["GET", "POST"])
@page_user(permission=Permission.MANAGE_COURSES)
def edit_question(question_id: int):
    """Change a question of the bank; attempts already drawn keep the version they drew."""
    question = service.question_for_author(current_user, question_id)
    form = QuestionForm(obj=question if request.method == "GET" else None)
    if request.method == "GET":
        form.kind.data = question.kind.value
        form.answer.data = service.answer_letters(question)
        if question.kind != QuestionKind.TRUE_FALSE:
            for index, text in enumerate(question.options):
                getattr(form, service.option_field(index)).data = text
    if form.validate_on_submit():
        try:
            service.update_question(current_user, question_id, form.data)
            db.session.commit()
        except ServiceError as error:
            show_refusal(form, error)
            question = service.question_for_author(current_user, question_id)
            return _question_form_page(form, question.course, question, error.status)
        flash("题目已保存。", "success")
        return redirect(url_for("exams.bank_page", course_id=question.course_id, _anchor=f"question-{question_id}"))
    if request.method == "POST":
        flash(EXPIRED_FORM, "error")
    return _question_form_page(form, question.course, question, 400 if request.method == "POST" else 200)


@bp.post("/base/questions/<int:question_id>/delete")
@page_user(permission=Permission.MANAGE_COURSES)
def delete_question(question_id: int):
    """Delete a question from the bank."""
    course_id = service.question_for_author(current_user, question_id).course_id
    if not ActionForm().validate_on_submit():
        flash(EXPIRED_FORM, "error")
    else:
        try:
            service.delete_question(current_user, question_id)
            db.session.commit()
            flash("题目已删除。", "success")
        except ServiceError as error:
            show_refusal(None, error)
    return redirect(url_for("exams.bank_page", course_id=course_id, _anchor="questions"))


@bp.get("/base/courses/<int:course_id>/questions/template.xlsx")
@page_user(permission=Permission.MANAGE_COURSES)
def import_template(course_id: int):
    """Download the spreadsheet template for importing questions."""
    course_for_author(current_user, course_id)
    return xlsx_download(xlsx.template_bytes(), "question-bank-template.xlsx", xlsx.TEMPLATE_FILENAME)


@bp.post("/base/courses/<int:course_id>/questions/import")
@page_user(permission=Permission.MANAGE_COURSES)
def import_questions(course_id: int):
    """Import questions from a filled-in template: every row checked, all or nothing."""
    course_for_author(current_user, course_id)
    form = ImportForm()
    if not form.validate_on_submit():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("exams.bank_page", course_id=course_id))
    upload = request.files.get("file")
    # Read one byte past the limit: enough to know the file is too big without holding a huge one in memory.
    data = upload.stream.read(xlsx.MAX_BYTES + 1) if upload else b""
    try:
        parsed, rows = xlsx.read_questions(data, upload.filename if upload else "")
        added = service.import_questions(current_user, course_id, parsed, rows)
        db.session.commit()
    except xlsx.ImportRejected as error:
        db.session.rollback()
        return _render_bank(course_id, import_problems=error.problems, import_message=error.message,
                            status=error.status)
    except ServiceError as error:
        db.session.rollback()
        return _render_bank(course_id, import_message=error.fields.get("file", error.message), status=error.status)
    flash(f"已导入 {len(added)} 道题目。", "success")
    return redirect(url_for("exams.bank_page", course_id=course_id, _anchor="questions"))


@bp.post("/base/courses/<int:course_id>/quiz/settings")
@page_user(permission=Permission.MANAGE_COURSES)
def save_settings(course_id: int):
    """Save the quiz settings: questions drawn, pass mark, time limit, attempts and the wait between them."""
    form = SettingsForm()
    if not form.validate_on_submit():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("exams.bank_page", course_id=course_id))
    try:
        service.save_settings(current_user, course_id, form.data)
        db.session.commit()
    except ServiceError as error:
        show_refusal(form, error)
        return _render_bank(course_id, settings_form=form, status=error.status)
    flash("测验设置已保存。", "success")
    return redirect(url_for("exams.bank_page", course_id=course_id, _anchor="settings"))


@bp.post("/base/courses/<int:course_id>/quiz/<any(open, close):action>")
@page_user(permission=Permission.MANAGE_COURSES)
def set_open(course_id: int, action: str):
    """Open the quiz to enrolled learners, or close it."""
    if not ActionForm().validate_on_submit():
        flash(EXPIRED_FORM, "error")
    else:
        try:
            service.set_open(current_user, course_id, action == "open")
            db.session.commit()
            flash("测验已开放，学员完成观看后即可参加。" if action == "open" else "测验已关闭，进行中的测验仍可交卷。",
                  "success")
        except ServiceError as error:
            show_refusal(None, error)
            return _render_bank(course_id, status=error.status)
    return redirect(url_for("exams.bank_page", course_id=course_id, _anchor="settings"))


# ------------------------------------------------------------------------------------------------ learners


@bp.get("/courses/<int:course_id>/quiz")
@page_user(Role.LEARNER)
def quiz_page(course_id: int):
    """Show the learner the course's quiz: its rules, past attempts and whether one may start now."""
    state = service.learner_quiz(current_user, course_id, service.now())
    db.session.commit()  # an attempt whose time ran out was just graded
    seen = state.quiz and state.attempts and integrity.exposure(current_user.id, state.quiz.id, state.course.id)
    return _no_store(render_template("exams/quiz.html", state=state, china_time=service.china_time, exposure=seen))


@bp.post("/courses/<int:course_id>/quiz/start")
@page_user(Role.LEARNER)
def start_attempt(course_id: int):
    """Start an attempt (or resume the one in progress)."""
    if not ActionForm().validate_on_submit():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("exams.quiz_page", course_id=course_id))
    try:
        attempt = service.start_attempt(current_user, course_id, service.now(), ip=client_address(),
                                        user_agent=request.headers.get("User-Agent", ""),
                                        device=request.form.get("device"))
        db.session.commit()
    except ServiceError as error:
        # A refusal writes nothing but the grading of an attempt whose time ran out, which is worth keeping.
        flash(error.message, "error")
        db.session.commit()
        return redirect(url_for("exams.quiz_page", course_id=course_id))
    return redirect(url_for("exams.attempt_page", attempt_id=attempt.id))


@bp.get("/quiz/attempts/<int:attempt_id>")
@page_user(Role.LEARNER)
def attempt_page(attempt_id: int):
    """Show an attempt's questions with the answers saved so far, or its result once graded."""
    moment = service.now()
    attempt = service.attempt_for_learner(current_user, attempt_id, moment)
    if attempt.graded_at is not None:
        db.session.commit()
        return redirect(url_for("exams.result_page", attempt_id=attempt.id))
    integrity.mark_shown(attempt, moment)  # the questions leave the server now: the reading times start here
    db.session.commit()
    return _no_store(render_template("exams/attempt.html", attempt=attempt,
                                     questions=service.shown_questions(attempt),
                                     remaining=service.remaining_seconds(attempt, moment),
                                     china_time=service.china_time, letters=service.OPTION_LETTERS))


def _submitted_answers(count: int) -> dict[int, list[int]] | None:
    if request.form.get("sheet") != "1":
        return None  # a bare submission (no answer sheet) is graded on what was saved
    answers = {}
    for position in range(1, count + 1):
        try:
            answers[position] = [int(value) for value in request.form.getlist(f"q{position}")]
        except ValueError:
            raise InvalidInput({"choices": f"第 {position} 题的答案不是有效的选项。"}) from None
    return answers


@bp.post("/quiz/attempts/<int:attempt_id>/submit")
@page_user(Role.LEARNER)
def submit_attempt(attempt_id: int):
    """Hand in the attempt and see the result."""
    if not ActionForm().validate_on_submit():
        flash(EXPIRED_FORM, "error")
        return redirect(url_for("exams.attempt_page", attempt_id=attempt_id))
    moment = service.now()
    attempt = service.attempt_for_learner(current_user, attempt_id, moment)
    db.session.commit()
    service.submit_attempt(current_user, attempt.id, moment, _submitted_answers(len(attempt.questions)))
    db.session.commit()
    return redirect(url_for("exams.result_page", attempt_id=attempt_id))


@bp.get("/quiz/attempts/<int:attempt_id>/result")
@page_user(Role.LEARNER)
def result_page(attempt_id: int):
    """Show an attempt's score, pass or fail, which questions were missed and the state of the course's hours."""
    moment = service.now()
    attempt = service.attempt_for_learner(current_user, attempt_id, moment)
    db.session.commit()
    if attempt.graded_at is None:
        return redirect(url_for("exams.attempt_page", attempt_id=attempt_id))
    result = service.attempt_result(current_user, attempt_id, moment)
    reasons = integrity.hold_reasons(attempt.id) if attempt.hold_state == HoldState.HELD else []
    return _no_store(render_template("exams/result.html", result=result, attempt=result.attempt,
                                     china_time=service.china_time, hold_reasons=reasons))
