"""Who is asking: session login for pages, bearer tokens for the JSON API; what they may do is
``lms.orgs.access`` (a permission of the catalogue), or for learner-only pages the learner account kind."""

from __future__ import annotations

import functools

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from lms.accounts.models import Role, User
from lms.core.errors import NotAllowed, ServiceError
from lms.extensions import db, login_manager
from lms.orgs.access import admin_org, has_permission, require
from lms.orgs.permissions import Permission

API_TOKEN_MAX_AGE_S = 12 * 3600


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the account of a session, unless its password changed since the session began."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or user.disabled_at is not None:
        return None
    return user


def _token_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lms.api-token")


def issue_api_token(user: User) -> str:
    """Return a signed bearer token for the API; a password change invalidates it."""
    return _token_serializer().dumps({"uid": user.id, "v": user.session_version})


def user_from_api_token(token: str) -> User | None:
    """Return the account a bearer token was issued to, or None when it is forged, expired or outdated."""
    try:
        data = _token_serializer().loads(token, max_age=API_TOKEN_MAX_AGE_S)
    except BadSignature:
        return None
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or user.session_version != data.get("v") or user.disabled_at is not None:
        return None
    return user


TEMPORARY_PASSWORD_MESSAGE = "管理员已重置您的密码：请先修改密码（POST /api/v1/me/password），再进行其他操作。"


def bearer_user() -> User | None:
    """Return the account of the request's bearer token, or None when there is none or it is not valid."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return user_from_api_token(token.strip()) if scheme.lower() == "bearer" and token else None


def api_user(*roles: Role, approved: bool = True, permission: Permission | tuple[Permission, ...] | None = None,
             admin: bool = False, temporary_password_ok: bool = False):
    """Decorate an API view: the caller is identified by bearer token only (never by cookie, so no CSRF).

    ``roles`` names account kinds (learner-only calls); ``permission`` an admin permission of the catalogue,
    held over the admin's own organisation (the service checks the object's place in the subtree), or a tuple
    of which any one will do; ``admin`` asks only that the caller administers an organisation. After an admin's
    password reset only the calls marked ``temporary_password_ok`` answer until the password is changed.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = bearer_user()
            if user is None:
                raise Unauthenticated("请先登录：在 Authorization 头中提供有效的 Bearer 令牌。")
            if user.must_change_password and not temporary_password_ok:
                raise NotAllowed(TEMPORARY_PASSWORD_MESSAGE)
            if approved and not user.is_approved:
                raise NotAllowed("账号尚未通过审核，暂不能进行此操作。")
            if roles and user.role not in roles:
                raise NotAllowed("当前角色无权进行此操作。")
            _require_admin_rights(user, permission, admin)
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _require_admin_rights(user: User, permission, admin: bool) -> None:
    if admin and admin_org(user) is None:
        raise NotAllowed("只有单位管理员可以进行此操作。")
    if isinstance(permission, tuple):
        if not any(has_permission(user, p) for p in permission):
            raise NotAllowed("当前账号没有" + "或".join(f"“{p.label}”" for p in permission) + "权限。")
    elif permission is not None:
        require(user, permission)


def page_user(*roles: Role, permission: Permission | tuple[Permission, ...] | None = None, admin: bool = False):
    """Decorate a page view: logged in, approved, and (when given) of one of the account kinds or holding
    the admin permission."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.is_approved:
                flash("账号尚未通过审核，请先查看注册状态。", "warning")
                return redirect(url_for("accounts.me"))
            if roles and current_user.role not in roles:
                abort(403)
            try:
                _require_admin_rights(current_user, permission, admin)
            except NotAllowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
