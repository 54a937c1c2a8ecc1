"""人员调转 (admin manual 5.1.6) through the API and the pages, on both backends: states, refusals, what follows."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import Role, User
from lms.audit.models import AuditEntry
from lms.certificates import service as certificates
from lms.core.db import utcnow
from lms.declarations import service as declarations
from lms.declarations.models import Declaration
from lms.extensions import db
from lms.ledger import service as ledger
from lms.orgs.models import AdminRole, OrgAdmin, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission, super_admin_permissions
from lms.statistics import service as statistics
from lms.transfers import service
from lms.transfers.models import PersonTransfer, TransferStatus
from tests.certificates import meet_requirement
from tests.conftest import api_token, csrf_token, make_org, make_user
from tests.declarations import client_for, decide, declare, declared_id
from tests.support.races import postgres_only, race


def _token(client, user):
    return api_token(client, user)


def _start(client, admin, person, target, **extra):
    return client.post("/api/v1/transfers", json={"person_id": person.id, "target": target, **extra},
                       headers=_token(client, admin))


def _people_ids(client, admin) -> set[int]:
    response = client.get("/api/v1/people?per_page=100", headers=_token(client, admin))
    assert response.status_code == 200, response.get_json()
    return {row["id"] for row in response.get_json()["items"]}


def _audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("transfer.%"))
                                   .order_by(AuditEntry.id)))


def _state() -> tuple:
    """Everything a refusal must leave as it was."""
    rows = db.session.execute(sa.select(PersonTransfer.id, PersonTransfer.status, PersonTransfer.decided_at)
                              .order_by(PersonTransfer.id)).all()
    orgs = db.session.execute(sa.select(User.id, User.org_id).order_by(User.id)).all()
    return rows, orgs, _audit_actions()


def _figures_hold(*units) -> None:
    year = ledger.china_today().year
    for unit in units:
        db.session.expire_all()
        assert statistics.report(unit, year).root.comparable() == statistics.plain_figures(unit, year).comparable()


def test_the_unit_super_admin_holds_the_transfer_permission():
    assert Permission.TRANSFER_PEOPLE in super_admin_permissions(OrgKind.UNIT)
    assert Permission.TRANSFER_PEOPLE not in super_admin_permissions(OrgKind.DEPARTMENT)


def test_a_confirmed_transfer_moves_the_person_their_figures_and_who_sees_them(client, tree):
    learner, old_admin, new_admin = tree.learner_a, tree.admins["unit_a"], tree.admins["unit_b"]
    year = meet_requirement(learner)
    certificate = certificates.issue(learner, year)
    db.session.commit()
    code, balances = certificate.code, ledger.balances(learner.id, year)
    _figures_hold(tree.unit_a, tree.unit_b)

    response = _start(client, old_admin, learner, tree.unit_b.credit_code, note="工作调动")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending" and body["to_org"]["id"] == tree.unit_b.id and body["note"] == "工作调动"
    assert body["id_number"] != learner.id_number  # masked
    todo = client.get("/api/v1/me/todo", headers=_token(client, new_admin)).get_json()
    assert {row["key"]: row["count"] for row in todo}["transfers"] == 1
    assert learner.id in _people_ids(client, old_admin)  # still the old unit's until confirmed

    response = client.post(f"/api/v1/transfers/{body['id']}/confirm", headers=_token(client, new_admin))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "confirmed" and response.get_json()["decided_by"] == new_admin.name
    db.session.expire_all()
    assert db.session.get(User, learner.id).org_id == tree.unit_b.id
    assert learner.id not in _people_ids(client, old_admin)
    assert learner.id in _people_ids(client, new_admin)
    assert ledger.balances(learner.id, year) == balances
    assert certificates.verify(code).genuine
    _figures_hold(tree.unit_a, tree.unit_b, tree.city, tree.county, tree.province)
    assert _audit_actions() == ["transfer.start", "transfer.confirm"]
    todo = client.get("/api/v1/me/todo", headers=_token(client, new_admin)).get_json()
    assert {row["key"]: row["count"] for row in todo}["transfers"] == 0
    # The old unit can no longer act on the person.
    response = client.post(f"/api/v1/people/{learner.id}/disable", json={"reason": "试图"},
                           headers=_token(client, old_admin))
    assert response.status_code == 403


def test_a_refusal_needs_a_reason_and_leaves_the_person_where_they_are(client, tree):
    learner, new_admin = tree.learner_a, tree.admins["unit_b"]
    transfer_id = _start(client, tree.admins["unit_a"], learner, tree.unit_b.credit_code).get_json()["id"]
    before = _state()
    response = client.post(f"/api/v1/transfers/{transfer_id}/refuse", json={"reason": "  "},
                           headers=_token(client, new_admin))
    assert response.status_code == 422 and "拒绝调转的原因" in response.get_json()["error"]["message"]
    assert _state() == before
    response = client.post(f"/api/v1/transfers/{transfer_id}/refuse", json={"reason": "本单位无此岗位"},
                           headers=_token(client, new_admin))
    assert response.status_code == 200 and response.get_json()["status"] == "refused"
    assert response.get_json()["reason"] == "本单位无此岗位"
    db.session.expire_all()
    assert db.session.get(User, learner.id).org_id == tree.unit_a.id
    before = _state()
    for action in ("confirm", "refuse"):  # deciding twice
        response = client.post(f"/api/v1/transfers/{transfer_id}/{action}", json={"reason": "再来"},
                               headers=_token(client, new_admin))
        assert response.status_code == 409 and "调入单位已拒绝" in response.get_json()["error"]["message"]
    assert _state() == before
    # Once decided, the person may be transferred again.
    assert _start(client, tree.admins["unit_a"], learner, tree.unit_b.credit_code).status_code == 201


def test_the_old_unit_may_withdraw_before_the_decision_and_only_the_old_unit(client, tree):
    transfer_id = _start(client, tree.admins["unit_a"], tree.learner_a, tree.unit_b.name).get_json()["id"]
    before = _state()
    response = client.post(f"/api/v1/transfers/{transfer_id}/cancel", headers=_token(client, tree.admins["unit_b"]))
    assert response.status_code == 403 and "只有发起单位可以撤回" in response.get_json()["error"]["message"]
    assert _state() == before
    response = client.post(f"/api/v1/transfers/{transfer_id}/cancel", headers=_token(client, tree.admins["unit_a"]))
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    response = client.post(f"/api/v1/transfers/{transfer_id}/confirm", headers=_token(client, tree.admins["unit_b"]))
    assert response.status_code == 409 and "已撤回" in response.get_json()["error"]["message"]
    assert _audit_actions() == ["transfer.start", "transfer.cancel"]
    db.session.expire_all()
    assert db.session.get(User, tree.learner_a.id).org_id == tree.unit_a.id


def test_each_bad_transfer_is_refused_in_chinese_and_changes_nothing(client, tree):
    old_admin, learner = tree.admins["unit_a"], tree.learner_a
    disabled = make_org(OrgKind.UNIT, tree.dept_b)
    disabled.disabled_at, disabled.disabled_reason = utcnow(), "撤销"
    unapproved = make_org(OrgKind.UNIT, tree.dept_b, status=ReviewStatus.PENDING)
    db.session.commit()
    narrow = make_user(tree.unit_a, login="unit_a_narrow")
    role = AdminRole(org_id=tree.unit_a.id, name="只管人员", permission_codes=Permission.MANAGE_PEOPLE.value)
    db.session.add(role)
    db.session.flush()
    db.session.scalars(sa.select(OrgAdmin).where(OrgAdmin.user_id == narrow.id)).one().role_id = role.id
    db.session.commit()
    open_id = _start(client, old_admin, make_user(tree.unit_a, Role.LEARNER), tree.unit_b.credit_code).get_json()["id"]
    in_transfer = db.session.get(PersonTransfer, open_id).user
    stranger = make_user(make_org(OrgKind.UNIT, tree.dept_a), login="stranger_admin")
    before = _state()
    cases = [
        (old_admin, learner, tree.unit_a.credit_code, 409, "不能调转到本单位"),
        (old_admin, learner, disabled.credit_code, 409, "尚未通过审核或已停用"),
        (old_admin, learner, unapproved.credit_code, 409, "尚未通过审核或已停用"),
        (old_admin, learner, tree.dept_b.credit_code, 422, "没有找到该调入单位"),
        (old_admin, learner, "不存在的单位", 422, "没有找到该调入单位"),
        (old_admin, in_transfer, tree.unit_b.credit_code, 409, "尚未办结的调转"),
        (old_admin, tree.pending_a, tree.unit_b.credit_code, 409, "不是已通过审核"),
        (tree.admins["unit_b"], learner, tree.unit_a.credit_code, 403, "不在本单位管辖范围内"),
        (narrow, learner, tree.unit_b.credit_code, 403, "人员调转"),
        (tree.admins["city"], learner, tree.unit_b.credit_code, 403, "人员调转"),
    ]
    for actor, person, target, status, message in cases:
        response = _start(client, actor, person, target)
        assert response.status_code == status, (target, response.get_json())
        assert message in response.get_json()["error"]["message"]
    # Deciding a transfer not addressed to one's unit: the old unit itself, and a unit that only sees nothing.
    response = client.post(f"/api/v1/transfers/{open_id}/confirm", headers=_token(client, old_admin))
    assert response.status_code == 403 and "本单位不能确认或拒绝" in response.get_json()["error"]["message"]
    response = client.post(f"/api/v1/transfers/{open_id}/confirm", headers=_token(client, stranger))
    assert response.status_code == 404 and "调转记录不存在" in response.get_json()["error"]["message"]
    assert _state() == before


def test_both_units_and_the_levels_above_read_the_records_and_no_one_else(client, tree):
    transfer_id = _start(client, tree.admins["unit_a"], tree.learner_a, tree.unit_b.credit_code).get_json()["id"]
    client.post(f"/api/v1/transfers/{transfer_id}/confirm", headers=_token(client, tree.admins["unit_b"]))
    seen = {}
    for key in ("unit_a", "unit_b", "dept_a", "dept_b", "city", "county", "province"):
        headers = _token(client, tree.admins[key])
        seen[key] = {direction: [row["id"] for row in client.get(f"/api/v1/transfers?direction={direction}",
                                                                  headers=headers).get_json()["items"]]
                     for direction in ("in", "out", "")}
    for key in ("unit_a", "dept_a"):
        assert seen[key] == {"in": [], "out": [transfer_id], "": [transfer_id]}, key
    for key in ("unit_b", "dept_b", "county"):
        assert seen[key] == {"in": [transfer_id], "out": [], "": [transfer_id]}, key
    for key in ("city", "province"):  # the city holds both branches
        assert seen[key] == {"in": [transfer_id], "out": [transfer_id], "": [transfer_id]}, key
    other = make_user(make_org(OrgKind.DEPARTMENT, make_org(OrgKind.CITY_HR, tree.province)), login="other_dept")
    headers = _token(client, other)
    assert client.get("/api/v1/transfers", headers=headers).get_json()["items"] == []
    assert client.get(f"/api/v1/transfers/{transfer_id}", headers=headers).status_code == 404
    detail = client.get(f"/api/v1/transfers/{transfer_id}", headers=_token(client, tree.admins["county"])).get_json()
    assert detail["started_by"] == tree.admins["unit_a"].name and detail["decided_by"] == tree.admins["unit_b"].name
    assert detail["started_at"] and detail["decided_at"]


def test_a_declaration_in_review_finishes_with_the_reviewers_fixed_at_submission(app, client, tree):
    learner = tree.learner_a
    declaration_id = declared_id(declare(client_for(app, learner), facts={"presented_paper": "y"}))
    transfer_id = _start(client, tree.admins["unit_a"], learner, tree.unit_b.credit_code).get_json()["id"]
    assert client.post(f"/api/v1/transfers/{transfer_id}/confirm",
                       headers=_token(client, tree.admins["unit_b"])).status_code == 200
    db.session.expire_all()
    old_unit, new_unit = (db.session.get(User, tree.admins[k].id) for k in ("unit_a", "unit_b"))
    assert [d.id for d in declarations.review_queue(old_unit)] == [declaration_id]
    assert declarations.review_queue(new_unit) == []
    response = decide(client_for(app, tree.admins["unit_a"]), declaration_id, "approve")
    assert response.status_code in (302, 303)
    db.session.expire_all()
    declaration = db.session.get(Declaration, declaration_id)
    assert (declaration.first_org_id, declaration.step_index) == (tree.unit_a.id, 1)
    assert [step.org_id for step in declaration.review_steps] == [tree.unit_a.id, tree.dept_a.id, tree.city.id]
    dept_a = db.session.get(User, tree.admins["dept_a"].id)
    assert [d.id for d in declarations.review_queue(dept_a)] == [declaration_id]
    assert declarations.review_queue(db.session.get(User, tree.admins["dept_b"].id)) == []


def test_two_simultaneous_confirmations_leave_one_result(app, tree, config):
    postgres_only(config)
    meet_requirement(tree.learner_a)
    transfer = service.start_transfer(tree.admins["unit_a"], tree.learner_a.id, target=tree.unit_b.credit_code)
    db.session.commit()
    transfer_id, admin_ids = transfer.id, [tree.admins["unit_b"].id, make_user(tree.unit_b, login="unit_b_2").id]
    done, refused = race(app, *[lambda admin_id=admin_id: service.confirm_transfer(db.session.get(User, admin_id),
                                                                                     transfer_id)
                                 for admin_id in admin_ids])
    assert len(done) == 1 and len(refused) == 1 and "已调转" in refused[0]
    db.session.expire_all()
    assert db.session.get(PersonTransfer, transfer_id).decided_by_id == admin_ids[done[0]]
    assert db.session.get(User, tree.learner_a.id).org_id == tree.unit_b.id
    assert _audit_actions() == ["transfer.start", "transfer.confirm"]
    _figures_hold(tree.unit_a, tree.unit_b, tree.province)


def test_a_confirmation_and_a_withdrawal_at_the_same_moment_leave_one_result(app, tree, config):
    postgres_only(config)
    transfer = service.start_transfer(tree.admins["unit_a"], tree.learner_a.id, target=tree.unit_b.credit_code)
    db.session.commit()
    transfer_id, old_id, new_id = transfer.id, tree.admins["unit_a"].id, tree.admins["unit_b"].id
    done, refused = race(app, lambda: service.confirm_transfer(db.session.get(User, new_id), transfer_id),
                          lambda: service.cancel_transfer(db.session.get(User, old_id), transfer_id))
    assert len(done) == 1 and len(refused) == 1
    db.session.expire_all()
    status = db.session.get(PersonTransfer, transfer_id).status
    moved = db.session.get(User, tree.learner_a.id).org_id == tree.unit_b.id
    assert (status, moved) == ((TransferStatus.CONFIRMED, True) if done == [0] else (TransferStatus.CANCELLED, False))
    assert len(_audit_actions()) == 2


def test_two_simultaneous_starts_for_one_person_leave_one_open_transfer(app, tree, config):
    postgres_only(config)
    other = make_org(OrgKind.UNIT, tree.dept_b)
    admin_id, person_id = tree.admins["unit_a"].id, tree.learner_a.id
    done, refused = race(app, *[lambda code=code: service.start_transfer(db.session.get(User, admin_id), person_id,
                                                                         target=code)
                                 for code in (tree.unit_b.credit_code, other.credit_code)])
    assert len(done) == 1 and refused == [f"{tree.learner_a.name}已有一项尚未办结的调转，不能再发起。"]
    db.session.expire_all()
    assert len(db.session.scalars(sa.select(PersonTransfer)).all()) == 1
    assert _audit_actions() == ["transfer.start"]


def test_the_pages_start_a_transfer_out_and_confirm_it_in(app, tree):
    old_page, new_page = client_for(app, tree.admins["unit_a"]), client_for(app, tree.admins["unit_b"])
    found = old_page.get(f"/transfers/out?q={tree.learner_a.name}&target_q={tree.unit_b.name}").get_data(as_text=True)
    assert tree.learner_a.name in found and tree.unit_b.credit_code in found
    assert tree.learner_a.id_number not in found
    response = old_page.post("/transfers/out", data={"csrf_token": csrf_token(old_page, "/transfers/out"),
                                                     "person_id": tree.learner_a.id, "to_org_id": tree.unit_a.id})
    assert response.status_code == 409 and "不能调转到本单位" in response.get_data(as_text=True)
    response = old_page.post("/transfers/out", data={"csrf_token": csrf_token(old_page, "/transfers/out"),
                                                     "person_id": tree.learner_a.id, "to_org_id": tree.unit_b.id,
                                                     "note": "调动"})
    assert response.status_code == 302
    transfer = db.session.scalars(sa.select(PersonTransfer)).one()
    records = new_page.get("/transfers").get_data(as_text=True)
    assert "人员调入审核" in records and "确认调转" in records and tree.learner_a.name in records
    assert "确认调转" not in old_page.get("/transfers").get_data(as_text=True)
    response = new_page.post(f"/transfers/{transfer.id}/refuse",
                             data={"csrf_token": csrf_token(new_page, "/transfers"), "reason": ""})
    assert "请填写拒绝调转的原因" in new_page.get(response.headers["Location"]).get_data(as_text=True)
    response = new_page.post(f"/transfers/{transfer.id}/confirm",
                             data={"csrf_token": csrf_token(new_page, "/transfers")})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PersonTransfer, transfer.id).status == TransferStatus.CONFIRMED
    detail = old_page.get(f"/transfers/{transfer.id}").get_data(as_text=True)
    assert "已调转" in detail and tree.admins["unit_b"].name in detail


def test_an_admin_who_only_does_transfers_confirms_from_the_records_page(app, client, tree):
    only = make_user(tree.unit_b, login="unit_b_transfers_only")
    role = AdminRole(org_id=tree.unit_b.id, name="只办调转", permission_codes=Permission.TRANSFER_PEOPLE.value)
    db.session.add(role)
    db.session.flush()
    db.session.scalars(sa.select(OrgAdmin).where(OrgAdmin.user_id == only.id)).one().role_id = role.id
    db.session.commit()
    transfer_id = _start(client, tree.admins["unit_a"], tree.learner_a, tree.unit_b.credit_code).get_json()["id"]
    assert client.get("/api/v1/transfers", headers=_token(client, only)).status_code == 403  # 调转记录 API: 人员管理
    page = client_for(app, only)
    html = page.get("/transfers").get_data(as_text=True)
    assert "人员调入审核" in html and "确认调转" in html and tree.learner_a.name in html
    response = page.post(f"/transfers/{transfer_id}/confirm", data={"csrf_token": csrf_token(page, "/transfers")})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PersonTransfer, transfer_id).decided_by_id == only.id
