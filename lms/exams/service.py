"""Rules of course quizzes: question banks (authored by the course's base), quiz settings, attempts and grading.

A quiz opens to a learner only once every courseware of the course meets its watch requirement (SPEC §5,
学时管理办法 第十四条: hours are posted when both the watching and the quiz are done). Each attempt draws its own
questions and shuffles their options on the server; the right options never leave the server, not even in the
result, which says only the score and which questions were missed. The server is the clock: answers saved after
the deadline are refused, and an attempt past its deadline is graded on what was saved in time the next time
anything touches it. Passing posts the course's hours through ``lms.ledger.service.credit_course`` in the same
transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import unicodedata

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import User
from lms.core import clock
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.validation import clean_text
from lms.courses import service as courses
from lms.courses.models import Course
from lms.exams import integrity
from lms.exams.models import Attempt, AttemptAnswer, ClosedBy, Question, QuestionKind, Quiz
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import CourseCredit

PROMPT_MAX = 1000
OPTION_MAX = 200
OPTION_LETTERS = "ABCDEFGH"
TRUE_FALSE_OPTIONS = ("正确", "错误")
KIND_BY_NAME = {
    "单选题": QuestionKind.SINGLE, "单选": QuestionKind.SINGLE, "single": QuestionKind.SINGLE,
    "多选题": QuestionKind.MULTIPLE, "多选": QuestionKind.MULTIPLE, "multiple": QuestionKind.MULTIPLE,
    "判断题": QuestionKind.TRUE_FALSE, "判断": QuestionKind.TRUE_FALSE, "true_false": QuestionKind.TRUE_FALSE,
}
TRUE_WORDS = {"正确", "对", "是", "√", "✓", "T", "TRUE", "Y", "YES"}
FALSE_WORDS = {"错误", "错", "否", "×", "✗", "X", "F", "FALSE", "N", "NO"}
ANSWER_SEPARATORS = " ,，、;；/"

# Ranges of the quiz settings: (label, minimum, maximum, default).
SETTINGS = {
    "draw_count": ("每次抽题数", 1, 200, 10),
    "pass_percent": ("及格分数线（百分制）", 1, 100, 60),
    "time_limit_minutes": ("答题时限（分钟）", 1, 300, 30),
    "max_attempts": ("测验次数上限", 1, 20, 3),
    "wait_minutes": ("两次测验的间隔（分钟）", 0, 7 * 24 * 60, 0),
}
NOT_WATCHED = "须先完成全部课件的观看要求，才能参加测验。"
NOT_OPEN = "本课程的测验尚未开放。"

_random = random.SystemRandom()


def now() -> dt.datetime:
    """The current UTC time (naive), or the app's test clock ``LMS_EXAMS_CLOCK`` when one is set."""
    clock = current_app.config.get("LMS_EXAMS_CLOCK")
    return clock() if clock else utcnow()


def china_time(moment: dt.datetime) -> str:
    """Format a naive UTC moment as Beijing time for messages."""
    return clock.china_time(moment, "%Y-%m-%d %H:%M")


# ------------------------------------------------------------------------------------------------ questions


@dataclasses.dataclass(frozen=True)
class QuestionInput:
    """A question as an author wrote it, checked: options in order, ``correct`` their 0-based indexes."""

    kind: QuestionKind
    prompt: str
    options: list[str]
    correct: list[int]


def option_field(index: int) -> str:
    """Name the form field (and spreadsheet column) of the option at ``index``: option_a … option_h."""
    return f"option_{OPTION_LETTERS[index].lower()}"


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet stores the option "3" as 3.0
    return clean_text(value)


def _text_problem(value: str, label: str, max_length: int) -> str | None:
    if len(value) > max_length:
        return f"{label}不能超过 {max_length} 个字符（当前 {len(value)} 个）。"
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
        return f"{label}含有不可见的控制字符。"
    return None


