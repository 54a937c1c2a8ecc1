"""Declared off-platform hours: submission, the 第十四条 review chain, posting, 第二十一条 voiding, 第十七条 deferral.

The hours are never typed by anyone: the rules engine computes them from the declared facts when the learner
submits, and again at the final approval, each time with what the year already has credited (caps across the
year). Services only flush; the caller commits (and, if the commit fails, deletes the objects stored).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from lms.accounts.models import Role, User
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.idcard import id_number_problem, normalise_id_number
from lms.core.queues import ListFilters
from lms.core.validation import clean_text, collect, text_problem
from lms.courses.models import Category
from lms.declarations import deferrals as deferral_rules
from lms.declarations import evidence, integrity
from lms.declarations import materials as named_materials
from lms.declarations.chain import PlannedStep, chain_for
from lms.declarations.models import (
    ArchiveHosting,
    DecisionAction,
    Declaration,
    DeclarationDecision,
    DeclarationEvidence,
    DeclarationReviewStep,
    DeclarationStatus,
    Deferral,
    DeferralReason,
)
from lms.declarations.windows import check_window
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import AdjustmentKind, SourceType
from lms.notices import notify_on
from lms.orgs.access import admin_org, has_permission, require, scope_org, within_scope
from lms.orgs.models import Org
from lms.orgs.permissions import Permission
from lms.rules import CreditedThisYear, Outcome, RuleSet, compute, default_rule_sets
from lms.rules.model import Kind

MAX_TITLE_CHARS = 200
MAX_REASON_CHARS = 500
EARLIEST_YEAR = 2000
ZERO = Decimal("0.0")
_ID_LIST = re.compile(r"^\d{1,9}$")
Upload = tuple[BinaryIO, str | None]


class Decision:
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"
    ALL = (APPROVE, REJECT, RETURN)
    LABELS = {APPROVE: "通过", REJECT: "不通过", RETURN: "退回补充材料"}


# ------------------------------------------------------------------------------------------------ the form


@dataclass(frozen=True)
class FactField:
    """One input of a kind's form, straight from the rule set's fact schema."""

    id: str
    label: str
    type: str
    minimum: Any = None
    maximum: Any = None
    step: Any = None
    values: Mapping[str, str] | None = None


def rule_set_for_person(user: User, year: int) -> RuleSet:
    """Return the rule set of the person's region for a year (a person under Hunan gets Hunan's kinds)."""
    return ledger.rule_set_of(user, year)


def kind_of(rule_set: RuleSet, kind_id: str | None) -> Kind:
    kind = rule_set.kinds.get(kind_id or "")
    if kind is None:
        raise NotFound(f"{rule_set.region_label}的规则中没有这种学时类型，请重新选择。")
    return kind


def fact_fields(kind: Kind) -> list[FactField]:
    """The kind's facts as form inputs; the activity's own start and end dates fill a span's date facts."""
    span_dates = {kind.span.start, kind.span.end} if kind.span else set()
    return [FactField(f.id, f.label, f.type, f.minimum, f.maximum, f.step, dict(f.values) or None)
            for f in kind.facts.values() if f.id not in span_dates]


def facts_from_form(kind: Kind, form: Mapping[str, str], start: dt.date | None, end: dt.date | None) -> dict:
    """Read a kind's facts from a posted form (fields ``fact-<id>``); bools are checkboxes."""
    facts: dict[str, Any] = {}
    for field in fact_fields(kind):
        raw = form.get(f"fact-{field.id}")
        facts[field.id] = raw in ("y", "on", "true", "1") if field.type == "bool" else (raw or "").strip()
    if kind.span:
        facts[kind.span.start] = start.isoformat() if start else ""
        facts[kind.span.end] = end.isoformat() if end else ""
    return facts


# ------------------------------------------------------------------------------------------------ the chain


def archive_agency_of(user: User) -> Org | None:
    hosting = db.session.scalar(sa.select(ArchiveHosting).where(ArchiveHosting.user_id == user.id))
    return hosting.agency if hosting else None


def review_chain(user: User, year: int | None = None) -> list[PlannedStep]:
    """Return the steps a person's declaration takes now and who decides each, by the person's rule set.

    The unit step is the employer unit's, or the archive agency's for an archive-hosted person (第十四条); the
    rule set's ``[review]`` says the steps after it (hubei-2026: 主管部门审查, 人社部门审验).
    """
    first = archive_agency_of(user) or user.org
    rule_set = rule_set_for_person(user, year or ledger.china_today().year)
    return chain_for(rule_set, first)


