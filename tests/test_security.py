"""CSRF, login rate limiting, cookie flags and masking of personal numbers."""

from __future__ import annotations

import dataclasses

from tests.conftest import PASSWORD, csrf_token, login


def test_forged_csrf_token_is_refused_and_nothing_changes(client, tree):
    login(client, tree.admins["unit_a"])
    csrf_token(client, "/registrations")
    response = client.post("/registrations/learners", data={
        "learners-csrf_token": "forged-token", "learners-ids": [str(tree.pending_a.id)],
        "learners-decision": "approve"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert tree.pending_a.status.value == "pending"


def test_form_post_without_csrf_token_is_refused(client, tree):
    response = client.post("/login", data={"login": tree.learner_a.login, "password": PASSWORD})
    assert response.status_code == 400
    assert "刷新页面" in response.get_data(as_text=True)


def test_repeated_wrong_passwords_are_rate_limited_in_chinese(client, tree):
    token = csrf_token(client, "/login")
    statuses = [client.post("/login", data={"login": tree.learner_a.login, "password": "wrong-pass-9",
                                            "csrf_token": token}).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    blocked = client.post("/login", data={"login": tree.learner_a.login, "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert "尝试过于频繁" in blocked.get_data(as_text=True)


def test_api_token_endpoint_is_rate_limited_too(client, tree):
    statuses = [client.post("/api/v1/auth/token", json={"login": tree.learner_a.login, "password": "nope-1234"})
                .status_code for _ in range(6)]
    assert statuses[-1] == 429
    assert client.post("/api/v1/auth/token", json={"login": tree.learner_a.login, "password": "nope-1234"}) \
        .get_json()["error"]["code"] == "rate_limited"


def test_successful_logins_do_not_use_up_the_limit(client, tree):
    for _ in range(8):
        assert client.post("/api/v1/auth/token",
                           json={"login": tree.learner_a.login, "password": PASSWORD}).status_code == 200


def test_session_cookie_is_secure_httponly_and_samesite_by_default(config, tree, app_factory):
    app = app_factory(dataclasses.replace(config, cookie_secure=True))
    client = app.test_client()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"login": tree.learner_a.login, "password": PASSWORD,
                                           "csrf_token": token}, base_url="https://localhost")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("lms_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_admin_pages_and_api_mask_id_and_phone_numbers(client, tree):
    login(client, tree.admins["unit_a"])
    for url in ("/people", "/registrations"):
        page = client.get(url).get_data(as_text=True)
        assert tree.pending_a.name in page
        assert tree.pending_a.id_number not in page and tree.pending_a.phone not in page
        assert tree.pending_a.masked_id_number in page


def test_a_learner_sees_their_own_numbers_only_masked_on_the_home_page(client, tree):
    login(client, tree.learner_a)
    page = client.get("/").get_data(as_text=True)
    assert tree.learner_a.masked_id_number in page and tree.learner_a.id_number not in page


def test_logout_needs_post_so_a_link_elsewhere_cannot_log_you_out(client, tree):
    login(client, tree.learner_a)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_behind_a_trusted_proxy_each_client_address_has_its_own_login_limit(config, tree, app_factory):
    client = app_factory(dataclasses.replace(config, trusted_proxies=1)).test_client()
    token = csrf_token(client, "/login")

    def attempt(address: str) -> int:
        return client.post("/login", data={"login": tree.learner_a.login, "password": "wrong-pass-9",
                                           "csrf_token": token}, headers={"X-Forwarded-For": address}).status_code

    assert [attempt("203.0.113.7") for _ in range(6)][-1] == 429
    assert attempt("198.51.100.9") == 401
