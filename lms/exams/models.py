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
from lms.review.models import ReviewOutcome
from lms.tracking.models import HoldState


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
    # Integrity (lms.exams.integrity): when the server first sent the questions, where the attempt was started
    # from, and the evidence's risk score; a held attempt posts no hours until a reviewer releases it.
    shown_at: Mapped[dt.datetime | None]
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    device_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    risk_score: Mapped[int] = mapped_column(default=0)
    hold_state: Mapped[HoldState] = mapped_column(enum_column(HoldState), default=HoldState.NONE, index=True)
    held_at: Mapped[dt.datetime | None]

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
    first_saved_at: Mapped[dt.datetime | None]  # when the question was first answered (kept by later saves)

    __table_args__ = (sa.UniqueConstraint("attempt_id", "position", name="uq_exam_attempt_answers_attempt_position"),)


class AttemptEvent(db.Model):
    """One piece of evidence on an attempt (answers too fast, answers shared, a shared device, …), with its points."""

    __tablename__ = "exam_attempt_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_attempts.id"), index=True)
    type: Mapped[str] = mapped_column(sa.String(30))
    at: Mapped[dt.datetime]
    values: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    points: Mapped[int] = mapped_column(default=0)


class AttemptReviewDecision(db.Model):
    """A reviewer's decision on one held attempt. Never updated (a trigger refuses it); one per attempt."""

    __tablename__ = "attempt_review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_attempts.id"))
    decision: Mapped[ReviewOutcome] = mapped_column(enum_column(ReviewOutcome))
    reason: Mapped[str] = mapped_column(sa.String(500))
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    reviewer: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("attempt_id", name="uq_attempt_review_decisions_attempt"),)
