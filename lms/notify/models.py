"""The outbox of text messages: what the outbox sender 'sends' (embedded default, demo and tests)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import utcnow
from lms.extensions import db


class SmsOutboxMessage(db.Model):
    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(11))
    text: Mapped[str] = mapped_column(sa.String(500))
    # What the message is for, e.g. "password_reset"; the outbox page and CLI filter by it.
    purpose: Mapped[str] = mapped_column(sa.String(40))
    # The account it was sent to, so that an admin reads only the messages of their subtree.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    recipient = relationship("User", lazy="joined")
