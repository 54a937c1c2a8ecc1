"""The title-review system's interface (35号文 四(三)): a client-credentials token, then a person's record.

Machine-to-machine only: no person logs in here. Every call is rate-limited per client (Flask-Limiter, the
project's limiter and storage) and every answer that gives data is audit-logged with the client's name.
"""

from __future__ import annotations

import base64
import binascii

from flask import current_app, request
from flask_smorest import Blueprint

from lms.core.errors import ServiceError
from lms.extensions import db, limiter
from lms.interop import report, schemas, service

blp = Blueprint("interop_api", __name__, url_prefix="/api/v1/interop",
                description="职称评审系统衔接接口（机器对机器，OAuth2 客户端凭证模式）")
CLIENT_TOKEN = [{"interop": ["hours:read"]}]
TOKEN_ATTEMPTS_PER_ADDRESS = "30 per minute"


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _client_key() -> str:
    """Count a data call against the client its token names, or against the address when there is none."""
    client_id = service.client_id_of_token(_bearer() or "")
    return f"interop:{client_id}" if client_id else f"interop-anonymous:{request.remote_addr}"


def _credentials() -> dict:
    """Read the grant from a form (RFC 6749) or JSON body; the client may also authenticate by HTTP Basic."""
    body = request.form.to_dict() if request.form else (request.get_json(silent=True) or {})
    body = body if isinstance(body, dict) else {}
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        body.setdefault("client_id", client_id)
        body.setdefault("client_secret", secret)
    return {key: body.get(key) if isinstance(body.get(key), str) else None
            for key in ("grant_type", "client_id", "client_secret", "scope")}


def _token_key() -> str:
    return f"interop-token:{_credentials()['client_id'] or request.remote_addr}"


def rate_limit() -> str:
    return current_app.config.get("LMS_INTEROP_RATE_LIMIT") or "120 per minute"


@blp.route("/token", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {
    "application/x-www-form-urlencoded": {
        "schema": {"type": "object", "required": ["grant_type", "client_id", "client_secret"],
                   "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                                  "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                                  "scope": {"type": "string", "description": "空格分隔；不填为客户端的全部范围"}}},
        "example": {"grant_type": "client_credentials", "client_id": "tr_0a1b2c3d4e5f6a7b",
                    "client_secret": "（登记时显示一次的密钥）", "scope": "hours:read integrity:read"}},
    "application/json": {"example": {"grant_type": "client_credentials", "client_id": "tr_0a1b2c3d4e5f6a7b",
                                     "client_secret": "（登记时显示一次的密钥）"}}}})
@blp.response(200, schemas.TokenOut, example=schemas.TOKEN_EXAMPLE)
@blp.alt_response(400, description="grant_type 不是 client_credentials（unsupported_grant_type）或权限范围无效"
                                   "（invalid_scope）",
                  example={"error": {"code": "invalid_scope",
                                     "message": "该客户端未获准这些权限范围：integrity:read。"}})
@blp.alt_response(401, description="客户端身份验证失败（invalid_client）", example={"error": {
    "code": "invalid_client", "message": "客户端身份验证失败：client_id 或 client_secret 不正确，或客户端已吊销。"}})
@blp.alt_response(429, description="尝试过于频繁（每个客户端、每个地址分别限制）")
@limiter.limit(rate_limit, key_func=_token_key)
@limiter.limit(TOKEN_ATTEMPTS_PER_ADDRESS)
def token():
    """Issue a short-lived bearer token for a registered client (OAuth2 client credentials grant, RFC 6749 §4.4)."""
    body = _credentials()
    _client, issued = service.issue_token(body["grant_type"], body["client_id"], body["client_secret"], body["scope"])
    db.session.commit()
    return {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in,
            "scope": issued.scope}


@blp.route("/people/<id_number>/record", methods=["GET"])
@blp.doc(security=CLIENT_TOKEN, parameters=[{"in": "path", "name": "id_number", "required": True,
                                             "schema": {"type": "string"}, "description": "18 位身份证号码",
                                             "example": "420106198001010012"}])
@blp.arguments(schemas.RecordQuery, location="query")
@blp.response(200, schemas.PersonRecord, example=schemas.RECORD_EXAMPLE)
@blp.alt_response(401, description="没有令牌、令牌无效或过期、客户端已吊销", example={"error": {
    "code": "unauthenticated", "message": "访问令牌已过期，请重新取得。"}})
@blp.alt_response(403, description="令牌没有 hours:read 权限范围（insufficient_scope）")
@blp.alt_response(404, description="平台上没有该身份证号码的专业技术人员")
@blp.alt_response(422, description="身份证号码或年度无效", example={"error": {
    "code": "invalid_input", "message": "截止年度不能早于起始年度。",
    "fields": {"to_year": "截止年度不能早于起始年度。"}}})
@blp.alt_response(429, description="超过该客户端的调用频率限制（LMS_INTEROP_RATE_LIMIT）")
@limiter.limit(rate_limit, key_func=_client_key)
def person_record(args, id_number: str):
    """A person's hours by year and category, compliance, certificates with their codes, integrity records and
    deferrals over a span of years; the sections beyond ``years`` and ``certificates`` need their own scopes."""
    caller = service.caller_of(_bearer(), "hours:read")
    try:
        body = report.person_record(caller, id_number, args["from_year"], args["to_year"])
    except ServiceError as error:
        db.session.rollback()
        report.record_refusal(caller, id_number, error)
        db.session.commit()
        raise
    db.session.commit()
    return body
