"""本级机构信息 (5.1.1.1) and 机构信息修改审核 (5.1.4.2) through the API and the pages, on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import User
from lms.audit.models import AuditEntry
from lms.demo import credit_code
from lms.extensions import db
from lms.orgs import changes
from lms.orgs.models import Org, OrgChange, OrgKind, ReviewStatus
from tests.conftest import api_token, csrf_token, make_org, make_user
from tests.declarations import client_for
from tests.support.races import postgres_only, race


def _edit(client, admin, **fields):
    return client.put("/api/v1/org/info", json=fields, headers=api_token(client, admin))


def _state() -> tuple:
    orgs = db.session.execute(sa.select(Org.id, Org.name, Org.credit_code, Org.address, Org.contact_name,
                                        Org.contact_phone).order_by(Org.id)).all()
    requests = db.session.execute(sa.select(OrgChange.id, OrgChange.status).order_by(OrgChange.id)).all()
    return orgs, requests, db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()


def test_contacts_change_at_once_and_the_name_and_code_wait_for_the_parent(client, tree):
    admin, parent_admin = tree.admins["unit_a"], tree.admins["dept_a"]
    new_code = credit_code(900001)
    response = _edit(client, admin, address="武汉市洪山区珞喻路 1 号", contact_phone="027-87654321",
                     name="新名称单位", credit_code=new_code)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["org"]["address"] == "武汉市洪山区珞喻路 1 号" and body["org"]["name"] == tree.unit_a.name
    assert body["change"]["after"] == {"name": "新名称单位", "credit_code": new_code}
    assert body["change"]["before"] == {"name": tree.unit_a.name, "credit_code": tree.unit_a.credit_code}
    todo = {i["key"]: i["count"] for i in client.get("/api/v1/me/todo", headers=api_token(client, parent_admin))
            .get_json()}
    assert todo["org_changes"] == 1
    queue = client.get("/api/v1/org/changes", headers=api_token(client, parent_admin)).get_json()
    assert [row["id"] for row in queue["items"]] == [body["change"]["id"]]
    approved = client.post(f"/api/v1/org/changes/{body['change']['id']}/approve",
                           headers=api_token(client, parent_admin))
    assert approved.status_code == 200, approved.get_json()
    db.session.expire_all()
    org = db.session.get(Org, tree.unit_a.id)
    assert (org.name, org.credit_code, org.contact_phone) == ("新名称单位", new_code, "027-87654321")
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("org%"))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["org.contact_change", "org_change.request", "org_change.approve"]
    own = client.get("/api/v1/org/info/changes", headers=api_token(client, admin)).get_json()
    assert own[0]["status"] == "approved"


def test_rejection_alone_and_in_batch_needs_a_reason_and_changes_nothing(client, tree):
    unit_c = make_org(OrgKind.UNIT, tree.dept_a)
    admin_c = make_user(unit_c)
    ids = [_edit(client, admin, name=f"{admin.org.name}（更名）").get_json()["change"]["id"]
           for admin in (tree.admins["unit_a"], admin_c)]
    headers = api_token(client, tree.admins["dept_a"])
    before = _state()
    assert client.post("/api/v1/org/changes/rejections", json={"ids": ids}, headers=headers).status_code == 422
    assert _state() == before
    done = client.post("/api/v1/org/changes/rejections", json={"ids": ids, "reason": "请附更名批文"}, headers=headers)
    assert done.status_code == 200 and [row["reason"] for row in done.get_json()] == ["请附更名批文"] * 2
    db.session.expire_all()
    assert db.session.get(Org, tree.unit_a.id).name == tree.unit_a.name
    assert client.post(f"/api/v1/org/changes/{ids[0]}/reject", json={"reason": "再驳一次"},
                       headers=headers).status_code == 409


def test_each_bad_request_or_decision_is_refused_in_chinese_and_changes_nothing(client, tree):
    admin = tree.admins["unit_a"]
    before = _state()
    for fields, status, key in [({"name": tree.unit_a.name}, 422, "name"),  # nothing changed
                                ({"credit_code": "91420100ABCDEFGH12"}, 422, "credit_code"),  # bad check character
                                ({"credit_code": tree.unit_b.credit_code}, 422, "credit_code"),  # another unit's
                                ({"contact_phone": "abc"}, 422, "contact_phone"),
                                ({"name": ""}, 422, "name")]:
        response = _edit(client, admin, **fields)
        assert response.status_code == status and key in response.get_json()["error"]["fields"], fields
    # A bad identifying field keeps the good contact field back too: all or nothing.
    assert _edit(client, admin, address="新地址", credit_code="123").status_code == 422
    assert _state() == before
    change_id = _edit(client, admin, name="甲单位").get_json()["change"]["id"]
    pending = _edit(client, admin, name="乙单位")
    assert pending.status_code == 409 and "待上级审核" in pending.get_json()["error"]["message"]
    before = _state()
    # Only the direct parent decides: not another department, not the city above the parent.
    for other in (tree.admins["dept_b"], tree.admins["city"], tree.admins["unit_b"]):
        response = client.post(f"/api/v1/org/changes/{change_id}/approve", headers=api_token(client, other))
        assert response.status_code == 403, (other.login, response.get_json())
    assert _state() == before
    # Stale: the name changed since the request.
    db.session.get(Org, tree.unit_a.id).name = "别的名称"
    db.session.commit()
    before = _state()
    stale = client.post(f"/api/v1/org/changes/{change_id}/approve", headers=api_token(client, tree.admins["dept_a"]))
    assert stale.status_code == 409 and "过时" in stale.get_json()["error"]["message"]
    assert _state() == before


def test_the_credit_code_is_checked_again_at_approval(client, tree):
    code = credit_code(900002)
    change_id = _edit(client, tree.admins["unit_a"], credit_code=code).get_json()["change"]["id"]
    # Meanwhile another unit registered with that code.
    make_org(OrgKind.UNIT, tree.dept_b).credit_code = code
    db.session.commit()
    before = _state()
    response = client.post(f"/api/v1/org/changes/{change_id}/approve", headers=api_token(client, tree.admins["dept_a"]))
    assert response.status_code == 409 and "统一社会信用代码" in response.get_json()["error"]["message"]
    assert _state() == before


def test_hr_bureaus_have_no_credit_code_and_the_province_no_parent(client, tree):
    city = _edit(client, tree.admins["city"], name="武汉市人社局（新）", credit_code="anything")
    assert city.status_code == 200 and city.get_json()["change"]["after"] == {"name": "武汉市人社局（新）"}
    assert client.post(f"/api/v1/org/changes/{city.get_json()['change']['id']}/approve",
                       headers=api_token(client, tree.admins["province"])).status_code == 200
    province = _edit(client, tree.admins["province"], name="新省厅")
    assert province.status_code == 409 and "没有上级" in province.get_json()["error"]["message"]
    assert _edit(client, tree.admins["province"], contact_name="王五").status_code == 200


def test_the_pages_edit_and_review(app, tree):
    page, parent_page = client_for(app, tree.admins["unit_a"]), client_for(app, tree.admins["dept_a"])
    assert "联系信息（即时生效）" in page.get("/org/info").get_data(as_text=True)
    sent = page.post("/org/info", data={"csrf_token": csrf_token(page, "/org/info"), "name": "页面更名单位",
                                        "credit_code": tree.unit_a.credit_code, "address": "江汉路 2 号",
                                        "contact_name": "", "contact_phone": ""})
    assert sent.status_code == 302
    assert "待上级审核" in page.get("/org/info").get_data(as_text=True)
    queue = parent_page.get("/org/changes").get_data(as_text=True)
    assert "页面更名单位" in queue and tree.unit_a.name in queue
    change_id = db.session.scalar(sa.select(OrgChange.id))
    refused = parent_page.post("/org/changes/decisions", data={"csrf_token": csrf_token(parent_page, "/org/changes"),
                                                                "ids": str(change_id), "reason": ""})
    assert refused.status_code == 302 and db.session.get(OrgChange, change_id).status == ReviewStatus.PENDING
    done = parent_page.post("/org/changes/decisions", data={"csrf_token": csrf_token(parent_page, "/org/changes"),
                                                             "ids": str(change_id), "reason": "名称与批文不符"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(OrgChange, change_id).status == ReviewStatus.REJECTED
    assert "名称与批文不符" in page.get("/org/info").get_data(as_text=True)


def test_two_simultaneous_requests_leave_one_pending_change(app, tree, config):
    postgres_only(config)
    admin_id = tree.admins["unit_a"].id
    done, refused = race(app, *[lambda name=name: changes.edit_own_org(db.session.get(User, admin_id),
                                                                        {"name": name})
                                 for name in ("甲", "乙")])
    assert len(done) == 1 and len(refused) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrgChange)) == 1
