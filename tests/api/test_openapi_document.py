"""The OpenAPI document describes the people's declarations, hours, certificates and quiz calls and the title-review
interface, each operation with an example and its security."""

from __future__ import annotations

import json

import pytest

NEW_PATHS = [
    "/api/v1/declarations", "/api/v1/declarations/{declaration_id}", "/api/v1/declarations/{declaration_id}/resubmit",
    "/api/v1/declarations/review", "/api/v1/declarations/{declaration_id}/decision", "/api/v1/declarations/decisions",
    "/api/v1/declarations/{declaration_id}/void", "/api/v1/people/{person_id}/integrity-records",
    "/api/v1/my/hours", "/api/v1/my/hours/{year}", "/api/v1/my/certificates",
    "/api/v1/my/certificates/{certificate_id}", "/api/v1/my/certificates/{certificate_id}/pdf",
    "/api/v1/declaration-kinds", "/api/v1/my/courses/{course_id}/quiz", "/api/v1/my/quiz-attempts/{attempt_id}",
    "/api/v1/my/courses/{course_id}/quiz/attempts", "/api/v1/my/quiz-attempts/{attempt_id}/questions",
    "/api/v1/my/quiz-attempts/{attempt_id}/answers/{number}", "/api/v1/my/quiz-attempts/{attempt_id}/submit",
    "/api/v1/my/quiz-attempts/{attempt_id}/result", "/api/v1/interop/token",
    "/api/v1/interop/people/{id_number}/record",
]


@pytest.fixture
def spec(client):
    return client.get("/api/openapi.json").get_json()


@pytest.mark.parametrize("path", NEW_PATHS)
def test_every_new_call_is_documented_with_an_example(spec, path):
    assert path in spec["paths"], path
    for method, operation in spec["paths"][path].items():
        if method not in ("get", "post", "put"):
            continue
        # The token endpoint is where a client authenticates (by its credentials), so it names no scheme.
        assert operation.get("security") or path == "/api/v1/interop/token", (path, method)
        assert '"example' in json.dumps(operation), f"{method.upper()} {path} 没有示例"


def test_the_interface_declares_its_client_credentials_flow_and_scopes(spec):
    scheme = spec["components"]["securitySchemes"]["interop"]
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/api/v1/interop/token"
    assert set(flow["scopes"]) == {"hours:read", "integrity:read", "deferrals:read"}
