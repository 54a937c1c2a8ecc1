"""档案托管 through the pages (学时管理办法第十四条): an HR admin flags a unit as an archive agency, the agency's admin
registers a learner by ID-card number and name, the learner's next declaration goes to the agency first, and
removing the registration sends later ones back to the learner's own unit. Bad input and other actors are refused
with a Chinese message and change nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from lms.core.idcard import make_id_number
from lms.declarations import service
from lms.declarations.models import ArchiveHosting, Declaration, DeclarationStatus
from lms.extensions import db
from lms.orgs.models import Org, OrgKind
from tests.conftest import csrf_token, make_org, make_user
from tests.declarations import client_for, decide, declare, declared_id

PAGE = "/declarations/archive-hostings"
PAPER = {"presented_paper": "y"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def agency(app, tree) -> Org:
    """A 人才交流服务中心 under dept_b, made an archive agency by the city HR admin through the settings page."""
    org = make_org(OrgKind.UNIT, tree.dept_b, name="人才交流服务中心")
    city = client_for(app, tree.admins["city"])
    url = f"/orgs/{org.id}/settings"
    response = city.post(url, data={"csrf_token": csrf_token(city, url), "region": "", "archive_agency": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.rollback()
    return db.session.get(Org, org.id)


@pytest.fixture
def agency_admin(agency):
    return make_user(agency, login="agency_admin")


def register(client, id_number: str, name: str, token: str | None = None):
    return client.post(PAGE, data={"csrf_token": token or csrf_token(client, PAGE), "id_number": id_number,
                                   "name": name})


def remove(client, hosting_id: int, token: str | None = None):
    return client.post(f"{PAGE}/{hosting_id}/remove", data={"csrf_token": token or csrf_token(client, PAGE)})


def hostings() -> list[tuple]:
    db.session.rollback()  # read what the requests committed
    return db.session.execute(sa.select(ArchiveHosting.user_id, ArchiveHosting.agency_id)
                              .order_by(ArchiveHosting.id)).all()


def test_a_hosted_persons_declaration_goes_to_the_agency_first_until_the_registration_is_removed(
        app, tree, agency, agency_admin):
    client = client_for(app, agency_admin)
    assert "档案托管" in client.get("/").get_data(as_text=True)  # the menu entry of an agency's admin
    learner = tree.learner_a
    response = register(client, learner.id_number.lower().replace("", " ").strip(), f" {learner.name} ")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(PAGE).get_data(as_text=True)
    assert f"已登记 {learner.name}（{learner.masked_id_number}）的档案由本机构托管" in page
    assert learner.name in page and tree.unit_a.name in page and learner.id_number not in page
    assert hostings() == [(learner.id, agency.id)]
    assert service.review_orgs(learner) == (agency, tree.dept_b, tree.county)

    declaration_id = declared_id(declare(client_for(app, learner), facts=PAPER))
    declaration = db.session.get(Declaration, declaration_id)
    assert [step.org_id for step in declaration.review_steps] == [agency.id, tree.dept_b.id, tree.county.id]
    assert decide(client_for(app, tree.admins["unit_a"]), declaration_id, "approve").status_code == 404
    assert decide(client, declaration_id, "approve").status_code == 302
    assert decide(client_for(app, tree.admins["dept_b"]), declaration_id, "approve").status_code == 302
    assert decide(client_for(app, tree.admins["county"]), declaration_id, "approve").status_code == 302
    assert db.session.get(Declaration, declaration_id).status == DeclarationStatus.FILED

    [hosting_id] = db.session.scalars(sa.select(ArchiveHosting.id)).all()
    assert remove(client, hosting_id).status_code == 302
    assert f"已移除 {learner.name} 的档案托管登记" in client.get(PAGE).get_data(as_text=True)
    assert hostings() == []
    assert service.review_orgs(learner) == (tree.unit_a, tree.dept_a, tree.city)
    later = declared_id(declare(client_for(app, learner), title="第二次会议", start="2026-06-01",
                                end="2026-06-02", facts=PAPER))
    declaration = db.session.get(Declaration, later)
    assert (declaration.first_org_id, declaration.step_index) == (tree.unit_a.id, 0)


def _unregistered_id_number() -> str:
    return make_id_number("420106", dt.date(1975, 5, 5), 999)


BAD_INPUT = [  # (case, ID number, name, message)
    ("empty", "", "张三", "身份证号码应为 18 位，当前为 0 位"),
    ("short", "42010619800101123", "张三", "身份证号码应为 18 位，当前为 17 位"),
    ("check digit", "420106198001011230", "张三", "校验位不正确"),
    ("unknown", "unregistered", "张三", "平台上没有身份证号码和姓名都相符的注册人员"),
    ("wrong name", "learner_a", "别人的名字", "平台上没有身份证号码和姓名都相符的注册人员"),  # both must match
    ("no name", "learner_a", "", "请填写姓名"),
]


def test_bad_input_is_refused_with_a_clear_message_and_registers_nobody(app, tree, agency_admin):
    client = client_for(app, agency_admin)
    for case, id_number, name, message in BAD_INPUT:
        if id_number == "unregistered":
            id_number = _unregistered_id_number()
        elif id_number == "learner_a":
            id_number = tree.learner_a.id_number
        response = register(client, id_number, name)
        assert response.status_code == 422, case
        assert message in response.get_data(as_text=True), case
        assert hostings() == [], case


def test_only_learners_can_be_registered(app, tree, agency_admin):
    admin = tree.admins["unit_b"]
    admin.id_number = _unregistered_id_number()  # an admin account that happens to carry an ID number
    db.session.commit()
    response = register(client_for(app, agency_admin), admin.id_number, admin.name)
    assert response.status_code == 422 and "不是专业技术人员" in response.get_data(as_text=True)
    assert hostings() == []


def test_a_person_hosted_by_another_agency_or_already_here_is_a_conflict(app, tree, agency, agency_admin):
    client = client_for(app, agency_admin)
    assert register(client, tree.learner_a.id_number, tree.learner_a.name).status_code == 302
    again = register(client, tree.learner_a.id_number, tree.learner_a.name)
    assert again.status_code == 409 and "的档案已登记由本机构托管" in again.get_data(as_text=True)

    other = make_org(OrgKind.UNIT, tree.dept_a, name="另一人才服务中心")
    other.archive_agency = True
    db.session.commit()
    other_client = client_for(app, make_user(other, login="other_agency_admin"))
    taken = register(other_client, tree.learner_a.id_number, tree.learner_a.name)
    assert taken.status_code == 409
    assert f"已登记由{agency.name}托管，须先由该机构移除登记" in taken.get_data(as_text=True)
    assert hostings() == [(tree.learner_a.id, agency.id)]


def test_anyone_but_an_agencys_admin_is_refused_the_page(app, tree, agency):
    for actor in ("unit_a", "learner_a", "dept_b", "city"):
        client = client_for(app, tree.admins.get(actor) or getattr(tree, actor))
        response = client.get(PAGE)
        assert response.status_code == 403 and CHINESE.search(response.get_data(as_text=True)), actor
        assert "档案托管" not in client.get("/").get_data(as_text=True), actor  # no menu entry either
        token = csrf_token(client, "/password")
        response = register(client, tree.learner_b.id_number, tree.learner_b.name, token=token)
        assert response.status_code == 403, actor
        assert hostings() == [], actor


def test_a_plain_units_admin_is_told_the_unit_is_not_an_agency(app, tree):
    response = client_for(app, tree.admins["unit_a"]).get(PAGE)
    assert response.status_code == 403 and "不是人事档案管理服务机构" in response.get_data(as_text=True)


def test_an_agency_removes_only_its_own_registrations(app, tree, agency, agency_admin):
    other = make_org(OrgKind.UNIT, tree.dept_a, name="另一人才服务中心")
    other.archive_agency = True
    db.session.commit()
    other_admin = make_user(other, login="other_agency_admin")
    service.record_archive_hosting(other_admin, tree.learner_b, other)
    db.session.commit()
    [foreign_id] = db.session.scalars(sa.select(ArchiveHosting.id)).all()

    client = client_for(app, agency_admin)
    assert remove(client, foreign_id).status_code == 404
    assert remove(client, 999999).status_code == 404
    response = client.post(f"{PAGE}/{foreign_id}/remove", data={})  # no CSRF token
    assert response.status_code == 400
    assert hostings() == [(tree.learner_b.id, other.id)]
    assert remove(client_for(app, other_admin), foreign_id).status_code == 302
    assert hostings() == []

