"""Small database helpers shared by the domain packages."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Return the current UTC time as a naive datetime (stored as UTC in every database)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def enum_column(enum_cls, length: int = 20):
    """An Enum column stored as its values (not member names) in a plain string column, portable across databases."""
    import sqlalchemy as sa

    return sa.Enum(enum_cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e],
                   validate_strings=True)