def review_orgs(user: User, year: int | None = None) -> tuple[Org, ...]:
    """The organisations that would review a person's declaration, in order (the first takes the unit step)."""
    return tuple(step.org for step in review_chain(user, year))


def record_archive_hosting(actor: User, person: User, agency: Org) -> ArchiveHosting:
    """Record that an archive agency hosts a person's archive (档案托管); only that agency's admin may."""
    if not agency.archive_agency:
        raise InvalidInput({"agency": f"{agency.name}不是人事档案管理服务机构。"})
    if not has_permission(actor, Permission.HOST_ARCHIVES, agency):
        raise NotAllowed("只有档案托管机构的管理员可以登记档案托管人员。")
    if person.role != Role.LEARNER:
        raise InvalidInput({"person": "只能登记专业技术人员。"})
    hosting = db.session.scalar(sa.select(ArchiveHosting).where(ArchiveHosting.user_id == person.id))
    if hosting is None:
        hosting = ArchiveHosting(user_id=person.id, agency_id=agency.id, recorded_by_id=actor.id)
        db.session.add(hosting)
    else:
        hosting.agency_id, hosting.recorded_by_id, hosting.recorded_at = agency.id, actor.id, utcnow()
    db.session.flush()
    return hosting


def hosting_agency(actor: User) -> Org:
    """Return the archive agency the actor administers, or refuse: only an agency's unit admin keeps its list."""
    unit = require(actor, Permission.HOST_ARCHIVES, message="只有档案托管机构的管理员可以登记档案托管人员。")
    if not unit.archive_agency:
        raise NotAllowed(f"{unit.name}不是人事档案管理服务机构，不能登记档案托管；"
                         "如需开通，请联系上级人社部门在“组织机构”中设置。")
    return unit


def hosted_people(actor: User) -> list[tuple[ArchiveHosting, User]]:
    """The people whose archives the actor's agency hosts, newest registration first."""
    agency = hosting_agency(actor)
    return [(hosting, person) for hosting, person in db.session.execute(
        sa.select(ArchiveHosting, User).join(User, ArchiveHosting.user_id == User.id)
        .where(ArchiveHosting.agency_id == agency.id)
        .order_by(ArchiveHosting.recorded_at.desc(), ArchiveHosting.id.desc()))]


def host_archive(actor: User, id_number: Any, name: Any) -> tuple[ArchiveHosting, User]:
    """Register a learner, found by ID-card number and name, as hosted by the actor's archive agency."""
    agency = hosting_agency(actor)
    number, name_text = normalise_id_number(str(id_number or "")), clean_text(name)
    problems = collect({"id_number": id_number_problem(number), "name": text_problem(name_text, "姓名", 50)})
    if problems:
        raise InvalidInput(problems)
    person = db.session.scalar(sa.select(User).where(User.id_number == number))
    # Both must match, so that the form cannot be used to look up whose an ID number is.
    if person is None or person.name != name_text:
        raise InvalidInput({"id_number": "平台上没有身份证号码和姓名都相符的注册人员，请核对；人员需先在平台注册。"})
    if person.role != Role.LEARNER:
        raise InvalidInput({"id_number": f"{person.name}不是专业技术人员，只能登记专业技术人员的档案托管。"})
    current = archive_agency_of(person)
    if current is not None and current.id == agency.id:
        raise Conflict(f"{person.name}的档案已登记由本机构托管。")
    if current is not None:
        raise Conflict(f"{person.name}的档案已登记由{current.name}托管，须先由该机构移除登记，才能改由本机构托管。")
    return record_archive_hosting(actor, person, agency), person


def end_archive_hosting(actor: User, hosting_id: Any) -> User:
    """Remove a person from the actor's agency's hosting list (same permission as registering); return the person."""
    agency = hosting_agency(actor)
    hosting = db.session.get(ArchiveHosting, _int(hosting_id, "hosting_id", "登记编号无效。"))
    if hosting is None or hosting.agency_id != agency.id:
        raise NotFound("本机构没有这条档案托管登记。")
    person = db.session.get(User, hosting.user_id)
    db.session.delete(hosting)
    db.session.flush()
    return person


