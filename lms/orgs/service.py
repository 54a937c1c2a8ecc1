"""Rules of the organisation tree: registration of departments, units and bases, their approval
by the level above, and HR bureaus created by the province (鄂人社函〔2026〕35号 二(二)).
"""

from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import ADMIN_ROLE_FOR_KIND, DecisionAction, Role, User
from lms.accounts.service import (
    admin_account_problems,
    create_admin_account,
    decision_reason,
    log_decision,
    parse_id_batch,
)
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.validation import clean_text, collect, text_problem
from lms.extensions import db
from lms.orgs.models import ALLOWED_PARENTS, SELF_REGISTERING_KINDS, Org, OrgKind, ReviewStatus

_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """Return the GB 32100-2015 check character of a unified social credit code."""
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Return why a unified social credit code (统一社会信用代码) is invalid, or None."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，当前为 {len(code)} 位。"
    if any(c not in _CREDIT_CHARS for c in code):
        return "统一社会信用代码只能包含数字和大写字母（不含 I、O、Z、S、V）。"
    if credit_code_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位不正确，请核对后重新输入。"
    return None


def set_path(org: Org) -> None:
    """Give a flushed organisation its materialised path under its parent."""
    org.path = f"{org.parent.path if org.parent else '/'}{org.id}/"


def _org_fields(data: dict, kind: OrgKind) -> tuple[dict, dict[str, str], Org | None]:
    cleaned = {"name": clean_text(data.get("name")), "credit_code": clean_text(data.get("credit_code")).upper()}
    problems = collect({
        "name": text_problem(cleaned["name"], "单位名称", 100),
        "credit_code": credit_code_problem(cleaned["credit_code"]),
    })
    parent, parent_problem = _parent_for(kind, data.get("parent_id"))
    if parent_problem:
        problems["parent_id"] = parent_problem
    return cleaned, problems, parent


def _parent_for(kind: OrgKind, parent_id) -> tuple[Org | None, str | None]:
    try:
        parent = db.session.get(Org, int(parent_id))
    except (TypeError, ValueError):
        return None, "请选择上级单位。"
    if parent is None:
        return None, "所选上级单位不存在。"
    if parent.kind not in ALLOWED_PARENTS[kind]:
        allowed = "或".join(k.label for k in ALLOWED_PARENTS[kind])
        return None, f"{kind.label}的上级应为{allowed}。"
    if not parent.is_active:
        return None, "所选上级单位尚未通过审核。"
    return parent, None


def _parse_kind(raw, allowed) -> OrgKind:
    try:
        kind = OrgKind(raw)
    except ValueError:
        kind = None
    if kind not in allowed:
        labels = "、".join(k.label for k in allowed)
        raise InvalidInput({"kind": f"请选择单位类型：{labels}。"})
    return kind


def _unique_checks(cleaned: dict, parent: Org, exclude_id: int | None = None) -> dict[str, str]:
    problems = {}
    same_code = sa.select(Org.id).where(Org.credit_code == cleaned["credit_code"])
    same_name = sa.select(Org.id).where(Org.parent_id == parent.id, Org.name == cleaned["name"])
    if exclude_id is not None:
        same_code = same_code.where(Org.id != exclude_id)
        same_name = same_name.where(Org.id != exclude_id)
    if db.session.scalar(same_code):
        problems["credit_code"] = "该统一社会信用代码已注册。"
    if db.session.scalar(same_name):
        problems["name"] = "同一上级下已有同名单位。"
    return problems


def register_org(data: dict) -> tuple[Org, User]:
    """Register a department, unit or base with its admin account, both pending the level above."""
    kind = _parse_kind(data.get("kind"), SELF_REGISTERING_KINDS)
    cleaned, problems, parent = _org_fields(data, kind)
    admin_fields, admin_problems = admin_account_problems(data)
    problems.update(admin_problems)
    if not problems and parent is not None:
        problems.update(_unique_checks(cleaned, parent))
    if problems:
        raise InvalidInput(problems)
    org = Org(kind=kind, parent=parent, status=ReviewStatus.PENDING, **cleaned)
    db.session.add(org)
    db.session.flush()
    set_path(org)
    admin = create_admin_account(org, admin_fields, data["password"], ReviewStatus.PENDING)
    log_decision(org_id=org.id, user_id=admin.id, action=DecisionAction.SUBMITTED, actor_id=admin.id)
    db.session.flush()
    return org, admin


def resubmit_org(admin: User, data: dict) -> Org:
    """Let the admin of a rejected organisation correct it and apply again."""
    org = admin.org
    if admin.role != ADMIN_ROLE_FOR_KIND.get(org.kind) or org.kind not in SELF_REGISTERING_KINDS:
        raise NotAllowed("只有本单位管理员可以修改单位注册信息。")
    if org.status != ReviewStatus.REJECTED:
        raise Conflict("只有未通过审核的单位注册可以修改后重新提交。")
    cleaned, problems, parent = _org_fields(data, org.kind)
    if not problems and parent is not None:
        problems.update(_unique_checks(cleaned, parent, exclude_id=org.id))
    if problems:
        raise InvalidInput(problems)
    org.name, org.credit_code = cleaned["name"], cleaned["credit_code"]
    if parent.id != org.parent_id:
        org.parent = parent
        set_path(org)
    org.status, org.reject_reason = ReviewStatus.PENDING, None
    admin.status, admin.reject_reason = ReviewStatus.PENDING, None
    log_decision(org_id=org.id, user_id=admin.id, action=DecisionAction.RESUBMITTED, actor_id=admin.id)
    db.session.flush()
    return org


