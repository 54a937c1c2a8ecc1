"""The notification centre's rows: a person's notifications, their SMS settings and the SMS deliveries."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import enum_column, utcnow
from lms.extensions import db


class Notification(db.Model):
    """Something that happened to one of a person's things, shown in their notification centre until read."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # A key of ``lms.notices.notifications.KINDS`` (what it is about; the SMS setting is per kind).
    kind: Mapped[str] = mapped_column(sa.String(30))
    title: Mapped[str] = mapped_column(sa.String(60))
    text: Mapped[str] = mapped_column(sa.String(500))
    # A path inside the platform (the thing it is about), or None.
    link: Mapped[str | None] = mapped_column(sa.String(300))
    # Set when one notification must exist at most once per person (a deadline reminder round).
    once_key: Mapped[str | None] = mapped_column(sa.String(60))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]

    __table_args__ = (
        sa.Index("ix_notifications_user_created", "user_id", "created_at"),
        # The header's unread count reads only this index.
        sa.Index("ix_notifications_user_read", "user_id", "read_at"),
        sa.UniqueConstraint("user_id", "once_key", name="uq_notifications_user_once_key"),
    )


class NotificationSetting(db.Model):
    """A person's choice for one kind (only choices that differ from the default are interesting, all are kept)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    sms: Mapped[bool]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its job (or its next retry)
    SENT = "sent"
    FAILED = "failed"  # every attempt failed; an admin sees why

    @property
    def label(self) -> str:
        return {"queued": "待发送", "sent": "已发送", "failed": "发送失败"}[self.value]


class SmsDelivery(db.Model):
    """One text message of a notification: written with the notification, sent by a background job after commit."""

    __tablename__ = "sms_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    phone: Mapped[str] = mapped_column(sa.String(11))
    text: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus), default=DeliveryStatus.QUEUED,
                                                  index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    attempted_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]

    notification = relationship(Notification, lazy="joined")
    recipient = relationship("User", lazy="joined")
