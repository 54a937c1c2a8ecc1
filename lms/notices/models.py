"""Notices, their attachments and who has read them."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import enum_column, utcnow
from lms.extensions import db


class NoticeAudience(enum.StrEnum):
    ALL = "all"
    LEARNERS = "learners"
    ADMINS = "admins"
    BASES = "bases"

    @property
    def label(self) -> str:
        return {"all": "所有人", "learners": "专业技术人员", "admins": "单位和部门管理员",
                "bases": "继续教育基地"}[self.value]


class Notice(db.Model):
    """A notice of an organisation to its subtree; ``body_html`` is stored already sanitised."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    body_html: Mapped[str] = mapped_column(sa.Text)
    audience: Mapped[NoticeAudience] = mapped_column(enum_column(NoticeAudience))
    pinned: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Naive UTC: the start of the China day it is published on and the end of the China day it expires on.
    publish_at: Mapped[dt.datetime] = mapped_column(index=True)
    expires_at: Mapped[dt.datetime | None]
    withdrawn_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    org = relationship("Org", lazy="joined")
    attachments: Mapped[list[NoticeAttachment]] = relationship(back_populates="notice",
                                                               order_by="NoticeAttachment.id")


class NoticeAttachment(db.Model):
    """One attachment (PDF, Word, Excel or image, checked by content) kept in object storage."""

    __tablename__ = "notice_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notices.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    notice: Mapped[Notice] = relationship(back_populates="attachments")


class NoticeRead(db.Model):
    """A read mark: the first time a person opened a notice."""

    __tablename__ = "notice_reads"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notices.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("notice_id", "user_id", name="uq_notice_reads_notice_user"),)