def create_hr_bureau(actor: User, data: dict) -> tuple[Org, User]:
    """Create a city or county HR bureau with its admin account; only the province does this (35号 二(二))."""
    if not (actor.role == Role.HR_ADMIN and actor.org.kind == OrgKind.PROVINCE_HR and actor.is_approved):
        raise NotAllowed("各级人社部门账号由省人社厅统一创建。")
    kind = _parse_kind(data.get("kind"), (OrgKind.CITY_HR, OrgKind.COUNTY_HR))
    cleaned = {"name": clean_text(data.get("name"))}
    problems = collect({"name": text_problem(cleaned["name"], "单位名称", 100)})
    parent, parent_problem = _parent_for(kind, data.get("parent_id"))
    if parent_problem:
        problems["parent_id"] = parent_problem
    elif not parent.is_within(actor.org):
        problems["parent_id"] = "上级单位不在本省范围内。"
    admin_fields, admin_problems = admin_account_problems(data)
    problems.update(admin_problems)
    if not problems and db.session.scalar(
        sa.select(Org.id).where(Org.parent_id == parent.id, Org.name == cleaned["name"])
    ):
        problems["name"] = "同一上级下已有同名单位。"
    if problems:
        raise InvalidInput(problems)
    org = Org(kind=kind, parent=parent, status=ReviewStatus.APPROVED, reviewed_at=utcnow(), **cleaned)
    db.session.add(org)
    db.session.flush()
    set_path(org)
    admin = create_admin_account(org, admin_fields, data["password"], ReviewStatus.APPROVED)
    log_decision(org_id=org.id, user_id=admin.id, action=DecisionAction.CREATED, actor_id=actor.id)
    db.session.flush()
    return org, admin


def can_review_org(actor: User, org: Org) -> bool:
    """The approved admin of the organisation's direct parent reviews it (35号 二(二))."""
    parent = org.parent
    return (parent is not None and actor.is_approved and actor.org_id == parent.id
            and actor.role == ADMIN_ROLE_FOR_KIND[parent.kind] and org.kind in SELF_REGISTERING_KINDS)


def reviewable_orgs_query(actor: User):
    """Select the pending organisations this actor may approve or reject."""
    if not actor.is_approved or actor.role not in (Role.HR_ADMIN, Role.DEPARTMENT_ADMIN):
        return sa.select(Org).where(sa.false())
    return (sa.select(Org).where(Org.parent_id == actor.org_id, Org.status == ReviewStatus.PENDING,
                                 Org.kind.in_(SELF_REGISTERING_KINDS)).order_by(Org.created_at, Org.id))


def decide_orgs(actor: User, org_ids, approve: bool, reason: str | None) -> list[Org]:
    """Approve or reject a batch of pending organisations with their admin accounts, all or nothing."""
    ids = parse_id_batch(org_ids)
    reason = decision_reason(approve, reason)
    orgs = db.session.scalars(sa.select(Org).where(Org.id.in_(ids))).all()
    if len(orgs) != len(ids):
        raise NotFound("部分单位不存在，未做任何修改。")
    outside = [o for o in orgs if not can_review_org(actor, o)]
    if outside:
        raise NotAllowed(f"无权审核其中 {len(outside)} 个单位（只能审核直属下级的注册），未做任何修改。")
    not_pending = [o for o in orgs if o.status != ReviewStatus.PENDING]
    if not_pending:
        names = "、".join(o.name for o in not_pending[:5])
        raise Conflict(f"{names} 的注册不在待审核状态，未做任何修改。")
    now = utcnow()
    status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    admins = db.session.scalars(sa.select(User).where(User.org_id.in_(ids), User.role != Role.LEARNER)).all()
    for org in orgs:
        org.status, org.reject_reason, org.reviewed_at = status, (None if approve else reason), now
        log_decision(org_id=org.id, action=DecisionAction.APPROVED if approve else DecisionAction.REJECTED,
                     reason=reason, actor_id=actor.id)
    for admin in admins:
        if admin.status == ReviewStatus.PENDING:
            admin.status, admin.reject_reason, admin.reviewed_at = status, (None if approve else reason), now
    db.session.flush()
    return orgs


def visible_orgs_query(actor: User):
    """Select the organisations of the actor's subtree, in tree order."""
    if not actor.is_admin or not actor.is_approved:
        return sa.select(Org).where(sa.false())
    return sa.select(Org).where(Org.path.startswith(actor.org.path)).order_by(Org.path)


def parent_choices(kind: OrgKind) -> list[Org]:
    """Return the approved organisations a new organisation of this kind may register under."""
    return list(db.session.scalars(
        sa.select(Org).where(Org.kind.in_(ALLOWED_PARENTS[kind]), Org.status == ReviewStatus.APPROVED)
        .order_by(Org.path)
    ))


def unit_choices(search: str | None = None, limit: int = 50) -> list[Org]:
    """Return approved employer units, optionally matching a name fragment, for the learner form."""
    query = sa.select(Org).where(Org.kind == OrgKind.UNIT, Org.status == ReviewStatus.APPROVED)
    search = clean_text(search)
    if search:
        query = query.where(Org.name.contains(search[:50], autoescape=True))
    return list(db.session.scalars(query.order_by(Org.name).limit(limit)))


def get_org(org_id: int) -> Org:
    """Load an organisation or raise NotFound."""
    org = db.session.get(Org, org_id)
    if org is None:
        raise NotFound("单位不存在。")
    return org


def hr_parent_choices(actor: User) -> list[Org]:
    """Return the HR bureaus under which the province admin may create a new bureau."""
    return list(db.session.scalars(
        sa.select(Org).where(Org.kind.in_((OrgKind.PROVINCE_HR, OrgKind.CITY_HR)),
                             Org.path.startswith(actor.org.path)).order_by(Org.path)
    ))


