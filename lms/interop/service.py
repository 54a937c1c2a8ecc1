"""Machine clients of the title-review interface: registration, OAuth2 client credentials, bearer tokens, scopes.

Authlib is not installed and no dependency is added for this: the OAuth2 part needed here is only the client
credentials grant (RFC 6749 §4.4), so the secret is hashed with werkzeug.security (as passwords are not: those use
argon2, but a 32-byte random secret needs no slow hash) and the short-lived token is an itsdangerous signature
over the client id, the scopes granted and an expiry. Each call loads the client again, so revoking a client
ends its tokens at once. Services flush; the caller commits.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from lms.audit import service as audit
from lms.core.auth import Unauthenticated
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound, ServiceError
from lms.extensions import db
from lms.interop.models import ApiClient

SCOPES = {
    "hours:read": "学时（按年度、类别）、达标情况、年度学时证明及其查询码",
    "integrity:read": "诚信档案（学时申报弄虚作假记录，第二十一条）",
    "deferrals:read": "顺延补学（第十七条）",
}
DEFAULT_TOKEN_SECONDS = 600
_CLIENT_ID = re.compile(r"^tr_[0-9a-f]{16}$")
# A fixed hash to compare against when the client id is unknown, so a wrong id takes as long as a wrong secret.
_DUMMY_HASH = generate_password_hash("not-a-secret", method="pbkdf2:sha256:60000")


class InvalidClient(ServiceError):
    status = 401
    code = "invalid_client"


class InvalidScope(ServiceError):
    status = 400
    code = "invalid_scope"


class UnsupportedGrant(ServiceError):
    status = 400
    code = "unsupported_grant_type"


class InsufficientScope(NotAllowed):
    code = "insufficient_scope"


def token_seconds() -> int:
    return int(current_app.config.get("LMS_INTEROP_TOKEN_SECONDS", DEFAULT_TOKEN_SECONDS))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="lms.interop-token")


def parse_scopes(raw: str | None, allowed: frozenset[str] | None = None) -> frozenset[str]:
    """Read a space- or comma-separated scope list; refuse unknown scopes (and, given ``allowed``, any beyond it)."""
    chosen = frozenset(part for part in re.split(r"[\s,]+", raw or "") if part)
    unknown = sorted(chosen - set(SCOPES))
    if unknown:
        raise InvalidScope(f"没有这些权限范围：{'、'.join(unknown)}；可用的有 {'、'.join(SCOPES)}。")
    if allowed is not None and not chosen <= allowed:
        raise InvalidScope(f"该客户端未获准这些权限范围：{'、'.join(sorted(chosen - allowed))}。")
    return chosen


# ------------------------------------------------------------------------------------------------ registration


def create_client(name: str, scopes: str) -> tuple[ApiClient, str]:
    """Register a client; return it and its secret, which is shown this once and kept only as a hash."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput({"name": "请填写客户端名称（不超过 100 个字符），如“省职称评审管理信息系统”。"})
    chosen = parse_scopes(scopes)
    if not chosen:
        raise InvalidInput({"scopes": f"请至少选择一个权限范围：{'、'.join(SCOPES)}。"})
    secret = secrets.token_urlsafe(32)
    client = ApiClient(client_id=f"tr_{secrets.token_hex(8)}", name=name,
                       secret_hash=generate_password_hash(secret, method="pbkdf2:sha256:60000"),
                       scopes=" ".join(sorted(chosen)))
    db.session.add(client)
    db.session.flush()
    audit.record(None, "api_client.create", object_type="api_client", object_id=client.client_id, label=name,
                 after={"scopes": client.scopes}, machine="命令行")
    return client, secret


def clients() -> list[ApiClient]:
    return list(db.session.scalars(sa.select(ApiClient).order_by(ApiClient.id)))


def revoke_client(client_id: str) -> ApiClient:
    """Revoke a client: its tokens stop working at once and it can get no new one."""
    client = db.session.scalar(sa.select(ApiClient).where(ApiClient.client_id == (client_id or "").strip())
                               .with_for_update())
    if client is None:
        raise NotFound(f"没有客户端 {client_id}。")
    if client.revoked_at is not None:
        raise Conflict(f"客户端 {client.client_id} 已于此前吊销。")
    client.revoked_at = utcnow()
    db.session.flush()
    audit.record(None, "api_client.revoke", object_type="api_client", object_id=client.client_id, label=client.name,
                 machine="命令行")
    return client


# ------------------------------------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def authenticate(client_id: str | None, client_secret: str | None) -> ApiClient:
    """Return the active client whose id and secret these are; anything else is one and the same refusal."""
    client = None
    if client_id and _CLIENT_ID.match(client_id):
        client = db.session.scalar(sa.select(ApiClient).where(ApiClient.client_id == client_id))
    valid = check_password_hash(client.secret_hash if client else _DUMMY_HASH, client_secret or "")
    if client is None or not valid or not client.active:
        raise InvalidClient("客户端身份验证失败：client_id 或 client_secret 不正确，或客户端已吊销。")
    return client


def issue_token(grant_type: str | None, client_id: str | None, client_secret: str | None, scope: str | None,
                now: float | None = None) -> tuple[ApiClient, IssuedToken]:
    """The client credentials grant: check the client, grant the scopes asked for (all of its own by default)."""
    if grant_type != "client_credentials":
        raise UnsupportedGrant("grant_type 应为 client_credentials。")
    client = authenticate(client_id, client_secret)
    granted = parse_scopes(scope, client.scope_set) or client.scope_set
    seconds = token_seconds()
    expires = int((now if now is not None else time.time()) + seconds)
    token = _serializer().dumps({"cid": client.client_id, "scp": sorted(granted), "exp": expires})
    audit.record(None, "interop.token", object_type="api_client", object_id=client.client_id, label=client.name,
                 after={"scope": " ".join(sorted(granted))}, machine=client.name)
    return client, IssuedToken(token, seconds, " ".join(sorted(granted)))


@dataclass(frozen=True)
class Caller:
    client: ApiClient
    scopes: frozenset[str]


def _token_data(token: str) -> dict | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def client_id_of_token(token: str) -> str | None:
    """The client id a well-signed token names (for rate-limit keys; it says nothing about validity)."""
    data = _token_data(token)
    return data.get("cid") if data else None


def caller_of(token: str | None, required_scope: str, now: float | None = None) -> Caller:
    """Return the client of a bearer token that is signed, unexpired, of an active client and holds the scope."""
    data = _token_data(token or "") if token else None
    if data is None:
        raise Unauthenticated("请提供有效的访问令牌（Authorization: Bearer …，由 POST /api/v1/interop/token 取得）。")
    if not isinstance(data.get("exp"), int) or data["exp"] <= (now if now is not None else time.time()):
        raise Unauthenticated("访问令牌已过期，请重新取得。")
    client = db.session.scalar(sa.select(ApiClient).where(ApiClient.client_id == data.get("cid")))
    if client is None or not client.active:
        raise Unauthenticated("该客户端已吊销，访问令牌不再有效。")
    # A scope taken away from the client since the token was issued is not honoured either.
    scopes = frozenset(data.get("scp") or ()) & client.scope_set
    if required_scope not in scopes:
        raise InsufficientScope(f"访问令牌没有“{required_scope}”权限范围（{SCOPES[required_scope]}）。")
    return Caller(client, scopes)
