"""A transfer of one person from their unit to another (人员调转): started by the old unit, decided by the new."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.core.db import enum_column, utcnow
from lms.extensions import db
from lms.orgs.models import Org


class TransferStatus(enum.StrEnum):
    PENDING = "pending"  # started by the old unit, waiting for the new unit
    CONFIRMED = "confirmed"  # 确认调转: the person belongs to the new unit since decided_at
    REFUSED = "refused"  # the new unit refused, with a reason
    CANCELLED = "cancelled"  # the old unit withdrew it before a decision

    @property
    def label(self) -> str:
        return {"pending": "待调入单位确认", "confirmed": "已调转", "refused": "调入单位已拒绝",
                "cancelled": "已撤回"}[self.value]


class PersonTransfer(db.Model):
    """One transfer out of ``from_org`` into ``to_org``; every decision keeps who, when and why."""

    __tablename__ = "person_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    from_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    to_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    status: Mapped[TransferStatus] = mapped_column(enum_column(TransferStatus), default=TransferStatus.PENDING)
    # The person's record as the old unit filled it in when starting (the manual: 个人信息会自动覆盖).
    person_name: Mapped[str] = mapped_column(sa.String(50))
    title_series: Mapped[str | None] = mapped_column(sa.String(30))
    professional_post: Mapped[str | None] = mapped_column(sa.String(50))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    started_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # why the new unit refused

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    from_org: Mapped[Org] = relationship(foreign_keys=[from_org_id])
    to_org: Mapped[Org] = relationship(foreign_keys=[to_org_id])
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        # One open transfer per person, held by the database so that two concurrent starts cannot make two.
        sa.Index("uq_person_transfers_one_open", "user_id", unique=True,
                 postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
        sa.Index("ix_person_transfers_status_to_org", "status", "to_org_id"),
    )
