"""Rules for people's accounts: learner registration and its approval, login, passwords.

Services only ``flush()``; the request handler commits or rolls back once.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from lms.accounts.models import ADMIN_ROLE_FOR_KIND, DecisionAction, RegistrationDecision, Role, User
from lms.accounts.passwords import (
    has_usable_password,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from lms.accounts.title_series import EDUCATION_LEVELS, TITLE_LEVELS, TITLE_SERIES
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.idcard import id_number_problem, normalise_id_number
from lms.core.queues import ListFilters
from lms.core.validation import clean_text, collect, phone_problem, text_problem
from lms.extensions import db
from lms.notices import notify_on
from lms.orgs.access import has_permission, scope_org, within_scope
from lms.orgs.models import Org, OrgAdmin, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission

_ADMIN_LOGIN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{3,39}$")
REASON_MAX = 200
BATCH_MAX = 500


def learner_fields_problems(data: dict) -> tuple[dict, dict[str, str]]:
    """Clean the personal fields of a learner and return them with their problems."""
    cleaned = {
        "name": clean_text(data.get("name")),
        "phone": clean_text(data.get("phone")),
        "title_series": clean_text(data.get("title_series")),
        "professional_post": clean_text(data.get("professional_post")),
        "title_level": clean_text(data.get("title_level")) or None,
        "education": clean_text(data.get("education")) or None,
    }
    problems = {
        "name": text_problem(cleaned["name"], "姓名", 50),
        "phone": phone_problem(cleaned["phone"]),
        "title_series": None if cleaned["title_series"] in TITLE_SERIES else "请从列表中选择职称系列。",
        "professional_post": text_problem(cleaned["professional_post"], "专业技术岗位", 50),
        "title_level": choice_problem(cleaned["title_level"], TITLE_LEVELS, "职称级别"),
        "education": choice_problem(cleaned["education"], EDUCATION_LEVELS, "学历"),
    }
    return cleaned, collect(problems)


def choice_problem(value: str | None, choices, label: str) -> str | None:
    """An optional choice from a fixed list: empty, or one of the list."""
    return None if value is None or value in choices else f"请从列表中选择{label}。"


def _unit_for_learner(unit_id) -> tuple[Org | None, str | None]:
    try:
        unit = db.session.get(Org, int(unit_id))
    except (TypeError, ValueError):
        return None, "请选择工作单位。"
    if unit is None or unit.kind != OrgKind.UNIT:
        return None, "所选工作单位不存在。"
    if unit.status != ReviewStatus.APPROVED:
        return None, "所选工作单位尚未通过审核，暂不能接受个人注册。"
    return unit, None


def _checked_registration(data: dict) -> tuple[str, dict, Org | None, dict[str, str]]:
    id_number = normalise_id_number(data.get("id_number") or "")
    cleaned, problems = learner_fields_problems(data)
    unit, unit_problem = _unit_for_learner(data.get("unit_id"))
    problems.update(collect({
        "id_number": id_number_problem(id_number),
        "unit_id": unit_problem,
        "password": password_problem(data.get("password") or ""),
    }))
    return id_number, cleaned, unit, problems


def registration_problems(data: dict) -> dict[str, str]:
    """Return what is wrong with the fields of a learner registration, per field, without saving anything."""
    return _checked_registration(data)[3]


def registration_refusal(registrant) -> str | None:
    """Return why this person may not register a new account now (they are logged in), or None."""
    if registrant is not None and getattr(registrant, "is_authenticated", False):
        return (f"您已登录为 {registrant.name}，不能再注册新账号。"
                "如需为另一个人注册，请先退出登录。")
    return None


def register_learner(data: dict, registrant=None) -> User:
    """Create a pending learner account that the employer unit's admin will approve.

    ``registrant`` is whoever sends the registration: a logged-in person is refused, since registering would
    create a second account and switch their session to it.
    """
    refusal = registration_refusal(registrant)
    if refusal:
        raise Conflict(refusal)
    id_number, cleaned, unit, problems = _checked_registration(data)
    if problems:
        raise InvalidInput(problems)
    if db.session.scalar(sa.select(User.id).where((User.id_number == id_number) | (User.login == id_number))):
        raise Conflict("该身份证号码已注册。请直接登录；如忘记密码，请联系单位管理员。",
                       {"id_number": "该身份证号码已注册。"})
    user = User(login=id_number, id_number=id_number, role=Role.LEARNER, org=unit,
                password_hash=hash_password(data["password"]), status=ReviewStatus.PENDING, **cleaned)
    db.session.add(user)
    db.session.flush()
    log_decision(user_id=user.id, action=DecisionAction.SUBMITTED, actor_id=user.id)
    return user


def resubmit_learner(user: User, data: dict) -> User:
    """Let a rejected learner correct their details and apply again."""
    if user.role != Role.LEARNER:
        raise NotAllowed("只有专业技术人员可以修改个人注册信息。")
    if user.status != ReviewStatus.REJECTED:
        raise Conflict("只有未通过审核的注册可以修改后重新提交。")
    cleaned, problems = learner_fields_problems(data)
    unit, unit_problem = _unit_for_learner(data.get("unit_id", user.org_id))
    if unit_problem:
        problems["unit_id"] = unit_problem
    if problems:
        raise InvalidInput(problems)
    for key, value in cleaned.items():
        setattr(user, key, value)
    user.org = unit
    user.status = ReviewStatus.PENDING
    user.reject_reason = None
    db.session.flush()
    log_decision(user_id=user.id, action=DecisionAction.RESUBMITTED, actor_id=user.id)
    return user


def admin_account_problems(data: dict) -> tuple[dict, dict[str, str]]:
    """Clean and check the fields of an organisation's admin account."""
    cleaned = {
        "login": clean_text(data.get("admin_login")),
        "name": clean_text(data.get("admin_name")),
        "phone": clean_text(data.get("admin_phone")),
    }
    problems = collect({
        "admin_login": None if _ADMIN_LOGIN.match(cleaned["login"]) else
        "管理员账号应为 4–40 位字母、数字、下划线、点或连字符，以字母开头。",
        "admin_name": text_problem(cleaned["name"], "管理员姓名", 50),
        "admin_phone": phone_problem(cleaned["phone"]),
        "password": password_problem(data.get("password") or ""),
    })
    if not problems.get("admin_login") and login_taken(cleaned["login"]):
        problems["admin_login"] = "该管理员账号已被使用，请换一个。"
    return cleaned, problems


