"""Demo data for a first run: a small organisation tree, one admin of each role, a learner and a base."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from lms.accounts.models import ADMIN_ROLE_FOR_KIND, Role, User
from lms.accounts.passwords import hash_password
from lms.core.db import utcnow
from lms.core.idcard import make_id_number
from lms.extensions import db
from lms.orgs.models import Org, OrgKind, ReviewStatus
from lms.orgs.service import credit_code_check_char, set_path

DEMO_PASSWORD = "Demo2026lms"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    login: str
    org: str


def credit_code(serial: int) -> str:
    """Build a valid unified social credit code for demo organisations."""
    first17 = f"12420000{serial:09d}"
    return first17 + credit_code_check_char(first17)


def _org(kind: OrgKind, name: str, parent: Org | None, serial: int | None = None) -> Org:
    org = db.session.scalar(sa.select(Org).where(Org.name == name, Org.kind == kind))
    if org is None:
        org = Org(kind=kind, name=name, parent=parent, status=ReviewStatus.APPROVED, reviewed_at=utcnow(),
                  credit_code=credit_code(serial) if serial else None)
        db.session.add(org)
        db.session.flush()
        set_path(org)
    return org


def _user(org: Org, role: Role, login: str, name: str, phone: str, **extra) -> User:
    user = db.session.scalar(sa.select(User).where(User.login == login))
    if user is None:
        user = User(login=login, org=org, role=role, name=name, phone=phone, status=ReviewStatus.APPROVED,
                    password_hash=hash_password(DEMO_PASSWORD), reviewed_at=utcnow(), **extra)
        db.session.add(user)
        db.session.flush()
    return user


def seed_demo_data() -> list[DemoLogin]:
    """Create (or find) the demo tree and accounts; safe to run again."""
    province = _org(OrgKind.PROVINCE_HR, "湖北省人力资源和社会保障厅", None)
    city = _org(OrgKind.CITY_HR, "荆州市人力资源和社会保障局", province)
    county = _org(OrgKind.COUNTY_HR, "沙市区人力资源和社会保障局", city)
    department = _org(OrgKind.DEPARTMENT, "荆州市卫生健康委员会", city, serial=1)
    unit = _org(OrgKind.UNIT, "荆州市中心医院", department, serial=2)
    base = _org(OrgKind.BASE, "长江大学继续教育基地", department, serial=3)
    admins = [
        (province, "province_admin", "省厅管理员", "13900000001"),
        (city, "city_admin", "市人社局管理员", "13900000002"),
        (county, "county_admin", "区人社局管理员", "13900000003"),
        (department, "dept_admin", "卫健委管理员", "13900000004"),
        (unit, "unit_admin", "医院管理员", "13900000005"),
        (base, "base_admin", "基地管理员", "13900000006"),
    ]
    logins = []
    for org, login, name, phone in admins:
        _user(org, ADMIN_ROLE_FOR_KIND[org.kind], login, name, phone)
        logins.append(DemoLogin(ADMIN_ROLE_FOR_KIND[org.kind].label, login, org.name))
    _user(province, Role.REVIEWER, "reviewer", "防作弊审核员", "13900000007")
    logins.append(DemoLogin(Role.REVIEWER.label, "reviewer", province.name))
    learner_id = make_id_number("421002", dt.date(1988, 5, 17), 123)
    _user(unit, Role.LEARNER, learner_id, "张明", "13800001234", id_number=learner_id,
          title_series="卫生技术人员", professional_post="主治医师")
    logins.append(DemoLogin(Role.LEARNER.label, learner_id, unit.name))
    db.session.flush()
    return logins
