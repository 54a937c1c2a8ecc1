"""Every subtree filter (a materialised path's prefix LIKE) can be served by an index on PostgreSQL.

The test servers run the C.UTF-8 collation, under which PostgreSQL uses a default-opclass index for equality only,
never for LIKE 'prefix%': only the pattern operator classes make the prefix a range scan. Sequential scans are
turned off so that the planner shows whether an index *can* serve the query, whatever the table's size.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.extensions import db
from lms.orgs.models import InternalDepartment, Org


def _indexes_used(statement) -> set[str]:
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as connection:
        connection.execute(sa.text("SET enable_seqscan = off"))
        plan = connection.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
        connection.rollback()
    names, stack = set(), [plan if isinstance(plan, list) else json.loads(plan)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "Index Name" in node:
                names.add(node["Index Name"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


@pytest.mark.parametrize(("statement", "index"), [
    (lambda: sa.select(Org.id).where(Org.path.startswith("/1/4/")), "ix_orgs_path_pattern"),
    (lambda: sa.select(AuditEntry.id).where(AuditEntry.org_path.startswith("/1/4/"))
     .order_by(AuditEntry.created_at.desc()).limit(50), "ix_audit_entries_org_path_created"),
    (lambda: sa.select(InternalDepartment.id).where(InternalDepartment.org_id == 7,
                                                    InternalDepartment.path.startswith("/3/")),
     "ix_internal_departments_org_path"),
], ids=["orgs", "audit", "internal-departments"])
def test_a_subtree_prefix_is_served_by_an_index(app, config, statement, index):
    if config.embedded_database:
        pytest.skip("operator classes are PostgreSQL's")
    assert index in _indexes_used(statement())