def parse_question(kind_raw, prompt_raw, option_raws, answer_raw) -> tuple[QuestionInput | None, dict[str, str]]:
    """Check one question (from the page form or a spreadsheet row); return it, or the problems per field.

    Fields: ``kind``, ``prompt``, ``option_a``…``option_h``, ``answer``. Answers of choice questions are option
    letters ("A", "AC", "A,C"); of true/false questions 正确/错误 (also 对/错, √/×, T/F).
    """
    problems: dict[str, str] = {}
    kind_text = _cell_text(kind_raw)
    kind = KIND_BY_NAME.get(kind_text) or KIND_BY_NAME.get(kind_text.lower())
    if kind is None:
        problems["kind"] = f"题型“{kind_text}”无法识别：请填写单选题、多选题或判断题。" if kind_text else \
            "请填写题型：单选题、多选题或判断题。"

    prompt = _cell_text(prompt_raw).replace("\r\n", "\n")
    if not prompt:
        problems["prompt"] = "请填写题干。"
    elif problem := _text_problem(prompt, "题干", PROMPT_MAX):
        problems["prompt"] = problem

    raws = list(option_raws or [])[:len(OPTION_LETTERS)]
    texts = [_cell_text(raw) for raw in raws] + [""] * (len(OPTION_LETTERS) - len(raws))
    last_filled = max((i for i, text in enumerate(texts) if text), default=-1)
    options = texts[:last_filled + 1]
    for index, text in enumerate(options):
        letter = OPTION_LETTERS[index]
        if not text:
            problems[option_field(index)] = (f"选项{letter}为空，但后面还有选项：请从选项 A 起连续填写。")
        elif problem := _text_problem(text, f"选项{letter}", OPTION_MAX):
            problems[option_field(index)] = problem
        elif text in options[:index]:
            problems[option_field(index)] = f"选项{letter}与选项{OPTION_LETTERS[options.index(text)]}相同。"

    answer_text = unicodedata.normalize("NFKC", _cell_text(answer_raw)).upper()
    correct: list[int] = []
    if kind == QuestionKind.TRUE_FALSE:
        if options:
            problems[option_field(0)] = "判断题不填写选项（固定为“正确”“错误”）；如需自定义选项，请改为单选题。"
        if answer_text in TRUE_WORDS:
            correct = [0]
        elif answer_text in FALSE_WORDS:
            correct = [1]
        else:
            problems["answer"] = (f"判断题的正确答案“{answer_text}”无法识别：请填写“正确”或“错误”。" if answer_text
                                  else "请填写正确答案：判断题填“正确”或“错误”。")
        options = list(TRUE_FALSE_OPTIONS)
    elif kind is not None:
        minimum = 2 if kind == QuestionKind.SINGLE else 3
        if len(options) < minimum:
            problems.setdefault(option_field(len(options)) if len(options) < len(OPTION_LETTERS) else "answer",
                                f"{kind.label}至少需要 {minimum} 个选项（当前 {len(options)} 个）。")
        letters = [c for c in answer_text if c not in ANSWER_SEPARATORS]
        last_letter = OPTION_LETTERS[max(len(options) - 1, 0)]
        if not letters:
            problems["answer"] = "请填写正确答案：填写选项字母，如 A；多选题如 AC。"
        elif any(c not in OPTION_LETTERS for c in letters):
            problems["answer"] = f"正确答案“{answer_text}”应为选项字母（A–{last_letter}），如 A；多选题如 AC。"
        else:
            correct = sorted({OPTION_LETTERS.index(c) for c in letters})
            outside = [OPTION_LETTERS[i] for i in correct if i >= len(options)]
            if outside:
                problems["answer"] = (f"正确答案中的 {'、'.join(outside)} 不在选项中"
                                      f"（本题只有 A–{last_letter} 共 {len(options)} 个选项）。")
            elif kind == QuestionKind.SINGLE and len(correct) != 1:
                problems["answer"] = f"单选题只能有一个正确答案（填写了 {''.join(letters)}）；多个答案请改为多选题。"
            elif kind == QuestionKind.MULTIPLE and len(correct) < 2:
                problems["answer"] = "多选题至少要有两个正确答案；只有一个正确答案请改为单选题。"
    if problems:
        return None, problems
    return QuestionInput(kind=kind, prompt=prompt, options=options, correct=correct), {}


def answer_letters(question: Question) -> str:
    """The right answer as an author writes it: option letters, or 正确/错误 for a true/false question."""
    if question.kind == QuestionKind.TRUE_FALSE:
        return TRUE_FALSE_OPTIONS[question.correct[0]]
    return "".join(OPTION_LETTERS[i] for i in question.correct)


