"""Yearly certificates (学时证明) as the database keeps them.

A certificate is issued once per person and year (a unique constraint, so two clicks at once make one). It keeps a
snapshot of what it certifies — holder, hours by category, issuing authority, issue time — and the verification
code is a keyed signature over exactly that snapshot: a row changed after issue no longer matches its code.
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

HOURS = sa.Numeric(6, 1)


class Certificate(db.Model):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    year: Mapped[int]
    serial: Mapped[str] = mapped_column(sa.String(30), unique=True)
    # Crockford base32 of the signature, without separators; printed in groups of four.
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    holder_name: Mapped[str] = mapped_column(sa.String(50))
    holder_id_number: Mapped[str] = mapped_column(sa.String(18))
    public_hours: Mapped[decimal.Decimal] = mapped_column(HOURS)
    professional_hours: Mapped[decimal.Decimal] = mapped_column(HOURS)
    total_hours: Mapped[decimal.Decimal] = mapped_column(HOURS)
    rule_set_id: Mapped[str] = mapped_column(sa.String(40))
    issuing_authority: Mapped[str] = mapped_column(sa.String(100))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "year", name="uq_certificates_user_year"),)


class BatchFormat(enum.StrEnum):
    PDF = "pdf"  # one merged PDF, a page per certificate
    ZIP = "zip"  # one PDF per certificate in a .zip

    @property
    def label(self) -> str:
        return {"pdf": "合并为一个 PDF", "zip": "打包为 .zip"}[self.value]


class BatchState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"queued": "排队中", "running": "生成中", "done": "已完成", "failed": "生成失败"}[self.value]


class CertificateBatch(db.Model):
    """A batch print (电子证书查询打印, 5.4.4) made by a background job; the file goes to object storage."""

    __tablename__ = "certificate_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    year: Mapped[int]
    format: Mapped[BatchFormat] = mapped_column(enum_column(BatchFormat))
    certificate_ids: Mapped[list] = mapped_column(sa.JSON)
    # The address the verification links point at when LMS_PUBLIC_URL is not set (the job has no request).
    base_url: Mapped[str] = mapped_column(sa.String(200))
    state: Mapped[BatchState] = mapped_column(enum_column(BatchState), default=BatchState.QUEUED)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int]
    skipped: Mapped[int] = mapped_column(default=0)  # voided or changed after issue: not printed
    storage_key: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
