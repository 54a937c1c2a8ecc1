"""The app behind PgBouncer in transaction pooling: each transaction may run on another server connection.

What breaks there is whatever lives on a server connection between transactions; for this app that is psycopg's
server-side prepared statements (LMS_DATABASE_PGBOUNCER turns them off). The tests first show the break is real
with the setting off, then run logins, pages and a row-locked race through PgBouncer with it on.
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
import sqlalchemy as sa

from lms import database_engine_options
from lms.accounts.models import User
from lms.config import Config
from lms.extensions import db
from lms.transfers import service as transfers
from lms.transfers.models import PersonTransfer
from tests.conftest import api_token, login, make_user
from tests.support.pgbouncer import PgBouncer
from tests.support.races import race


@pytest.fixture(scope="module")
def bouncer(postgres_url):
    bouncer = PgBouncer(postgres_url).start()
    yield bouncer
    bouncer.stop()


@pytest.fixture
def config(base_config, request):
    if base_config.embedded_database:
        pytest.skip("PgBouncer stands in front of PostgreSQL")
    bouncer = request.getfixturevalue("bouncer")
    return dataclasses.replace(base_config, database_url=bouncer.url(), database_pgbouncer=True,
                               database_pool_size=3, database_max_overflow=2)


def test_the_pool_settings_come_from_the_environment(tmp_path):
    env = {"LMS_DATABASE_URL": "postgresql://u:p@pgbouncer:6432/lms", "LMS_SECRET_KEY": "k" * 40,
           "LMS_DATABASE_POOL_SIZE": "8", "LMS_DATABASE_MAX_OVERFLOW": "4", "LMS_DATABASE_PGBOUNCER": "true"}
    options = database_engine_options(Config.from_env(env, data_dir=tmp_path))
    assert options == {"pool_pre_ping": True, "pool_size": 8, "max_overflow": 4,
                       "connect_args": {"prepare_threshold": None}}
    direct = database_engine_options(Config.from_env({**env, "LMS_DATABASE_PGBOUNCER": ""}, data_dir=tmp_path))
    assert "connect_args" not in direct and direct["pool_size"] == 8


def _one_statement_on_two_server_connections(engine: sa.Engine) -> None:
    """Run a statement often on one client connection, then again while another client holds its server one."""
    with engine.connect() as first, engine.connect() as second:
        for n in range(8):  # psycopg prepares a statement on its 5th run
            first.execute(sa.text("SELECT CAST(:n AS integer)"), {"n": n})
            first.commit()  # the transaction ends: PgBouncer takes the server connection back
        second.execute(sa.text("SELECT 1"))  # holds the server connection ``first`` last used (LIFO), no commit
        first.execute(sa.text("SELECT CAST(:n AS integer)"), {"n": 9})
        first.commit()
        second.rollback()


def test_server_side_prepared_statements_break_behind_transaction_pooling_unless_turned_off(config, bouncer):
    prepared = dataclasses.replace(config, database_pgbouncer=False)
    engine = sa.create_engine(bouncer.url(), **database_engine_options(prepared))
    try:
        with pytest.raises(sa.exc.DBAPIError) as failure:
            _one_statement_on_two_server_connections(engine)
        assert isinstance(failure.value.orig, psycopg.errors.InvalidSqlStatementName)  # "… does not exist"
    finally:
        engine.dispose()
    engine = sa.create_engine(bouncer.url(), **database_engine_options(config))
    try:
        _one_statement_on_two_server_connections(engine)
    finally:
        engine.dispose()


def test_logins_and_pages_work_through_pgbouncer(app, client, tree, bouncer):
    assert db.engine.url.port == bouncer.port
    for _ in range(7):  # the same statements, more often than psycopg's threshold for preparing them
        api_token(app.test_client(), tree.learner_a)
    assert login(client, tree.admins["unit_a"]).status_code == 302
    assert client.get("/people").status_code == 200
    assert client.get("/statistics").status_code == 200


def test_a_row_locked_race_through_pgbouncer_leaves_one_result(app, tree):
    transfer = transfers.start_transfer(tree.admins["unit_a"], tree.learner_a.id, target=tree.unit_b.credit_code)
    db.session.commit()
    transfer_id = transfer.id
    admin_ids = [tree.admins["unit_b"].id, make_user(tree.unit_b, login="unit_b_2").id]
    done, refused = race(app, *[lambda admin_id=admin_id: transfers.confirm_transfer(db.session.get(User, admin_id),
                                                                                    transfer_id)
                                for admin_id in admin_ids])
    assert len(done) == 1 and len(refused) == 1
    db.session.expire_all()
    assert db.session.get(PersonTransfer, transfer_id).decided_by_id == admin_ids[done[0]]