def bank(actor: User, course_id: int) -> tuple[Course, list[Question]]:
    """Return a course its base's admin may author and the questions of its bank, oldest first."""
    course = courses.course_for_author(actor, course_id)
    questions = db.session.scalars(sa.select(Question).where(Question.course_id == course.id)
                                   .order_by(Question.id)).all()
    return course, list(questions)


def bank_size(course_id: int) -> int:
    """Count the questions in the course's bank."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Question)
                             .where(Question.course_id == course_id)) or 0


def question_for_author(actor: User, question_id: int) -> Question:
    """Load a question its course's base admin may edit; anyone else is refused."""
    question = db.session.get(Question, question_id)
    if question is None:
        raise NotFound("题目不存在。")
    courses.course_for_author(actor, question.course_id)
    return question


def _form_question(data: dict) -> QuestionInput:
    parsed, problems = parse_question(data.get("kind"), data.get("prompt"),
                                      [data.get(option_field(i)) for i in range(len(OPTION_LETTERS))],
                                      data.get("answer"))
    if problems:
        raise InvalidInput(problems)
    return parsed


def _duplicate_problem(course_id: int, parsed: QuestionInput, except_id: int | None = None) -> str | None:
    query = sa.select(Question.id).where(Question.course_id == course_id, Question.kind == parsed.kind,
                                         Question.prompt == parsed.prompt)
    if except_id is not None:
        query = query.where(Question.id != except_id)
    return "题库中已有题干相同的同类题目。" if db.session.scalar(query.limit(1)) else None


def add_question(actor: User, course_id: int, data: dict) -> Question:
    """Add a question written in the page form to the course's bank; the caller commits."""
    course = courses.course_for_author(actor, course_id)
    parsed = _form_question(data)
    if problem := _duplicate_problem(course.id, parsed):
        raise InvalidInput({"prompt": problem})
    question = Question(course_id=course.id, kind=parsed.kind, prompt=parsed.prompt, options=parsed.options,
                        correct=parsed.correct)
    db.session.add(question)
    db.session.flush()
    return question


def update_question(actor: User, question_id: int, data: dict) -> Question:
    """Change a question; attempts already drawn keep the version they drew. The caller commits."""
    question = question_for_author(actor, question_id)
    parsed = _form_question(data)
    if problem := _duplicate_problem(question.course_id, parsed, except_id=question.id):
        raise InvalidInput({"prompt": problem})
    question.kind, question.prompt = parsed.kind, parsed.prompt
    question.options, question.correct = parsed.options, parsed.correct
    db.session.flush()
    return question


def delete_question(actor: User, question_id: int) -> int:
    """Delete a question unless an open quiz would then draw more questions than the bank has; return its course."""
    question = question_for_author(actor, question_id)
    quiz = quiz_of(question.course_id)
    remaining = bank_size(question.course_id) - 1
    if quiz is not None and quiz.is_open and remaining < quiz.draw_count:
        raise Conflict(f"测验已开放，每次抽取 {quiz.draw_count} 题，删除后题库只剩 {remaining} 题。"
                       "请先减少每次抽题数或关闭测验，再删除。")
    course_id = question.course_id
    db.session.delete(question)
    db.session.flush()
    return course_id


def import_questions(actor: User, course_id: int, parsed: list[QuestionInput],
                     row_numbers: list[int]) -> list[Question]:
    """Add questions read from a spreadsheet, all or none: a row that repeats the bank refuses the whole file."""
    from lms.exams.xlsx import ImportRejected, RowProblem

    course = courses.course_for_author(actor, course_id)
    existing = set(db.session.execute(sa.select(Question.kind, Question.prompt)
                                      .where(Question.course_id == course.id)).all())
    problems = [RowProblem(row, "prompt", "题库中已有题干相同的同类题目。")
                for question, row in zip(parsed, row_numbers, strict=True)
                if (question.kind, question.prompt) in existing]
    if problems:
        raise ImportRejected(problems)
    questions = [Question(course_id=course.id, kind=q.kind, prompt=q.prompt, options=q.options, correct=q.correct)
                 for q in parsed]
    db.session.add_all(questions)
    db.session.flush()
    return questions


# ------------------------------------------------------------------------------------------------ quiz settings


