"""Registered machine clients of the title-review interface, as the database keeps them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lms.core.db import utcnow
from lms.extensions import db


class ApiClient(db.Model):
    """A system allowed to call the interface: its public id, a hash of its secret (the secret is shown once, at
    creation, and never stored) and the scopes it may ask for. Revoked clients stay, so the audit log names them."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    scopes: Mapped[str] = mapped_column(sa.String(200))  # space-separated, as OAuth2 writes them
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def active(self) -> bool:
        return self.revoked_at is None