def can_view(user: User, declaration: Declaration) -> bool:
    """The learner, and the admins of any reviewing organisation and above (their subtree holds the first).

    Every step's organisation is named on its own: after the first organisation moved under another parent
    (更换上级部门) it is no longer in the later reviewers' subtree, yet the declaration finishes with the reviewers
    fixed at submission.
    """
    if user.id == declaration.user_id:
        return True
    return (has_permission(user, Permission.REVIEW_DECLARATIONS, declaration.first_org)
            or any(has_permission(user, Permission.REVIEW_DECLARATIONS, step.org) for step in declaration.review_steps))


def declaration_for(user: User, declaration_id: int) -> Declaration:
    """Return a declaration the user may see; anything else is 'not found', so ids reveal nothing."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or not can_view(user, declaration):
        raise NotFound("申报不存在或无权查看。")
    return declaration


def reviewer_of_step(user: User, declaration: Declaration) -> bool:
    """Tell whether the user decides the declaration's current step."""
    if declaration.status != DeclarationStatus.PENDING or not user.is_approved:
        return False
    home = scope_org(user, Permission.REVIEW_DECLARATIONS)
    step = declaration.current_step
    return home is not None and step is not None and home.id == step.org_id


def may_void(user: User, declaration: Declaration) -> bool:
    return (declaration.status == DeclarationStatus.FILED
            and has_permission(user, Permission.VOID_DECLARATIONS, declaration.first_org))


def step_org(declaration: Declaration) -> Org | None:
    if declaration.status not in (DeclarationStatus.PENDING, DeclarationStatus.RETURNED):
        return None
    step = declaration.current_step
    return step.org if step else None


# ------------------------------------------------------------------------------------------------ computing


def credited_this_year(user: User, year: int, rule_set: RuleSet) -> CreditedThisYear:
    """What the year already has: approved declarations per kind and per day, everything per category."""
    by_kind = {kind: hours for kind, hours in ledger.credited_by_kind(user.id, year).items()
               if kind in rule_set.kinds and hours > 0}
    by_category = {category.value: max(ZERO, hours) for category, hours in ledger.balances(user.id, year).items()
                   if category.value in rule_set.categories}
    by_kind_day: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    filed = db.session.scalars(sa.select(Declaration).where(
        Declaration.user_id == user.id, Declaration.year == year, Declaration.status == DeclarationStatus.FILED))
    for declaration in filed:
        if declaration.kind not in rule_set.kinds:
            continue
        for day, hours in ((declaration.final_outcome or {}).get("by_day") or {}).items():
            by_kind_day[declaration.kind][dt.date.fromisoformat(day)] += Decimal(hours)
    # Trainings a base or unit declared with the person on the roster count for the same days (lms.plans).
    from lms.plans.training_models import Training, TrainingAttendee

    rostered = (sa.select(Training.kind, TrainingAttendee.outcome)
                .join(Training, TrainingAttendee.training_id == Training.id)
                .where(TrainingAttendee.user_id == user.id, Training.year == year,
                       TrainingAttendee.posted_at.is_not(None)))
    for kind, outcome in db.session.execute(rostered):
        if kind not in rule_set.kinds:
            continue
        for day, hours in ((outcome or {}).get("by_day") or {}).items():
            by_kind_day[kind][dt.date.fromisoformat(day)] += Decimal(hours)
    return CreditedThisYear(by_kind=by_kind, by_category=by_category,
                            by_kind_day={kind: dict(days) for kind, days in by_kind_day.items()})


def compute_outcome(user: User, year: int, kind_id: str, facts: Mapping[str, Any]) -> tuple[RuleSet, Outcome]:
    """Run the engine on a declaration's facts against the year's credited hours."""
    rule_set = rule_set_for_person(user, year)
    kind_of(rule_set, kind_id)
    return rule_set, compute(rule_set, kind_id, facts, credited_this_year(user, year, rule_set))


def outcome_json(outcome: Outcome) -> dict:
    """Keep an outcome as JSON: the hours, the basis and every cut's sentence, as the learner saw them."""
    return {
        "hours": str(outcome.hours), "uncapped_hours": str(outcome.uncapped_hours), "category": outcome.category,
        "article": outcome.article, "basis": outcome.basis, "completes_year": outcome.completes_year,
        "cuts": [{"cap_id": cut.cap_id, "reduced_by": str(cut.reduced_by), "message": cut.message}
                 for cut in outcome.cuts],
        "by_category": {category: str(hours) for category, hours in outcome.by_category.items()},
        "by_day": {day.isoformat(): str(hours) for day, hours in outcome.by_day.items()},
        "not_credited_reason": outcome.not_credited_reason,
    }


