"""Path prefix indexes that serve LIKE 'prefix%' under any collation (audit log, internal departments)

The organisations' path index already uses text_pattern_ops; the audit log's (org_path, created_at) and the
internal departments' (org_id, path) used the default operator class, which PostgreSQL uses for a prefix LIKE
only under the C collation (the test servers run C.UTF-8, which is not that). SQLite has no operator classes.

Revision ID: 0b7d3e9f2a41
Revises: 98c2e5b5bf71
Create Date: 2026-12-08 00:30:00

"""
from alembic import op


revision = '0b7d3e9f2a41'
down_revision = '98c2e5b5bf71'
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_audit_entries_org_path_created", "audit_entries", ["org_path", "created_at"], "org_path"),
    ("ix_internal_departments_org_path", "internal_departments", ["org_id", "path"], "path"),
]


def _recreate(pattern: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns, path in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns,
                        postgresql_ops={path: "varchar_pattern_ops"} if pattern else {})


def upgrade():
    _recreate(pattern=True)


def downgrade():
    _recreate(pattern=False)
