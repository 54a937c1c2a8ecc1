"""The ledger as the database keeps it.

``LedgerEntry`` rows are never updated (a trigger refuses it) and never deleted in production; a correction is a
new entry with a reason. Exactly-once posting is the unique constraint on (source_type, source_id, purpose,
category): a second posting of the same source, from a retry or a concurrent submission, fails in the database.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.courses.models import Category, Course
from lms.extensions import db

HOURS = sa.Numeric(6, 1)


class SourceType(enum.StrEnum):
    COURSE = "course"  # source_id: CourseCredit.id
    DECLARATION = "declaration"  # source_id: the declaration's id
    ADJUSTMENT = "adjustment"  # source_id: LedgerAdjustment.id (corrections, 第二十一条 voiding)
    TRAINING = "training"  # source_id: TrainingAttendee.id (a training declared with a roster, lms.plans)

    @property
    def label(self) -> str:
        return {"course": "网络课程", "declaration": "学时申报", "adjustment": "更正",
                "training": "培训申报"}[self.value]


class Purpose(enum.StrEnum):
    CREDIT = "credit"  # hours earned
    REVERSAL = "reversal"  # takes back what one source posted (a voided declaration, a voided course)


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    year: Mapped[int]
    category: Mapped[Category] = mapped_column(enum_column(Category))
    hours: Mapped[decimal.Decimal] = mapped_column(HOURS)  # negative for reversals and voiding
    source_type: Mapped[SourceType] = mapped_column(enum_column(SourceType))
    source_id: Mapped[int]
    purpose: Mapped[Purpose] = mapped_column(enum_column(Purpose), default=Purpose.CREDIT)
    kind: Mapped[str | None] = mapped_column(sa.String(40))  # the rule-set kind of a declaration
    earned_on: Mapped[dt.date]  # the (China) date the hours were earned: it decides the year (第十八条)
    description: Mapped[str] = mapped_column(sa.String(200))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    posted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: posted by the platform
    posted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    posted_by: Mapped[User | None] = relationship(foreign_keys=[posted_by_id])

    __table_args__ = (
        sa.UniqueConstraint("source_type", "source_id", "purpose", "category", name="uq_ledger_entries_source"),
        sa.Index("ix_ledger_entries_user_year", "user_id", "year"),
        sa.CheckConstraint("hours <> 0", name="hours_nonzero"),
    )


class AdjustmentKind(enum.StrEnum):
    CORRECTION = "correction"
    VOID_YEAR = "void_year"  # 第二十一条: a false declaration voids the person's hours for the year

    @property
    def label(self) -> str:
        return {"correction": "学时更正", "void_year": "弄虚作假，当年度学时作废"}[self.value]


class LedgerAdjustment(db.Model):
    """A decision by an administrator that posts correcting entries; kept with who made it, when and why."""

    __tablename__ = "ledger_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    year: Mapped[int]
    kind: Mapped[AdjustmentKind] = mapped_column(enum_column(AdjustmentKind))
    reason: Mapped[str] = mapped_column(sa.Text)
    # What prompted it (e.g. "declaration:12" for a false declaration); free text for a correction.
    reference: Mapped[str | None] = mapped_column(sa.String(100))
    decided_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User] = relationship(foreign_keys=[decided_by_id])

    # At most one voiding per person and year.
    __table_args__ = (sa.Index("uq_ledger_adjustments_void_year", "user_id", "year", unique=True,
                               postgresql_where=sa.text("kind = 'void_year'"),
                               sqlite_where=sa.text("kind = 'void_year'")),)


class CreditState(enum.StrEnum):
    HELD = "held"  # quiz passed, but a session of the course waits for review
    POSTED = "posted"
    VOIDED = "voided"  # a reviewer voided a session and the watch requirement is no longer met

    @property
    def label(self) -> str:
        return {"held": "待审核后入账", "posted": "已入账", "voided": "不予入账"}[self.value]


class CourseCredit(db.Model):
    """A learner's claim to a course's hours, made once when they pass its quiz (one per person and course)."""

    __tablename__ = "course_credits"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"), index=True)
    year: Mapped[int]
    category: Mapped[Category] = mapped_column(enum_column(Category))
    hours: Mapped[decimal.Decimal] = mapped_column(HOURS)
    earned_on: Mapped[dt.date]
    state: Mapped[CreditState] = mapped_column(enum_column(CreditState))
    state_reason: Mapped[str | None] = mapped_column(sa.String(200))
    attempt_id: Mapped[int | None]  # the passing quiz attempt (lms.exams), when there is one
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "course_id", name="uq_course_credits_user_course"),)