# ------------------------------------------------------------------------------------------------ deferral


def deferrals_of(user_id: int) -> list[Deferral]:
    return list(db.session.scalars(sa.select(Deferral).where(Deferral.user_id == user_id).order_by(Deferral.year)))


def deferral_years(user: User, earned_on: dt.date) -> list[Deferral]:
    """Deferred years that hours earned on a date may be assigned to: an earlier year, before its end date."""
    return [d for d in deferrals_of(user.id) if d.year < earned_on.year and earned_on <= d.ends_on]


def latest_deferral_end(year: int, rule_set: RuleSet) -> dt.date:
    return dt.date(year, 12, 31) + relativedelta(months=rule_set.deferral.max_months)


def grant_deferral(actor: User, learner_id: Any, year: Any, reason_kind: Any, reason: Any, ends_on: Any,
                   today: dt.date | None = None, attachment: Upload | None = None) -> Deferral:
    """第十七条: the unit certifies illness, injury, pregnancy or, where the rule set keeps the list open, another
    special reason (with its certificate attached), and lets the year be completed until ``ends_on``.

    An attachment is stored under ``deferral.attachment_key``; the caller deletes it if the commit fails.
    """
    today = today or ledger.china_today()
    unit = require(actor, Permission.GRANT_DEFERRALS, message="只有用人单位管理员可以办理顺延补学。")
    learner = db.session.get(User, _int(learner_id, "learner_id", "请选择人员。"))
    if learner is None or learner.role != Role.LEARNER or learner.org_id != unit.id:
        raise NotFound("本单位没有这名专业技术人员。")
    problems: dict[str, str] = {}
    year_value = _int(year, "year", "请填写年度。")
    if not EARLIEST_YEAR <= year_value <= today.year:
        problems["year"] = f"年度应在 {EARLIEST_YEAR} 到 {today.year} 之间。"
    if reason_kind not in {r.value for r in DeferralReason}:
        problems["reason_kind"] = "请选择原因：伤、病、孕或其他特殊原因（第十七条）。"
    reason_text = (reason or "").strip()
    if not reason_text:
        problems["reason"] = "请填写单位出具证明的情况说明。"
    elif len(reason_text) > MAX_REASON_CHARS:
        problems["reason"] = f"情况说明最多 {MAX_REASON_CHARS} 字。"
    end = parse_date(ends_on)
    if end is None:
        problems["ends_on"] = "请填写顺延截止日期（如 2027-06-30）。"
    if problems:
        raise InvalidInput(problems)
    rule_set = rule_set_for_person(learner, year_value)
    if rule_set.deferral is None:
        raise InvalidInput({"year": f"{rule_set.title}没有规定顺延补学。"})
    latest = latest_deferral_end(year_value, rule_set)
    if not dt.date(year_value, 12, 31) < end <= latest:
        raise InvalidInput({"ends_on": f"顺延截止日期应在 {year_value}-12-31 之后、最晚 {latest.isoformat()}"
                                       f"（顺延期限最长不超过 {rule_set.deferral.max_months} 个月，"
                                       f"{rule_set.deferral.article}）。"})
    checked = deferral_rules.check_attachment(rule_set, reason_kind, attachment)
    deferral = Deferral(user_id=learner.id, year=year_value, reason_kind=DeferralReason(reason_kind),
                        reason=reason_text, ends_on=end, granted_by_id=actor.id)
    try:
        with db.session.begin_nested():
            db.session.add(deferral)
    except sa.exc.IntegrityError:
        raise Conflict(f"{learner.name} {year_value} 年度已办理顺延补学。") from None
    if checked is not None:
        deferral_rules.store_attachment(deferral, checked)
    audit.record(actor, "deferral.grant", object_type="deferral", object_id=deferral.id,
                 label=f"{learner.name} {year_value} 年度", org=learner.org, reason=deferral.reason,
                 after={"ends_on": deferral.ends_on.isoformat()})
    return deferral


@dataclass(frozen=True)
class DeferralState:
    text: str
    failed: bool


