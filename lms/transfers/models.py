"""A transfer of one person from their unit to another (人员调转).

Started by the old unit (调出, decided by the new unit), by the new unit at the person's request (申请调入, decided
by the old unit, or completed after the rule set's silence period), or out of the province (调出省外, at once).
"""

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


class TransferSide(enum.StrEnum):
    """Which unit started the transfer; the other side decides it."""

    OUT = "out"  # the old unit transfers the person out; the new unit confirms
    IN = "in"  # the new unit asks for the person (at their request); the old unit confirms, or stays silent

    @property
    def label(self) -> str:
        return {"out": "调出单位发起", "in": "调入单位申请"}[self.value]


class PersonTransfer(db.Model):
    """One transfer out of ``from_org`` into ``to_org``; every decision keeps who, when and why."""

    __tablename__ = "person_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    from_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    # None for a transfer out of the province (调出省外): the destination is then only described.
    to_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    outside_destination: Mapped[str | None] = mapped_column(sa.String(100))
    initiated_by: Mapped[TransferSide] = mapped_column(enum_column(TransferSide), default=TransferSide.OUT,
                                                       server_default=TransferSide.OUT.value)
    # For a transfer the new unit asked for: when the old unit's silence completes it (rule set ``transfers``).
    answer_due_at: Mapped[dt.datetime | None]
    completed_by_silence: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
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
    to_org: Mapped[Org | None] = relationship(foreign_keys=[to_org_id])
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def destination_name(self) -> str:
        return self.to_org.name if self.to_org is not None else f"省外：{self.outside_destination}"

    @property
    def started_by_org_name(self) -> str:
        starting = self.from_org if self.initiated_by == TransferSide.OUT else self.to_org
        return starting.name if starting is not None else ""

    @property
    def deciding_org_id(self) -> int | None:
        """The unit whose answer is awaited: the new one for a transfer out, the old one for a request in."""
        return self.to_org_id if self.initiated_by == TransferSide.OUT else self.from_org_id

    @property
    def status_label(self) -> str:
        if self.status == TransferStatus.CONFIRMED and self.to_org_id is None:
            return "已调出省外"
        if self.status == TransferStatus.CONFIRMED and self.completed_by_silence:
            return "已调转（原单位逾期未答复）"
        if self.status == TransferStatus.PENDING and self.initiated_by == TransferSide.IN:
            return "待调出单位确认"
        if self.status == TransferStatus.REFUSED and self.initiated_by == TransferSide.IN:
            return "调出单位已拒绝"
        return self.status.label

    __table_args__ = (
        # One open transfer per person, held by the database so that two concurrent starts cannot make two.
        sa.Index("uq_person_transfers_one_open", "user_id", unique=True,
                 postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
        sa.Index("ix_person_transfers_status_to_org", "status", "to_org_id"),
        sa.Index("ix_person_transfers_status_from_org", "status", "from_org_id"),
    )
