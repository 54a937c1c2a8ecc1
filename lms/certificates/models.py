"""Yearly certificates (学时证明) as the database keeps them.

A certificate is issued once per person and year (a unique constraint, so two clicks at once make one). It keeps a
snapshot of what it certifies — holder, hours by category, issuing authority, issue time — and the verification
code is a keyed signature over exactly that snapshot: a row changed after issue no longer matches its code.
"""

from __future__ import annotations

import datetime as dt
import decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import utcnow
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
