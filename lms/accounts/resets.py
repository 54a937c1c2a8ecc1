"""Password resets: by an admin (a one-time temporary password, forced change) and by a code sent to the
registered phone (忘记密码).

An admin's reset ends every session and token of the person and makes the next login choose a new password
before anything else (``User.must_change_password``). A phone code is six digits, kept only as a keyed hash,
valid for ten minutes, used once, and void after five wrong guesses; neither step's answer says whether a
login and phone number belong together. Services only ``flush()``; the request handler commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets

import sqlalchemy as sa
from flask import current_app

from lms.accounts.lifecycle import person_label
from lms.accounts.models import PasswordResetCode, User
from lms.accounts.passwords import hash_password, password_problem
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.idcard import normalise_id_number
from lms.core.validation import clean_text, collect, phone_problem
from lms.extensions import db
from lms.notices import notify_on
from lms.notify.sms import SmsNotSent, sms_sender
from lms.orgs.access import admin_org, require
from lms.orgs.permissions import Permission

log = logging.getLogger(__name__)

CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_WRONG_GUESSES = 5
TEMPORARY_PASSWORD_LENGTH = 10
# No 0/O, 1/l/I: the admin reads the temporary password out or writes it down for the person.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_SENT_MESSAGE = "如果账号与手机号码相符，验证码已发送到该手机，10 分钟内有效。"
CODE_REFUSED_MESSAGE = "验证码不正确或已失效，请重新获取验证码。"
SMS_PURPOSE = "password_reset"


class CodeRefused(InvalidInput):
    """A wrong, expired, used or unknown code. The handler commits (a wrong guess is counted), then refuses."""

    def __init__(self):
        super().__init__({"code": CODE_REFUSED_MESSAGE})


# ------------------------------------------------------------------------------------------------ admin reset


def generate_temporary_password() -> str:
    """Return a random temporary password that the password rule accepts."""
    while True:
        password = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(TEMPORARY_PASSWORD_LENGTH))
        if password_problem(password) is None:
            return password


def reset_password(actor: User, user_id, chosen_password: str | None = None) -> tuple[User, str]:
    """Reset a person's password to a temporary one (typed by the admin or generated); return it once.

    The person's sessions and tokens end and their next login must choose a new password. Within the actor's
    own organisation only the super admin resets another admin's password, so a further admin can never take
    over an account with more rights than their own.
    """
    try:
        person = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        person = None
    if person is None:
        raise NotFound("人员不存在。")
    require(actor, Permission.RESET_PASSWORDS, person.org,
            message=f"{person.name}不在本单位管辖范围内，无权重置其密码。")
    if person.id == actor.id:
        raise Conflict("不能重置自己的密码，请在“修改密码”中修改。")
    membership = person.admin_membership
    if membership is not None:
        require(actor, Permission.RESET_PASSWORDS, membership.org,
                message=f"{person.name}是{membership.org.name}的管理员，不在本单位管辖范围内，无权重置其密码。")
        if membership.org_id == admin_org(actor).id and not actor.admin_membership.is_super:
            raise NotAllowed("只有超级管理员可以重置本单位其他管理员的密码。")
    chosen = chosen_password if isinstance(chosen_password, str) else ""
    if chosen:
        problem = password_problem(chosen)
        if problem:
            raise InvalidInput({"password": problem})
    password = chosen or generate_temporary_password()
    person.password_hash = hash_password(password)
    person.must_change_password = True
    person.session_version += 1
    _void_open_codes(person.id)
    db.session.flush()
    record(actor, "password.reset", object_type="user", object_id=person.id, label=person_label(person),
           org=person.org, after={"must_change_password": True,
                                  "temporary_password": "管理员输入" if chosen else "系统生成"})
    notify_on.password_reset(person, actor)
    return person, password


# ------------------------------------------------------------------------------------------------ phone codes


def _code_hash(user_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"password-reset:{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _account_for(login, phone) -> User | None:
    login, phone = clean_text(login), clean_text(phone)
    if not login or not phone:
        return None
    if len(login) == 18 and login[:17].isdigit():
        login = normalise_id_number(login)
    user = db.session.scalar(sa.select(User).where(
        sa.or_(sa.func.lower(User.login) == login.lower(), User.id_number == login)).limit(1))
    if user is None or not hmac.compare_digest(user.phone.encode(), phone.encode()):
        return None
    return user


def _void_open_codes(user_id: int) -> None:
    db.session.execute(sa.update(PasswordResetCode).where(
        PasswordResetCode.user_id == user_id, PasswordResetCode.used_at.is_(None),
        PasswordResetCode.voided_at.is_(None)).values(voided_at=utcnow()))


def request_reset_code(login, phone) -> str:
    """Send a code to the phone if it is the one registered for this login; answer the same either way."""
    problems = collect({"login": None if clean_text(login) else "请填写身份证号码或管理员账号。",
                        "phone": phone_problem(clean_text(phone))})
    if problems:
        raise InvalidInput(problems)
    user = _account_for(login, phone)
    if user is None or user.disabled_at is not None:
        return CODE_SENT_MESSAGE
    _void_open_codes(user.id)
    code = f"{secrets.randbelow(10**6):06d}"
    now = utcnow()
    db.session.add(PasswordResetCode(user_id=user.id, code_hash=_code_hash(user.id, code), created_at=now,
                                     expires_at=now + CODE_LIFETIME))
    db.session.flush()
    try:
        sms_sender().send(user.phone, f"【继续教育平台】您正在重置密码，验证码 {code}，10 分钟内有效。"
                                      "如非本人操作请忽略，切勿告诉他人。", purpose=SMS_PURPOSE, user_id=user.id)
    except SmsNotSent as error:
        # Saying so would tell the caller that the pair exists; the person simply asks again.
        log.warning("password reset code not sent: %s", error)
    return CODE_SENT_MESSAGE


def reset_with_code(login, phone, code, new_password) -> User:
    """Set a new password with a code from the phone; refuse wrong, expired, used or unknown codes alike."""
    problem = password_problem(new_password or "")
    if problem:
        raise InvalidInput({"new_password": problem})
    code = clean_text(code)
    if not re.fullmatch(r"\d{6}", code):
        raise InvalidInput({"code": "请输入短信中的 6 位数字验证码。"})
    user = _account_for(login, phone)
    now = utcnow()
    active = None if user is None else db.session.scalar(
        sa.select(PasswordResetCode).where(
            PasswordResetCode.user_id == user.id, PasswordResetCode.used_at.is_(None),
            PasswordResetCode.voided_at.is_(None), PasswordResetCode.expires_at > now)
        .order_by(PasswordResetCode.created_at.desc(), PasswordResetCode.id.desc()).limit(1)
        .with_for_update())
    if active is None:
        raise CodeRefused()
    this_code = PasswordResetCode.id == active.id
    if not hmac.compare_digest(active.code_hash, _code_hash(user.id, code)):
        # Counted in one statement, so that guesses sent at the same time cannot share one count.
        db.session.execute(sa.update(PasswordResetCode).where(this_code).values(
            failed_attempts=PasswordResetCode.failed_attempts + 1,
            voided_at=sa.case((PasswordResetCode.failed_attempts + 1 >= MAX_WRONG_GUESSES, now),
                              else_=PasswordResetCode.voided_at)))
        raise CodeRefused()
    # Spent only if nothing spent or voided it since it was read (a second request with the same code).
    spent = db.session.execute(sa.update(PasswordResetCode).where(
        this_code, PasswordResetCode.used_at.is_(None), PasswordResetCode.voided_at.is_(None)).values(used_at=now))
    if spent.rowcount != 1:
        raise CodeRefused()
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.session_version += 1
    db.session.flush()
    return user
