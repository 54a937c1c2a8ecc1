"""Several admins per organisation, custom roles and the one super admin (admin manual 5.1.1.3).

Every refusal is a Chinese 403/404/409/422 that changes nothing; every change leaves its audit row.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lms.accounts.models import Role, User
from lms.audit.models import AuditEntry
from lms.core.idcard import make_id_number
from lms.extensions import db
from lms.orgs.models import AdminRole, OrgAdmin
from lms.orgs.permissions import Permission, super_admin_permissions
from tests.conftest import PASSWORD, api_token, make_user

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def bearer(client):
    """Bearer headers per user, each got once (argon2 is slow on purpose)."""
    cache = {}

    def headers(user):
        if user.id not in cache:
            cache[user.id] = api_token(client, user)
        return cache[user.id]

    return headers


def refused(response, status=403):
    assert response.status_code == status, response.get_data(as_text=True)
    assert CHINESE.search(response.get_json()["error"]["message"])


def state() -> tuple:
    db.session.rollback()
    return (db.session.execute(sa.select(OrgAdmin.id, OrgAdmin.user_id, OrgAdmin.org_id, OrgAdmin.is_super,
                                         OrgAdmin.role_id).order_by(OrgAdmin.id)).all(),
            db.session.execute(sa.select(AdminRole.id, AdminRole.name, AdminRole.permission_codes)
                               .order_by(AdminRole.id)).all(),
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)))


def make_role(client, bearer, admin, name, permissions):
    response = client.post("/api/v1/org/roles", json={"name": name, "permissions": permissions},
                           headers=bearer(admin))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_the_super_admin_adds_an_admin_of_the_unit_with_a_role_who_can_then_do_only_that(client, tree, bearer):
    unit_admin = tree.admins["unit_a"]
    role_id = make_role(client, bearer, unit_admin, "注册审核员", ["approve_people"])
    staff = make_user(tree.unit_a, Role.LEARNER)
    response = client.post("/api/v1/org/admins", json={"method": "member", "user_id": staff.id, "role_id": role_id},
                           headers=bearer(unit_admin))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["is_super"] is False
    # The new admin approves registrations of the unit ...
    pending = client.get("/api/v1/registrations/learners/pending", headers=bearer(staff))
    assert pending.status_code == 200 and {p["id"] for p in pending.get_json()} == {tree.pending_a.id}
    approved = client.post("/api/v1/registrations/learners/decisions",
                           json={"ids": [tree.pending_a.id], "approve": True}, headers=bearer(staff))
    assert approved.status_code == 200
    # ... but holds nothing else: not the people list, not the admins.
    refused(client.get("/api/v1/people", headers=bearer(staff)))
    refused(client.get("/api/v1/org/admins", headers=bearer(staff)))
    todo = client.get("/api/v1/me/todo", headers=bearer(staff)).get_json()
    assert [(t["key"], t["count"]) for t in todo] == [("learner_registrations", 0)]
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["role.create", "admin.add", "registration.approve"]


def test_an_admin_is_registered_new_or_found_elsewhere_only_by_id_number_and_name_together(client, tree, bearer):
    dept_admin = tree.admins["dept_a"]
    role_id = make_role(client, bearer, dept_admin, "统计员", ["view_statistics"])
    number = make_id_number("420106", __import__("datetime").date(1990, 3, 4), 77)
    new = client.post("/api/v1/org/admins", headers=bearer(dept_admin), json={
        "method": "new", "role_id": role_id, "id_number": number, "name": "王新", "login": "wangxin01",
        "phone": "13912345678", "password": PASSWORD})
    assert new.status_code == 201, new.get_json()
    person = db.session.scalar(sa.select(User).where(User.login == "wangxin01"))
    assert person.org_id == tree.dept_a.id and person.id_number == number
    # The same number again: it exists now, so "new" is refused and points at the third way.
    before = state()
    again = client.post("/api/v1/org/admins", headers=bearer(dept_admin), json={
        "method": "new", "role_id": role_id, "id_number": number, "name": "王新", "login": "wangxin02",
        "phone": "13912345678", "password": PASSWORD})
    refused(again, 409)
    assert state() == before
    # A learner of another branch: the name must match, and the answer never says whose the number is.
    wrong_name = client.post("/api/v1/org/admins", headers=bearer(dept_admin), json={
        "method": "existing", "role_id": role_id, "id_number": tree.learner_b.id_number, "name": "别人"})
    refused(wrong_name, 422)
    assert tree.learner_b.name not in wrong_name.get_data(as_text=True)
    assert state() == before
    found = client.post("/api/v1/org/admins", headers=bearer(dept_admin), json={
        "method": "existing", "role_id": role_id, "id_number": tree.learner_b.id_number, "name": tree.learner_b.name})
    assert found.status_code == 201
    # An account administers one organisation only.
    twice = client.post("/api/v1/org/admins", headers=bearer(tree.admins["unit_b"]), json={
        "method": "member", "user_id": tree.learner_b.id,
        "role_id": make_role(client, bearer, tree.admins["unit_b"], "审核员", ["approve_people"])})
    refused(twice, 409)


def test_nobody_grants_a_permission_they_do_not_hold(client, tree, bearer):
    unit_admin = tree.admins["unit_a"]
    narrow = make_role(client, bearer, unit_admin, "管理员管理员", ["manage_admins", "approve_people"])
    helper = make_user(tree.unit_a, Role.LEARNER)
    assert client.post("/api/v1/org/admins", json={"method": "member", "user_id": helper.id, "role_id": narrow},
                       headers=bearer(unit_admin)).status_code == 201
    before = state()
    wider = {"name": "扩权", "permissions": ["approve_people", "grant_deferrals"]}
    refused(client.post("/api/v1/org/roles", json=wider, headers=bearer(helper)))
    wide = make_role(client, bearer, unit_admin, "全能", sorted(super_admin_permissions(tree.unit_a.kind)))
    before = state()
    other = make_user(tree.unit_a, Role.LEARNER)
    refused(client.post("/api/v1/org/admins", json={"method": "member", "user_id": other.id, "role_id": wide},
                        headers=bearer(helper)))
    refused(client.put(f"/api/v1/org/roles/{wide}", json={"name": "全能", "permissions": ["approve_people"]},
                       headers=bearer(helper)))
    assert state() == before
    # A permission of another kind of organisation is not a permission of this one.
    refused(client.post("/api/v1/org/roles", json={"name": "越级", "permissions": ["approve_orgs"]},
                        headers=bearer(unit_admin)), 422)
    refused(client.post("/api/v1/org/roles", json={"name": "空", "permissions": []}, headers=bearer(unit_admin)), 422)
    refused(client.post("/api/v1/org/roles", json={"name": "乱", "permissions": ["root"]}, headers=bearer(unit_admin)),
            422)
    assert state() == before


def test_the_super_admin_hands_over_and_keeps_rights_only_when_kept_explicitly(client, tree, bearer):
    unit_admin = tree.admins["unit_a"]
    role_id = make_role(client, bearer, unit_admin, "审核员", ["approve_people"])
    successor = make_user(tree.unit_a, Role.LEARNER)
    membership = client.post("/api/v1/org/admins", json={"method": "member", "user_id": successor.id,
                                                         "role_id": role_id}, headers=bearer(unit_admin)).get_json()
    # The super admin can be neither removed nor disabled while super.
    own = db.session.scalar(sa.select(OrgAdmin).where(OrgAdmin.user_id == unit_admin.id))
    refused(client.delete(f"/api/v1/org/admins/{own.id}", headers=bearer(unit_admin)), 409)
    refused(client.post(f"/api/v1/people/{unit_admin.id}/disable", json={"reason": "离职"},
                        headers=bearer(tree.admins["dept_a"])), 409)
    handed = client.post(f"/api/v1/org/admins/{membership['id']}/super", json={"keep_role_id": None},
                         headers=bearer(unit_admin))
    assert handed.status_code == 200 and handed.get_json()["is_super"] is True
    supers = db.session.scalars(sa.select(OrgAdmin.user_id).where(OrgAdmin.org_id == tree.unit_a.id,
                                                                  OrgAdmin.is_super)).all()
    assert supers == [successor.id]
    # Not kept: the former super admin is no admin at all now.
    assert db.session.scalar(sa.select(OrgAdmin).where(OrgAdmin.user_id == unit_admin.id)) is None
    assert client.get("/api/v1/me", headers=bearer(unit_admin)).status_code == 401  # their sessions ended
    refused(client.get("/api/v1/people", headers=api_token(client, unit_admin)))
    # The new super admin holds every permission of a unit.
    assert client.get("/api/v1/people", headers=bearer(successor)).status_code == 200


def test_a_former_super_admin_keeps_the_role_they_were_given(client, tree, bearer):
    unit_admin = tree.admins["unit_a"]
    role_id = make_role(client, bearer, unit_admin, "审核员", ["approve_people"])
    successor = make_user(tree.unit_a, Role.LEARNER)
    membership = client.post("/api/v1/org/admins", json={"method": "member", "user_id": successor.id,
                                                         "role_id": role_id}, headers=bearer(unit_admin)).get_json()
    assert client.post(f"/api/v1/org/admins/{membership['id']}/super", json={"keep_role_id": role_id},
                       headers=bearer(unit_admin)).status_code == 200
    kept = db.session.scalar(sa.select(OrgAdmin).where(OrgAdmin.user_id == unit_admin.id))
    assert (kept.is_super, kept.role_id) == (False, role_id)
    token = api_token(client, unit_admin)
    assert client.get("/api/v1/registrations/learners/pending", headers=token).status_code == 200
    refused(client.get("/api/v1/people", headers=token))


def test_removing_an_admin_ends_their_rights_and_sessions_and_a_held_role_cannot_be_deleted(client, tree, bearer):
    unit_admin = tree.admins["unit_a"]
    role_id = make_role(client, bearer, unit_admin, "审核员", ["approve_people"])
    staff = make_user(tree.unit_a, Role.LEARNER)
    membership = client.post("/api/v1/org/admins", json={"method": "member", "user_id": staff.id, "role_id": role_id},
                             headers=bearer(unit_admin)).get_json()
    staff_token = bearer(staff)
    refused(client.delete(f"/api/v1/org/roles/{role_id}", headers=bearer(unit_admin)), 409)
    refused(client.delete(f"/api/v1/org/admins/{membership['id']}", headers=staff_token), 403)
    assert client.delete(f"/api/v1/org/admins/{membership['id']}", headers=bearer(unit_admin)).status_code == 204
    assert client.get("/api/v1/me", headers=staff_token).status_code == 401  # the old token ended
    assert client.delete(f"/api/v1/org/roles/{role_id}", headers=bearer(unit_admin)).status_code == 204
    # Another organisation's admin cannot touch this organisation's admins or roles at all.
    other = db.session.scalar(sa.select(OrgAdmin).where(OrgAdmin.user_id == unit_admin.id))
    refused(client.delete(f"/api/v1/org/admins/{other.id}", headers=bearer(tree.admins["unit_b"])), 404)


def test_the_admins_page_shows_the_super_admin_and_the_catalogue_of_the_kind(client, tree):
    from tests.declarations import client_for

    page = client_for(client.application, tree.admins["unit_a"]).get("/org/admins").get_data(as_text=True)
    assert "超级管理员" in page and Permission.APPROVE_PEOPLE.label in page
    assert Permission.APPROVE_ORGS.label not in page  # a unit approves no organisations
    assert client_for(client.application, tree.learner_a).get("/org/admins").status_code == 403
