from tests.conftest import api_token, login


def test_demo_admin_can_log_in_and_see_home(client, tree):
    response = login(client, tree.admins["unit_a"])
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "用人单位管理员" in page


def test_api_token_identifies_the_caller(client, tree):
    headers = api_token(client, tree.learner_a)
    body = client.get("/api/v1/me", headers=headers).get_json()
    assert body["id_number"] == tree.learner_a.id_number


def test_logging_out_is_only_the_post_form_not_a_link_that_would_fail(client, tree):
    login(client, tree.learner_a)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/logout"' not in page and 'action="/logout"' in page
    assert client.get("/logout").status_code == 405
