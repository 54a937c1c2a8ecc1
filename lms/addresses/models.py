"""An organisation's known network addresses (egress addresses or CIDR ranges)."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.core.db import enum_column, utcnow
from lms.extensions import db


class AddressSource(enum.StrEnum):
    REGISTERED = "registered"  # an admin of the organisation asked for it, the level above approved it
    LEARNED = "learned"  # the server saw enough of the organisation's own approved people study from it

    @property
    def label(self) -> str:
        return {"registered": "登记", "learned": "自动识别"}[self.value]


class AddressState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"pending": "待审核", "approved": "已生效", "refused": "已驳回", "withdrawn": "已撤销"}[self.value]


class OrgAddress(db.Model):
    """One address or range of an organisation; ``covers_subtree``: it is the whole subtree's too (a bureau's)."""

    __tablename__ = "org_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    cidr: Mapped[str] = mapped_column(sa.String(50))  # normalised: "1.2.3.0/24", "1.2.3.4/32", "2001:db8::/48"
    source: Mapped[AddressSource] = mapped_column(enum_column(AddressSource))
    state: Mapped[AddressState] = mapped_column(enum_column(AddressState), index=True)
    covers_subtree: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decision_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    # For a learned address: how many of the organisation's people, on how many days, when it was learned.
    people: Mapped[int] = mapped_column(default=0)
    days: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]

    org = relationship("Org", lazy="joined")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
