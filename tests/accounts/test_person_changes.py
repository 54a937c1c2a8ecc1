"""人员信息修改审核 (admin manual 5.1.4.1) through the API and the pages, on both backends: states, refusals, races."""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts import changes
from lms.accounts.models import PersonChange, User
from lms.audit.models import AuditEntry
from lms.core.idcard import make_id_number
from lms.extensions import db
from lms.notices.notification_models import Notification, SmsDelivery
from lms.orgs.models import ReviewStatus
from lms.transfers import service as transfers
from tests.conftest import api_token, csrf_token, make_user
from tests.declarations import client_for
from tests.support.races import postgres_only, race


def _ask(client, learner, **fields):
    return client.post("/api/v1/me/changes", json=fields, headers=api_token(client, learner))


def _state() -> tuple:
    """Everything a refusal must leave as it was."""
    people = db.session.execute(sa.select(User.id, User.name, User.id_number, User.login, User.title_series,
                                          User.title_level, User.professional_post, User.phone).order_by(User.id)).all()
    requests = db.session.execute(sa.select(PersonChange.id, PersonChange.status).order_by(PersonChange.id)).all()
    audit = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    return people, requests, audit


def _todo(client, admin) -> dict[str, int]:
    response = client.get("/api/v1/me/todo", headers=api_token(client, admin))
    return {item["key"]: item["count"] for item in response.get_json()}


def _learner(tree):
    return db.session.get(User, tree.learner_a.id)


def test_a_request_waits_for_the_unit_which_approves_it_and_the_learner_is_told(client, tree):
    asked = _ask(client, tree.learner_a, title_level="中级", professional_post="高级工程师",
                 title_series="工程技术人员")
    assert asked.status_code == 201, asked.get_json()
    body = asked.get_json()
    # Only the changed fields are asked for; the unchanged series is not part of the request.
    assert body["after"] == {"title_level": "中级", "professional_post": "高级工程师"}
    assert body["before"] == {"title_level": None, "professional_post": "工程师"}
    assert _learner(tree).title_level is None  # nothing changes before the review
    admin = tree.admins["unit_a"]
    assert _todo(client, admin)["person_changes"] == 1
    queue = client.get("/api/v1/people/changes", headers=api_token(client, admin)).get_json()
    assert [row["id"] for row in queue["items"]] == [body["id"]]
    approved = client.post(f"/api/v1/people/changes/{body['id']}/approve", headers=api_token(client, admin))
    assert approved.status_code == 200, approved.get_json()
    db.session.expire_all()
    learner = _learner(tree)
    assert (learner.title_level, learner.professional_post) == ("中级", "高级工程师")
    assert _todo(client, admin)["person_changes"] == 0
    mine = client.get("/api/v1/me/changes", headers=api_token(client, tree.learner_a)).get_json()
    assert mine[0]["status"] == "approved" and mine[0]["decided_by"] == admin.name
    # Told in 消息, and by a text message queued with the decision (sent after the commit: tests/notices).
    [note] = db.session.scalars(sa.select(Notification).where(Notification.kind == "person_change")).all()
    assert note.user_id == learner.id and "审核通过" in note.text
    [sms] = db.session.scalars(sa.select(SmsDelivery).where(SmsDelivery.notification_id == note.id)).all()
    assert sms.phone == learner.phone and "审核通过" in sms.text
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "person_change.approve")).one()
    assert entry.actor_id == admin.id and entry.after == {"title_level": "中级", "professional_post": "高级工程师"}


def test_a_rejection_needs_a_reason_the_learner_reads_and_changes_nothing(client, tree):
    change_id = _ask(client, tree.learner_a, title_series="经济专业人员").get_json()["id"]
    headers = api_token(client, tree.admins["unit_a"])
    missing = client.post(f"/api/v1/people/changes/{change_id}/reject", json={}, headers=headers)
    assert missing.status_code == 422 and "原因" in missing.get_json()["error"]["message"]
    rejected = client.post(f"/api/v1/people/changes/{change_id}/reject", json={"reason": "请上传职称证书"},
                           headers=headers)
    assert rejected.status_code == 200
    db.session.expire_all()
    assert _learner(tree).title_series == "工程技术人员"
    mine = client.get("/api/v1/me/changes", headers=api_token(client, tree.learner_a)).get_json()
    assert (mine[0]["status"], mine[0]["reason"]) == ("rejected", "请上传职称证书")
    again = client.post(f"/api/v1/people/changes/{change_id}/approve", headers=headers)
    assert again.status_code == 409 and "已驳回" in again.get_json()["error"]["message"]
    # Once decided, the learner may ask again.
    assert _ask(client, tree.learner_a, title_series="经济专业人员").status_code == 201


