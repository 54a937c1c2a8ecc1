"""Session fixtures for the real components and a per-test app on each backend.

Every test that takes ``app`` (or ``client``) runs twice: on the embedded default
(SQLite, in-process Redis-compatible store, local folder) and on the real
components (PostgreSQL, Redis, SeaweedFS S3). Under CI=true a missing component
fails the run instead of skipping.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade

from lms import create_app
from lms.accounts.models import ADMIN_ROLE_FOR_KIND, Role, User
from lms.accounts.passwords import hash_password, hasher_for
from lms.config import Config
from lms.core.idcard import make_id_number
from lms.demo import credit_code
from lms.extensions import db
from lms.orgs.admins import ensure_default_membership
from lms.orgs.models import Org, OrgKind, ReviewStatus
from lms.orgs.service import set_path
from tests.support import services

PASSWORD = "Passw0rd-test"
# argon2 is slow on purpose (~0.1 s a login at the production cost, a quarter of a typical test's time), so the
# suite hashes at argon2's minimum cost: the same code paths, verification reads the cost from the hash.
TEST_PASSWORD_COST = dict(password_time_cost=1, password_memory_kib=1024)
_PASSWORD_HASH = hash_password(PASSWORD, hasher_for(1, 1024))
SECRET = "t" * 48


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = services.create_test_database()
    yield url
    services.drop_test_database(url)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = services.redis_test_url()
    yield url
    services.release_redis_database(url)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[services.SeaweedS3]:
    server = services.SeaweedS3().start()
    yield server
    server.stop()


def _migrate(config: Config) -> None:
    app = create_app(config)
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session", params=["embedded", "real"])
def base_config(request, tmp_path_factory) -> Config:
    """The configuration of one backend, with the schema migrated by Alembic (not create_all)."""
    data_dir = tmp_path_factory.mktemp(f"lms-{request.param}")
    common = dict(data_dir=data_dir, secret_key=SECRET, cookie_secure=False, **TEST_PASSWORD_COST)
    if request.param == "embedded":
        config = Config.from_env({}, **common)
    else:
        server = request.getfixturevalue("s3_server")
        config = Config.from_env({}, database_url=request.getfixturevalue("postgres_url"),
                                 redis_url=request.getfixturevalue("redis_url"),
                                 s3=server.settings(bucket="lms-app-test"), **common)
    _migrate(config)
    return config


@pytest.fixture
def config(base_config) -> Config:
    return base_config


class RequestIsolatedClient(FlaskClient):
    """A test client whose every request gets its own app context and database session, as in production.

    The test itself keeps an app context for its own queries; without this, requests would reuse it and
    share its session and ``g`` (Flask-Login caches the user there), hiding missing commits and stale logins.
    """

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()  # the test's session re-reads what the request committed
        return response


@pytest.fixture
def app(config):
    app = create_app(config)
    app.config["TESTING"] = True
    app.test_client_class = RequestIsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        _empty_database()
        db.engine.dispose()
    if config.redis_url:
        services.empty_redis_database(config.redis_url)


def _empty_database() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # coursewares and media_assets point at each other, so no delete order satisfies both keys.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in tables:
                connection.execute(table.delete())
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


@pytest.fixture
def app_factory():
    """Build further apps in a test (other settings); their database connections are closed afterwards."""
    built = []

    def build(config: Config):
        extra = create_app(config)
        extra.test_client_class = RequestIsolatedClient
        built.append(extra)
        return extra

    yield build
    for extra in built:
        with extra.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


_serial = itertools.count(1)


def make_org(kind: OrgKind, parent: Org | None = None, status: ReviewStatus = ReviewStatus.APPROVED,
             name: str | None = None) -> Org:
    """Create an organisation directly in the database (a factory, not the registration path)."""
    number = next(_serial)
    org = Org(kind=kind, parent=parent, status=status, name=name or f"{kind.label}{number}",
              credit_code=credit_code(100000 + number) if kind in (OrgKind.DEPARTMENT, OrgKind.UNIT, OrgKind.BASE)
              else None)
    db.session.add(org)
    db.session.flush()
    set_path(org)
    db.session.commit()
    return org


def make_user(org: Org, role: Role | None = None, status: ReviewStatus = ReviewStatus.APPROVED,
              login: str | None = None, name: str | None = None) -> User:
    """Create an account directly in the database with the test password."""
    number = next(_serial)
    role = role or ADMIN_ROLE_FOR_KIND[org.kind]
    # Birth dates cycle through 1980–2007 so a long run never makes a future (invalid) birth date;
    # the sequence digits keep each number unique across cycles.
    id_number = make_id_number("420106", dt.date(1980, 1, 1) + dt.timedelta(days=number % 10_000),
                               (number // 10_000) % 1000)
    if role == Role.LEARNER:
        login = login or id_number
    user = User(login=login or f"user{number}", id_number=id_number if role == Role.LEARNER else None,
                name=name or f"测试{number}", phone=f"139{number:08d}", role=role, org=org, status=status,
                password_hash=_PASSWORD_HASH, title_series="工程技术人员" if role == Role.LEARNER else None,
                professional_post="工程师" if role == Role.LEARNER else None)
    db.session.add(user)
    db.session.flush()
    ensure_default_membership(user)
    db.session.commit()
    return user


@dataclasses.dataclass
class Tree:
    """Two branches of the organisation tree with an admin at every node and learners in both units.

    province ─ city ─ county
        city   ─ dept_a ─ unit_a (learner_a, pending_a) , base_a
        county ─ dept_b ─ unit_b (learner_b, pending_b)
    """

    province: Org
    city: Org
    county: Org
    dept_a: Org
    dept_b: Org
    unit_a: Org
    unit_b: Org
    base_a: Org
    admins: dict[str, User]
    reviewer: User
    learner_a: User
    learner_b: User
    pending_a: User
    pending_b: User


@pytest.fixture
def tree(app) -> Tree:
    province = make_org(OrgKind.PROVINCE_HR)
    city = make_org(OrgKind.CITY_HR, province)
    county = make_org(OrgKind.COUNTY_HR, city)
    dept_a = make_org(OrgKind.DEPARTMENT, city)
    dept_b = make_org(OrgKind.DEPARTMENT, county)
    unit_a = make_org(OrgKind.UNIT, dept_a)
    unit_b = make_org(OrgKind.UNIT, dept_b)
    base_a = make_org(OrgKind.BASE, dept_a)
    orgs = dict(province=province, city=city, county=county, dept_a=dept_a, dept_b=dept_b, unit_a=unit_a,
                unit_b=unit_b, base_a=base_a)
    admins = {key: make_user(org, login=f"admin_{key}") for key, org in orgs.items()}
    return Tree(**orgs, admins=admins, reviewer=make_user(province, Role.REVIEWER, login="reviewer1"),
                learner_a=make_user(unit_a, Role.LEARNER), learner_b=make_user(unit_b, Role.LEARNER),
                pending_a=make_user(unit_a, Role.LEARNER, ReviewStatus.PENDING),
                pending_b=make_user(unit_b, Role.LEARNER, ReviewStatus.PENDING))


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """Fetch a page and return the CSRF token of its form, as a browser would."""
    html = client.get(url).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client, user: User, password: str = PASSWORD):
    """Log in through the real login form."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"login": user.login, "password": password, "csrf_token": token})


def api_token(client, user: User, password: str = PASSWORD) -> dict:
    """Return the Authorization header of an API token for the user."""
    response = client.post("/api/v1/auth/token", json={"login": user.login, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}
