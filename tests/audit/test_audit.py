"""The audit log: one append-only row per admin action, read by the admins above, exportable."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lms.audit.models import AuditEntry, AuditLogIsAppendOnly
from lms.extensions import db
from tests.conftest import api_token


def decide_pending(client, tree):
    response = client.post("/api/v1/registrations/learners/decisions",
                           json={"ids": [tree.pending_a.id], "approve": False, "reason": "材料不全"},
                           headers=api_token(client, tree.admins["unit_a"]))
    assert response.status_code == 200


def test_a_decision_leaves_exactly_its_row_with_who_what_and_from_where(client, tree):
    decide_pending(client, tree)
    db.session.rollback()
    [entry] = db.session.scalars(sa.select(AuditEntry)).all()
    assert (entry.actor_id, entry.action, entry.object_id, entry.reason) == (
        tree.admins["unit_a"].id, "registration.reject", str(tree.pending_a.id), "材料不全")
    assert entry.actor_role.endswith("超级管理员") and entry.org_path == tree.unit_a.path
    assert entry.ip_address == "127.0.0.1"
    assert tree.pending_a.id_number not in entry.object_label


def test_rows_cannot_be_changed_or_deleted_through_the_app(client, tree):
    decide_pending(client, tree)
    db.session.rollback()
    entry = db.session.scalars(sa.select(AuditEntry)).one()
    entry.reason = "改掉"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(sa.select(AuditEntry)).one())
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_postgresql_itself_refuses_to_change_a_row(client, tree):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite relies on the ORM guard")
    decide_pending(client, tree)
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE audit_entries SET reason = 'x'"))
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_entries"))
    db.session.rollback()


@pytest.mark.parametrize("reader, sees", [("unit_a", True), ("dept_a", True), ("city", True), ("province", True),
                                          ("dept_b", False), ("county", False), ("unit_b", False)])
def test_the_admins_above_read_the_subtrees_log_and_nobody_else(client, tree, reader, sees):
    decide_pending(client, tree)
    response = client.get("/api/v1/audit", headers=api_token(client, tree.admins[reader]))
    assert response.status_code == 200
    assert (response.get_json()["total"] == 1) is sees


def test_people_without_the_permission_are_refused_the_log(client, tree):
    for person in (tree.learner_a, tree.reviewer):
        response = client.get("/api/v1/audit", headers=api_token(client, person))
        assert response.status_code == 403


def test_the_log_filters_by_action_and_date_and_refuses_a_bad_filter(client, tree):
    decide_pending(client, tree)
    token = api_token(client, tree.admins["dept_a"])
    assert client.get("/api/v1/audit?action=registration.reject", headers=token).get_json()["total"] == 1
    assert client.get("/api/v1/audit?action=org.disable", headers=token).get_json()["total"] == 0
    assert client.get("/api/v1/audit?since=2000-01-01&until=2000-01-02", headers=token).get_json()["total"] == 0
    assert client.get("/api/v1/audit?action=drop", headers=token).status_code == 422
    assert client.get("/api/v1/audit?since=yesterday", headers=token).status_code == 422


def test_the_export_is_an_xlsx_of_the_rows_and_is_logged_itself(client, tree):
    from tests.declarations import client_for

    decide_pending(client, tree)
    page = client_for(client.application, tree.admins["dept_a"])
    assert "驳回注册" in page.get("/audit").get_data(as_text=True)
    response = page.get("/audit/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("时间", "操作人", "身份", "操作") and rows[1][3] == "驳回注册"
    db.session.rollback()
    assert db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all() == [
        "registration.reject", "audit.export"]
