"""The 诚信档案 entry as the database keeps it (学时管理办法第二十一条)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import utcnow
from lms.declarations.models import Declaration
from lms.extensions import db


class IntegrityRecord(db.Model):
    """A false declaration found by an administrator, kept on the person's integrity record until ``expires_on``.

    Never updated or deleted: the expiry is data, fixed when the record is made from the retention setting, so a
    later change of the setting does not shorten or lengthen a record already kept.
    """

    __tablename__ = "integrity_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declarations.id"), unique=True)
    year: Mapped[int]  # the declaration's year, whose hours were voided
    reason: Mapped[str] = mapped_column(sa.Text)
    article: Mapped[str] = mapped_column(sa.String(100))
    found_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    found_by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    found_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    found_on: Mapped[dt.date]  # the China date of the finding, from which the retention runs
    expires_on: Mapped[dt.date]  # the last day the record is shown

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    found_by: Mapped[User] = relationship(foreign_keys=[found_by_id])
    declaration: Mapped[Declaration] = relationship()
    found_by_org = relationship("Org", foreign_keys=[found_by_org_id])