def deferral_state(deferral: Deferral, today: dt.date | None = None) -> DeferralState:
    """Whether a deferred year is still open, was completed in time, or failed (第十七条)."""
    today = today or ledger.china_today()
    summary = ledger.year_summary(deferral.user, deferral.year)
    if summary.met:
        return DeferralState(f"{deferral.year} 年度学时已完成", False)
    if today <= deferral.ends_on:
        return DeferralState(f"顺延补学中，{deferral.ends_on.isoformat()} 前取得的学时可计入 {deferral.year} 年度",
                             False)
    return DeferralState(f"顺延期已过（{deferral.ends_on.isoformat()}），逾期未完成，视为 {deferral.year} "
                         "年度学时不合格（学时管理办法第十七条）", True)


# ------------------------------------------------------------------------------------------------ submitting


Materials = Mapping[str, list[Upload]]


def submit(user: User, *, kind_id: str | None, title: Any, start_date: Any, end_date: Any, year: Any,
           facts: Mapping[str, Any], uploads: list[Upload], materials: Materials | None = None,
           today: dt.date | None = None) -> tuple[Declaration, list[str]]:
    """Declare off-platform hours with evidence; return the declaration and the storage keys written.

    ``materials`` holds the files of each material the kind names (the rule set's ``materials.items``): a
    declaration without every required one is refused, naming it. ``uploads`` are any other files.
    """
    today = today or ledger.china_today()
    if user.role != Role.LEARNER or not user.is_approved:
        raise NotAllowed("只有已通过审核的专业技术人员可以申报学时。")
    problems: dict[str, str] = {}
    title_text = (title or "").strip()
    if not title_text:
        problems["title"] = "请填写活动名称（如会议、培训班、证书的名称）。"
    elif len(title_text) > MAX_TITLE_CHARS:
        problems["title"] = f"活动名称最多 {MAX_TITLE_CHARS} 字。"
    start, end = parse_date(start_date), parse_date(end_date)
    if start is None:
        problems["start_date"] = "请填写开始日期（如 2026-03-01）。"
    if end is None:
        problems["end_date"] = "请填写结束（取得）日期（如 2026-03-02）。"
    if start and end:
        if end < start:
            problems["end_date"] = "结束日期不能早于开始日期。"
        elif end > today:
            problems["end_date"] = "结束日期不能晚于今天：学时在活动结束后申报。"
        elif start.year < EARLIEST_YEAR:
            problems["start_date"] = f"开始日期不能早于 {EARLIEST_YEAR} 年。"
    if problems:
        raise InvalidInput(problems)

    deferral = None
    target_year = _int(year, "year", "请选择计入年度。") if str(year or "").strip() else end.year
    if target_year != end.year:
        deferral = next((d for d in deferral_years(user, end) if d.year == target_year), None)
        if deferral is None:
            raise InvalidInput({"year": f"{end.isoformat()} 取得的学时只能计入 {end.year} 年度，不能结转"
                                        "（学时管理办法第十八条）；只有办理了顺延补学（第十七条）的年度，"
                                        "在顺延截止日期前取得的学时才可计入该年度。"})
    if ledger.is_year_voided(user.id, target_year):
        raise Conflict(f"{target_year} 年度的学时已因弄虚作假被取消（学时管理办法第二十一条），不能再申报。")

    check_window(rule_set_for_person(user, target_year), target_year, today)
    rule_set, outcome = compute_outcome(user, target_year, kind_id, facts)
    if outcome.hours <= 0:
        why = outcome.not_credited_reason or "；".join(cut.message for cut in outcome.cuts) or outcome.basis
        raise InvalidInput({"facts": f"按所填情况本次可认定 0 学时：{why}。"})
    steps = chain_for(rule_set, archive_agency_of(user) or user.org)
    kind = rule_set.kinds[kind_id]
    materials = {key: files for key, files in (materials or {}).items() if files}
    named_materials.check_named(kind, facts, materials)
    checked = _check_uploads(uploads, materials, already=0, required=kind.materials is None)
    declaration = Declaration(
        user_id=user.id, year=target_year, rule_set_id=rule_set.id, kind=kind.id, kind_label=kind.label[:200],
        title=title_text, start_date=start, end_date=end, facts=_jsonable(facts), status=DeclarationStatus.PENDING,
        step_index=0, first_org_id=steps[0].org.id,
        hours=outcome.hours, category=outcome.category, outcome=outcome_json(outcome),
        deferral_id=deferral.id if deferral else None,
    )
    db.session.add(declaration)
    db.session.flush()
    db.session.add_all(DeclarationReviewStep(declaration_id=declaration.id, position=position, reviewer=step.reviewer,
                                             label=step.label[:40], org_id=step.org.id)
                       for position, step in enumerate(steps))
    db.session.flush()
    _record(declaration, user, DecisionAction.SUBMITTED, None, hours=outcome.hours)
    return declaration, _store_files(declaration, user, checked)


