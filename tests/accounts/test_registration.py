"""Learner registration, approval, re-application, login and passwords, through pages and API."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from lms.accounts.models import RegistrationDecision, User
from lms.core.idcard import make_id_number
from lms.extensions import db
from lms.orgs.models import ReviewStatus
from tests.conftest import PASSWORD, api_token, csrf_token, login

VALID_ID = make_id_number("420106", dt.date(1990, 3, 7), 42)


def registration(unit_id: int, **overrides) -> dict:
    body = {"id_number": VALID_ID, "name": "李华", "phone": "13812345678", "unit_id": unit_id,
            "title_series": "工程技术人员", "professional_post": "助理工程师", "password": "Secret123abc"}
    body.update(overrides)
    return body


def counts() -> tuple[int, int]:
    return (db.session.scalar(sa.select(sa.func.count(User.id))),
            db.session.scalar(sa.select(sa.func.count(RegistrationDecision.id))))


def test_learner_registers_waits_and_is_approved_by_their_unit(client, tree):
    response = client.post("/api/v1/registrations/learners", json=registration(tree.unit_a.id))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending" and body["login"] == VALID_ID
    learner_headers = api_token(client, db.session.get(User, body["id"]), password="Secret123abc")
    assert client.get("/api/v1/me", headers=learner_headers).get_json()["approved"] is False

    admin = api_token(client, tree.admins["unit_a"])
    pending = client.get("/api/v1/registrations/learners/pending", headers=admin).get_json()
    assert body["id"] in [p["id"] for p in pending]
    decided = client.post("/api/v1/registrations/learners/decisions", headers=admin,
                          json={"ids": [body["id"]], "approve": True})
    assert decided.status_code == 200
    assert client.get("/api/v1/me", headers=learner_headers).get_json()["approved"] is True


def test_rejected_learner_sees_the_reason_corrects_and_reapplies(client, tree):
    user_id = client.post("/api/v1/registrations/learners", json=registration(tree.unit_a.id)).get_json()["id"]
    admin = api_token(client, tree.admins["unit_a"])
    client.post("/api/v1/registrations/learners/decisions", headers=admin,
                json={"ids": [user_id], "approve": False, "reason": "岗位填写有误，请改为实际岗位"})
    learner = db.session.get(User, user_id)
    login(client, learner, "Secret123abc")
    page = client.get("/me").get_data(as_text=True)
    assert "岗位填写有误，请改为实际岗位" in page and "重新提交" in page

    token = csrf_token(client, "/me")
    response = client.post("/me/resubmit", data={
        "csrf_token": token, "name": "李华", "phone": "13812345678", "unit_id": str(tree.unit_a.id),
        "title_series": "工程技术人员", "professional_post": "工程师"})
    assert response.status_code == 302
    db.session.expire_all()
    learner = db.session.get(User, user_id)
    assert learner.status == ReviewStatus.PENDING and learner.professional_post == "工程师"
    assert learner.reject_reason is None
    actions = [d.action.value for d in db.session.scalars(
        sa.select(RegistrationDecision).where(RegistrationDecision.user_id == user_id)
        .order_by(RegistrationDecision.id))]
    assert actions == ["submitted", "rejected", "resubmitted"]


def test_registration_page_flow_in_chinese(client, tree):
    token = csrf_token(client, "/register")
    response = client.post("/register", data={**registration(tree.unit_a.id), "password_confirm": "Secret123abc",
                                              "csrf_token": token})
    assert response.status_code == 302
    assert "待审核" in client.get("/me").get_data(as_text=True)


@pytest.mark.parametrize(("id_number", "message"), [
    ("42010619900307004", "应为 18 位"),
    ("4201061990030700421", "应为 18 位"),
    ("42010619900307004A", "只能由数字组成"),
    ("990106199003070042", "省级行政区划代码"),
    ("420106199002300042", "出生日期无效"),
    ("420106209901010042", "出生日期无效"),
    (VALID_ID[:17] + ("0" if VALID_ID[17] != "0" else "1"), "校验位不正确"),
], ids=["17-digits", "19-digits", "letter", "bad-province", "feb-30", "future-birth", "wrong-check-digit"])
def test_malformed_id_numbers_are_refused_with_a_reason_and_nothing_saved(client, tree, id_number, message):
    before = counts()
    response = client.post("/api/v1/registrations/learners",
                           json=registration(tree.unit_a.id, id_number=id_number))
    assert response.status_code == 422
    assert message in response.get_json()["error"]["fields"]["id_number"]
    assert counts() == before


def test_duplicate_registration_is_refused_and_the_first_one_kept(client, tree):
    assert client.post("/api/v1/registrations/learners", json=registration(tree.unit_a.id)).status_code == 201
    before = counts()
    again = client.post("/api/v1/registrations/learners",
                        json=registration(tree.unit_b.id, id_number=VALID_ID.lower(), name="冒名者"))
    assert again.status_code == 409
    assert "已注册" in again.get_json()["error"]["message"]
    assert counts() == before
    assert db.session.scalar(sa.select(User).where(User.login == VALID_ID)).name == "李华"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "名" * 51, "不能超过 50 个字符"),
    ("professional_post", "岗" * 51, "不能超过 50 个字符"),
    ("name", "", "请填写姓名"),
    ("name", "李\x00华", "控制字符"),
    ("phone", "1381234567", "11 位"),
    ("phone", "23812345678", "以 1 开头"),
    ("title_series", "魔法师", "职称系列"),
    ("password", "short1", "密码长度"),
    ("password", "onlyletterspassword", "字母和数字"),
    ("unit_id", 999999, "不存在"),
], ids=["long-name", "long-post", "empty-name", "control-char", "short-phone", "bad-phone", "unknown-series",
        "short-password", "weak-password", "unknown-unit"])
def test_bad_fields_get_a_chinese_message_and_nothing_is_saved(client, tree, field, value, message):
    before = counts()
    body = {**registration(tree.unit_a.id), field: value}
    response = client.post("/api/v1/registrations/learners", json=body)
    assert response.status_code == 422
    assert message in response.get_json()["error"]["fields"][field]
    assert counts() == before


def test_registration_under_a_unit_not_yet_approved_is_refused(client, tree):
    from lms.orgs.models import OrgKind
    from tests.conftest import make_org

    pending_unit = make_org(OrgKind.UNIT, tree.dept_a, status=ReviewStatus.PENDING)
    response = client.post("/api/v1/registrations/learners", json=registration(pending_unit.id))
    assert response.status_code == 422
    assert "尚未通过审核" in response.get_json()["error"]["fields"]["unit_id"]


def test_wrong_types_in_json_are_refused_in_chinese(client, tree):
    response = client.post("/api/v1/registrations/learners", json={"id_number": 12, "unit_id": "abc"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert fields["unit_id"] == "应为整数。" and fields["name"] == "必填项。"


def test_over_long_form_field_on_the_page_is_shown_next_to_the_field(client, tree):
    token = csrf_token(client, "/register")
    response = client.post("/register", data={**registration(tree.unit_a.id, name="名" * 60),
                                              "password_confirm": "Secret123abc", "csrf_token": token})
    assert response.status_code == 422
    assert "姓名不能超过 50 个字符" in response.get_data(as_text=True)


def test_rejecting_without_a_reason_is_refused(client, tree):
    admin = api_token(client, tree.admins["unit_a"])
    response = client.post("/api/v1/registrations/learners/decisions", headers=admin,
                           json={"ids": [tree.pending_a.id], "approve": False})
    assert response.status_code == 422
    assert "必须填写原因" in response.get_json()["error"]["message"]
    db.session.expire_all()
    assert db.session.get(User, tree.pending_a.id).status == ReviewStatus.PENDING


def test_deciding_an_already_decided_registration_is_a_conflict(client, tree):
    admin = api_token(client, tree.admins["unit_a"])
    response = client.post("/api/v1/registrations/learners/decisions", headers=admin,
                           json={"ids": [tree.learner_a.id], "approve": False, "reason": "重复"})
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(User, tree.learner_a.id).status == ReviewStatus.APPROVED


def test_password_change_needs_the_old_password_and_ends_old_tokens(client, tree):
    headers = api_token(client, tree.learner_a)
    wrong = client.post("/api/v1/me/password", headers=headers,
                        json={"old_password": "not-it-123", "new_password": "NewSecret456"})
    assert wrong.status_code == 422
    assert wrong.get_json()["error"]["fields"]["old_password"] == "原密码不正确。"

    ok = client.post("/api/v1/me/password", headers=headers,
                     json={"old_password": PASSWORD, "new_password": "NewSecret456"})
    assert ok.status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    fresh = {"Authorization": f"Bearer {ok.get_json()['token']}"}
    assert client.get("/api/v1/me", headers=fresh).status_code == 200
    assert api_token(client, tree.learner_a, "NewSecret456")


def test_password_change_page_refuses_a_wrong_old_password(client, tree):
    login(client, tree.learner_a)
    token = csrf_token(client, "/password")
    response = client.post("/password", data={"csrf_token": token, "old_password": "wrong-pass-1",
                                              "new_password": "NewSecret456", "new_password_confirm": "NewSecret456"})
    assert response.status_code == 422
    assert "原密码不正确" in response.get_data(as_text=True)


def test_password_change_logs_out_other_sessions(app, tree):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, tree.learner_a)
    login(laptop, tree.learner_a)
    token = csrf_token(laptop, "/password")
    laptop.post("/password", data={"csrf_token": token, "old_password": PASSWORD,
                                   "new_password": "NewSecret456", "new_password_confirm": "NewSecret456"})
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302  # sent back to the login page


def test_login_accepts_a_lower_case_x_in_the_id_number(client, tree):
    from tests.conftest import make_user

    with_x = next(n for n in (make_id_number("420106", dt.date(1975, 1, 1), s) for s in range(1, 100))
                  if n.endswith("X"))
    learner = make_user(tree.unit_a, login=None)
    learner.login = learner.id_number = with_x
    db.session.commit()
    response = client.post("/api/v1/auth/token", json={"login": learner.login.lower(), "password": PASSWORD})
    assert response.status_code == 200


def test_pending_learner_may_log_in_but_only_sees_their_status(client, tree):
    login(client, tree.pending_a)
    assert client.get("/").headers["Location"].endswith("/me")
    assert client.get("/people").status_code == 302
    headers = api_token(client, tree.pending_a)
    assert client.get("/api/v1/people", headers=headers).status_code == 403


def test_a_logged_in_person_posting_the_registration_form_is_refused_and_keeps_their_session(client, tree):
    login(client, tree.pending_a)
    token = csrf_token(client, "/me")
    before = counts()
    response = client.post("/register", data={**registration(tree.unit_a.id), "password_confirm": "Secret123abc",
                                              "csrf_token": token})
    assert response.status_code == 409
    assert f"您已登录为 {tree.pending_a.name}" in response.get_data(as_text=True)
    assert counts() == before
    assert f"{tree.pending_a.name}" in client.get("/me").get_data(as_text=True)  # still the same account


def test_a_logged_in_caller_of_the_registration_api_is_refused_in_chinese(client, tree):
    headers = api_token(client, tree.learner_a)
    before = counts()
    response = client.post("/api/v1/registrations/learners", headers=headers, json=registration(tree.unit_a.id))
    assert response.status_code == 409
    assert "您已登录为" in response.get_json()["error"]["message"]
    login(client, tree.pending_a)  # a page session counts as logged in too
    response = client.post("/api/v1/registrations/learners", json=registration(tree.unit_a.id))
    assert response.status_code == 409
    assert counts() == before


def test_a_registration_whose_confirmation_differs_is_refused_with_every_other_problem_shown(client, tree):
    token = csrf_token(client, "/register")
    before = counts()
    response = client.post("/register", data={**registration(tree.unit_a.id, phone="123"),
                                              "password_confirm": "Other123abc", "csrf_token": token})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "两次输入的密码不一致" in page and "11 位" in page
    assert counts() == before