def login_taken(login: str) -> bool:
    """Return whether an account already uses this login (case-insensitive)."""
    return db.session.scalar(sa.select(User.id).where(sa.func.lower(User.login) == login.lower())) is not None


def create_admin_account(org: Org, cleaned: dict, password: str, status: ReviewStatus) -> User:
    """Create the admin account of an organisation (fields already checked by admin_account_problems)."""
    user = User(role=ADMIN_ROLE_FOR_KIND[org.kind], org=org, password_hash=hash_password(password),
                status=status, **cleaned)
    db.session.add(user)
    db.session.flush()
    db.session.add(OrgAdmin(user_id=user.id, org_id=org.id, is_super=True))
    db.session.flush()
    db.session.expire(user, ["admin_membership"])
    return user


# One answer for every failed login, so that it never tells whether a number is registered or was imported
# without a password; it still tells an imported person what to do.
LOGIN_FAILED = ("账号或密码不正确。由单位批量导入的人员还没有密码：请点击“忘记密码”，"
                "用单位登记的手机号码接收验证码并设置密码。")


def authenticate(login: str, password: str) -> User | None:
    """Return the account for these credentials, or None; upgrades an outdated hash."""
    login = clean_text(login)
    if len(login) == 18 and login[:17].isdigit():
        login = normalise_id_number(login)
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.login) == login.lower()))
    if user is None or not has_usable_password(user.password_hash):
        # Spend the same time as a real check so response time does not reveal which logins exist.
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.flush()
    return user


def login_refusal(user: User) -> str | None:
    """Say why a correctly authenticated account may not log in (停用, admin manual 5.1.2), or None."""
    if user.disabled_at is not None:
        return f"账号已停用（{user.disabled_reason}），如有疑问请联系单位管理员。"
    disabled = db.session.scalar(sa.select(Org).where(Org.id.in_(user.org.ancestor_ids), Org.disabled_at.is_not(None))
                                 .order_by(sa.func.length(Org.path)))
    if disabled is not None:
        return f"{disabled.name}已停用（{disabled.disabled_reason}），暂不能登录，如有疑问请联系上级管理部门。"
    return None


_DUMMY_HASH = hash_password("not-a-real-password-0")


def change_password(user: User, old_password: str, new_password: str) -> None:
    """Change a password after checking the old (or temporary) one; ends every other session and token."""
    if not verify_password(user.password_hash, old_password or ""):
        raise InvalidInput({"old_password": "原密码不正确。"})
    problem = password_problem(new_password or "")
    if problem:
        raise InvalidInput({"new_password": problem})
    if new_password == old_password:
        raise InvalidInput({"new_password": "新密码不能与原密码相同。"})
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.session_version += 1
    db.session.flush()


def can_review_learner(actor: User, learner: User) -> bool:
    """Only an admin of the learner's own unit with the permission reviews a learner (35号 二(二))."""
    return learner.role == Role.LEARNER and has_permission(actor, Permission.APPROVE_PEOPLE, learner.org)


def visible_people_query(actor: User):
    """Select the accounts of the actor's subtree (admins) — empty for anyone else."""
    return (sa.select(User).join(User.org).where(within_scope(Org.path, actor, Permission.MANAGE_PEOPLE))
            .order_by(User.created_at.desc(), User.id.desc()))


PEOPLE_STATES = {"pending": "待审核", "approved": "已通过", "rejected": "未通过", "disabled": "已停用"}