def quiz_of(course_id: int) -> Quiz | None:
    """Return the course's quiz settings, or None before they are first saved."""
    return db.session.scalar(sa.select(Quiz).where(Quiz.course_id == course_id))


def default_settings() -> dict[str, int]:
    """Return the settings a new quiz form starts with."""
    return {name: default for name, (_label, _low, _high, default) in SETTINGS.items()}


def _parse_settings(data: dict) -> dict[str, int]:
    values, problems = {}, {}
    for name, (label, low, high, _default) in SETTINGS.items():
        raw = data.get(name)
        text = "" if raw is None else unicodedata.normalize("NFKC", str(raw)).strip()
        if not text:
            problems[name] = f"请填写{label}。"
            continue
        try:
            value = int(text)
        except ValueError:
            problems[name] = f"{label}应为整数。"
            continue
        if not low <= value <= high:
            problems[name] = f"{label}应在 {low}–{high} 之间。"
        values[name] = value
    if problems:
        raise InvalidInput(problems)
    return values


def _draw_problem(draw_count: int, size: int) -> str | None:
    if size == 0:
        return "题库还没有题目，请先添加或导入题目。"
    if draw_count > size:
        return f"每次抽题数（{draw_count}）不能超过题库题目数（{size}）。"
    return None


def save_settings(actor: User, course_id: int, data: dict) -> Quiz:
    """Create or change a course's quiz settings; an open quiz must still be able to draw. The caller commits."""
    course = courses.course_for_author(actor, course_id)
    values = _parse_settings(data)
    quiz = quiz_of(course.id)
    if quiz is not None and quiz.is_open:
        if problem := _draw_problem(values["draw_count"], bank_size(course.id)):
            raise InvalidInput({"draw_count": problem + "（测验已开放）"})
    if quiz is None:
        quiz = Quiz(course_id=course.id, is_open=False, **values)
        db.session.add(quiz)
    else:
        for name, value in values.items():
            setattr(quiz, name, value)
    db.session.flush()
    return quiz


def set_open(actor: User, course_id: int, is_open: bool) -> Quiz:
    """Open the quiz to learners (checking it can draw) or close it; attempts in progress may finish."""
    course = courses.course_for_author(actor, course_id)
    quiz = quiz_of(course.id)
    if quiz is None:
        raise Conflict("请先保存测验设置，再开放测验。")
    if is_open:
        if problem := _draw_problem(quiz.draw_count, bank_size(course.id)):
            raise Conflict(f"测验不能开放：{problem}")
    quiz.is_open = is_open
    db.session.flush()
    return quiz


def setting_problems(quiz: Quiz | None, size: int) -> list[str]:
    """Say what keeps the quiz from opening, for the base's page."""
    if quiz is None:
        return ["还没有保存测验设置。"]
    problem = _draw_problem(quiz.draw_count, size)
    return [problem] if problem else []


# ------------------------------------------------------------------------------------------------ attempts


@dataclasses.dataclass(frozen=True)
class LearnerQuiz:
    """What the learner's quiz page shows: the quiz, past attempts, and whether (or why not) one may start."""

    course: Course
    quiz: Quiz | None
    attempts: list[Attempt]
    open_attempt: Attempt | None
    passed_attempt: Attempt | None
    credit: CourseCredit | None
    refusal: str | None  # why a new attempt cannot start now; None when it can


def _course_of_learner(user: User, course_id: int) -> Course:
    course = courses.course_for_learner(user, course_id)
    if not courses.is_enrolled(user, course):
        raise NotAllowed("请先选修本课程，再参加测验。")
    return course


def _attempts(user_id: int, quiz_id: int) -> list[Attempt]:
    return list(db.session.scalars(sa.select(Attempt).where(Attempt.user_id == user_id, Attempt.quiz_id == quiz_id)
                                   .order_by(Attempt.number)))


def _ended_at(attempt: Attempt) -> dt.datetime:
    return min(attempt.graded_at, attempt.deadline_at)


def course_credit(user_id: int, course_id: int) -> CourseCredit | None:
    """Return the learner's claim to the course's hours (posted, held or voided), if they passed its quiz."""
    return db.session.scalar(sa.select(CourseCredit).where(CourseCredit.user_id == user_id,
                                                           CourseCredit.course_id == course_id))


