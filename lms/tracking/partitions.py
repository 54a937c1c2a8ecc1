"""Monthly partitions of the viewing evidence on PostgreSQL: session events and trace chunks.

Both tables are partitioned by the month their session started (``session_started_at``), so a session's evidence
sits in one partition and a month past the retention is dropped whole instead of deleted row by row (a province
writes hundreds of millions of rows a year). Each table has a DEFAULT partition, so a write never fails for want
of a partition — an honest learner's minute is never lost to a missed job — and the daily job
(``flask --app lms tracking partitions``) creates the coming months ahead and moves anything the default caught
into its month. SQLite keeps plain tables; these functions then do nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re

import sqlalchemy as sa

log = logging.getLogger(__name__)

TABLES = ("session_events", "session_trace_chunks")
KEY = "session_started_at"
_PARTITION = re.compile(rf"^({'|'.join(TABLES)})_(default|\d{{6}})$")


def include_name(name: str | None, type_: str, _parent_names) -> bool:
    """Alembic's filter: the partitions are made by this module, not by migrations of the models."""
    return not (type_ == "table" and name is not None and _PARTITION.match(name))


@dataclasses.dataclass
class PartitionReport:
    created: list[str] = dataclasses.field(default_factory=list)
    moved_rows: int = 0
    dropped: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)  # past the retention but still needed


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(table: str, month: dt.date) -> str:
    return f"{table}_{month:%Y%m}"


def existing_partitions(connection: sa.Connection, table: str) -> dict[str, tuple[dt.date, dt.date] | None]:
    """Map each partition of the table to its month range (None for the default partition)."""
    rows = connection.execute(sa.text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:table AS regclass)"), {"table": table})
    result = {}
    for name, bound in rows:
        if bound == "DEFAULT":
            result[name] = None
        else:  # FOR VALUES FROM ('2026-12-01 00:00:00') TO ('2027-01-01 00:00:00')
            low, high = (part.split("'")[1] for part in bound.split(" TO "))
            result[name] = (dt.date.fromisoformat(low[:10]), dt.date.fromisoformat(high[:10]))
    return result


def ensure_month(connection: sa.Connection, table: str, month: dt.date) -> int:
    """Create the month's partition if missing, taking over rows the default partition caught; return them."""
    month, upper = month_start(month), next_month(month)
    name = partition_name(table, month)
    if name in existing_partitions(connection, table):
        return 0
    # A partition cannot be created over rows the default holds: build it beside, move them, then attach.
    connection.execute(sa.text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    moved = connection.execute(sa.text(
        f'WITH moved AS (DELETE FROM "{table}_default" WHERE {KEY} >= :low AND {KEY} < :high RETURNING *) '
        f'INSERT INTO "{name}" SELECT * FROM moved'), {"low": month, "high": upper}).rowcount
    connection.execute(sa.text(
        f"ALTER TABLE \"{table}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{month}') TO ('{upper}')"))
    return moved


def maintain(connection: sa.Connection, today: dt.date, months_ahead: int, retention_months: int) -> PartitionReport:
    """Create this month's and the next ``months_ahead`` months' partitions; drop months past the retention.

    A month is dropped only when none of its sessions is still open or held without a decision: evidence a
    reviewer still needs is kept whatever the retention says. ``retention_months`` 0 keeps everything.
    """
    report = PartitionReport()
    if connection.dialect.name != "postgresql":
        return report
    # Attaching and detaching lock the default partition and the parent briefly; never queue behind a long
    # transaction (and so hold up every flush behind this job): give up and let tomorrow's run try again.
    connection.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
    for table in TABLES:
        month = month_start(today)
        for _ in range(months_ahead + 1):
            before = set(existing_partitions(connection, table))
            report.moved_rows += ensure_month(connection, table, month)
            if partition_name(table, month) not in before:
                report.created.append(partition_name(table, month))
            month = next_month(month)
    if retention_months:
        cutoff = month_start(today)
        for _ in range(retention_months):
            cutoff = (cutoff - dt.timedelta(days=1)).replace(day=1)
        _drop_before(connection, cutoff, report)
    return report


def _drop_before(connection: sa.Connection, cutoff: dt.date, report: PartitionReport) -> None:
    for table in TABLES:
        for name, bounds in sorted(existing_partitions(connection, table).items()):
            if bounds is None or bounds[1] > cutoff:
                continue
            undecided = connection.scalar(sa.text(
                "SELECT count(*) FROM playback_sessions WHERE started_at >= :low AND started_at < :high "
                "AND (state = 'open' OR hold_state = 'held')"), {"low": bounds[0], "high": bounds[1]})
            if undecided:
                log.warning("partition %s is past the retention but %d sessions are open or held: kept", name,
                            undecided)
                report.kept.append(name)
                continue
            connection.execute(sa.text(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"'))
            connection.execute(sa.text(f'DROP TABLE "{name}"'))
            report.dropped.append(name)
