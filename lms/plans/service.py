"""The rules of a base's plans, trainings and summaries (admin manual 5.1.5): file, decide, revise, read.

A continuing-education base files its 年度培训计划, a 培训计划申报 or its 年度工作总结 with its competent
department (the nearest department or HR bureau above it, fixed on the filing when first submitted). That
department approves, rejects (final, with a reason) or sends it back (with a reason); a filing sent back is
revised and submitted again as a new version, and every version stays as it was submitted. Decisions lock the
filing's row, so a double click or two reviewers at once make one decision. Levels above the department read
their subtree's filings. Every step writes an audit row; callers commit (and remove stored files on failure).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lms.accounts.models import User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.ledger.service import china_today
from lms.notices import notify_on
from lms.orgs.access import admin_org, has_permission, require, within_scope
from lms.orgs.models import HR_KINDS, Org, OrgKind
from lms.orgs.permissions import Permission
from lms.plans import content, files
from lms.plans.models import ONE_PER_YEAR, FilingKind, FilingStatus, PlanAttachment, PlanFiling, PlanVersion

DECISIONS = {"approve": FilingStatus.APPROVED, "reject": FilingStatus.REJECTED, "return": FilingStatus.RETURNED}
DECISION_LABELS = {"approve": "通过", "reject": "不通过", "return": "退回修改"}
REASON_MAX = 500


def competent_department(base: Org) -> Org:
    """Return the base's competent department: the nearest department or HR bureau above it (as 第十四条's chain)."""
    ancestor = base.parent
    while ancestor is not None and ancestor.kind not in (OrgKind.DEPARTMENT, *HR_KINDS):
        ancestor = ancestor.parent
    if ancestor is None:
        raise NotFound(f"{base.name}没有上级主管部门，无法报送，请联系管理员。")
    return ancestor


def parse_kind(value: Any) -> FilingKind:
    """Read a filing kind code; refuse an unknown one in Chinese."""
    try:
        return FilingKind(str(value))
    except ValueError:
        raise InvalidInput({"kind": "请选择报送类型：年度培训计划、培训计划申报或年度工作总结。"}) from None


# ------------------------------------------------------------------------------------------------ the base

def _filing_base(actor: User) -> Org:
    base = require(actor, Permission.SUBMIT_PLANS)
    if not base.is_active:
        raise NotAllowed(f"{base.name}尚未通过审核或已停用，不能报送。")
    return base


def submit(actor: User, kind: Any, year: Any, title: Any, raw_content: Any, note: Any = None,
           uploads: list[files.Upload] | None = None) -> tuple[PlanFiling, list[str]]:
    """File a plan, training or summary of the actor's base; return it and the storage keys written."""
    base = _filing_base(actor)
    kind = parse_kind(kind)
    year = content.check_year(year, china_today())
    version_fields = _version_fields(kind, year, title, raw_content, note)
    department = competent_department(base)
    if kind in ONE_PER_YEAR and _open_of_year(base, kind, year) is not None:
        raise Conflict(f"{base.name}{year}年的{kind.label}已经报送，请在原报送上修改重报。")
    checked = files.check_uploads(uploads or [], 0, kind.label)
    filing = PlanFiling(base_id=base.id, department_id=department.id, kind=kind, year=year,
                        status=FilingStatus.SUBMITTED, version_count=1, submitted_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(filing)
    except IntegrityError:  # a concurrent first submission of the same plan won
        raise Conflict(f"{base.name}{year}年的{kind.label}已经报送，请在原报送上修改重报。") from None
    version, keys = _add_version(actor, filing, 1, version_fields, [], checked)
    record(actor, "plan.submit", object_type="plan_filing", object_id=filing.id,
           label=f"{base.name}：{year}年{kind.label}“{version.title}”", org=base,
           after={"kind": kind.value, "year": year, "version": 1, "department": department.name})
    return filing, keys


def revise(actor: User, filing_id: Any, title: Any, raw_content: Any, note: Any = None,
           uploads: list[files.Upload] | None = None, keep_attachment_ids: Any = ()) -> tuple[PlanFiling, list[str]]:
    """Submit a new version of a filing the department sent back; the earlier versions stay as they were."""
    base = _filing_base(actor)
    filing = _locked(filing_id)
    if filing is None or filing.base_id != base.id:
        raise NotFound("报送记录不存在或不属于本基地。")
    if filing.status != FilingStatus.RETURNED:
        raise Conflict(f"该{filing.kind.label}的状态是“{filing.status.label}”，只有退回修改的才能重新提交。")
    version_fields = _version_fields(filing.kind, filing.year, title, raw_content, note)
    keep = {str(key) for key in (keep_attachment_ids or ())}
    kept = [item for item in filing.latest.attachments if str(item.id) in keep]
    checked = files.check_uploads(uploads or [], len(kept), filing.kind.label)
    number = filing.version_count + 1
    version, keys = _add_version(actor, filing, number, version_fields, kept, checked)
    filing.version_count, filing.status, filing.submitted_at = number, FilingStatus.SUBMITTED, version.submitted_at
    db.session.flush()
    record(actor, "plan.revise", object_type="plan_filing", object_id=filing.id,
           label=f"{base.name}：{filing.year}年{filing.kind.label}“{version.title}”", org=base,
           after={"version": number, "attachments": len(version.attachments)})
    return filing, keys


def _version_fields(kind: FilingKind, year: int, title: Any, raw_content: Any, note: Any) -> dict:
    return {"title": content.check_title(title), "content": content.check_content(kind, raw_content, year),
            "note": content.check_note(note)}


def _add_version(actor: User, filing: PlanFiling, number: int, fields: dict, kept: list[PlanAttachment],
                 checked: list) -> tuple[PlanVersion, list[str]]:
    version = PlanVersion(filing_id=filing.id, number=number, submitted_by_id=actor.id, submitted_at=utcnow(),
                          **fields)
    db.session.add(version)
    db.session.flush()
    for item in kept:  # the same stored object: stored files are never deleted, so both versions keep it
        db.session.add(PlanAttachment(version_id=version.id, key=item.key, filename=item.filename,
                                      content_type=item.content_type, size_bytes=item.size_bytes))
    stored = files.store_checked(f"plans/{filing.id}", checked)
    for key, file in stored:
        db.session.add(PlanAttachment(version_id=version.id, key=key, filename=file.filename,
                                      content_type=file.content_type, size_bytes=file.size))
    db.session.flush()
    db.session.expire(filing, ["versions"])
    db.session.expire(version, ["attachments"])
    return version, [key for key, _ in stored]


def _open_of_year(base: Org, kind: FilingKind, year: int) -> PlanFiling | None:
    return db.session.scalar(sa.select(PlanFiling).where(PlanFiling.base_id == base.id, PlanFiling.kind == kind,
                                                         PlanFiling.year == year,
                                                         PlanFiling.status != FilingStatus.REJECTED))


# ------------------------------------------------------------------------------------------------ the department

def decide(actor: User, filing_id: Any, decision: Any, reason: Any = None) -> PlanFiling:
    """Approve, reject or send back the latest version of a filing waiting for the actor's department."""
    home = require(actor, Permission.REVIEW_PLANS)
    status = DECISIONS.get(str(decision))
    if status is None:
        raise InvalidInput({"decision": "请选择审核结果：通过、不通过或退回修改。"})
    text = (reason or "").strip() if isinstance(reason, str) else ""
    if status != FilingStatus.APPROVED and not text:
        raise InvalidInput({"reason": f"{DECISION_LABELS[str(decision)]}时请填写原因。"})
    if len(text) > REASON_MAX:
        raise InvalidInput({"reason": f"原因不能超过 {REASON_MAX} 字。"})
    filing = _locked(filing_id)
    if filing is None or not has_permission(actor, Permission.REVIEW_PLANS, filing.base):
        raise NotFound("报送记录不存在或不在本单位管辖范围内。")
    if filing.department_id != home.id:
        raise NotAllowed(f"该{filing.kind.label}由{filing.department.name}审核，本单位不能审核。")
    if filing.status != FilingStatus.SUBMITTED:
        raise Conflict(f"该{filing.kind.label}已处理（{filing.status.label}），不能再审核。")
    now = utcnow()
    version = filing.latest
    version.decision, version.decided_by_id, version.decided_at, version.reason = status, actor.id, now, text or None
    filing.status, filing.decided_by_id, filing.decided_at, filing.reason = status, actor.id, now, text or None
    db.session.flush()
    action = {"approve": "plan.approve", "reject": "plan.reject", "return": "plan.return"}[str(decision)]
    record(actor, action, object_type="plan_filing", object_id=filing.id,
           label=f"{filing.base.name}：{filing.year}年{filing.kind.label}“{version.title}”（第 {version.number} 版）",
           org=filing.base, reason=text or None, after={"status": status.value, "version": version.number})
    notify_on.plan_decided(filing, text or None)
    return filing


def _locked(filing_id: Any) -> PlanFiling | None:
    """Lock the filing row: two concurrent decisions queue here and the second reads the first one's result."""
    try:
        key = int(filing_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(sa.select(PlanFiling).where(PlanFiling.id == key).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def awaiting_condition(actor: User):
    """The condition "submitted and addressed to the actor's department" (false without the permission)."""
    home = admin_org(actor) if has_permission(actor, Permission.REVIEW_PLANS) else None
    if home is None:
        return sa.false()
    return (PlanFiling.status == FilingStatus.SUBMITTED) & (PlanFiling.department_id == home.id)


# ------------------------------------------------------------------------------------------------ reading

def may_view(actor: User, filing: PlanFiling) -> bool:
    """The base's own admins, and reviewers of plans over the base (its department and the levels above)."""
    return (has_permission(actor, Permission.SUBMIT_PLANS, filing.base)
            or has_permission(actor, Permission.REVIEW_PLANS, filing.base))


def filing_for(actor: User, filing_id: Any) -> PlanFiling:
    """Return a filing the actor may read, or 404 (outside their base or subtree reads the same as missing)."""
    try:
        filing = db.session.get(PlanFiling, int(filing_id))
    except (TypeError, ValueError):
        filing = None
    if filing is None or not may_view(actor, filing):
        raise NotFound("报送记录不存在或不在本单位管辖范围内。")
    return filing


def version_of(filing: PlanFiling, number: Any) -> PlanVersion:
    """Return one version of a filing by its number."""
    for version in filing.versions:
        if str(version.number) == str(number):
            return version
    raise NotFound("该版本不存在。")


def attachment_of(filing: PlanFiling, attachment_id: Any) -> PlanAttachment:
    """Return an attachment of any version of a filing the reader may already read."""
    for version in filing.versions:
        for item in version.attachments:
            if str(item.id) == str(attachment_id):
                return item
    raise NotFound("附件不存在。")


def compare(filing: PlanFiling, number: Any, against: Any = None) -> dict:
    """Compare a version with another one (by default the one before it), item by item."""
    version = version_of(filing, number)
    other = version_of(filing, against) if against not in (None, "") else (
        version_of(filing, version.number - 1) if version.number > 1 else None)
    return {"version": version, "against": other,
            "rows": content.differences(other.content if other else None, version.content)}


def _filters(query, kind: Any, status: Any, year: Any):
    if kind not in (None, ""):
        query = query.where(PlanFiling.kind == parse_kind(kind))
    if status not in (None, ""):
        try:
            query = query.where(PlanFiling.status == FilingStatus(str(status)))
        except ValueError:
            raise InvalidInput({"status": "审核状态无效。"}) from None
    if year not in (None, ""):
        try:
            query = query.where(PlanFiling.year == int(str(year)))
        except ValueError:
            raise InvalidInput({"year": "年度应为整数。"}) from None
    return query


def own_query(actor: User, kind: Any = None, status: Any = None, year: Any = None):
    """Select the filings of the actor's base, newest first."""
    base = require(actor, Permission.SUBMIT_PLANS)
    query = (sa.select(PlanFiling).where(PlanFiling.base_id == base.id).options(selectinload(PlanFiling.versions))
             .order_by(PlanFiling.submitted_at.desc(), PlanFiling.id.desc()))
    return _filters(query, kind, status, year)


def review_query(actor: User, kind: Any = None, status: Any = None, year: Any = None, awaiting_only: bool = False):
    """Select the filings of bases in the actor's subtree (those waiting for the actor's department first)."""
    require(actor, Permission.REVIEW_PLANS)
    query = (sa.select(PlanFiling).join(Org, PlanFiling.base_id == Org.id)
             .where(within_scope(Org.path, actor, Permission.REVIEW_PLANS))
             .options(selectinload(PlanFiling.versions))
             .order_by(sa.case((awaiting_condition(actor), 0), else_=1), PlanFiling.submitted_at.desc(),
                       PlanFiling.id.desc()))
    if awaiting_only:
        query = query.where(awaiting_condition(actor))
    return _filters(query, kind, status, year)


def may_decide(actor: User, filing: PlanFiling) -> bool:
    """Tell whether the actor's department decides this filing now."""
    home = admin_org(actor)
    return (filing.status == FilingStatus.SUBMITTED and home is not None and home.id == filing.department_id
            and has_permission(actor, Permission.REVIEW_PLANS, filing.base))


def may_revise(actor: User, filing: PlanFiling) -> bool:
    """Tell whether the actor's base may submit a new version now."""
    return filing.status == FilingStatus.RETURNED and has_permission(actor, Permission.SUBMIT_PLANS, filing.base)
