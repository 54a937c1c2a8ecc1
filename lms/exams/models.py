"""Question banks, quiz settings and learners' attempts as the database keeps them.

An attempt keeps its own copy of the questions it drew (prompt, options in the order shown, the right options),
so a question edited or deleted later changes neither an attempt in progress nor a grade already given.
Grading is claimed by a conditional update of ``graded_at`` (``WHERE graded_at IS NULL``): of two concurrent
submissions the database lets exactly one through.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.courses.models import Course
from lms.extensions import db


class QuestionKind(enum.StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "true_false"

    @property
    def label(self) -> str:
        return {"single": "单选题", "multiple": "多选题", "true_false": "判断题"}[self.value]


class Question(db.Model):
    """One question of a course's bank; ``correct`` holds the indexes of the right options."""

    __tablename__ = "exam_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    kind: Mapped[QuestionKind] = mapped_column(enum_column(QuestionKind))
    prompt: Mapped[str] = mapped_column(sa.Text)
    options: Mapped[list] = mapped_column(sa.JSON)
    correct: Mapped[list] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship()


class Quiz(db.Model):
    """A course's quiz settings; learners see it only while ``is_open``."""

    __tablename__ = "exam_quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"), unique=True)
    draw_count: Mapped[int]
    pass_percent: Mapped[int]
    time_limit_minutes: Mapped[int]
    max_attempts: Mapped[int]
    wait_minutes: Mapped[int] = mapped_column(default=0)
    is_open: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship()


class ClosedBy(enum.StrEnum):
    SUBMITTED = "submitted"
    TIMED_OUT = "timed_out"  # the deadline passed before the learner submitted

    @property
    def label(self) -> str:
        return {"submitted": "已交卷", "timed_out": "超时自动交卷"}[self.value]


class Attempt(db.Model):
    """One learner's sitting of a quiz: the questions it drew, its deadline and, once graded, its result."""

    __tablename__ = "exam_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_quizzes.id"), index=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    number: Mapped[int]  # 1 for a learner's first attempt at this quiz; unique, so two concurrent starts clash
    # [{"question_id", "kind", "prompt", "options": [texts in the order shown], "order": [bank indexes shown],
    #   "correct": [positions in "options"]}], never sent to the browser as it is.
    questions: Mapped[list] = mapped_column(sa.JSON)
    pass_percent: Mapped[int]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[dt.datetime]
    last_saved_at: Mapped[dt.datetime | None]
    graded_at: Mapped[dt.datetime | None]
    closed_by: Mapped[ClosedBy | None] = mapped_column(enum_column(ClosedBy))
    correct_count: Mapped[int | None]
    score_percent: Mapped[int | None]
    passed: Mapped[bool | None]
    wrong_positions: Mapped[list | None] = mapped_column(sa.JSON)  # 1-based numbers of the questions missed

    user: Mapped[User] = relationship()
    quiz: Mapped[Quiz] = relationship()
    course: Mapped[Course] = relationship()

    __table_args__ = (sa.UniqueConstraint("quiz_id", "user_id", "number", name="uq_exam_attempts_quiz_user_number"),)


class AttemptAnswer(db.Model):
    """A learner's saved answer to one question of an attempt: positions of the options chosen, as shown."""

    __tablename__ = "exam_attempt_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_attempts.id"))
    position: Mapped[int]  # 1-based number of the question in the attempt
    choices: Mapped[list] = mapped_column(sa.JSON)
    saved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("attempt_id", "position", name="uq_exam_attempt_answers_attempt_position"),)
