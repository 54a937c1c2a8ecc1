"""Watch time as the database keeps it: playback sessions, their evidence, and progress per person and courseware.

These rows are written by the flush (``service.flush_sessions``) from the live state in Redis, in batches; no
heartbeat writes to the database.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.courses.models import Courseware
from lms.extensions import db


class PlaybackState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # by its page, or found idle
    SUPERSEDED = "superseded"  # a newer playback of the same person took over

    @property
    def label(self) -> str:
        return {"open": "播放中", "closed": "已结束", "superseded": "已被其他播放取代"}[self.value]


class HoldState(enum.StrEnum):
    NONE = "none"
    HELD = "held"  # its evidence passed the risk threshold: its time counts for nothing until reviewed
    RELEASED = "released"  # a reviewer found it genuine
    VOIDED = "voided"  # a reviewer found it cheated

    @property
    def label(self) -> str:
        return {"none": "正常", "held": "待审核", "released": "审核通过", "voided": "审核作废"}[self.value]


# Hold states whose credited time counts toward a courseware's watch requirement.
COUNTING_HOLD_STATES = (HoldState.NONE, HoldState.RELEASED)


class PlaybackSession(db.Model):
    """One playback of a courseware by a learner, as last flushed from Redis."""

    __tablename__ = "playback_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the "sid" of the wire protocol
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))  # indexed with courseware_id below
    courseware_id: Mapped[int] = mapped_column(sa.ForeignKey("coursewares.id"), index=True)
    state: Mapped[PlaybackState] = mapped_column(enum_column(PlaybackState), default=PlaybackState.OPEN)
    end_reason: Mapped[str | None] = mapped_column(sa.String(20))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    last_heartbeat_at: Mapped[dt.datetime | None]
    # Confirmed by a passed attention check; pending is earned since the last check; voided was thrown away.
    credited_seconds: Mapped[float] = mapped_column(default=0.0)
    pending_seconds: Mapped[float] = mapped_column(default=0.0)
    voided_seconds: Mapped[float] = mapped_column(default=0.0)
    furthest_verified_s: Mapped[float] = mapped_column(default=0.0)
    coverage_seconds: Mapped[int] = mapped_column(default=0)
    # One bit per media second (Redis bitmap order: bit 0 is the high bit of byte 0), confirmed time only.
    coverage_bitmap: Mapped[bytes] = mapped_column(sa.LargeBinary, default=b"")
    heartbeat_count: Mapped[int] = mapped_column(default=0)
    event_count: Mapped[int] = mapped_column(default=0)
    risk_score: Mapped[int] = mapped_column(default=0)
    hold_state: Mapped[HoldState] = mapped_column(enum_column(HoldState), default=HoldState.NONE, index=True)
    held_at: Mapped[dt.datetime | None]
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    device_id: Mapped[str | None] = mapped_column(sa.String(64))
    trace_points: Mapped[int] = mapped_column(default=0)  # heartbeat trace points written (in trace_chunks)
    # The Redis version of the last snapshot written, so an older snapshot never overwrites a newer one.
    redis_version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    flushed_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()
    courseware: Mapped[Courseware] = relationship()
    events: Mapped[list[SessionEvent]] = relationship(back_populates="session", order_by="SessionEvent.seq",
                                                      cascade="all, delete-orphan")
    trace_chunks: Mapped[list[TraceChunk]] = relationship(back_populates="session", order_by="TraceChunk.first_index",
                                                          cascade="all, delete-orphan")

    @property
    def trace(self) -> list[list]:
        """Return [ms since start, media position ms, credited ms, reason or None] per accepted heartbeat."""
        return [point for chunk in self.trace_chunks for point in chunk.points]

    __table_args__ = (sa.Index("ix_playback_sessions_user_courseware", "user_id", "courseware_id"),)


class SessionEvent(db.Model):
    """One piece of evidence on a session (a rejected interval, a check, a takeover, an automation sign, …)."""

    __tablename__ = "session_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("playback_sessions.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(sa.String(30))
    at: Mapped[dt.datetime]
    values: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # The session's start, copied: on PostgreSQL the table is partitioned by its month (lms/tracking/partitions.py),
    # which keeps a session's evidence in one partition and lets old months be dropped whole.
    session_started_at: Mapped[dt.datetime]

    session: Mapped[PlaybackSession] = relationship(back_populates="events")

    # The partition key must be in every unique constraint; it follows from session_id, so uniqueness is the same.
    __table_args__ = (sa.UniqueConstraint("session_id", "seq", "session_started_at",
                                          name="uq_session_events_session_seq"),)


class TraceChunk(db.Model):
    """The heartbeat trace points of one flush, appended: the reviewer's picture of media position against time."""

    __tablename__ = "session_trace_chunks"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("playback_sessions.id", ondelete="CASCADE"), index=True)
    first_index: Mapped[int]  # of its first point in the session's whole trace
    points: Mapped[list] = mapped_column(sa.JSON)
    session_started_at: Mapped[dt.datetime]  # the partition key, as for SessionEvent

    session: Mapped[PlaybackSession] = relationship(back_populates="trace_chunks")

    __table_args__ = (sa.UniqueConstraint("session_id", "first_index", "session_started_at",
                                          name="uq_session_trace_chunks_session_first"),)


@sa.event.listens_for(SessionEvent, "before_insert")
@sa.event.listens_for(TraceChunk, "before_insert")
def _copy_partition_key(_mapper, connection, target) -> None:
    if target.session_started_at is not None:
        return
    session = target.__dict__.get("session")  # loaded or assigned; never lazy-load inside a flush
    target.session_started_at = session.started_at if session is not None else connection.scalar(
        sa.select(PlaybackSession.started_at).where(PlaybackSession.id == target.session_id))


class CoursewareProgress(db.Model):
    """A learner's verified progress on one courseware, recomputed from their sessions at every flush."""

    __tablename__ = "courseware_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    courseware_id: Mapped[int] = mapped_column(sa.ForeignKey("coursewares.id"), index=True)
    verified_watch_seconds: Mapped[float] = mapped_column(default=0.0)  # sessions not held or voided
    held_seconds: Mapped[float] = mapped_column(default=0.0)  # in sessions waiting for review
    coverage_seconds: Mapped[int] = mapped_column(default=0)
    coverage_bitmap: Mapped[bytes] = mapped_column(sa.LargeBinary, default=b"")
    furthest_verified_s: Mapped[float] = mapped_column(default=0.0)
    resume_s: Mapped[float] = mapped_column(default=0.0)
    required_watch_seconds: Mapped[float] = mapped_column(default=0.0)
    required_coverage_seconds: Mapped[int] = mapped_column(default=0)
    completed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    courseware: Mapped[Courseware] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "courseware_id", name="uq_courseware_progress_user_courseware"),)

    @property
    def completed(self) -> bool:
        return self.completed_at is not None
