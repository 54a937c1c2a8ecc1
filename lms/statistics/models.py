"""Tallies kept in the same transaction as each ledger posting and account change, rolled up the tree.

Reading the ledger per request would scan 15 million rows for a province; these tables hold, per person and
year, the two category balances and where the person stands, and per organisation (its whole subtree: the rows
are rolled up to every ancestor) how many people it has, how many stand where in a year and how many hours came
from which source. A subtree's figures are one row; ``lms.statistics.tally`` is the only writer.
"""

from __future__ import annotations

import decimal
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lms.core.db import enum_column
from lms.extensions import db
from lms.ledger.models import HOURS


class Standing(enum.StrEnum):
    """Where a person stands in a year against their rule set's requirement."""

    NONE = "none"  # no hours
    SHORT = "short"  # hours, but under CLOSE_SHARE of the total
    CLOSE = "close"  # at least CLOSE_SHARE of the total, not yet met
    MET = "met"  # every category's minimum and the total
    VOIDED = "voided"  # 第二十一条: the year's hours were voided

    @property
    def label(self) -> str:
        return STANDING_LABELS[self.value]


STANDING_LABELS = {"none": "无学时", "short": "未达标", "close": "接近达标", "met": "已达标", "voided": "学时作废"}


class PersonYearHours(db.Model):
    __tablename__ = "person_year_hours"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    # The organisation the hours count for: the person's own, moved with them on a transfer.
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    public_hours: Mapped[decimal.Decimal] = mapped_column(HOURS, default=0)
    professional_hours: Mapped[decimal.Decimal] = mapped_column(HOURS, default=0)
    standing: Mapped[Standing] = mapped_column(enum_column(Standing), default=Standing.NONE)

    __table_args__ = (sa.Index("ix_person_year_hours_org_year", "org_id", "year"),)


class OrgPeopleCount(db.Model):
    """How many learners an organisation's subtree has, by state (the same rows for every year)."""

    __tablename__ = "org_people_counts"

    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), primary_key=True)
    registered: Mapped[int] = mapped_column(default=0)
    approved: Mapped[int] = mapped_column(default=0)
    pending: Mapped[int] = mapped_column(default=0)
    disabled: Mapped[int] = mapped_column(default=0)


class OrgYearTally(db.Model):
    """How many of an organisation's subtree's people stand where in a year."""

    __tablename__ = "org_year_tallies"

    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    short: Mapped[int] = mapped_column(default=0)
    close: Mapped[int] = mapped_column(default=0)
    met: Mapped[int] = mapped_column(default=0)
    voided: Mapped[int] = mapped_column(default=0)


class OrgYearSourceHours(db.Model):
    """An organisation's subtree's hours in a year per category and source (courses, a declaration kind, …)."""

    __tablename__ = "org_year_source_hours"

    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    # "course", "adjustment" or "declaration:<rule-set kind>"
    source: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    hours: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(14, 1), default=0)  # a big unit's sum outgrows HOURS
