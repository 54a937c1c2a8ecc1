"""更换上级部门 (admin manual 5.1.1.1) through the API and the pages, on both backends: both parents approve, either
refuses, the requester withdraws; the subtree, its people and its figures follow; rights follow the new tree."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit.models import AuditEntry
from lms.certificates import service as certificates
from lms.core.db import utcnow
from lms.declarations import service as declarations
from lms.declarations.models import Declaration, DeclarationStatus
from lms.extensions import db
from lms.ledger import service as ledger
from lms.orgs import moves
from lms.orgs.models import MoveStatus, Org, OrgKind, ParentMove, ReviewStatus
from lms.orgs.permissions import Permission, super_admin_permissions
from lms.statistics import service as statistics
from tests.certificates import meet_requirement
from tests.conftest import api_token, csrf_token, make_org, make_user
from tests.declarations import client_for, decide, declare, declared_id
from tests.support.races import postgres_only, race


def _request(client, admin, to_parent, note=None):
    return client.post("/api/v1/org/parent-moves", json={"to_parent_id": to_parent.id, "note": note},
                       headers=api_token(client, admin))


def _act(client, admin, move_id, action, **body):
    return client.post(f"/api/v1/parent-moves/{move_id}/{action}", json=body or None,
                       headers=api_token(client, admin))


def _todo(client, admin) -> int:
    rows = client.get("/api/v1/me/todo", headers=api_token(client, admin)).get_json()
    return {row["key"]: row["count"] for row in rows}.get("parent_moves", 0)


def _people_ids(client, admin) -> set[int]:
    response = client.get("/api/v1/people?per_page=100", headers=api_token(client, admin))
    assert response.status_code == 200, response.get_json()
    return {row["id"] for row in response.get_json()["items"]}


def _audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("parent_move.%"))
                                   .order_by(AuditEntry.id)))


def _state() -> tuple:
    """Everything a refusal must leave as it was."""
    db.session.expire_all()
    orgs = db.session.execute(sa.select(Org.id, Org.parent_id, Org.path).order_by(Org.id)).all()
    rows = db.session.execute(sa.select(ParentMove.id, ParentMove.status, ParentMove.old_approved_at,
                                        ParentMove.new_approved_at, ParentMove.closed_at).order_by(ParentMove.id)).all()
    return orgs, rows, _audit_actions()


def _figures_hold(*orgs) -> None:
    year = ledger.china_today().year
    for org in orgs:
        db.session.expire_all()
        org = db.session.get(Org, org.id)
        assert statistics.report(org, year).root.comparable() == statistics.plain_figures(org, year).comparable(), \
            org.name


def _path(org) -> str:
    db.session.expire_all()
    return db.session.get(Org, org.id).path


def test_who_holds_the_move_permissions():
    for kind in (OrgKind.UNIT, OrgKind.BASE, OrgKind.DEPARTMENT, OrgKind.COUNTY_HR, OrgKind.CITY_HR):
        assert Permission.CHANGE_PARENT in super_admin_permissions(kind)
    assert Permission.CHANGE_PARENT not in super_admin_permissions(OrgKind.PROVINCE_HR)
    assert Permission.REVIEW_PARENT_CHANGES in super_admin_permissions(OrgKind.DEPARTMENT)
    assert Permission.REVIEW_PARENT_CHANGES not in super_admin_permissions(OrgKind.UNIT)


@pytest.mark.parametrize("first, second", [("dept_a", "dept_b"), ("dept_b", "dept_a")])
def test_a_move_takes_effect_only_when_both_parents_approved_in_either_order(client, tree, first, second):
    learner, unit_admin = tree.learner_a, tree.admins["unit_a"]
    year = meet_requirement(learner)
    code = certificates.issue(learner, year).code
    db.session.commit()
    balances = ledger.balances(learner.id, year)
    _figures_hold(tree.dept_a, tree.dept_b, tree.city)

    response = _request(client, unit_admin, tree.dept_b, note="业务归口调整")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["from_parent"]["id"], body["to_parent"]["id"], body["note"]) == (
        "pending", tree.dept_a.id, tree.dept_b.id, "业务归口调整")
    assert (_todo(client, tree.admins["dept_a"]), _todo(client, tree.admins["dept_b"])) == (1, 1)
    assert _todo(client, tree.admins["city"]) == 0  # the city is above both, but neither parent

    response = _act(client, tree.admins[first], body["id"], "approve")
    assert response.status_code == 200 and response.get_json()["status"] == "pending"
    assert _todo(client, tree.admins[first]) == 0 and _todo(client, tree.admins[second]) == 1
    assert _path(tree.unit_a) == f"{tree.dept_a.path}{tree.unit_a.id}/"  # nothing moves on one approval
    assert learner.id in _people_ids(client, tree.admins["dept_a"])

    response = _act(client, tree.admins[second], body["id"], "approve")
    assert response.status_code == 200, response.get_json()
    done = response.get_json()
    assert done["status"] == "completed" and done["closed_by"] == tree.admins[second].name
    assert (done["old_approved_by"], done["new_approved_by"]) == (tree.admins["dept_a"].name,
                                                                  tree.admins["dept_b"].name)
    db.session.expire_all()
    unit = db.session.get(Org, tree.unit_a.id)
    assert unit.parent_id == tree.dept_b.id and unit.path == f"{tree.dept_b.path}{unit.id}/"
    assert (_todo(client, tree.admins["dept_a"]), _todo(client, tree.admins["dept_b"])) == (0, 0)
    assert _audit_actions() == ["parent_move.request", "parent_move.approve", "parent_move.approve",
                                "parent_move.complete"]

    # The authorisation matrix after the move: the old parent no longer reaches the unit or its people.
    assert learner.id not in _people_ids(client, tree.admins["dept_a"])
    assert learner.id in _people_ids(client, tree.admins["dept_b"])
    assert learner.id in _people_ids(client, tree.admins["unit_a"])
    old, new = api_token(client, tree.admins["dept_a"]), api_token(client, tree.admins["dept_b"])
    assert client.post(f"/api/v1/people/{learner.id}/disable", json={"reason": "试图"}, headers=old).status_code == 403
    assert client.get(f"/api/v1/statistics?org_id={unit.id}", headers=old).status_code == 403
    assert client.get(f"/api/v1/statistics?org_id={unit.id}", headers=new).status_code == 200
    assert client.get(f"/api/v1/parent-moves/{body['id']}", headers=old).status_code == 200  # its own record stays
    assert client.post(f"/api/v1/people/{learner.id}/disable", json={"reason": "核对"}, headers=new).status_code == 200
    # The person's ledger and certificate are untouched; the figures follow the tree at every level.
    assert ledger.balances(learner.id, year) == balances
    assert certificates.verify(code).genuine
    _figures_hold(tree.unit_a, tree.dept_a, tree.dept_b, tree.city, tree.county, tree.province)


def test_a_department_moves_with_its_whole_subtree(client, tree):
    meet_requirement(tree.learner_a)
    move_id = _request(client, tree.admins["dept_a"], tree.county).get_json()["id"]
    assert _act(client, tree.admins["county"], move_id, "approve").status_code == 200
    assert _act(client, tree.admins["city"], move_id, "approve").get_json()["status"] == "completed"
    db.session.expire_all()
    dept = db.session.get(Org, tree.dept_a.id)
    assert dept.path == f"{tree.county.path}{dept.id}/"
    for org in (tree.unit_a, tree.base_a):
        assert db.session.get(Org, org.id).path == f"{dept.path}{org.id}/"
    assert tree.learner_a.id in _people_ids(client, tree.admins["county"])
    assert tree.learner_a.id not in _people_ids(client, tree.admins["dept_b"])
    _figures_hold(tree.unit_a, dept, tree.county, tree.city, tree.province)


def test_each_bad_request_is_refused_in_chinese_and_changes_nothing(client, tree):
    disabled = make_org(OrgKind.DEPARTMENT, tree.city)
    disabled.disabled_at, disabled.disabled_reason = utcnow(), "撤并"
    db.session.commit()
    unapproved = make_org(OrgKind.DEPARTMENT, tree.city, status=ReviewStatus.PENDING)
    before = _state()
    unit_admin, dept_admin = tree.admins["unit_a"], tree.admins["dept_a"]
    cases = [
        (unit_admin, tree.unit_a, 409, "它自己或它的下级单位"),
        (dept_admin, tree.unit_a, 409, "它自己或它的下级单位"),
        (unit_admin, tree.dept_a, 409, "已是"),
        (unit_admin, disabled, 409, "尚未通过审核或已停用"),
        (unit_admin, unapproved, 409, "尚未通过审核或已停用"),
        (unit_admin, tree.city, 422, "用人单位的上级应为主管部门"),
        (unit_admin, tree.unit_b, 422, "用人单位的上级应为主管部门"),
        (dept_admin, tree.dept_b, 422, "主管部门的上级应为"),
        (tree.admins["province"], tree.city, 403, "更换上级部门"),
        (tree.learner_a, tree.dept_b, 403, "更换上级部门"),
    ]
    for actor, target, status, message in cases:
        response = _request(client, actor, target)
        assert response.status_code == status, (actor.login, target.name, response.get_json())
        assert message in response.get_json()["error"]["message"], response.get_json()
    response = client.post("/api/v1/org/parent-moves", json={"to_parent_id": 999999},
                           headers=api_token(client, unit_admin))
    assert response.status_code == 422 and "所选上级部门不存在" in response.get_json()["error"]["message"]
    assert _state() == before

    move_id = _request(client, unit_admin, tree.dept_b).get_json()["id"]
    other = make_org(OrgKind.DEPARTMENT, tree.county)
    stranger = make_user(make_org(OrgKind.DEPARTMENT, tree.county), login="stranger_dept")
    before = _state()
    response = _request(client, unit_admin, other)
    assert response.status_code == 409 and "尚未办结" in response.get_json()["error"]["message"]
    decisions = [
        (stranger, "approve", {}, 404, "不存在或不在本单位管辖范围内"),
        (tree.admins["unit_b"], "approve", {}, 403, "审核更换上级部门"),
        (tree.admins["city"], "approve", {}, 403, "只有原上级"),  # above both parents, but neither of them
        (tree.admins["dept_a"], "refuse", {"reason": "  "}, 422, "不同意的原因"),
        (tree.admins["dept_a"], "withdraw", {}, 403, "只有申请单位可以撤回"),
        (tree.admins["dept_a"], "nonsense", {}, 404, None),
    ]
    for actor, action, body, status, message in decisions:
        response = _act(client, actor, move_id, action, **body)
        assert response.status_code == status, (actor.login, action, response.get_json())
        if message:
            assert message in response.get_json()["error"]["message"]
    assert _state() == before
    assert _act(client, tree.admins["dept_a"], move_id, "approve").status_code == 200
    before = _state()
    response = _act(client, tree.admins["dept_a"], move_id, "approve")
    assert response.status_code == 409 and "已同意该申请" in response.get_json()["error"]["message"]
    assert _state() == before


def test_either_parent_refuses_with_a_reason_and_the_requester_may_withdraw(client, tree):
    unit_admin = tree.admins["unit_a"]
    move_id = _request(client, unit_admin, tree.dept_b).get_json()["id"]
    assert _act(client, tree.admins["dept_a"], move_id, "approve").status_code == 200
    response = _act(client, tree.admins["dept_b"], move_id, "refuse", reason="本部门不主管该行业")
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["refusal_reason"]) == ("refused", "本部门不主管该行业")
    assert _path(tree.unit_a).startswith(tree.dept_a.path)
    response = _act(client, tree.admins["dept_a"], move_id, "approve")
    assert response.status_code == 409 and "未通过" in response.get_json()["error"]["message"]

    move_id = _request(client, unit_admin, tree.dept_b).get_json()["id"]  # refused: a new request may follow
    response = _act(client, unit_admin, move_id, "withdraw")
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    response = _act(client, tree.admins["dept_b"], move_id, "approve")
    assert response.status_code == 409 and "已撤回" in response.get_json()["error"]["message"]
    assert _audit_actions() == ["parent_move.request", "parent_move.approve", "parent_move.refuse",
                                "parent_move.request", "parent_move.withdraw"]
    reasons = db.session.scalars(sa.select(AuditEntry.reason).where(AuditEntry.action == "parent_move.refuse")).all()
    assert reasons == ["本部门不主管该行业"]
    listed = client.get("/api/v1/org/parent-moves", headers=api_token(client, unit_admin)).get_json()
    assert [row["status"] for row in listed] == ["withdrawn", "refused"]


def test_declarations_in_review_finish_with_their_reviewers_and_new_ones_go_the_new_way(app, client, tree):
    learner = tree.learner_a
    learner_page = client_for(app, learner)
    in_review = declared_id(declare(learner_page, facts={"presented_paper": "y"}))
    move_id = _request(client, tree.admins["unit_a"], tree.dept_b).get_json()["id"]
    _act(client, tree.admins["dept_a"], move_id, "approve")
    assert _act(client, tree.admins["dept_b"], move_id, "approve").get_json()["status"] == "completed"

    assert decide(client_for(app, tree.admins["unit_a"]), in_review, "approve").status_code in (302, 303)
    db.session.expire_all()
    declaration = db.session.get(Declaration, in_review)
    assert declaration.step_index == 1
    assert [step.org_id for step in declaration.review_steps] == [tree.unit_a.id, tree.dept_a.id, tree.city.id]
    dept_a, dept_b = (db.session.get(User, tree.admins[k].id) for k in ("dept_a", "dept_b"))
    assert [d.id for d in declarations.review_queue(dept_a)] == [in_review]
    assert declarations.review_queue(dept_b) == []
    assert decide(client_for(app, tree.admins["dept_a"]), in_review, "approve").status_code in (302, 303)
    assert decide(client_for(app, tree.admins["city"]), in_review, "approve").status_code in (302, 303)
    db.session.expire_all()
    assert db.session.get(Declaration, in_review).status == DeclarationStatus.FILED

    fresh = declared_id(declare(learner_page, title="第二次学术年会", facts={"presented_paper": "y"}))
    db.session.expire_all()
    assert [step.org_id for step in db.session.get(Declaration, fresh).review_steps] == [
        tree.unit_a.id, tree.dept_b.id, tree.county.id]


def test_the_pages_request_a_move_and_both_parents_approve_it(app, tree):
    unit_page = client_for(app, tree.admins["unit_a"])
    found = unit_page.get(f"/org/parent-moves?q={tree.dept_b.name}").get_data(as_text=True)
    assert tree.dept_b.name in found and "申请挂到此部门下" in found
    token = csrf_token(unit_page, "/org/parent-moves")
    response = unit_page.post("/org/parent-moves", data={"csrf_token": token, "to_parent_id": tree.dept_a.id})
    assert "已是" in unit_page.get(response.headers["Location"]).get_data(as_text=True)
    response = unit_page.post("/org/parent-moves", data={"csrf_token": token, "to_parent_id": tree.dept_b.id,
                                                         "note": "归口调整"})
    assert response.status_code == 302
    move = db.session.scalars(sa.select(ParentMove)).one()
    assert "撤回申请" in unit_page.get("/org/parent-moves").get_data(as_text=True)
    for key in ("dept_b", "dept_a"):
        page = client_for(app, tree.admins[key])
        html = page.get("/org/parent-moves").get_data(as_text=True)
        assert "待本单位审核" in html and tree.unit_a.name in html and f'data-move="{move.id}"' in html
        home = page.get("/").get_data(as_text=True)
        assert 'data-key="parent_moves">1<' in home
        response = page.post(f"/org/parent-moves/{move.id}/approve",
                             data={"csrf_token": csrf_token(page, "/org/parent-moves")})
        assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ParentMove, move.id).status == MoveStatus.COMPLETED
    assert db.session.get(Org, tree.unit_a.id).parent_id == tree.dept_b.id
    assert "已生效" in unit_page.get("/org/parent-moves").get_data(as_text=True)



def test_a_held_session_stays_decidable_and_moves_into_the_new_branchs_queue(client, tree):
    from lms.review import service as review
    from lms.tracking.models import HoldState
    from tests.review import make_session
    from tests.tracking import make_ready_courseware

    courseware = make_ready_courseware(tree.base_a, [tree.learner_a], duration_s=300.0, labelled_hours="0.1")
    session = make_session(tree.learner_a, courseware)
    county = tree.admins["county"]
    assert review.held_count(county) == 0  # dept_a hangs under the city, beside the county
    move_id = _request(client, tree.admins["dept_a"], tree.county).get_json()["id"]
    _act(client, tree.admins["city"], move_id, "approve")
    assert _act(client, tree.admins["county"], move_id, "approve").get_json()["status"] == "completed"
    db.session.expire_all()
    assert review.held_count(db.session.get(User, county.id)) == 1
    reviewer = db.session.get(User, tree.reviewer.id)
    review.decide_sessions(reviewer, [session.id], "release", "核实为正常观看")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(type(session), session.id).hold_state == HoldState.RELEASED

# ------------------------------------------------------------------------------------------------ concurrency

def _approver(key_id):
    return lambda move_id: moves.approve_move(db.session.get(User, key_id), move_id)


def test_two_parents_approving_at_the_same_moment_move_the_unit_once(app, tree, config):
    postgres_only(config)
    meet_requirement(tree.learner_a)
    move = moves.request_move(tree.admins["unit_a"], tree.dept_b.id)
    db.session.commit()
    move_id, old_id, new_id = move.id, tree.admins["dept_a"].id, tree.admins["dept_b"].id
    done, refused = race(app, lambda: _approver(old_id)(move_id), lambda: _approver(new_id)(move_id))
    assert sorted(done) == [0, 1] and refused == []
    db.session.expire_all()
    move = db.session.get(ParentMove, move_id)
    assert (move.status, move.old_approved_by_id, move.new_approved_by_id) == (MoveStatus.COMPLETED, old_id, new_id)
    assert db.session.get(Org, tree.unit_a.id).path == f"{tree.dept_b.path}{tree.unit_a.id}/"
    assert _audit_actions() == ["parent_move.request", "parent_move.approve", "parent_move.approve",
                                "parent_move.complete"]
    _figures_hold(tree.unit_a, tree.dept_a, tree.dept_b, tree.city, tree.county, tree.province)


def test_an_approval_and_a_withdrawal_at_the_same_moment_leave_one_result(app, tree, config):
    postgres_only(config)
    move = moves.request_move(tree.admins["unit_a"], tree.dept_b.id)
    db.session.commit()
    moves.approve_move(tree.admins["dept_a"], move.id)
    db.session.commit()
    move_id, new_id, unit_id = move.id, tree.admins["dept_b"].id, tree.admins["unit_a"].id
    done, refused = race(app, lambda: _approver(new_id)(move_id),
                          lambda: moves.withdraw_move(db.session.get(User, unit_id), move_id))
    assert len(done) == 1 and len(refused) == 1
    db.session.expire_all()
    status = db.session.get(ParentMove, move_id).status
    moved = db.session.get(Org, tree.unit_a.id).parent_id == tree.dept_b.id
    assert (status, moved) == ((MoveStatus.COMPLETED, True) if done == [0] else (MoveStatus.WITHDRAWN, False))


def test_two_requests_at_the_same_moment_leave_one_open_move(app, tree, config):
    postgres_only(config)
    other = make_org(OrgKind.DEPARTMENT, tree.county)
    admin_id = tree.admins["unit_a"].id
    done, refused = race(app, *[lambda target=target: moves.request_move(db.session.get(User, admin_id), target)
                                 for target in (tree.dept_b.id, other.id)])
    assert len(done) == 1 and len(refused) == 1 and "尚未办结" in refused[0]
    assert len(db.session.scalars(sa.select(ParentMove)).all()) == 1
    assert _audit_actions() == ["parent_move.request"]


def test_a_parent_and_its_child_moving_at_the_same_moment_leave_consistent_paths(app, tree, config):
    postgres_only(config)
    # unit_a moves under dept_b while dept_b itself moves from the county to the city.
    unit_move = moves.request_move(tree.admins["unit_a"], tree.dept_b.id)
    dept_move = moves.request_move(tree.admins["dept_b"], tree.city.id)
    moves.approve_move(tree.admins["dept_a"], unit_move.id)
    moves.approve_move(tree.admins["county"], dept_move.id)
    db.session.commit()
    ids = (unit_move.id, dept_move.id, tree.admins["dept_b"].id, tree.admins["city"].id)
    done, refused = race(app, lambda: _approver(ids[2])(ids[0]), lambda: _approver(ids[3])(ids[1]))
    assert sorted(done) == [0, 1] and refused == []
    db.session.expire_all()
    dept_b, unit_a = db.session.get(Org, tree.dept_b.id), db.session.get(Org, tree.unit_a.id)
    assert dept_b.path == f"{tree.city.path}{dept_b.id}/" and unit_a.path == f"{dept_b.path}{unit_a.id}/"
    assert db.session.get(Org, tree.unit_b.id).path == f"{dept_b.path}{tree.unit_b.id}/"