def test_a_batch_of_requests_is_rejected_with_one_reason_all_or_nothing(client, tree):
    second = make_user(tree.unit_a, role=tree.learner_a.role)
    ids = [_ask(client, person, education="大学本科").get_json()["id"] for person in (tree.learner_a, second)]
    outside = _ask(client, tree.learner_b, education="大学本科").get_json()["id"]
    headers = api_token(client, tree.admins["unit_a"])
    before = _state()
    refused = client.post("/api/v1/people/changes/rejections", json={"ids": [*ids, outside], "reason": "学历证明不清"},
                          headers=headers)
    assert refused.status_code == 403 and _state() == before
    done = client.post("/api/v1/people/changes/rejections", json={"ids": ids, "reason": "学历证明不清"},
                       headers=headers)
    assert done.status_code == 200 and {row["status"] for row in done.get_json()} == {"rejected"}
    assert db.session.get(PersonChange, outside).status == ReviewStatus.PENDING


def test_each_bad_request_or_decision_is_refused_in_chinese_and_changes_nothing(client, tree):
    learner = tree.learner_a
    before = _state()
    same = _ask(client, learner, title_series="工程技术人员")
    assert same.status_code == 422 and "相同" in same.get_json()["error"]["message"]
    junk = _ask(client, learner, title_series="炼金术士", title_level="特级")
    assert junk.status_code == 422 and set(junk.get_json()["error"]["fields"]) == {"title_series", "title_level"}
    # The name and the ID number are not the learner's to change: the request ignores them.
    ignored = _ask(client, learner, name="改名", id_number="110101199001011237")
    assert ignored.status_code == 422
    assert _state() == before
    change_id = _ask(client, learner, title_level="初级").get_json()["id"]
    assert _ask(client, learner, title_level="中级").status_code == 409
    before = _state()
    for admin in (tree.admins["unit_b"], tree.admins["dept_a"]):  # another unit; the level above has no such right
        response = client.post(f"/api/v1/people/changes/{change_id}/approve", headers=api_token(client, admin))
        assert response.status_code == 403, response.get_json()
    assert client.get(f"/api/v1/people/changes/{change_id}",
                      headers=api_token(client, tree.admins["unit_b"])).status_code == 403
    assert client.post("/api/v1/people/changes/999999/approve",
                       headers=api_token(client, tree.admins["unit_a"])).status_code == 404
    assert _state() == before
    # Stale: the person's value changed after the request (an admin's correction elsewhere, an import…).
    db.session.get(User, learner.id).title_level = "副高级"
    db.session.commit()
    before = _state()
    stale = client.post(f"/api/v1/people/changes/{change_id}/approve", headers=api_token(client, tree.admins["unit_a"]))
    assert stale.status_code == 409 and "过时" in stale.get_json()["error"]["message"]
    assert _state() == before
    # Disabled: neither decided nor asked.
    client.post(f"/api/v1/people/{learner.id}/disable", json={"reason": "离职"},
                headers=api_token(client, tree.admins["unit_a"]))
    before = _state()
    disabled = client.post(f"/api/v1/people/changes/{change_id}/approve",
                           headers=api_token(client, tree.admins["unit_a"]))
    assert disabled.status_code == 409 and "停用" in disabled.get_json()["error"]["message"]
    assert _state() == before


def test_the_phone_changes_at_once_and_is_audited(client, tree):
    headers = api_token(client, tree.learner_a)
    bad = client.put("/api/v1/me/phone", json={"phone": "12345"}, headers=headers)
    assert bad.status_code == 422 and "11 位" in bad.get_json()["error"]["message"]
    done = client.put("/api/v1/me/phone", json={"phone": "13800001111"}, headers=headers)
    assert done.status_code == 200 and done.get_json()["phone"] == "13800001111"
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "person.phone_change")).one()
    assert entry.after == {"phone": "138****1111"}  # the log keeps numbers masked
    assert client.put("/api/v1/me/phone", json={"phone": "13800001111"}, headers=headers).status_code == 422


