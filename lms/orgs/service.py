"""Rules of the organisation tree: registration of departments, units and bases, their approval
by the level above, and HR bureaus created by the province (鄂人社函〔2026〕35号 二(二)).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from lms.accounts.models import DecisionAction, Role, User
from lms.accounts.service import (
    admin_account_problems,
    create_admin_account,
    decision_reason,
    log_decision,
    parse_id_batch,
)
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.queues import ListFilters
from lms.core.validation import clean_text, collect, text_problem
from lms.declarations.models import ArchiveHosting, Declaration, DeclarationStatus
from lms.extensions import db
from lms.ledger.service import DEFAULT_REGION
from lms.notices import notify_on
from lms.orgs.access import admin_org, has_permission, require, scope_org
from lms.orgs.models import ALLOWED_PARENTS, SELF_REGISTERING_KINDS, Org, OrgKind, ReviewStatus
from lms.orgs.permissions import TREE_VIEWERS, Permission
from lms.rules import NoRuleSet, default_rule_sets, rule_set_for

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
    if not administers_own_registration(admin, org):
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


def administers_own_registration(admin: User, org: Org) -> bool:
    """The admin who registered an organisation (its super admin, approved or not) corrects its registration."""
    membership = admin.admin_membership
    return (org.kind in SELF_REGISTERING_KINDS and membership is not None and membership.is_super
            and membership.org_id == org.id)


def create_hr_bureau(actor: User, data: dict) -> tuple[Org, User]:
    """Create a city or county HR bureau with its admin account; only the province does this (35号 二(二))."""
    home = require(actor, Permission.CREATE_BUREAUS, message="各级人社部门账号由省人社厅统一创建。")
    kind = _parse_kind(data.get("kind"), (OrgKind.CITY_HR, OrgKind.COUNTY_HR))
    cleaned = {"name": clean_text(data.get("name"))}
    problems = collect({"name": text_problem(cleaned["name"], "单位名称", 100)})
    parent, parent_problem = _parent_for(kind, data.get("parent_id"))
    if parent_problem:
        problems["parent_id"] = parent_problem
    elif not parent.is_within(home):
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
    audit.record(actor, "bureau.create", object_type="org", object_id=org.id, label=org.name, org=org,
                 after={"kind": org.kind.value, "admin_login": admin.login})
    db.session.flush()
    return org, admin


def can_review_org(actor: User, org: Org) -> bool:
    """An admin of the organisation's direct parent with the permission reviews it (35号 二(二))."""
    parent = org.parent
    return (parent is not None and org.kind in SELF_REGISTERING_KINDS
            and scope_org(actor, Permission.APPROVE_ORGS) is not None and admin_org(actor).id == parent.id)


def reviewable_orgs_query(actor: User):
    """Select the pending organisations this actor may approve or reject."""
    home = scope_org(actor, Permission.APPROVE_ORGS)
    if home is None:
        return sa.select(Org).where(sa.false())
    return (sa.select(Org).where(Org.parent_id == home.id, Org.status == ReviewStatus.PENDING,
                                 Org.kind.in_(SELF_REGISTERING_KINDS)).order_by(Org.created_at, Org.id))


def filter_registrations(query, filters: ListFilters):
    """Narrow a queue of pending organisations by name and submission date."""
    return filters.apply(query, name=Org.name, moment=Org.created_at)


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
        audit.record(actor, "org_registration.approve" if approve else "org_registration.reject", object_type="org",
                     object_id=org.id, label=org.name, org=org, reason=reason, after={"status": status.value})
    for admin in admins:
        if admin.status == ReviewStatus.PENDING:
            admin.status, admin.reject_reason, admin.reviewed_at = status, (None if approve else reason), now
            notify_on.registration_decided(admin, approve, reason)
    db.session.flush()
    return orgs


def visible_orgs_query(actor: User):
    """Select the organisations of the actor's subtree, in tree order."""
    home = admin_org(actor) if any(has_permission(actor, p) for p in TREE_VIEWERS) else None
    if home is None:
        return sa.select(Org).where(sa.false())
    return sa.select(Org).where(Org.path.startswith(home.path)).order_by(Org.path)