def filtered_people_query(actor: User, args) -> sa.Select:
    """Select the people of the actor's subtree by name, ID-number suffix, state, sub-organisation and date."""
    query = ListFilters.parse(args).apply(visible_people_query(actor), name=User.name, id_number=User.id_number,
                                          moment=User.created_at)
    state = clean_text(args.get("status"))
    if state:
        if state not in PEOPLE_STATES:
            raise InvalidInput({"status": "状态应为待审核、已通过、未通过或已停用。"})
        query = (query.where(User.disabled_at.is_not(None)) if state == "disabled"
                 else query.where(User.status == ReviewStatus(state), User.disabled_at.is_(None)))
    org_id = args.get("org_id")
    if org_id not in (None, ""):
        try:
            org = db.session.get(Org, int(org_id))
        except (TypeError, ValueError):
            raise InvalidInput({"org_id": "单位编号无效。"}) from None
        if org is None or not has_permission(actor, Permission.MANAGE_PEOPLE, org):
            raise NotAllowed("所选单位不在本单位管辖范围内。")
        query = query.where(Org.path.startswith(org.path))
    department_id = args.get("department_id")
    if department_id not in (None, ""):
        from lms.orgs.departments import member_condition

        query = query.where(member_condition(actor, Permission.MANAGE_PEOPLE, department_id, User.id))
    return query


def reviewable_learners_query(actor: User):
    """Select the pending learners this actor may approve or reject."""
    unit = scope_org(actor, Permission.APPROVE_PEOPLE)
    if unit is None:
        return sa.select(User).where(sa.false())
    return (sa.select(User).where(User.role == Role.LEARNER, User.status == ReviewStatus.PENDING,
                                  User.org_id == unit.id).order_by(User.created_at, User.id))


def filter_registrations(query, filters: ListFilters):
    """Narrow a queue of pending learners by name, ID-number suffix and submission date."""
    return filters.apply(query, name=User.name, id_number=User.id_number, moment=User.created_at)


def decide_learners(actor: User, user_ids, approve: bool, reason: str | None) -> list[User]:
    """Approve or reject a batch of pending learners, all or nothing."""
    ids = parse_id_batch(user_ids)
    reason = decision_reason(approve, reason)
    users = db.session.scalars(sa.select(User).where(User.id.in_(ids))).all()
    if len(users) != len(ids):
        raise NotFound("部分人员不存在，未做任何修改。")
    outside = [u for u in users if not can_review_learner(actor, u)]
    if outside:
        raise NotAllowed(f"无权审核其中 {len(outside)} 人（只能审核本单位人员的注册），未做任何修改。")
    not_pending = [u for u in users if u.status != ReviewStatus.PENDING]
    if not_pending:
        names = "、".join(u.name for u in not_pending[:5])
        raise Conflict(f"{names} 等 {len(not_pending)} 人的注册不在待审核状态，未做任何修改。")
    now = utcnow()
    for user in users:
        user.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
        user.reject_reason = None if approve else reason
        user.reviewed_at = now
        log_decision(user_id=user.id, action=DecisionAction.APPROVED if approve else DecisionAction.REJECTED,
             reason=reason, actor_id=actor.id)
        audit.record(actor, "registration.approve" if approve else "registration.reject", object_type="user",
                     object_id=user.id, label=f"{user.name}（{user.masked_id_number}）", org=user.org, reason=reason,
                     after={"status": user.status.value})
        notify_on.registration_decided(user, approve, reason)
    db.session.flush()
    return users


def parse_id_batch(raw_ids) -> list[int]:
    """Turn a batch of ids from a form or JSON into distinct integers, refusing junk."""
    if not isinstance(raw_ids, list | tuple) or not raw_ids:
        raise InvalidInput({"ids": "请至少选择一条记录。"})
    if len(raw_ids) > BATCH_MAX:
        raise InvalidInput({"ids": f"一次最多处理 {BATCH_MAX} 条记录。"})
    try:
        ids = sorted({int(i) for i in raw_ids})
    except (TypeError, ValueError):
        raise InvalidInput({"ids": "记录编号无效。"}) from None
    if any(i <= 0 for i in ids):
        raise InvalidInput({"ids": "记录编号无效。"})
    return ids


def decision_reason(approve: bool, reason: str | None) -> str | None:
    """Check the reason of a decision: required to reject, since the applicant reads it."""
    reason = clean_text(reason)
    if not approve and not reason:
        raise InvalidInput({"reason": "审核不通过时必须填写原因，申请人会看到它。"})
    problem = text_problem(reason, "原因", REASON_MAX, required=False)
    if problem:
        raise InvalidInput({"reason": problem})
    return reason or None


def log_decision(**values) -> None:
    """Keep one step of a registration in its history."""
    db.session.add(RegistrationDecision(**values))


def registration_history(user: User | None = None, org: Org | None = None) -> list[RegistrationDecision]:
    """Return the decisions taken on a person's or an organisation's registration, oldest first."""
    query = sa.select(RegistrationDecision).order_by(RegistrationDecision.created_at, RegistrationDecision.id)
    if user is not None:
        query = query.where(RegistrationDecision.user_id == user.id)
    if org is not None:
        query = query.where(RegistrationDecision.org_id == org.id)
    return list(db.session.scalars(query))