def learner_quiz(user: User, course_id: int, moment: dt.datetime) -> LearnerQuiz:
    """Return the learner's view of a course's quiz, first grading any attempt whose time ran out."""
    course = _course_of_learner(user, course_id)
    quiz = quiz_of(course.id)
    if quiz is None:
        return LearnerQuiz(course, None, [], None, None, None, NOT_OPEN)
    attempts = _attempts(user.id, quiz.id)
    for attempt in attempts:
        close_if_expired(attempt, moment)
    open_attempt = next((a for a in attempts if a.graded_at is None), None)
    passed_attempt = next((a for a in attempts if a.passed), None)
    return LearnerQuiz(course, quiz, attempts, open_attempt, passed_attempt, course_credit(user.id, course.id),
                       _refusal(user, course, quiz, attempts, moment))


def _refusal(user: User, course: Course, quiz: Quiz, attempts: list[Attempt], moment: dt.datetime) -> str | None:
    if any(a.graded_at is None for a in attempts):
        return None  # the attempt in progress is resumed, even if the quiz was closed since it started
    if not quiz.is_open:
        return NOT_OPEN
    if not ledger.watch_requirement_met(user.id, course):
        return NOT_WATCHED
    if any(a.passed for a in attempts):
        return "您已通过本课程测验。"
    if len(attempts) >= quiz.max_attempts:
        return f"测验次数已用完（每人最多 {quiz.max_attempts} 次）。"
    if attempts and (refusal := integrity.exposure_refusal(integrity.exposure(user.id, quiz.id, course.id))):
        return refusal
    if attempts and quiz.wait_minutes:
        next_at = _ended_at(attempts[-1]) + dt.timedelta(minutes=quiz.wait_minutes)
        if moment < next_at:
            return f"两次测验之间须间隔 {quiz.wait_minutes} 分钟，请于 {china_time(next_at)}（北京时间）后再试。"
    if _draw_problem(quiz.draw_count, bank_size(course.id)):
        return "题库题目不足，暂时不能测验，请联系开课基地。"
    return None


def _draw(course_id: int, count: int) -> list[dict]:
    questions = db.session.scalars(sa.select(Question).where(Question.course_id == course_id)).all()
    drawn = []
    for question in _random.sample(list(questions), count):
        order = list(range(len(question.options)))
        if question.kind != QuestionKind.TRUE_FALSE:  # 正确 before 错误 reads naturally and hides nothing
            _random.shuffle(order)
        drawn.append({"question_id": question.id, "kind": question.kind.value, "prompt": question.prompt,
                      "options": [question.options[i] for i in order], "order": order,
                      "correct": sorted(order.index(i) for i in question.correct)})
    return drawn


def start_attempt(user: User, course_id: int, moment: dt.datetime, *, ip: str = "", user_agent: str = "",
                  device=None) -> Attempt:
    """Start an attempt (or return the one in progress): draw its questions and set its deadline. Caller commits.

    Where it was started from (address, browser, the page's device id) is kept for the integrity evidence.
    """
    state = learner_quiz(user, course_id, moment)
    if state.refusal:
        refused = NotAllowed if state.refusal in (NOT_OPEN, NOT_WATCHED) else Conflict
        raise refused(state.refusal)
    if state.open_attempt is not None:
        return state.open_attempt
    quiz = state.quiz
    attempt = Attempt(quiz_id=quiz.id, course_id=quiz.course_id, user_id=user.id, number=len(state.attempts) + 1,
                      questions=_draw(quiz.course_id, quiz.draw_count), pass_percent=quiz.pass_percent,
                      started_at=moment, deadline_at=moment + dt.timedelta(minutes=quiz.time_limit_minutes),
                      ip=(ip or "")[:45], user_agent=(user_agent or "")[:300], device_id=integrity.clean_device(device))
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except IntegrityError:
        # Another request started this attempt number at the same moment: resume that one.
        existing = db.session.scalar(sa.select(Attempt).where(Attempt.quiz_id == quiz.id, Attempt.user_id == user.id,
                                                              Attempt.number == attempt.number))
        if existing is None:
            raise
        return existing
    integrity.on_start(attempt, state.attempts[-1] if state.attempts else None, moment)
    return attempt


