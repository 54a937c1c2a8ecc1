"""With LMS_DATABASE_REPLICA_URL, statistics and exports read through the replica's engine, writes stay on the primary.

The "replica" here is a second engine on the same PostgreSQL database: what is tested is which engine each
statement goes to, not PostgreSQL's streaming replication.
"""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.config import Config, ConfigError
from lms.extensions import db
from tests.conftest import api_token, login


@pytest.fixture
def config(base_config):
    if base_config.embedded_database:
        pytest.skip("a read replica is PostgreSQL's")
    return dataclasses.replace(base_config, database_replica_url=base_config.database_url)


@pytest.fixture(autouse=True)
def _close_the_replica_engine(app):
    yield
    db.engines["replica"].dispose()  # the app fixture disposes the primary's engine only


def _count_statements(engine):
    seen = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_statistics_and_exports_read_from_the_replica(app, client, tree):
    replica = _count_statements(db.engines["replica"])
    primary = _count_statements(db.engine)
    headers = api_token(client, tree.admins["city"])
    assert client.get("/api/v1/statistics", headers=headers).status_code == 200
    assert any("org_year_tallies" in s for s in replica)
    assert not any("org_year_tallies" in s for s in primary)
    login(client, tree.admins["unit_a"])
    replica.clear()
    response = client.get("/statistics/people.xlsx")
    response.close()
    assert response.status_code == 200 and any("person_year_hours" in s for s in replica)
    # The export's audit row is written to the primary.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "statistics.export_people")) == 1


def test_a_replica_without_a_postgresql_primary_is_refused():
    with pytest.raises(ConfigError, match="只能与 PostgreSQL 主库"):
        Config.from_env({"LMS_DATABASE_REPLICA_URL": "postgresql://u:p@replica/lms"})
    with pytest.raises(ConfigError, match="LMS_DATABASE_REPLICA_URL"):
        Config.from_env({"LMS_DATABASE_URL": "postgresql://u:p@db/lms", "LMS_SECRET_KEY": "x" * 40,
                         "LMS_DATABASE_REPLICA_URL": "mysql://replica/lms"})
