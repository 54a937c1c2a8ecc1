"""One row per admin action; rows are never updated or deleted (the database refuses it on PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from lms.core.db import utcnow
from lms.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # Who and in which capacity, as they were at the time (names and roles change later).
    actor_name: Mapped[str] = mapped_column(sa.String(50))
    actor_role: Mapped[str] = mapped_column(sa.String(60))
    actor_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"))
    # The organisation the action concerns; admins above read the log of their subtree by this path.
    org_path: Mapped[str] = mapped_column(sa.String(255), index=True, default="/")
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(40))
    # A label a person recognises, never a full ID-card or phone number.
    object_label: Mapped[str] = mapped_column(sa.String(200), default="")
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))

    # "org_path LIKE '/1/4/%' ORDER BY created_at": the pattern operator class lets PostgreSQL range-scan the prefix
    # under any collation (the default opclass serves LIKE only under the C collation).
    __table_args__ = (sa.Index("ix_audit_entries_org_path_created", "org_path", "created_at",
                               postgresql_ops={"org_path": "varchar_pattern_ops"}),)


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or remove a row of the audit log."""


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(mapper, connection, target):
    raise AuditLogIsAppendOnly("操作日志只能追加，不能修改。")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(mapper, connection, target):
    raise AuditLogIsAppendOnly("操作日志只能追加，不能删除。")
