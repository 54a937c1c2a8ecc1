"""The title-review system's interface (35号文 四(三)): registered clients, the client-credentials grant, scopes,
short-lived tokens, per-client rate limits and an audit row for every data call; the person's record by year."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time

import pytest
import sqlalchemy as sa

from lms.audit.models import AuditEntry
from lms.declarations.models import Deferral, DeferralReason
from lms.extensions import db
from lms.interop import service
from lms.interop.models import ApiClient
from tests.api import error_of
from tests.certificates import meet_requirement
from tests.conftest import api_token
from tests.declarations import client_for
from tests.declarations.test_voiding_and_deferral import _filed_conference, _void


def _create(app, scopes: str, name: str = "省职称评审管理信息系统") -> tuple[str, str]:
    result = app.test_cli_runner().invoke(args=["api-clients", "create", "--name", name, "--scopes", scopes])
    assert result.exit_code == 0, result.output
    client_id = re.search(r"client_id: (\S+)", result.output).group(1)
    secret = re.search(r"client_secret: (\S+)", result.output).group(1)
    return client_id, secret


def _token(client, client_id, secret, **extra) -> dict:
    response = client.post("/api/v1/interop/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                          "client_secret": secret, **extra})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == service.DEFAULT_TOKEN_SECONDS
    return {"Authorization": f"Bearer {body['access_token']}"}


def _record(client, headers, id_number, from_year=2025, to_year=2026):
    return client.get(f"/api/v1/interop/people/{id_number}/record?from_year={from_year}&to_year={to_year}",
                      headers=headers)


def test_a_registered_client_reads_a_persons_years_certificates_integrity_and_deferrals(app, client, tree):
    person = tree.learner_a
    year = meet_requirement(person)
    assert client.post("/api/v1/my/certificates", json={"year": year},
                       headers=api_token(client, person)).status_code == 201
    for who in (person, tree.learner_b):
        db.session.add(Deferral(user_id=who.id, year=year, reason_kind=DeferralReason.ILLNESS, reason="住院",
                                ends_on=dt.date(year + 1, 6, 30), granted_by_id=tree.admins["unit_a"].id))
    db.session.commit()
    client_id, secret = _create(app, "hours:read integrity:read deferrals:read")
    stored = db.session.scalar(sa.select(ApiClient))
    assert stored.client_id == client_id and secret not in stored.secret_hash

    response = _record(client, _token(client, client_id, secret), person.id_number, year - 1, year)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["person"]["id_number"] == person.id_number and body["person"]["org"] == tree.unit_a.name
    by_year = {y["year"]: y for y in body["years"]}
    assert by_year[year]["hours"] == {"public": "30.0", "professional": "60.0", "total": "90.0"}
    assert by_year[year]["compliance"]["status"] == "met"
    # A year before the first rule set still shows the ledger's hours, without a verdict.
    assert by_year[year - 1]["rule_set"] is None and by_year[year - 1]["compliance"]["status"] == "no_rule_set"
    [certificate] = body["certificates"]
    assert certificate["year"] == year and certificate["verdict"] == "genuine" and len(certificate["code"]) > 10
    assert body["integrity_records"] == []
    [deferral] = body["deferrals"]
    assert deferral["year"] == year and deferral["reason_label"] == "病" and not deferral["failed"]
    other = _record(client, _token(client, client_id, secret), tree.learner_b.id_number, year, year).get_json()
    assert other["years"][0]["compliance"]["status"] == "deferred" and other["certificates"] == []

    audit_row = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "interop.person_record")
                                   .order_by(AuditEntry.id)).first()
    assert audit_row.actor_name == "省职称评审管理信息系统" and audit_row.actor_id is None
    assert audit_row.after["client"] == client_id and audit_row.org_path == tree.unit_a.path


def test_a_false_declaration_reaches_the_interface_and_a_narrower_client_sees_only_its_scopes(app, client, tree):
    declaration_id = _filed_conference(app, tree)
    assert _void(client_for(app, tree.admins["city"]), declaration_id, "会议邀请函系伪造").status_code == 302
    full_id, full_secret = _create(app, "hours:read integrity:read")
    [record] = _record(client, _token(client, full_id, full_secret), tree.learner_a.id_number).get_json()[
        "integrity_records"]
    assert (record["declaration_id"], record["reason"]) == (declaration_id, "会议邀请函系伪造")
    assert record["article"] == "学时管理办法第二十一条"
    voided = _record(client, _token(client, full_id, full_secret), tree.learner_a.id_number).get_json()["years"][-1]
    assert voided["compliance"]["status"] == "voided"

    hours_only = _token(client, full_id, full_secret, scope="hours:read")
    body = _record(client, hours_only, tree.learner_a.id_number).get_json()
    assert "integrity_records" not in body and "deferrals" not in body and "years" in body

    integrity_id, integrity_secret = _create(app, "integrity:read", name="只读诚信档案的系统")
    missing = _record(client, _token(client, integrity_id, integrity_secret), tree.learner_a.id_number)
    assert missing.status_code == 403 and error_of(missing)["code"] == "insufficient_scope"
    beyond = client.post("/api/v1/interop/token", data={"grant_type": "client_credentials", "client_id": integrity_id,
                                                        "client_secret": integrity_secret, "scope": "hours:read"})
    assert beyond.status_code == 400 and error_of(beyond)["code"] == "invalid_scope"


def test_the_token_endpoint_refuses_bad_secrets_grants_and_revoked_clients(app, client, tree):
    client_id, secret = _create(app, "hours:read")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    by_basic = client.post("/api/v1/interop/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {basic}"})
    assert by_basic.status_code == 200
    as_json = client.post("/api/v1/interop/token", json={"grant_type": "client_credentials", "client_id": client_id,
                                                         "client_secret": secret})
    assert as_json.status_code == 200
    for bad in ({"client_secret": secret + "x"}, {"client_id": "tr_0000000000000000"}, {"client_id": "'; drop"},
                {"client_secret": ""}):
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **bad}
        refused = client.post("/api/v1/interop/token", data=form)
        assert refused.status_code == 401 and error_of(refused)["code"] == "invalid_client"
        assert "客户端身份验证失败" in error_of(refused)["message"]
    grant = client.post("/api/v1/interop/token", data={"grant_type": "password", "client_id": client_id,
                                                       "client_secret": secret})
    assert grant.status_code == 400 and error_of(grant)["code"] == "unsupported_grant_type"

    headers = _token(client, client_id, secret)
    assert _record(client, headers, tree.learner_a.id_number).status_code == 200
    result = app.test_cli_runner().invoke(args=["api-clients", "revoke", client_id])
    assert result.exit_code == 0 and "已吊销" in result.output
    revoked = _record(client, headers, tree.learner_a.id_number)
    assert revoked.status_code == 401 and "已吊销" in error_of(revoked)["message"]
    assert client.post("/api/v1/interop/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                      "client_secret": secret}).status_code == 401
    listing = app.test_cli_runner().invoke(args=["api-clients", "list"]).output
    assert client_id in listing and "已吊销" in listing
    twice = app.test_cli_runner().invoke(args=["api-clients", "revoke", client_id])
    assert twice.exit_code != 0 and "已于此前吊销" in twice.output
    bad_scope = app.test_cli_runner().invoke(args=["api-clients", "create", "--name", "x", "--scopes", "all"])
    assert bad_scope.exit_code != 0 and "没有这些权限范围" in bad_scope.output
    labels = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"api_client.create", "api_client.revoke", "interop.token"} <= labels


def test_expired_forged_and_person_tokens_are_refused(app, client, tree):
    client_id, secret = _create(app, "hours:read")
    _client, old = service.issue_token("client_credentials", client_id, secret, None,
                                       now=time.time() - service.DEFAULT_TOKEN_SECONDS - 1)
    db.session.commit()
    expired = _record(client, {"Authorization": f"Bearer {old.access_token}"}, tree.learner_a.id_number)
    assert expired.status_code == 401 and error_of(expired)["message"] == "访问令牌已过期，请重新取得。"
    forged = _record(client, {"Authorization": f"Bearer {old.access_token[:-4]}AAAA"}, tree.learner_a.id_number)
    assert forged.status_code == 401
    assert _record(client, {}, tree.learner_a.id_number).status_code == 401
    person_token = api_token(client, tree.admins["province"])
    assert _record(client, person_token, tree.learner_a.id_number).status_code == 401


@pytest.mark.parametrize("id_number, years, status, field, message", [
    ("42010619800101001", (2025, 2026), 422, "id_number", "身份证号码"),
    ("{learner}", (2026, 2025), 422, "to_year", "截止年度不能早于起始年度。"),
    ("{learner}", (2015, 2026), 422, "to_year", "一次最多查询 10 个年度。"),
    ("{learner}", ("今年", 2026), 422, "from_year", "起始年度应为四位年份"),
    ("{learner}", (2026, 2999), 422, "to_year", "截止年度不能晚于今年"),
    ("{nobody}", (2025, 2026), 404, None, "平台上没有该身份证号码的专业技术人员。"),
])
def test_bad_questions_get_chinese_answers_and_are_logged_too(app, client, tree, id_number, years, status, field,
                                                              message):
    from lms.core.idcard import make_id_number

    nobody = make_id_number("420106", dt.date(1975, 5, 5), 999)
    number = id_number.format(learner=tree.learner_a.id_number, nobody=nobody)
    client_id, secret = _create(app, "hours:read")
    response = _record(client, _token(client, client_id, secret), number, *years)
    assert response.status_code == status
    error = error_of(response)
    assert message in (error["fields"][field] if field else error["message"])
    rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "interop.person_record")).all()
    assert [row.after["client"] for row in rows] == [client_id] and number not in rows[0].object_label


def test_each_client_is_rate_limited_on_its_own(app, client, tree):
    app.config["LMS_INTEROP_RATE_LIMIT"] = "2 per minute"
    first_id, first_secret = _create(app, "hours:read", name="甲系统")
    second_id, second_secret = _create(app, "hours:read", name="乙系统")
    first = _token(client, first_id, first_secret)
    second = _token(client, second_id, second_secret)
    assert [_record(client, first, tree.learner_a.id_number).status_code for _ in range(2)] == [200, 200]
    limited = _record(client, first, tree.learner_a.id_number)
    assert limited.status_code == 429 and error_of(limited)["code"] == "rate_limited"
    assert "尝试过于频繁" in error_of(limited)["message"]
    assert _record(client, second, tree.learner_a.id_number).status_code == 200
