"""Disabling and re-enabling people and sub-organisations (admin manual 5.1.2).

A disabled account, or anyone under a disabled organisation, cannot log in; every session and token
ends at once; data stays; the reason is kept and audit-logged.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit.models import AuditEntry
from lms.extensions import db
from lms.ledger.models import LedgerEntry
from lms.orgs.models import Org
from tests.conftest import PASSWORD, api_token, csrf_token, login

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def token_of(client, user) -> dict:
    return api_token(client, user)


def login_refused(client, user) -> str:
    response = client.post("/api/v1/auth/token", json={"login": user.login, "password": PASSWORD})
    assert response.status_code == 403, response.get_json()
    return response.get_json()["error"]["message"]


def rows(action: str) -> list[AuditEntry]:
    db.session.rollback()
    return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()


def test_a_disabled_person_is_logged_out_everywhere_cannot_log_in_and_keeps_their_data(client, tree):
    learner_token = token_of(client, tree.learner_a)
    page = client.application.test_client()
    assert login(page, tree.learner_a).status_code == 302
    ledger_rows = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    response = client.post(f"/api/v1/people/{tree.learner_a.id}/disable", json={"reason": "已离职"},
                           headers=token_of(client, tree.admins["unit_a"]))
    assert response.status_code == 200 and response.get_json()["disabled"] is True
    assert client.get("/api/v1/me", headers=learner_token).status_code == 401
    assert page.get("/my/hours").status_code in (302, 401)  # the browser session ended too
    assert "已离职" in login_refused(client, tree.learner_a)
    form = client.application.test_client()
    refused = form.post("/login", data={"login": tree.learner_a.login, "password": PASSWORD,
                                        "csrf_token": csrf_token(form, "/login")})
    assert refused.status_code == 403 and "账号已停用" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == ledger_rows
    [entry] = rows("person.disable")
    assert (entry.reason, entry.object_id, entry.before, entry.after) == (
        "已离职", str(tree.learner_a.id), {"disabled": False}, {"disabled": True})
    assert tree.learner_a.id_number not in entry.object_label  # masked
    enabled = client.post(f"/api/v1/people/{tree.learner_a.id}/enable", json={"reason": "返聘"},
                          headers=token_of(client, tree.admins["unit_a"]))
    assert enabled.status_code == 200
    assert client.post("/api/v1/auth/token", json={"login": tree.learner_a.login, "password": PASSWORD}
                       ).status_code == 200
    assert len(rows("person.enable")) == 1


@pytest.mark.parametrize("actor", ["unit_b", "dept_b", "county", "base_a", "learner_b", "reviewer"])
def test_nobody_outside_the_persons_subtree_or_without_the_permission_disables_them(client, tree, actor):
    user = tree.admins.get(actor) or getattr(tree, actor)
    response = client.post(f"/api/v1/people/{tree.learner_a.id}/disable", json={"reason": "测试"},
                           headers=token_of(client, user))
    assert response.status_code == 403 and CHINESE.search(response.get_json()["error"]["message"])
    assert db.session.get(User, tree.learner_a.id).disabled_at is None
    assert rows("person.disable") == []


def test_a_disable_needs_a_reason_and_nobody_disables_themself(client, tree):
    admin = token_of(client, tree.admins["dept_a"])
    assert client.post(f"/api/v1/people/{tree.learner_a.id}/disable", json={"reason": "  "},
                       headers=admin).status_code == 422
    staff_admin = tree.admins["unit_a"]
    own = client.post(f"/api/v1/people/{staff_admin.id}/disable", json={"reason": "x"},
                      headers=token_of(client, staff_admin))
    assert own.status_code == 409
    assert rows("person.disable") == []


def test_a_disabled_unit_logs_out_and_locks_out_its_admins_and_people_and_its_parent_enables_it(client, tree):
    unit_admin_token = token_of(client, tree.admins["unit_a"])
    learner_token = token_of(client, tree.learner_a)
    dept = token_of(client, tree.admins["dept_a"])
    response = client.post(f"/api/v1/orgs/{tree.unit_a.id}/disable", json={"reason": "违规办学被查处（第二十二条）"},
                           headers=dept)
    assert response.status_code == 200 and response.get_json()["disabled"] is True
    for token in (unit_admin_token, learner_token):
        assert client.get("/api/v1/me", headers=token).status_code == 401
    assert "已停用" in login_refused(client, tree.learner_a)
    assert "已停用" in login_refused(client, tree.admins["unit_a"])
    assert client.post("/api/v1/auth/token", json={"login": tree.learner_b.login, "password": PASSWORD}
                       ).status_code == 200  # the other branch is untouched
    assert client.post(f"/api/v1/orgs/{tree.unit_a.id}/enable", json={"reason": "整改完成"}, headers=dept
                       ).status_code == 200
    assert client.post("/api/v1/auth/token", json={"login": tree.learner_a.login, "password": PASSWORD}
                       ).status_code == 200
    assert [e.action for e in rows("org.disable") + rows("org.enable")] == ["org.disable", "org.enable"]


def test_disabling_a_department_locks_out_everyone_under_it(client, tree):
    city = token_of(client, tree.admins["city"])
    assert client.post(f"/api/v1/orgs/{tree.dept_a.id}/disable", json={"reason": "撤并"}, headers=city
                       ).status_code == 200
    for person in (tree.admins["dept_a"], tree.admins["unit_a"], tree.admins["base_a"], tree.learner_a):
        login_refused(client, person)


@pytest.mark.parametrize("actor, target", [
    ("dept_a", "dept_a"), ("dept_a", "city"), ("unit_a", "unit_a"), ("dept_b", "unit_a"), ("county", "unit_a"),
    ("base_a", "unit_a"), ("learner_a", "unit_a"), ("reviewer", "unit_a"),
])
def test_nobody_disables_their_own_organisation_one_above_it_or_one_outside_their_subtree(client, tree, actor,
                                                                                           target):
    user = tree.admins.get(actor) or getattr(tree, actor)
    org = getattr(tree, target)
    response = client.post(f"/api/v1/orgs/{org.id}/disable", json={"reason": "测试"}, headers=token_of(client, user))
    assert response.status_code == 403 and CHINESE.search(response.get_json()["error"]["message"])
    assert db.session.get(Org, org.id).disabled_at is None


def test_the_tree_and_people_pages_disable_and_enable_with_a_reason(client, tree):
    from tests.declarations import client_for

    dept = client_for(client.application, tree.admins["dept_a"])
    tree_page = dept.get("/orgs").get_data(as_text=True)
    assert f'/orgs/{tree.unit_a.id}/disable' in tree_page
    token = csrf_token(dept, "/orgs")
    response = dept.post(f"/orgs/{tree.unit_a.id}/disable", data={"csrf_token": token, "reason": "停业"})
    assert response.status_code == 302
    assert "已停用" in dept.get("/orgs").get_data(as_text=True)
    people = dept.get("/people?status=approved").get_data(as_text=True)
    assert tree.learner_a.name in people
    response = dept.post(f"/people/{tree.learner_b.id}/disable", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 302 and "不在本单位管辖范围内" in dept.get("/people").get_data(as_text=True)
    assert db.session.get(User, tree.learner_b.id).disabled_at is None
