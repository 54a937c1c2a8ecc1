"""The health endpoint and the OpenAPI document."""

from __future__ import annotations

import dataclasses


def test_health_reports_every_component_reachable(client, config):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    expected = ("sqlite", "in-process", "local-folder") if config.redis_url is None else ("postgresql", "redis", "s3")
    assert tuple(body["components"][k]["backend"] for k in ("database", "redis", "storage")) == expected


def test_readiness_says_503_when_redis_is_unreachable_without_its_error_text_and_liveness_stays_up(
        config, app_factory, caplog):
    config = dataclasses.replace(config, redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = app_factory(config).test_client()
    for path in ("/healthz/ready", "/healthz"):
        response = client.get(path)
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "unavailable" and body["components"]["redis"] == {"ok": False, "backend": "redis"}
        assert "127.0.0.1" not in response.get_data(as_text=True) and "Error" not in response.get_data(as_text=True)
    assert "redis unreachable" in caplog.text  # the detail is in the server's log
    live = client.get("/healthz/live")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/auth/token", "/api/v1/registrations/learners", "/api/v1/registrations/learners/decisions",
                 "/api/v1/registrations/orgs", "/api/v1/registrations/orgs/decisions", "/api/v1/orgs/bureaus",
                 "/api/v1/me/password", "/api/v1/people"):
        assert path in spec["paths"], path
    assert "bearer" in spec["components"]["securitySchemes"]


def test_unknown_api_path_answers_json_and_unknown_page_answers_html(client):
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.get_json()["error"]["message"] == "页面或资源不存在。"
    page = client.get("/nothing-here")
    assert page.status_code == 404 and "页面或资源不存在" in page.get_data(as_text=True)