def test_an_admin_corrects_the_name_and_id_number_with_a_reason_and_the_new_number_logs_in(client, tree):
    learner, admin = tree.learner_a, tree.admins["unit_a"]
    headers = api_token(client, admin)
    url = f"/api/v1/people/{learner.id}/identity"
    new_number = make_id_number("420106", __import__("datetime").date(1975, 3, 4), 77)
    before = _state()
    for body, status in [({"name": "张三"}, 422),  # no reason
                         ({"id_number": "420106197503040771", "reason": "录入错误"}, 422),  # bad check digit
                         ({"id_number": tree.learner_b.id_number, "reason": "录入错误"}, 409)]:  # someone else's
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == status, (body, response.get_json())
    assert client.post(f"/api/v1/people/{tree.learner_b.id}/identity", json={"name": "李四", "reason": "录入错误"},
                       headers=headers).status_code == 403
    assert _state() == before
    done = client.post(url, json={"name": "张三", "id_number": new_number, "reason": "身份证录入错误"}, headers=headers)
    assert done.status_code == 200, done.get_json()
    db.session.expire_all()
    person = db.session.get(User, learner.id)
    assert (person.name, person.id_number, person.login) == ("张三", new_number, new_number)
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "person.correct_identity")).one()
    assert entry.reason == "身份证录入错误" and entry.actor_id == admin.id and new_number not in str(entry.after)
    assert client.post("/api/v1/auth/token", json={"login": new_number, "password": "Passw0rd-test"}).status_code == 200


def test_the_pages_ask_review_and_show_the_state(app, tree):
    learner_page, admin_page = client_for(app, tree.learner_a), client_for(app, tree.admins["unit_a"])
    form = learner_page.get("/me/details").get_data(as_text=True)
    assert "职称级别" in form and "修改手机号码" in form
    sent = learner_page.post("/me/details/changes", data={
        "csrf_token": csrf_token(learner_page, "/me/details"), "professional_post": "工程师",
        "title_series": "工程技术人员", "title_level": "副高级", "education": ""})
    assert sent.status_code == 302
    assert "待单位审核" in learner_page.get("/me/details").get_data(as_text=True)
    queue = admin_page.get("/people/changes").get_data(as_text=True)
    assert "副高级" in queue and "人员信息修改审核" in queue
    assert "待审核的人员信息修改" in admin_page.get("/").get_data(as_text=True)
    change_id = db.session.scalar(sa.select(PersonChange.id))
    done = admin_page.post("/people/changes/decisions", data={"csrf_token": csrf_token(admin_page, "/people/changes"),
                                                               "approve": str(change_id)})
    assert done.status_code == 302
    db.session.expire_all()
    assert _learner(tree).title_level == "副高级"
    assert "已通过" in learner_page.get("/me/details").get_data(as_text=True)


def test_a_change_and_a_transfer_decided_at_once_leave_one_result(app, tree, config):
    postgres_only(config)
    learner = tree.learner_a
    change = changes.request_change(db.session.get(User, learner.id), {"title_level": "正高级"})
    transfer = transfers.start_transfer(tree.admins["unit_a"], learner.id, target=tree.unit_b.credit_code)
    db.session.commit()
    change_id, transfer_id = change.id, transfer.id
    old_id, new_id = tree.admins["unit_a"].id, tree.admins["unit_b"].id
    done, refused = race(app, lambda: changes.approve_change(db.session.get(User, old_id), change_id),
                          lambda: transfers.confirm_transfer(db.session.get(User, new_id), transfer_id))
    db.session.expire_all()
    person = db.session.get(User, learner.id)
    assert person.org_id == tree.unit_b.id  # the transfer never depends on the change
    status = db.session.get(PersonChange, change_id).status
    if sorted(done) == [0, 1]:
        # The approval locked the person first: it applied in unit_a, then the transfer moved the changed person.
        assert (person.title_level, status) == ("正高级", ReviewStatus.APPROVED)
    else:
        # The transfer locked first: the old unit's approval saw the person gone and changed nothing.
        assert done == [1] and "调离" in refused[0]
        assert (person.title_level, status) == (None, ReviewStatus.PENDING)


def test_two_simultaneous_requests_of_one_person_leave_one_pending(app, tree, config):
    postgres_only(config)
    learner_id = tree.learner_a.id
    done, refused = race(app, *[lambda level=level: changes.request_change(db.session.get(User, learner_id),
                                                                            {"title_level": level})
                                 for level in ("中级", "初级")])
    assert len(done) == 1 and len(refused) == 1 and "待审核" in refused[0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PersonChange)) == 1


def test_the_people_page_corrects_a_name_with_a_reason(app, tree):
    page = client_for(app, tree.admins["unit_a"])
    assert "更正身份信息" in page.get("/people").get_data(as_text=True)
    token = csrf_token(page, "/people")
    refused = page.post(f"/people/{tree.learner_a.id}/identity", data={"csrf_token": token, "name": "王二"})
    assert refused.status_code == 302 and _learner(tree).name != "王二"
    done = page.post(f"/people/{tree.learner_a.id}/identity",
                     data={"csrf_token": token, "name": "王二", "reason": "姓名录入错误"})
    assert done.status_code == 302
    db.session.expire_all()
    assert _learner(tree).name == "王二"