def resubmit(user: User, declaration_id: int, uploads: list[Upload], note: Any,
             materials: Materials | None = None) -> tuple[Declaration, list[str]]:
    """Add evidence (in the kind's material slots or as other files) to a declaration sent back and resubmit it
    to the step that sent it back."""
    declaration = declaration_for(user, declaration_id)
    if declaration.user_id != user.id:
        raise NotAllowed("只有申报人本人可以补充材料。")
    if declaration.status != DeclarationStatus.RETURNED:
        raise Conflict("该申报不在“退回补充材料”状态，不能重新提交。")
    materials = {key: files for key, files in (materials or {}).items() if files}
    rule_set = default_rule_sets().get(declaration.rule_set_id)
    kind = rule_set.kinds.get(declaration.kind) if rule_set else None
    unknown = sorted(set(materials) - set(kind.materials.items if kind and kind.materials else {}))
    if unknown:
        raise InvalidInput({"evidence": f"此类申报没有这些材料项：{'、'.join(unknown)}。"})
    checked = _check_uploads(uploads, materials, already=len(declaration.evidence), required=True)
    _transition(declaration, DeclarationStatus.RETURNED, status=DeclarationStatus.PENDING)
    _record(declaration, user, DecisionAction.RESUBMITTED, _reason(note, required=False))
    return declaration, _store_files(declaration, user, checked)


def _check_uploads(uploads: list[Upload], materials: Materials, already: int,
                   required: bool) -> list[tuple[evidence.CheckedFile, str | None]]:
    """Check every file of the request (named materials and others) against the limits, before storing any."""
    tagged = [(upload, material) for material, files in materials.items() for upload in files]
    tagged += [(upload, None) for upload in uploads]
    checked = evidence.check_files([upload for upload, _material in tagged], already,
                                   evidence.EvidenceSettings.current(), required=required)
    return [(file, material) for file, (_upload, material) in zip(checked, tagged, strict=True)]


def _store_files(declaration: Declaration, user: User,
                 checked: list[tuple[evidence.CheckedFile, str | None]]) -> list[str]:
    rows = [DeclarationEvidence(declaration_id=declaration.id, key=evidence.new_key(declaration.id, f.extension),
                                filename=f.filename, content_type=f.content_type, size_bytes=f.size,
                                material=material, uploaded_by_id=user.id) for f, material in checked]
    db.session.add_all(rows)
    db.session.flush()
    stored: list[str] = []
    try:
        for row, (file, _material) in zip(rows, checked, strict=True):
            evidence.put(row.key, file)
            stored.append(row.key)
    except BaseException:
        evidence.delete_quietly(stored)
        raise
    return stored


# ------------------------------------------------------------------------------------------------ deciding


def decide(actor: User, declaration_id: Any, decision: str, reason: Any) -> Declaration:
    """Approve, reject (with a reason) or send back (with a reason) the step the actor reviews."""
    if decision not in Decision.ALL:
        raise InvalidInput({"decision": "请选择审核结果：通过、不通过或退回补充材料。"})
    declaration = db.session.get(Declaration, _int(declaration_id, "ids", "申报编号无效。"))
    if declaration is None or not can_view(actor, declaration) or actor.id == declaration.user_id:
        raise NotFound("申报不存在或不在您的管辖范围内。")
    if declaration.status != DeclarationStatus.PENDING:
        raise Conflict(f"申报“{declaration.title}”当前状态为{declaration.status.label}，不能再审核。")
    step = declaration.current_step
    if not reviewer_of_step(actor, declaration):
        raise NotAllowed(f"申报“{declaration.title}”当前由{step.org.name if step else '其他单位'}"
                         f"{step.label if step else '审核'}，您无权处理。")
    if decision == Decision.REJECT:
        text = _reason(reason, required=True, what="不通过的原因")
        _transition(declaration, DeclarationStatus.PENDING, status=DeclarationStatus.REJECTED, step_index=None)
        _record(declaration, actor, DecisionAction.REJECTED, text, step=step)
        return declaration
    if decision == Decision.RETURN:
        text = _reason(reason, required=True, what="需要补充的材料")
        # step_index stays: the resubmitted declaration comes back to this step, earlier approvals stand.
        _transition(declaration, DeclarationStatus.PENDING, status=DeclarationStatus.RETURNED)
        _record(declaration, actor, DecisionAction.RETURNED, text, step=step)
        return declaration
    text = _reason(reason, required=False)
    if step.position + 1 < len(declaration.review_steps):
        _transition(declaration, DeclarationStatus.PENDING, step_index=step.position + 1)
        _record(declaration, actor, DecisionAction.APPROVED, text, step=step)
        return declaration
    _file(declaration, actor, text, step)
    return declaration