def org_in_subtree(actor: User, org_id: int) -> Org:
    """Load an organisation of the actor's subtree; one outside it is refused like one that does not exist."""
    home = admin_org(actor) if any(has_permission(actor, p) for p in TREE_VIEWERS) else None
    org = db.session.get(Org, org_id)
    if home is None or org is None or not org.is_within(home):
        raise NotFound("单位不存在或不在本单位管辖范围内。")
    return org


def children_query(org: Org):
    """Select the direct children of an organisation by name (the tree loads one level at a time)."""
    return sa.select(Org).where(Org.parent_id == org.id).order_by(Org.kind, Org.name)


def child_counts(org_ids: list[int]) -> dict[int, int]:
    """Count the direct children of each given organisation."""
    if not org_ids:
        return {}
    return dict(db.session.execute(sa.select(Org.parent_id, sa.func.count()).where(Org.parent_id.in_(org_ids))
                                   .group_by(Org.parent_id)).all())


def ancestors_within(org: Org, home: Org) -> list[Org]:
    """The organisations from ``home`` down to ``org`` (the breadcrumb of the tree)."""
    path_ids = org.ancestor_ids
    ids = path_ids[path_ids.index(home.id):]
    by_id = {o.id: o for o in db.session.scalars(sa.select(Org).where(Org.id.in_(ids)))}
    return [by_id[i] for i in ids]


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
                             Org.path.startswith(require(actor, Permission.CREATE_BUREAUS).path)).order_by(Org.path)
    ))


# ------------------------------------------------------------------------------------------------ settings

_TRUE_TEXTS = frozenset({"y", "on", "true", "1"})
_FALSE_TEXTS = frozenset({"", "n", "off", "false", "0"})


def region_labels() -> dict[str, str]:
    """Return the regions that have a loaded rule set, each with its label (the default region first)."""
    labels: dict[str, str] = {}
    newest_first = sorted(default_rule_sets().values(), key=lambda r: (r.region != DEFAULT_REGION, r.region, -r.year))
    for rule_set in newest_first:
        labels.setdefault(rule_set.region, rule_set.region_label)
    return labels


def _explicit_regions() -> dict[int, str]:
    # Only a handful of organisations set a region by hand; everyone else inherits, so this stays small.
    return dict(db.session.execute(sa.select(Org.id, Org.region).where(Org.region.is_not(None))).all())


def _region_along(path: str, regions: Mapping[int, str | None]) -> str:
    for org_id in reversed([int(part) for part in path.strip("/").split("/") if part]):
        if regions.get(org_id):
            return regions[org_id]
    return DEFAULT_REGION


def effective_region(org: Org) -> str:
    """Return the region whose rule set the people under an organisation follow: its own, else the nearest
    ancestor's, else the default (the same walk as ``lms.ledger.service.region_of``)."""
    return _region_along(org.path, _explicit_regions())


def inherited_region(org: Org) -> str:
    """Return the region an organisation would follow with no region of its own."""
    return _region_along(org.parent.path, _explicit_regions()) if org.parent else DEFAULT_REGION


def may_edit_settings(actor: User, org: Org) -> bool:
    """An HR admin with the permission sets the organisations strictly below their bureau; the province also
    sets itself."""
    home = scope_org(actor, Permission.EDIT_ORG_SETTINGS)
    if home is None:
        return False
    if org.id == home.id:
        return home.kind == OrgKind.PROVINCE_HR
    return org.is_within(home)


def org_for_settings(actor: User, org_id: int) -> Org:
    """Load an organisation whose settings the actor may change, or refuse (403; 404 when it does not exist)."""
    home = require(actor, Permission.EDIT_ORG_SETTINGS,
                   message="只有人社部门管理员可以设置单位的学时规则地区和审核方式。")
    org = get_org(org_id)
    if not may_edit_settings(actor, org):
        if org.id == home.id:
            raise NotAllowed("本部门的设置由上级人社部门负责。")
        raise NotAllowed(f"{org.name}不在本部门管辖范围内，无权设置。")
    return org


def _parse_region(raw) -> tuple[str | None, str | None]:
    value = clean_text(raw)
    if value in ("", "inherit"):
        return None, None
    labels = region_labels()
    if value not in labels:
        choices = "、".join(labels.values())
        return None, f"请选择学时规则地区：{choices}，或继承上级。"
    return value, None


