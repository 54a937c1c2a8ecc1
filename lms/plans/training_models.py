"""Trainings a base or a unit declares with a roster of attendees (培训学时申报, admin manual 5.2).

A training runs through the rule set's review chain like a person's declaration (its steps fixed at submission);
after the last step each attendee's hours are computed by the rules engine and posted to their ledger once, keyed
by the attendee row (``ledger_entries`` source ``training``/attendee id). Decisions are rows only ever added.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.extensions import db
from lms.orgs.models import Org

HOURS = sa.Numeric(6, 1)


class TrainingStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the reviewer of ``step_index``
    RETURNED = "returned"  # sent back to the declarer (roster or details to correct)
    REJECTED = "rejected"
    FILED = "filed"  # approved at the last step; every attendee's hours posted

    @property
    def label(self) -> str:
        return {"pending": "审核中", "returned": "退回修改", "rejected": "未通过", "filed": "已备案入账"}[self.value]


class TrainingAction(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    RESUBMITTED = "resubmitted"
    FILED = "filed"

    @property
    def label(self) -> str:
        return {"submitted": "提交申报", "approved": "审核通过", "rejected": "审核不通过", "returned": "退回修改",
                "resubmitted": "修改后重新提交", "filed": "备案并入账"}[self.value]


class Training(db.Model):
    __tablename__ = "trainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)  # the base or unit that ran it
    declared_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    year: Mapped[int]
    rule_set_id: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(40))
    kind_label: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]
    hours_per_day: Mapped[decimal.Decimal] = mapped_column(HOURS)
    category: Mapped[str] = mapped_column(sa.String(20))
    # The training's own facts, the same for every attendee (e.g. organiser: hr), declared once by the declarer.
    facts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[TrainingStatus] = mapped_column(enum_column(TrainingStatus), index=True)
    step_index: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    org: Mapped[Org] = relationship()
    declared_by: Mapped[User] = relationship()
    review_steps: Mapped[list[TrainingReviewStep]] = relationship(order_by="TrainingReviewStep.position")
    attendees: Mapped[list[TrainingAttendee]] = relationship(order_by="TrainingAttendee.row_number",
                                                             cascade="all, delete-orphan")
    decisions: Mapped[list[TrainingDecision]] = relationship(order_by="TrainingDecision.id")

    # The same training declared twice would post its hours twice: one declaration per org, title and dates.
    __table_args__ = (
        sa.UniqueConstraint("org_id", "title", "start_date", "end_date", name="uq_trainings_org_title_dates"),)

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    @property
    def current_step(self) -> TrainingReviewStep | None:
        if self.step_index is None or self.step_index >= len(self.review_steps):
            return None
        return self.review_steps[self.step_index]


class TrainingReviewStep(db.Model):
    """One step of a training's chain, its reviewing organisation fixed at submission."""

    __tablename__ = "training_review_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    training_id: Mapped[int] = mapped_column(sa.ForeignKey("trainings.id"))
    position: Mapped[int]
    reviewer: Mapped[str] = mapped_column(sa.String(20))
    label: Mapped[str] = mapped_column(sa.String(40))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)

    org: Mapped[Org] = relationship()

    __table_args__ = (sa.UniqueConstraint("training_id", "position", name="uq_training_review_steps_position"),)


class TrainingAttendee(db.Model):
    """One person of the roster: the days attended, and at filing the hours the engine credited them."""

    __tablename__ = "training_attendees"

    id: Mapped[int] = mapped_column(primary_key=True)
    training_id: Mapped[int] = mapped_column(sa.ForeignKey("trainings.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    row_number: Mapped[int]  # the roster sheet's row, to name it in messages
    days: Mapped[decimal.Decimal] = mapped_column(HOURS)
    hours: Mapped[decimal.Decimal | None] = mapped_column(HOURS)  # credited at filing (after every cap)
    outcome: Mapped[dict | None] = mapped_column(sa.JSON)
    posted_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("training_id", "user_id", name="uq_training_attendees_person"),)


class TrainingDecision(db.Model):
    """One step in a training's history, kept for good and never edited."""

    __tablename__ = "training_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    training_id: Mapped[int] = mapped_column(sa.ForeignKey("trainings.id"), index=True)
    step_index: Mapped[int | None]
    step_label: Mapped[str | None] = mapped_column(sa.String(40))
    action: Mapped[TrainingAction] = mapped_column(enum_column(TrainingAction))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    actor_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor: Mapped[User] = relationship(foreign_keys=[actor_id])
    actor_org: Mapped[Org] = relationship(foreign_keys=[actor_org_id])
