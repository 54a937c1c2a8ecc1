"""Session events and trace chunks carry their session's start; on PostgreSQL both are partitioned by its month

A province writes hundreds of millions of evidence rows a year; a month past the retention is dropped whole
(lms/tracking/partitions.py). The partition key must be in every unique constraint, so the constraints gain
session_started_at (which follows from session_id: uniqueness is unchanged). Existing rows are copied into the
partitioned tables; each table also gets a DEFAULT partition so a write never fails for want of a month.
SQLite only gains the column and the wider constraints.

Revision ID: 5d1c8a7e4f20
Revises: 0b7d3e9f2a41
Create Date: 2026-12-08 00:40:00

"""
import datetime as dt

import sqlalchemy as sa
from alembic import op


revision = '5d1c8a7e4f20'
down_revision = '0b7d3e9f2a41'
branch_labels = None
depends_on = None

# table: (columns of the old table in order, unique columns without the key, unique constraint name)
TABLES = {
    "session_events": ('id, session_id, seq, type, at, "values"', "session_id, seq", "uq_session_events_session_seq"),
    "session_trace_chunks": ("id, session_id, first_index, points", "session_id, first_index",
                             "uq_session_trace_chunks_session_first"),
}
COLUMN_DEFINITIONS = {
    "session_events": 'seq INTEGER NOT NULL, type VARCHAR(30) NOT NULL, at TIMESTAMP WITHOUT TIME ZONE NOT NULL, '
                      '"values" JSON NOT NULL',
    "session_trace_chunks": "first_index INTEGER NOT NULL, points JSON NOT NULL",
}


def _months(first: dt.date, last: dt.date):
    month = first.replace(day=1)
    while month <= last:
        following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        yield month, following
        month = following


def _upgrade_sqlite():
    for table, (_columns, unique, constraint) in TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("session_started_at", sa.DateTime(), nullable=True))
        op.execute(f"UPDATE {table} SET session_started_at = (SELECT started_at FROM playback_sessions "
                   f"WHERE playback_sessions.id = {table}.session_id)")
        with op.batch_alter_table(table) as batch:
            batch.alter_column("session_started_at", nullable=False)
            batch.drop_constraint(constraint, type_="unique")
            batch.create_unique_constraint(constraint, [*unique.split(", "), "session_started_at"])


def _upgrade_postgresql():
    bind = op.get_bind()
    span = bind.execute(sa.text("SELECT min(started_at), max(started_at) FROM playback_sessions")).one()
    today = dt.date.today()
    first = span[0].date() if span[0] else today
    last = max(span[1].date() if span[1] else today, today)
    last = (last.replace(day=28) + dt.timedelta(days=100)).replace(day=1)  # three months ahead
    for table, (columns, unique, constraint) in TABLES.items():
        old = f"{table}_unpartitioned"
        op.execute(f'ALTER TABLE {table} RENAME TO {old}')
        op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}')
        op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT {constraint} TO {constraint}_old')
        op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT fk_{table}_session_id_playback_sessions '
                   f'TO fk_{old}_session_id')
        op.execute(f'ALTER INDEX ix_{table}_session_id RENAME TO ix_{old}_session_id')
        op.execute(f"""
            CREATE TABLE {table} (
                id INTEGER NOT NULL DEFAULT nextval('{table}_id_seq'::regclass),
                session_id INTEGER NOT NULL,
                {COLUMN_DEFINITIONS[table]},
                session_started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
                CONSTRAINT pk_{table} PRIMARY KEY (id, session_started_at),
                CONSTRAINT {constraint} UNIQUE ({unique}, session_started_at),
                CONSTRAINT fk_{table}_session_id_playback_sessions FOREIGN KEY (session_id)
                    REFERENCES playback_sessions (id) ON DELETE CASCADE
            ) PARTITION BY RANGE (session_started_at)""")
        op.execute(f"CREATE INDEX ix_{table}_session_id ON {table} (session_id)")
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        for low, high in _months(first, last):
            op.execute(f"CREATE TABLE {table}_{low:%Y%m} PARTITION OF {table} FOR VALUES FROM ('{low}') TO ('{high}')")
        op.execute(f"INSERT INTO {table} ({columns}, session_started_at) "
                   f"SELECT {', '.join('o.' + c.strip() for c in columns.split(','))}, s.started_at "
                   f"FROM {old} o JOIN playback_sessions s ON s.id = o.session_id")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        op.execute(f"DROP TABLE {old}")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade():
    bind = op.get_bind()
    for table, (columns, unique, constraint) in TABLES.items():
        if bind.dialect.name == "postgresql":
            old = f"{table}_partitioned"
            op.execute(f"ALTER TABLE {table} RENAME TO {old}")
            op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}")
            op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {constraint} TO {constraint}_new")
            op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT fk_{table}_session_id_playback_sessions TO fk_{old}_sid")
            op.execute(f"ALTER INDEX ix_{table}_session_id RENAME TO ix_{old}_session_id")
            op.execute(f"""
                CREATE TABLE {table} (
                    id INTEGER NOT NULL DEFAULT nextval('{table}_id_seq'::regclass),
                    session_id INTEGER NOT NULL,
                    {COLUMN_DEFINITIONS[table]},
                    CONSTRAINT pk_{table} PRIMARY KEY (id),
                    CONSTRAINT {constraint} UNIQUE ({unique}),
                    CONSTRAINT fk_{table}_session_id_playback_sessions FOREIGN KEY (session_id)
                        REFERENCES playback_sessions (id) ON DELETE CASCADE)""")
            op.execute(f"CREATE INDEX ix_{table}_session_id ON {table} (session_id)")
            op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old}")
            op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
            op.execute(f"DROP TABLE {old}")
        else:
            with op.batch_alter_table(table) as batch:
                batch.drop_constraint(constraint, type_="unique")
                batch.create_unique_constraint(constraint, unique.split(", "))
                batch.drop_column("session_started_at")
