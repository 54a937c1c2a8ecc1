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