def _flag(raw) -> bool | None:
    if isinstance(raw, bool):
        return raw
    text = clean_text(raw).lower()
    if text in _TRUE_TEXTS:
        return True
    return False if text in _FALSE_TEXTS else None


def update_org_settings(actor: User, org_id: int, data: Mapping) -> Org:
    """Set an organisation's rule-set region and, for a unit, its 第十四条 review roles; all or nothing.

    ``region`` is a region of the loaded rule sets, or "" / "inherit" (None: the nearest ancestor's). A unit may be
    an archive agency (人事档案管理服务机构, first-reviews the people whose archives it hosts) or a central unit in
    the province (中央在鄂单位, reviews its own people's hours with no second review), not both.
    """
    org = org_for_settings(actor, org_id)
    region, region_problem = _parse_region(data.get("region"))
    archive_agency, reviews_own_hours = _flag(data.get("archive_agency")), _flag(data.get("reviews_own_hours"))
    problems = collect({
        "region": region_problem,
        "archive_agency": None if archive_agency is not None else "“人事档案管理服务机构”只能勾选或不勾选。",
        "reviews_own_hours": None if reviews_own_hours is not None else "“中央在鄂单位”只能勾选或不勾选。",
    })
    if not problems and org.kind != OrgKind.UNIT and (archive_agency or reviews_own_hours):
        field = "archive_agency" if archive_agency else "reviews_own_hours"
        problems[field] = (f"只有用人单位可以设为人事档案管理服务机构或中央在鄂单位，{org.name}是"
                           f"{org.kind.label}（学时管理办法第十四条）。")
    if not problems and archive_agency and reviews_own_hours:
        problems["reviews_own_hours"] = ("人事档案管理服务机构初审的学时还须由主管部门或人社部门复审（学时管理办法"
                                         "第十四条），不能同时设为自行审核学时的中央在鄂单位。")
    if problems:
        raise InvalidInput(problems)
    if org.archive_agency and not archive_agency:
        hosted = db.session.scalar(sa.select(sa.func.count()).where(ArchiveHosting.agency_id == org.id))
        if hosted:
            raise Conflict(f"{org.name}还登记托管着 {hosted} 人的档案，请先由该机构管理员在“档案托管”中移除，"
                           "再取消人事档案管理服务机构。")
    if region != org.region:
        _refuse_if_open_declarations_change_rules(org, region)
    before = {"region": org.region, "archive_agency": org.archive_agency, "reviews_own_hours": org.reviews_own_hours}
    org.region = region
    if org.kind == OrgKind.UNIT:
        org.archive_agency, org.reviews_own_hours = archive_agency, reviews_own_hours
    db.session.flush()
    after = {"region": org.region, "archive_agency": org.archive_agency, "reviews_own_hours": org.reviews_own_hours}
    audit.record(actor, "org.settings", object_type="org", object_id=org.id, label=org.name, org=org,
                 **dict(zip(("before", "after"), audit.changed_fields(before, after), strict=True)))
    return org


def _refuse_if_open_declarations_change_rules(org: Org, region: str | None) -> None:
    """A declaration under review is filed with the rule set of its person's region at the final approval; a region
    change that gives it another rule set would leave it unfileable, so it waits until those are decided."""
    open_by_place = db.session.execute(
        sa.select(Org.path, Declaration.year, Declaration.rule_set_id, sa.func.count())
        .select_from(Declaration).join(User, Declaration.user_id == User.id).join(Org, User.org_id == Org.id)
        .where(Org.path.startswith(org.path),
               Declaration.status.in_((DeclarationStatus.PENDING, DeclarationStatus.RETURNED)))
        .group_by(Org.path, Declaration.year, Declaration.rule_set_id)).all()
    if not open_by_place:
        return
    regions = _explicit_regions()
    regions[org.id] = region
    affected = 0
    for path, year, rule_set_id, count in open_by_place:
        try:
            new_rule_set_id = rule_set_for(_region_along(path, regions), year).id
        except NoRuleSet:
            new_rule_set_id = None
        if new_rule_set_id != rule_set_id:
            affected += count
    if affected:
        raise Conflict(f"{org.name}下还有 {affected} 份审核中或退回补充材料的学时申报按原地区的规则计算，"
                       "更改地区后将无法按原规则备案；请待这些申报审结后再更改学时规则地区。")