def decide_many(actor: User, ids: Iterable[Any], decision: str, reason: Any) -> list[Declaration]:
    """Decide several declarations at once; one refusal refuses them all (the caller rolls back)."""
    ids = [value for value in ids if str(value).strip()]
    if not ids:
        raise InvalidInput({"ids": "请至少选择一份申报。"})
    if any(not _ID_LIST.match(str(value)) for value in ids):
        raise InvalidInput({"ids": "申报编号无效。"})
    return [decide(actor, int(value), decision, reason) for value in dict.fromkeys(ids)]


def _file(declaration: Declaration, actor: User, reason: str | None, step: DeclarationReviewStep) -> None:
    """Final approval: recompute with the year as it is now, file, and post to the ledger exactly once."""
    user = declaration.user
    # One person's caps are computed by one filing at a time (a rostered training may be filing them too).
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    if ledger.is_year_voided(user.id, declaration.year):
        raise Conflict(f"{user.name} {declaration.year} 年度的学时已按第二十一条取消，不能再入账。")
    _rule_set, outcome = compute_outcome(user, declaration.year, declaration.kind, declaration.facts)
    _transition(declaration, DeclarationStatus.PENDING, status=DeclarationStatus.FILED, step_index=None,
                final_hours=outcome.hours, final_outcome=outcome_json(outcome))
    _record(declaration, actor, DecisionAction.APPROVED, reason, step=step, hours=outcome.hours)
    postings = [ledger.Posting(Category(category), hours) for category, hours in outcome.by_category.items()
                if hours > 0]
    ledger.post(user, year=declaration.year, source_type=SourceType.DECLARATION, source_id=declaration.id,
                postings=postings, kind=declaration.kind, earned_on=declaration.end_date,
                description=f"学时申报：{declaration.title}（{declaration.kind_label}）", posted_by=actor,
                allow_other_year=declaration.deferral_id is not None)
    _record(declaration, actor, DecisionAction.FILED, None, hours=outcome.hours)


def void(actor: User, declaration_id: int, reason: Any) -> Declaration:
    """第二十一条: mark a filed declaration as false; the person's hours of that year are voided by the ledger."""
    declaration = declaration_for(actor, declaration_id)
    voider = has_permission(actor, Permission.VOID_DECLARATIONS, declaration.first_org)
    if not voider or actor.id == declaration.user_id:
        raise NotAllowed("只有申报人所在单位以上的主管部门或人社部门管理员可以认定弄虚作假。")
    if declaration.status != DeclarationStatus.FILED:
        raise Conflict("只有已备案入账的申报可以认定弄虚作假。")
    text = _reason(reason, required=True, what="认定弄虚作假的事实和依据")
    _transition(declaration, DeclarationStatus.FILED, status=DeclarationStatus.VOIDED)
    _record(declaration, actor, DecisionAction.VOIDED, text)
    if not ledger.is_year_voided(declaration.user_id, declaration.year):
        ledger.adjust(declaration.user, year=declaration.year, kind=AdjustmentKind.VOID_YEAR,
                      reason=f"学时申报“{declaration.title}”弄虚作假（学时管理办法第二十一条）：{text}",
                      decided_by=actor, reference=f"declaration:{declaration.id}")
    integrity.record_false_declaration(declaration, actor, text)  # 诚信档案, kept for the retention setting
    return declaration


