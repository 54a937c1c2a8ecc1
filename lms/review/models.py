"""Reviewers' decisions on held playback sessions, kept for good."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.extensions import db
from lms.tracking.models import HoldState, PlaybackSession


class ReviewOutcome(enum.StrEnum):
    RELEASE = "release"  # the session is genuine: its time counts
    VOID = "void"  # the session was cheated: its time never counts

    @property
    def label(self) -> str:
        return {"release": "审核通过（计入学时）", "void": "审核作废（不计学时）"}[self.value]

    @property
    def hold_state(self) -> HoldState:
        return HoldState.RELEASED if self is ReviewOutcome.RELEASE else HoldState.VOIDED


class SessionReviewDecision(db.Model):
    """One reviewer's decision on one held session. Never updated (a trigger refuses it); one per session."""

    __tablename__ = "session_review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("playback_sessions.id"))
    decision: Mapped[ReviewOutcome] = mapped_column(enum_column(ReviewOutcome))
    reason: Mapped[str] = mapped_column(sa.String(500))  # shown to the learner
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    session: Mapped[PlaybackSession] = relationship()
    reviewer: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("session_id", name="uq_session_review_decisions_session"),)
