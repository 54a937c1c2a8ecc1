"""Password resets: an admin's reset with a forced change at the next login, and the phone code of 忘记密码.

The codes come from the real outbox (the default SMS backend), as a person would read them on their phone.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from lms.accounts.models import PasswordResetCode, User
from lms.accounts.passwords import password_problem, verify_password
from lms.accounts.resets import CODE_REFUSED_MESSAGE, CODE_SENT_MESSAGE
from lms.audit.models import AuditEntry
from lms.core.auth import TEMPORARY_PASSWORD_MESSAGE
from lms.extensions import db
from lms.notify.models import SmsOutboxMessage
from lms.orgs.models import AdminRole, OrgAdmin
from tests.conftest import PASSWORD, api_token, csrf_token, login, make_user

CHINESE = re.compile(r"[\u4e00-\u9fff]")
NEW_PASSWORD = "Newpass2026x"


def resets_logged() -> list[AuditEntry]:
    db.session.rollback()
    return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "password.reset")).all()


def fresh(user) -> User:
    db.session.rollback()
    return db.session.get(User, user.id)


def further_admin(org, codes: str, login: str):
    """An admin of ``org`` (not the super admin) whose role holds the permission ``codes``."""
    user = make_user(org, login=login)
    role = AdminRole(org_id=org.id, name=f"角色{login}", permission_codes=codes)
    db.session.add(role)
    db.session.flush()
    db.session.query(OrgAdmin).filter_by(user_id=user.id).one().role_id = role.id
    db.session.commit()
    return user


# ------------------------------------------------------------------------------------------------ admin reset


def test_an_admin_reset_ends_every_session_and_the_next_login_must_change_the_password_first(client, tree):
    learner = tree.learner_a
    old_token = api_token(client, learner)
    old_page = client.application.test_client()
    assert login(old_page, learner).status_code == 302

    response = client.post(f"/api/v1/people/{learner.id}/password-reset", json={},
                           headers=api_token(client, tree.admins["unit_a"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    temporary = body["temporary_password"]
    assert body["generated"] is True and password_problem(temporary) is None and body["person"]["id"] == learner.id
    assert fresh(learner).must_change_password is True

    # Every earlier token and session ended; the old password no longer works.
    assert client.get("/api/v1/me", headers=old_token).status_code == 401
    assert old_page.get("/my/hours").status_code == 302
    assert client.post("/api/v1/auth/token", json={"login": learner.login, "password": PASSWORD}).status_code == 401

    # With the temporary password the API answers only the account and the password change.
    token = api_token(client, learner, temporary)
    assert client.get("/api/v1/me", headers=token).get_json()["must_change_password"] is True
    refused = client.get("/api/v1/me/todo", headers=token)
    assert refused.status_code == 403 and refused.get_json()["error"]["message"] == TEMPORARY_PASSWORD_MESSAGE
    assert client.get("/api/v1/people", headers=token).status_code == 403

    # Every page leads to the change page.
    page = client.application.test_client()
    logged_in = login(page, learner, temporary)
    assert logged_in.status_code == 302 and logged_in.headers["Location"].endswith("/password")
    for address in ("/", "/my/hours", "/courses", "/declarations", "/me"):
        answer = page.get(address)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/password"), address
    assert "临时密码" in page.get("/password").get_data(as_text=True)

    changed = page.post("/password", data={"csrf_token": csrf_token(page, "/password"), "old_password": temporary,
                                           "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert changed.status_code == 302 and changed.headers["Location"].endswith("/")
    assert page.get("/my/hours").status_code == 200
    assert fresh(learner).must_change_password is False
    assert client.get("/api/v1/me/todo", headers=api_token(client, learner, NEW_PASSWORD)).status_code == 200

    [entry] = resets_logged()
    assert (entry.actor_id, entry.object_id, entry.after) == (
        tree.admins["unit_a"].id, str(learner.id), {"must_change_password": True, "temporary_password": "系统生成"})
    row = " ".join(str(v) for v in (entry.object_label, entry.reason, entry.before, entry.after))
    assert temporary not in row and learner.id_number not in row


def test_a_typed_temporary_password_is_checked_by_the_password_rule_and_a_refusal_changes_nothing(client, tree):
    admin = api_token(client, tree.admins["unit_a"])
    before = fresh(tree.learner_a).password_hash
    weak = client.post(f"/api/v1/people/{tree.learner_a.id}/password-reset", json={"password": "short"}, headers=admin)
    assert weak.status_code == 422 and "密码长度" in weak.get_json()["error"]["fields"]["password"]
    learner = fresh(tree.learner_a)
    assert (learner.password_hash, learner.must_change_password) == (before, False) and resets_logged() == []

    typed = client.post(f"/api/v1/people/{tree.learner_a.id}/password-reset", json={"password": "Temp2026abc"},
                        headers=admin)
    assert typed.status_code == 200 and typed.get_json()["generated"] is False
    assert verify_password(fresh(tree.learner_a).password_hash, "Temp2026abc")
    assert resets_logged()[0].after["temporary_password"] == "管理员输入"


@pytest.mark.parametrize("actor", ["unit_b", "dept_b", "county", "base_a", "learner_b", "learner_a_self", "reviewer",
                                   "no_permission"])
def test_nobody_outside_the_persons_subtree_or_without_the_permission_resets_their_password(client, tree, actor):
    if actor == "no_permission":
        user = further_admin(tree.unit_a, "manage_people approve_people", "staff_noreset")
    elif actor == "learner_a_self":
        user = tree.learner_a
    else:
        user = tree.admins.get(actor) or getattr(tree, actor)
    before = fresh(tree.learner_a).password_hash
    response = client.post(f"/api/v1/people/{tree.learner_a.id}/password-reset", json={},
                           headers=api_token(client, user))
    assert response.status_code == 403 and CHINESE.search(response.get_json()["error"]["message"])
    learner = fresh(tree.learner_a)
    assert (learner.password_hash, learner.must_change_password) == (before, False)
    assert resets_logged() == []


def test_a_further_admin_never_resets_the_super_admin_or_another_admin_of_their_own_organisation(client, tree):
    resetter = further_admin(tree.unit_a, "reset_passwords manage_people", "staff_reset")
    colleague = further_admin(tree.unit_a, "approve_people", "staff_other")
    token = api_token(client, resetter)
    for target in (tree.admins["unit_a"], colleague):
        response = client.post(f"/api/v1/people/{target.id}/password-reset", json={}, headers=token)
        assert response.status_code == 403 and "只有超级管理员" in response.get_json()["error"]["message"]
    assert client.post(f"/api/v1/people/{resetter.id}/password-reset", json={}, headers=token).status_code == 409
    assert client.post(f"/api/v1/people/{tree.learner_a.id}/password-reset", json={}, headers=token
                       ).status_code == 200
    # The unit's super admin resets a fellow admin; the department resets the unit's super admin (5.1.2).
    super_token = api_token(client, tree.admins["unit_a"])
    assert client.post(f"/api/v1/people/{colleague.id}/password-reset", json={}, headers=super_token
                       ).status_code == 200
    assert client.post(f"/api/v1/people/{tree.admins['unit_a'].id}/password-reset", json={},
                       headers=api_token(client, tree.admins["dept_a"])).status_code == 200
    assert len(resets_logged()) == 3


def test_an_admin_of_another_organisation_is_reset_only_from_above_both_their_unit_and_that_organisation(client, tree):
    # A learner of unit_a who administers department dept_b: unit_a's admin must not take that account over.
    dept_b_admin = make_user(tree.unit_a, login="dual_admin")
    membership = db.session.query(OrgAdmin).filter_by(user_id=dept_b_admin.id).one()
    membership.org_id, membership.is_super = tree.dept_b.id, False
    role = AdminRole(org_id=tree.dept_b.id, name="审核员", permission_codes="approve_orgs")
    db.session.add(role)
    db.session.flush()
    membership.role_id = role.id
    db.session.commit()
    response = client.post(f"/api/v1/people/{dept_b_admin.id}/password-reset", json={},
                           headers=api_token(client, tree.admins["unit_a"]))
    assert response.status_code == 403 and "管理员" in response.get_json()["error"]["message"]
    # Nor dept_b's (the account is a person of unit_a); the city, above both, may.
    assert client.post(f"/api/v1/people/{dept_b_admin.id}/password-reset", json={},
                       headers=api_token(client, tree.admins["dept_b"])).status_code == 403
    assert client.post(f"/api/v1/people/{dept_b_admin.id}/password-reset", json={},
                       headers=api_token(client, tree.admins["city"])).status_code == 200
    assert len(resets_logged()) == 1


def test_the_people_page_resets_a_password_and_shows_the_temporary_password_once(client, tree):
    from tests.declarations import client_for

    admin = client_for(client.application, tree.admins["unit_a"])
    people = admin.get("/people").get_data(as_text=True)
    assert f"/people/{tree.learner_a.id}/password-reset" in people
    response = admin.post(f"/people/{tree.learner_a.id}/password-reset",
                          data={"csrf_token": csrf_token(admin, "/people"), "next": "/people"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    temporary = re.search(r"data-temporary-password>([^<]+)<", response.get_data(as_text=True)).group(1)
    assert verify_password(fresh(tree.learner_a).password_hash, temporary)
    assert temporary not in admin.get("/people").get_data(as_text=True)
    outside = admin.post(f"/people/{tree.learner_b.id}/password-reset",
                         data={"csrf_token": csrf_token(admin, "/people"), "next": "/people"})
    assert outside.status_code == 302 and "无权重置" in admin.get("/people").get_data(as_text=True)
    assert fresh(tree.learner_b).must_change_password is False


# ------------------------------------------------------------------------------------------------ phone codes


def sent_code(phone: str) -> str:
    """The code of the newest message the outbox sent to this number."""
    db.session.rollback()
    message = db.session.scalars(sa.select(SmsOutboxMessage).where(SmsOutboxMessage.phone == phone)
                                 .order_by(SmsOutboxMessage.id.desc())).first()
    assert message is not None, f"no message to {phone}"
    return re.search(r"验证码 (\d{6})", message.text).group(1)


def outbox_count() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(SmsOutboxMessage))


def ask_code(client, user, phone=None, address="127.0.0.1"):
    return client.post("/api/v1/auth/password-reset/code", json={"login": user.login, "phone": phone or user.phone},
                       environ_base={"REMOTE_ADDR": address})


def use_code(client, user, code, password=NEW_PASSWORD):
    return client.post("/api/v1/auth/password-reset", json={"login": user.login, "phone": user.phone, "code": code,
                                                            "new_password": password})


def test_a_code_sent_to_the_registered_phone_sets_a_new_password_through_the_pages(client, tree):
    learner = tree.learner_a
    old_token = api_token(client, learner)
    page = client.application.test_client()
    assert "忘记密码" in page.get("/login").get_data(as_text=True)
    sent = page.post("/password/forgot", data={"csrf_token": csrf_token(page, "/password/forgot"),
                                               "login": learner.login, "phone": learner.phone})
    assert sent.status_code == 200 and CODE_SENT_MESSAGE in sent.get_data(as_text=True)
    code = sent_code(learner.phone)
    [stored] = db.session.scalars(sa.select(PasswordResetCode)).all()
    assert code not in stored.code_hash and stored.expires_at - stored.created_at == dt.timedelta(minutes=10)

    form = {"csrf_token": csrf_token(page, "/password/forgot"), "login": learner.login, "phone": learner.phone,
            "code": code, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    done = page.post("/password/forgot/code", data=form)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert client.get("/api/v1/me", headers=old_token).status_code == 401
    assert login(page, learner, NEW_PASSWORD).headers["Location"].endswith("/")
    assert fresh(learner).must_change_password is False


def test_a_code_also_ends_a_forced_change_after_an_admin_reset(client, tree):
    assert client.post(f"/api/v1/people/{tree.learner_a.id}/password-reset", json={},
                       headers=api_token(client, tree.admins["unit_a"])).status_code == 200
    assert ask_code(client, tree.learner_a).status_code == 202
    assert use_code(client, tree.learner_a, sent_code(tree.learner_a.phone)).status_code == 200
    assert client.get("/api/v1/me/todo", headers=api_token(client, tree.learner_a, NEW_PASSWORD)).status_code == 200


def test_the_answer_never_says_whether_the_login_and_phone_belong_together(client, tree):
    answers = [ask_code(client, tree.learner_a, phone="13700000000"),
               client.post("/api/v1/auth/password-reset/code", json={"login": "420106000000000000",
                                                                     "phone": tree.learner_a.phone}),
               ask_code(client, tree.learner_b, phone=tree.learner_a.phone),
               ask_code(client, tree.learner_a)]
    assert {(a.status_code, a.get_data(as_text=True)) for a in answers} == {(202, answers[0].get_data(as_text=True))}
    assert outbox_count() == 1  # only the matching pair got a message
    wrong_pair = client.post("/api/v1/auth/password-reset", json={
        "login": tree.learner_b.login, "phone": tree.learner_a.phone, "code": sent_code(tree.learner_a.phone),
        "new_password": NEW_PASSWORD})
    unknown = client.post("/api/v1/auth/password-reset", json={
        "login": "420106000000000000", "phone": tree.learner_a.phone, "code": "123456", "new_password": NEW_PASSWORD})
    assert {(r.status_code, r.get_json()["error"]["message"]) for r in (wrong_pair, unknown)} == {
        (422, CODE_REFUSED_MESSAGE)}
    assert ask_code(client, tree.learner_a, phone="12345").status_code == 422  # a malformed number is just that


def test_an_expired_code_is_refused_and_changes_nothing(client, tree):
    assert ask_code(client, tree.learner_a).status_code == 202
    code = sent_code(tree.learner_a.phone)
    eleven_minutes = dt.timedelta(minutes=11)
    db.session.execute(sa.update(PasswordResetCode).values(created_at=PasswordResetCode.created_at - eleven_minutes,
                                                           expires_at=PasswordResetCode.expires_at - eleven_minutes))
    db.session.commit()
    before = fresh(tree.learner_a).password_hash
    response = use_code(client, tree.learner_a, code)
    assert response.status_code == 422 and response.get_json()["error"]["message"] == CODE_REFUSED_MESSAGE
    assert fresh(tree.learner_a).password_hash == before


def test_a_code_works_once(client, tree):
    assert ask_code(client, tree.learner_a).status_code == 202
    code = sent_code(tree.learner_a.phone)
    assert use_code(client, tree.learner_a, code).status_code == 200
    again = use_code(client, tree.learner_a, code, password="Another2026y")
    assert again.status_code == 422 and again.get_json()["error"]["message"] == CODE_REFUSED_MESSAGE
    assert verify_password(fresh(tree.learner_a).password_hash, NEW_PASSWORD)


def test_a_newer_code_voids_the_older_one(client, tree):
    assert ask_code(client, tree.learner_a).status_code == 202
    first = sent_code(tree.learner_a.phone)
    assert ask_code(client, tree.learner_a).status_code == 202
    second = sent_code(tree.learner_a.phone)
    if first != second:  # one draw in a million repeats the code
        assert use_code(client, tree.learner_a, first).status_code == 422
    assert use_code(client, tree.learner_a, second).status_code == 200


def wrong_guess(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_four_wrong_guesses_leave_the_code_usable_and_the_fifth_voids_it(client, tree):
    assert ask_code(client, tree.learner_a).status_code == 202
    code = sent_code(tree.learner_a.phone)
    for _ in range(4):
        assert use_code(client, tree.learner_a, wrong_guess(code)).status_code == 422
    assert use_code(client, tree.learner_a, code).status_code == 200

    assert ask_code(client, tree.learner_a).status_code == 202
    code = sent_code(tree.learner_a.phone)
    for _ in range(5):
        refused = use_code(client, tree.learner_a, wrong_guess(code), password="Another2026y")
        assert refused.status_code == 422 and refused.get_json()["error"]["message"] == CODE_REFUSED_MESSAGE
    assert use_code(client, tree.learner_a, code, password="Another2026y").status_code == 422
    assert verify_password(fresh(tree.learner_a).password_hash, NEW_PASSWORD)
    voided = db.session.scalars(sa.select(PasswordResetCode).order_by(PasswordResetCode.id.desc())).first()
    assert voided.failed_attempts == 5 and voided.voided_at is not None


def test_a_weak_new_password_is_refused_without_spending_a_guess(client, tree):
    assert ask_code(client, tree.learner_a).status_code == 202
    code = sent_code(tree.learner_a.phone)
    weak = use_code(client, tree.learner_a, wrong_guess(code), password="password")
    assert weak.status_code == 422 and "new_password" in weak.get_json()["error"]["fields"]
    db.session.rollback()
    assert db.session.scalars(sa.select(PasswordResetCode)).one().failed_attempts == 0


def test_code_requests_are_limited_per_phone_number_and_per_address(client, tree):
    learner = tree.learner_a
    # Per number (3 per 10 minutes), whichever address asks and whether through the page or the API.
    page = client.application.test_client()
    form = {"csrf_token": csrf_token(page, "/password/forgot"), "login": learner.login, "phone": learner.phone}
    assert page.post("/password/forgot", data=form).status_code == 200
    assert ask_code(client, learner, address="10.0.0.2").status_code == 202
    assert ask_code(client, learner, address="10.0.0.3").status_code == 202
    limited = ask_code(client, learner, address="10.0.0.4")
    assert limited.status_code == 429 and CHINESE.search(limited.get_json()["error"]["message"])
    assert page.post("/password/forgot", data=form).status_code == 429
    assert outbox_count() == 3

    # Per address (10 per hour), whatever numbers it tries.
    answers = [client.post("/api/v1/auth/password-reset/code",
                           json={"login": learner.login, "phone": f"1380000{n:04d}"},
                           environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code for n in range(11)]
    assert answers == [202] * 10 + [429]
    assert ask_code(client, tree.learner_b, address="10.0.0.10").status_code == 202  # others still get theirs