def attempt_for_learner(user: User, attempt_id: int, moment: dt.datetime) -> Attempt:
    """Load the learner's own attempt (anyone else's is not found), grading it first if its time ran out."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        raise NotFound("测验记录不存在。")
    close_if_expired(attempt, moment)
    return attempt


def close_if_expired(attempt: Attempt, moment: dt.datetime) -> bool:
    """Grade an attempt whose deadline passed unsubmitted, on the answers saved in time; True if this call did."""
    if attempt.graded_at is None and moment >= attempt.deadline_at:
        return _grade(attempt, moment, ClosedBy.TIMED_OUT)
    return False


@dataclasses.dataclass(frozen=True)
class ShownQuestion:
    """A question as the learner sees it: no trace of which option is right."""

    position: int
    kind: QuestionKind
    prompt: str
    options: list[str]
    chosen: list[int]


def saved_answers(attempt_id: int) -> dict[int, list[int]]:
    """Return the attempt's saved answers: question number → positions of the options chosen."""
    rows = db.session.execute(sa.select(AttemptAnswer.position, AttemptAnswer.choices)
                              .where(AttemptAnswer.attempt_id == attempt_id)).all()
    return {position: list(choices) for position, choices in rows}


def shown_questions(attempt: Attempt) -> list[ShownQuestion]:
    """The attempt's questions with the learner's saved choices, for the attempt page."""
    answers = saved_answers(attempt.id)
    return [ShownQuestion(position=position, kind=QuestionKind(q["kind"]), prompt=q["prompt"],
                          options=list(q["options"]), chosen=answers.get(position, []))
            for position, q in enumerate(attempt.questions, start=1)]


def remaining_seconds(attempt: Attempt, moment: dt.datetime) -> int:
    """Return the whole seconds left before the attempt's deadline (0 once graded or late)."""
    if attempt.graded_at is not None:
        return 0
    return max(0, int((attempt.deadline_at - moment).total_seconds()))


def _check_choices(attempt: Attempt, position, choices) -> tuple[int, list[int]]:
    count = len(attempt.questions)
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= count:
        raise InvalidInput({"question": f"题号应为 1–{count} 之间的整数。"})
    question = attempt.questions[position - 1]
    kind, option_count = QuestionKind(question["kind"]), len(question["options"])
    if not isinstance(choices, list) or any(isinstance(c, bool) or not isinstance(c, int) for c in choices):
        raise InvalidInput({"choices": "所选答案应为选项序号的列表，如 [0]。"})
    if any(not 0 <= c < option_count for c in choices):
        raise InvalidInput({"choices": f"第 {position} 题只有 {option_count} 个选项，所选答案不在其中。"})
    if len(set(choices)) != len(choices):
        raise InvalidInput({"choices": f"第 {position} 题的答案中有重复的选项。"})
    if kind != QuestionKind.MULTIPLE and len(choices) > 1:
        raise InvalidInput({"choices": f"第 {position} 题是{kind.label}，只能选一个答案。"})
    return position, sorted(choices)


def _upsert_answer(attempt_id: int, position: int, choices: list[int], moment: dt.datetime) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # first_saved_at is the question's answering time for the integrity rules: later changes keep it.
    statement = insert(AttemptAnswer).values(attempt_id=attempt_id, position=position, choices=choices,
                                             saved_at=moment, first_saved_at=moment)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["attempt_id", "position"],
        set_={"choices": statement.excluded.choices, "saved_at": statement.excluded.saved_at}))


def save_answer(user: User, attempt_id: int, position, choices, moment: dt.datetime) -> list[int]:
    """Save the learner's answer to one question while the attempt is open and in time. The caller commits.

    The conditional update takes the attempt's row (``graded_at IS NULL AND deadline_at > now``), so a save
    and a grading of the same attempt never interleave, and nothing is saved after the deadline.
    """
    attempt = attempt_for_learner(user, attempt_id, moment)
    position, choices = _check_choices(attempt, position, choices)
    _claim_for_saving(attempt, moment)
    _upsert_answer(attempt.id, position, choices, moment)
    return choices