def _transition(declaration: Declaration, expected: DeclarationStatus, **values) -> None:
    """Change the state only if nobody else changed it since it was read (two reviewers cannot both win)."""
    result = db.session.execute(
        sa.update(Declaration)
        .where(Declaration.id == declaration.id, Declaration.version == declaration.version,
               Declaration.status == expected)
        .values(version=Declaration.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"申报“{declaration.title}”刚刚已被他人处理，请刷新后查看。")
    db.session.refresh(declaration)


def _record(declaration: Declaration, actor: User, action: DecisionAction, reason: str | None,
            step: DeclarationReviewStep | None = None, hours: Decimal | None = None) -> None:
    if actor.id != declaration.user_id and action != DecisionAction.FILED:
        audit.record(actor, "declaration.void" if action == DecisionAction.VOIDED else "declaration.decide",
                     object_type="declaration", object_id=declaration.id,
                     label=f"{declaration.user.name}：{declaration.title}", org=declaration.first_org, reason=reason,
                     after={"action": action.value, "step": step.label if step else None,
                            "hours": str(hours) if hours is not None else None})
    db.session.add(DeclarationDecision(declaration_id=declaration.id, step_index=step.position if step else None,
                                       step_label=step.label if step else None, action=action, reason=reason,
                                       hours=hours, actor_id=actor.id, actor_org_id=(admin_org(actor) or actor.org).id))
    db.session.flush()
    notify_on.declaration_decided(declaration, action, reason)


# ------------------------------------------------------------------------------------------------ lists


def my_declarations(user: User) -> list[Declaration]:
    return list(db.session.scalars(sa.select(Declaration).where(Declaration.user_id == user.id)
                                   .order_by(Declaration.id.desc())))


def review_queue_condition(actor: User):
    """The condition "waiting for the actor's decision at its step" (false for anyone without the permission)."""
    home = scope_org(actor, Permission.REVIEW_DECLARATIONS)
    if home is None:
        return sa.false()
    at_home = (sa.select(DeclarationReviewStep.id)
               .where(DeclarationReviewStep.declaration_id == Declaration.id,
                      DeclarationReviewStep.position == Declaration.step_index,
                      DeclarationReviewStep.org_id == home.id).exists())
    return (Declaration.status == DeclarationStatus.PENDING) & at_home


def review_queue(actor: User) -> list[Declaration]:
    """The declarations waiting for the actor's decision."""
    from lms.declarations.queue import QueueFilters, queue_query

    return list(db.session.scalars(queue_query(actor, ListFilters(), QueueFilters())))


def subtree_declarations(actor: User, limit: int = 200) -> list[Declaration]:
    """Recent declarations of people in the actor's subtree (to follow them, and for 第二十一条)."""
    return list(db.session.scalars(
        sa.select(Declaration).join(Org, Declaration.first_org_id == Org.id)
        .where(within_scope(Org.path, actor, Permission.REVIEW_DECLARATIONS),
               Declaration.status != DeclarationStatus.PENDING)
        .order_by(Declaration.id.desc()).limit(limit)))


def unit_learners(actor: User) -> list[User]:
    unit = require(actor, Permission.GRANT_DEFERRALS)
    return list(db.session.scalars(sa.select(User).where(User.org_id == unit.id, User.role == Role.LEARNER)
                                   .order_by(User.name)))


def unit_deferrals(actor: User) -> list[Deferral]:
    return list(db.session.scalars(sa.select(Deferral).join(User, Deferral.user_id == User.id)
                                   .where(User.org_id == require(actor, Permission.GRANT_DEFERRALS).id)
                                   .order_by(Deferral.id.desc())))


# ------------------------------------------------------------------------------------------------ helpers


def _reason(value: Any, required: bool, what: str = "说明") -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput({"reason": f"请填写{what}。"})
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput({"reason": f"{what}最多 {MAX_REASON_CHARS} 字。"})
    return text or None


def _int(value: Any, field: str, message: str) -> int:
    text = str(value if value is not None else "").strip()
    if not _ID_LIST.match(text):
        raise InvalidInput({field: message})
    return int(text)


def parse_date(value: Any) -> dt.date | None:
    """Read an ISO date (2026-03-01) from a form; None when it is not one."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def _jsonable(facts: Mapping[str, Any]) -> dict:
    return {key: value if isinstance(value, bool | str) else str(value) for key, value in facts.items()}