def _claim_for_saving(attempt: Attempt, moment: dt.datetime) -> None:
    claimed = db.session.execute(
        sa.update(Attempt).where(Attempt.id == attempt.id, Attempt.graded_at.is_(None), Attempt.deadline_at > moment)
        .values(last_saved_at=moment).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        db.session.refresh(attempt)
        if attempt.closed_by == ClosedBy.SUBMITTED:
            raise Conflict("本次测验已经交卷，答案不能再修改。")
        raise Conflict("已超过答题时限，答案未保存；本次测验按时限内已保存的答案评分。")


def submit_attempt(user: User, attempt_id: int, moment: dt.datetime,
                   answers: dict[int, list[int]] | None = None) -> Attempt:
    """Hand in an attempt and grade it, once; answers sent with the submission count only if in time.

    A submission after the deadline, or one that arrives after another submission of the same attempt, changes
    nothing: the attempt is graded once, on what was saved in time. The caller commits.
    """
    attempt = attempt_for_learner(user, attempt_id, moment)
    if attempt.graded_at is not None:
        return attempt
    if answers:
        checked = [_check_choices(attempt, position, choices) for position, choices in sorted(answers.items())]
        try:
            _claim_for_saving(attempt, moment)
        except Conflict:
            if attempt.graded_at is not None:  # a concurrent submission graded it first
                return attempt
            raise
        for position, choices in checked:
            _upsert_answer(attempt.id, position, choices, moment)
    _grade(attempt, moment, ClosedBy.SUBMITTED)
    return attempt


def _grade(attempt: Attempt, moment: dt.datetime, closed_by: ClosedBy) -> bool:
    # Claim the grading in the database: of concurrent graders exactly one updates the row; the others wait for
    # its commit (PostgreSQL row lock, SQLite's single writer) and then find graded_at set.
    claimed = db.session.execute(
        sa.update(Attempt).where(Attempt.id == attempt.id, Attempt.graded_at.is_(None))
        .values(graded_at=moment, closed_by=closed_by).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(attempt)
    if claimed != 1:
        return False
    answers = saved_answers(attempt.id)
    wrong = [position for position, question in enumerate(attempt.questions, start=1)
             if sorted(answers.get(position, [])) != sorted(question["correct"])]
    total = len(attempt.questions)
    attempt.correct_count = total - len(wrong)
    attempt.score_percent = attempt.correct_count * 100 // total
    attempt.passed = attempt.correct_count * 100 >= attempt.pass_percent * total
    attempt.wrong_positions = wrong
    db.session.flush()
    integrity.on_graded(attempt, moment)  # before the credit: a held attempt posts nothing
    if attempt.passed:
        earned_at = min(moment, attempt.deadline_at)
        ledger.credit_course(attempt.user, attempt.course, attempt_id=attempt.id, now=earned_at)
    return True


@dataclasses.dataclass(frozen=True)
class AttemptResult:
    """What the learner learns after an attempt: score, pass or fail, the numbers of the questions missed."""

    attempt: Attempt
    questions: list[tuple[int, str, bool]]  # (position, prompt, answered right)
    credit: CourseCredit | None


def attempt_result(user: User, attempt_id: int, moment: dt.datetime) -> AttemptResult:
    """Return a graded attempt's result (grading it first if its time ran out); an open attempt is a conflict."""
    attempt = attempt_for_learner(user, attempt_id, moment)
    if attempt.graded_at is None:
        raise Conflict("本次测验还没有交卷。")
    wrong = set(attempt.wrong_positions or [])
    questions = [(position, q["prompt"], position not in wrong)
                 for position, q in enumerate(attempt.questions, start=1)]
    return AttemptResult(attempt, questions, course_credit(user.id, attempt.course_id))


# ------------------------------------------------------------------------------------------------ attention checks


def attention_question(course_id: int) -> dict | None:
    """Pick a random single-choice or true/false question of the course for an attention check during playback.

    Returns {"prompt", "options", "answer": index of the right option in "options"} (options shuffled for a
    single-choice question), or None when the bank has none.
    """
    questions = db.session.scalars(sa.select(Question).where(
        Question.course_id == course_id, Question.kind.in_([QuestionKind.SINGLE, QuestionKind.TRUE_FALSE]))).all()
    if not questions:
        return None
    question = _random.choice(list(questions))
    order = list(range(len(question.options)))
    if question.kind == QuestionKind.SINGLE:
        _random.shuffle(order)
    return {"prompt": question.prompt, "options": [question.options[i] for i in order],
            "answer": order.index(question.correct[0])}
