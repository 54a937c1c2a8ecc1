"""Trainings declared with a roster (admin manual 5.2): a base or a unit declares a training it ran with the list of
attendees; the training goes through the rule set's review chain; at the last step every attendee's hours are
computed by the rules engine, with the daily and yearly caps of that person across everything else they have, and
posted to their ledger exactly once.

Nobody types hours: the declarer gives dates, hours per day, category and the rule-set kind; each roster row names a
person and the days they attended. A roster with any bad row (an ID number in the wrong shape, a person not on the
platform or outside the declarer's reach, a duplicate, bad days) is refused whole with every row's problem named, so
nobody is ever silently dropped. Services only flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from lms.accounts.models import Role, User
from lms.audit import service as audit
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.core.idcard import id_number_problem, normalise_id_number
from lms.core.queues import ListFilters
from lms.core.validation import clean_text
from lms.core.xlsx import MIB, CellProblem, Column, SheetRejected, UploadLimits, build_template, data_rows, open_upload
from lms.courses.models import Category
from lms.declarations.chain import chain_for
from lms.declarations.service import credited_this_year, outcome_json, parse_date
from lms.extensions import db
from lms.ledger import service as ledger
from lms.ledger.models import SourceType
from lms.notices import notify_on
from lms.orgs.access import admin_org, has_permission, require, scope_org
from lms.orgs.models import HR_KINDS, Org, OrgKind
from lms.orgs.permissions import Permission
from lms.plans.training_models import (
    Training,
    TrainingAction,
    TrainingAttendee,
    TrainingDecision,
    TrainingReviewStep,
    TrainingStatus,
)
from lms.rules import RuleSet, compute
from lms.rules.model import Actual, Fact, Kind, Multiple

MAX_TITLE_CHARS = 200
MAX_REASON_CHARS = 500
MAX_HOURS_PER_DAY = Decimal("24")
HALF = Decimal("0.5")
EARLIEST_YEAR = 2000
SHEET = "参训人员"
COLUMNS = (Column("name", "姓名", 12), Column("id_number", "身份证号码", 22, text=True),
           Column("days", "出勤天数", 12))
LIMITS = UploadLimits(max_bytes=5 * MIB, max_unpacked_bytes=50 * MIB, max_rows=5_000)
TEMPLATE_NAME = "参训人员名单模板.xlsx"
NOTHING_DECLARED = "培训未申报，名单中的人员一个也没有登记"


class Decision:
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"
    ALL = (APPROVE, REJECT, RETURN)
    LABELS = {APPROVE: "通过", REJECT: "不通过", RETURN: "退回修改"}


# ------------------------------------------------------------------------------------------------ kinds


def rule_set_of_org(org: Org, year: int) -> RuleSet:
    """The rule set of the people the organisation's region covers (a base or unit under Hunan gets Hunan's)."""
    from lms.rules import rule_set_for

    return rule_set_for(ledger.region_of_org(org), year)


def rostered(kind: Kind) -> bool:
    """Tell whether a kind can be computed from a training and a roster row (days attended).

    That is a kind whose hours are the attended hours (``actual``) or a multiple of the attended days, and whose
    other facts are the training's dates, its category, bools the roster itself proves (a unit's 学习档案) and enum
    facts. An enum fact (who organised it, Hunan's activity type) describes the training, not the person: it is the
    same for every attendee, so the declarer states it once on the training (``declared_facts``). A number or a
    text could differ from one attendee to the next and the roster has no column for it, so such a kind is refused.
    """
    formula = kind.formula
    if isinstance(formula, Actual):
        amount = formula.fact
    elif isinstance(formula, Multiple) and formula.factor is not None:
        amount = formula.fact
    else:
        return False
    known = {amount, kind.category_fact}
    if kind.span:
        known |= {kind.span.start, kind.span.end, kind.span.excluded_days}
    return all(fact.id in known or fact.type in ("bool", "enum") for fact in kind.facts.values())


def training_kinds(rule_set: RuleSet) -> list[Kind]:
    """The kinds the rule set lets a roster fall under (``[review] roster_kinds``: org_training, unit_training)."""
    return [rule_set.kinds[kind_id] for kind_id in rule_set.review.roster_kinds if rostered(rule_set.kinds[kind_id])]


def declared_facts(kind: Kind) -> list[Fact]:
    """The facts the declarer states once for the whole training: the kind's enum facts other than the category."""
    return [fact for fact in kind.facts.values() if fact.type == "enum" and fact.id != kind.category_fact]


def check_declared_facts(kind: Kind, raw: Any) -> dict[str, str]:
    """Check the training's own facts against the kind's schema; a Chinese message per fact, keyed ``facts.<id>``."""
    raw = raw if isinstance(raw, dict) else {}
    wanted = {fact.id: fact for fact in declared_facts(kind)}
    problems: dict[str, str] = {f"facts.{key}": f"此类培训不需要填写 {key}。" for key in raw if key not in wanted}
    values: dict[str, str] = {}
    for fact in wanted.values():
        value = clean_text(raw.get(fact.id))
        if not value:
            problems[f"facts.{fact.id}"] = f"请选择{fact.label}。"
        elif value not in fact.values:
            problems[f"facts.{fact.id}"] = f"{fact.label}应为以下之一：{'、'.join(fact.values.values())}。"
        else:
            values[fact.id] = value
    if problems:
        raise InvalidInput(problems)
    return values


def declared_fact_rows(training: Training) -> list[tuple[str, str]]:
    """The training's own facts as a reviewer reads them: (举办单位类别, 人力资源社会保障部门)."""
    kind = rule_set_of_org(training.org, training.year).kinds.get(training.kind)
    if kind is None:
        return []
    return [(fact.label, fact.values.get(training.facts.get(fact.id), training.facts.get(fact.id, "")))
            for fact in declared_facts(kind) if fact.id in (training.facts or {})]


def attendee_facts(kind: Kind, training: Training, days: Decimal) -> dict[str, Any]:
    """The facts of one attendee's share of a training, in the kind's own fact names."""
    formula = kind.formula
    facts: dict[str, Any] = {}
    for fact in kind.facts.values():
        if kind.span and fact.id == kind.span.start:
            facts[fact.id] = training.start_date.isoformat()
        elif kind.span and fact.id == kind.span.end:
            facts[fact.id] = training.end_date.isoformat()
        elif kind.span and fact.id == kind.span.excluded_days:
            facts[fact.id] = "0"
        elif fact.id == kind.category_fact:
            facts[fact.id] = training.category
        elif fact.id == formula.fact:
            facts[fact.id] = str(days * training.hours_per_day if isinstance(formula, Actual) else days)
        elif fact.type == "enum":  # the training's own fact, declared once (who organised it, the activity type)
            facts[fact.id] = (training.facts or {}).get(fact.id)
        else:  # a bool the roster proves, e.g. "用人单位已建立学习档案"
            facts[fact.id] = True
    return facts


# ------------------------------------------------------------------------------------------------ reach


def reach_of(org: Org) -> Org:
    """The subtree whose people a declarer may put on a roster.

    A unit trains its own people. A base trains people across the area its chain ends in (the HR bureau above its
    department, whose 审验 must be able to see every attendee).
    """
    if org.kind == OrgKind.UNIT:
        return org
    bureau = org.parent
    while bureau is not None and bureau.kind not in HR_KINDS:
        bureau = bureau.parent
    return bureau or org


def within_reach(person: User, org: Org) -> bool:
    if org.kind == OrgKind.UNIT:
        return person.org_id == org.id
    return person.org.path.startswith(reach_of(org).path)


# ------------------------------------------------------------------------------------------------ the roster


@dataclasses.dataclass(frozen=True)
class RosterRow:
    row: int
    user: User
    days: Decimal


def template_bytes() -> bytes:
    """Build the roster template: name, ID-card number (as text) and days attended, with an example and a guide."""
    guide = [
        f"在“{SHEET}”工作表中从第 2 行起每行填写一名参训人员，不要修改第 1 行表头；第 2 行是示例，请先删除。",
        "姓名、身份证号码：须与该人员在平台注册的信息一致；身份证号码一列已设为文本格式，请不要改成数字。",
        "出勤天数：实际参加培训的天数，半天填 0.5；不填则按培训的全部天数计算。",
        "学时由平台按学时规则计算（每人每天、每年的上限都会计入其本人已有的学时），无需填写。",
        "单位只能申报本单位的人员；继续教育基地可申报其所在地区人社部门辖区内的人员。",
    ]
    return build_template(SHEET, COLUMNS, ("张三", "420106199001010011", ""), guide, max_rows=LIMITS.max_rows)


def _days(raw, training_days: int) -> tuple[Decimal | None, str | None]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Decimal(training_days), None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None, "出勤天数应为数字，如 2 或 1.5。"
    if not value.is_finite() or value <= 0:
        return None, "出勤天数应大于 0。"
    if value % HALF:
        return None, "出勤天数以半天（0.5）为单位。"
    if value > training_days:
        return None, f"出勤天数不能超过培训的天数（{training_days} 天）。"
    return value, None


def read_roster(org: Org, data: bytes, filename: str, training_days: int, rule_set: RuleSet) -> list[RosterRow]:
    """Read and check a roster; refuse the whole file with every row's problem named (nothing is half-kept)."""
    workbook = open_upload(data, filename, LIMITS)
    rows = data_rows(workbook, SHEET, COLUMNS, LIMITS.max_rows)
    if not rows:
        raise InvalidInput({"roster": "名单中没有任何人员，请至少填写一人。"})
    problems: list[CellProblem] = []
    parsed: list[tuple[int, str, str, Decimal]] = []
    seen: dict[str, int] = {}
    for row, values in rows:
        name, number = clean_text(values[0]), normalise_id_number(clean_text(values[1]))
        days, days_problem = _days(values[2], training_days)
        row_problems = []
        if not name:
            row_problems.append(CellProblem(row, 0, "姓名", "请填写姓名。"))
        number_problem = id_number_problem(number) if number else "请填写身份证号码。"
        if number_problem:
            row_problems.append(CellProblem(row, 1, "身份证号码", number_problem))
        elif number in seen:
            row_problems.append(CellProblem(row, 1, "身份证号码", f"与第 {seen[number]} 行重复：每人只能列一次。"))
        else:
            seen[number] = row
        if days_problem:
            row_problems.append(CellProblem(row, 2, "出勤天数", days_problem))
        problems += row_problems
        if not row_problems:
            parsed.append((row, name, number, days))
    people = {user.id_number: user for user in db.session.scalars(
        sa.select(User).where(User.id_number.in_([number for _r, _n, number, _d in parsed]),
                              User.role == Role.LEARNER))} if parsed else {}
    checked: list[RosterRow] = []
    for row, name, number, days in parsed:
        person = people.get(number)
        if person is None or person.name != name:
            problems.append(CellProblem(row, 1, "身份证号码", "平台上没有姓名和身份证号码都与此一致的专业技术人员"
                                                           "（请核对，或请其先注册）。"))
        elif not within_reach(person, org):
            problems.append(CellProblem(row, 1, "身份证号码", f"{person.name}不在{org.name}可申报的范围内"
                                                           "（单位只能申报本单位人员）。"))
        elif not person.is_approved:
            problems.append(CellProblem(row, 1, "身份证号码", f"{person.name}的账号尚未审核通过或已停用。"))
        elif ledger.rule_set_of(person, rule_set.year).id != rule_set.id:
            problems.append(CellProblem(row, 1, "身份证号码", f"{person.name}适用其他地区的学时规则，"
                                                           "请由其所在地区单独申报。"))
        else:
            checked.append(RosterRow(row, person, days))
    if problems:
        raise SheetRejected(problems, NOTHING_DECLARED)
    return checked


# ------------------------------------------------------------------------------------------------ declaring


def _hours_per_day(value: Any) -> Decimal | None:
    try:
        hours = Decimal(str(value if value is not None else "").strip())
    except InvalidOperation:
        return None
    return hours if hours.is_finite() and Decimal("0.1") <= hours <= MAX_HOURS_PER_DAY else None


def declarer_org(actor: User) -> Org:
    """The base or unit the actor declares trainings for, or a 403."""
    return require(actor, Permission.DECLARE_TRAININGS, message="只有继续教育基地或用人单位的管理员可以申报培训。")


def declare(actor: User, *, title: Any, kind_id: Any, start_date: Any, end_date: Any, hours_per_day: Any,
            category: Any, roster: bytes, roster_name: str, facts: Any = None,
            today: dt.date | None = None) -> Training:
    """Declare a training the actor's base or unit ran, with its roster; it then waits for the chain's first step."""
    today = today or ledger.china_today()
    org = declarer_org(actor)
    problems: dict[str, str] = {}
    title_text = clean_text(title)
    if not title_text:
        problems["title"] = "请填写培训名称。"
    elif len(title_text) > MAX_TITLE_CHARS:
        problems["title"] = f"培训名称最多 {MAX_TITLE_CHARS} 字。"
    start, end = parse_date(start_date), parse_date(end_date)
    if start is None:
        problems["start_date"] = "请填写开始日期（如 2026-03-01）。"
    if end is None:
        problems["end_date"] = "请填写结束日期（如 2026-03-02）。"
    if start and end:
        if end < start:
            problems["end_date"] = "结束日期不能早于开始日期。"
        elif end > today:
            problems["end_date"] = "结束日期不能晚于今天：培训结束后再申报学时。"
        elif start.year != end.year:
            problems["end_date"] = "培训不能跨年度：学时只计入取得的年度（第十八条），请按年度分开申报。"
        elif start.year < EARLIEST_YEAR:
            problems["start_date"] = f"开始日期不能早于 {EARLIEST_YEAR} 年。"
    per_day = _hours_per_day(hours_per_day)
    if per_day is None:
        problems["hours_per_day"] = f"每天学时应为 0.1 到 {MAX_HOURS_PER_DAY} 之间的数字。"
    if problems:
        raise InvalidInput(problems)
    rule_set = rule_set_of_org(org, end.year)
    kind = next((k for k in training_kinds(rule_set) if k.id == kind_id), None)
    if kind is None:
        raise InvalidInput({"kind": f"请选择{rule_set.region_label}学时规则中可按名单申报的培训类型。"})
    category_value = kind.category or clean_text(category)
    if category_value not in rule_set.categories or (kind.category_fact
                                                     and category_value not in kind.facts[kind.category_fact].values):
        raise InvalidInput({"category": "请选择科目类别：公需科目或专业科目。"})
    own_facts = check_declared_facts(kind, facts)
    if db.session.scalar(sa.select(Training.id).where(Training.org_id == org.id, Training.title == title_text,
                                                      Training.start_date == start, Training.end_date == end)):
        raise Conflict(f"{org.name}已申报过同名同期的培训“{title_text}”，不能重复申报（同一培训的学时只计一次）。")
    training = Training(org_id=org.id, declared_by_id=actor.id, year=end.year, rule_set_id=rule_set.id,
                        kind=kind.id, kind_label=kind.label[:200], title=title_text, start_date=start, end_date=end,
                        hours_per_day=per_day, category=category_value, facts=own_facts,
                        status=TrainingStatus.PENDING, step_index=0)
    # A condition on the training's own facts (第十一条（一）: only 组织/人社/行业主管部门 trainings) would credit
    # every attendee nothing: refuse it now with the article's sentence rather than send it up the chain for naught.
    # The engine applies the same conditions again at filing.
    probe = compute(rule_set, kind.id, attendee_facts(kind, training, Decimal(training.days)))
    if probe.not_credited_reason:
        raise InvalidInput({"facts": f"{probe.not_credited_reason}，不能按名单申报。"})
    rows = read_roster(org, roster, roster_name, training.days, rule_set)
    # The declarer's own submission is the unit's step (单位审核); the chain's later steps review it.
    steps = chain_for(rule_set, org)[1:]
    db.session.add(training)
    db.session.flush()
    db.session.add_all(TrainingReviewStep(training_id=training.id, position=position, reviewer=step.reviewer,
                                          label=step.label[:40], org_id=step.org.id)
                       for position, step in enumerate(steps))
    _replace_roster(training, rows)
    _record(training, actor, TrainingAction.SUBMITTED, None)
    audit.record(actor, "training.declare", object_type="training", object_id=training.id, label=training.title,
                 org=org, after={"attendees": len(rows), "kind": kind.id, "facts": own_facts,
                                "steps": [s.label for s in steps]})
    if not steps:  # a central unit's own review is final (第十四条): the declaration is its review
        _transition(training, TrainingStatus.PENDING, status=TrainingStatus.FILED, step_index=None)
        _file(training, actor)
    return training


def _replace_roster(training: Training, rows: Iterable[RosterRow]) -> None:
    db.session.execute(sa.delete(TrainingAttendee).where(TrainingAttendee.training_id == training.id))
    db.session.add_all(TrainingAttendee(training_id=training.id, user_id=row.user.id, row_number=row.row,
                                        days=row.days) for row in rows)
    db.session.flush()
    db.session.expire(training, ["attendees"])


def resubmit(actor: User, training_id: Any, roster: bytes | None, roster_name: str | None, note: Any) -> Training:
    """Correct a training sent back (a new roster replaces the old one) and send it to the step that sent it back."""
    training = training_for(actor, training_id)
    if not has_permission(actor, Permission.DECLARE_TRAININGS, training.org) or admin_org(actor).id != training.org_id:
        raise NotAllowed("只有申报培训的单位（基地）可以修改并重新提交。")
    if training.status != TrainingStatus.RETURNED:
        raise Conflict("该培训申报不在“退回修改”状态，不能重新提交。")
    text = _reason(note, required=False)
    if roster:
        rows = read_roster(training.org, roster, roster_name or "", training.days,
                           rule_set_of_org(training.org, training.year))
        _replace_roster(training, rows)
    _transition(training, TrainingStatus.RETURNED, status=TrainingStatus.PENDING)
    _record(training, actor, TrainingAction.RESUBMITTED, text)
    audit.record(actor, "training.resubmit", object_type="training", object_id=training.id, label=training.title,
                 org=training.org, reason=text, after={"new_roster": bool(roster),
                                                       "attendees": len(training.attendees)})
    return training


# ------------------------------------------------------------------------------------------------ seeing, deciding


def can_view(user: User, training: Training) -> bool:
    """The declaring organisation's admins, the reviewers of any of its steps and the levels above them."""
    return (has_permission(user, Permission.DECLARE_TRAININGS, training.org)
            or has_permission(user, Permission.REVIEW_DECLARATIONS, training.org)
            or any(has_permission(user, Permission.REVIEW_DECLARATIONS, step.org) for step in training.review_steps))


def training_for(user: User, training_id: Any) -> Training:
    """Return a training the user may see; anything else is 'not found', so ids reveal nothing."""
    text = str(training_id if training_id is not None else "").strip()
    training = db.session.get(Training, int(text)) if text.isdigit() and len(text) < 10 else None
    if training is None or not can_view(user, training):
        raise NotFound("培训申报不存在或不在您的管辖范围内。")
    return training


def reviewer_of_step(user: User, training: Training) -> bool:
    if training.status != TrainingStatus.PENDING or not user.is_approved:
        return False
    home = scope_org(user, Permission.REVIEW_DECLARATIONS)
    step = training.current_step
    return home is not None and step is not None and home.id == step.org_id


def decide(actor: User, training_id: Any, decision: str, reason: Any) -> Training:
    """Approve, reject (with a reason) or send back (with a reason) the step the actor reviews."""
    if decision not in Decision.ALL:
        raise InvalidInput({"decision": "请选择审核结果：通过、不通过或退回修改。"})
    training = training_for(actor, training_id)
    if training.status != TrainingStatus.PENDING:
        raise Conflict(f"培训“{training.title}”当前状态为{training.status.label}，不能再审核。")
    step = training.current_step
    if not reviewer_of_step(actor, training):
        raise NotAllowed(f"培训“{training.title}”当前由{step.org.name}{step.label}，您无权处理。")
    if decision == Decision.REJECT:
        text = _reason(reason, required=True, what="不通过的原因")
        _transition(training, TrainingStatus.PENDING, status=TrainingStatus.REJECTED, step_index=None)
        _record(training, actor, TrainingAction.REJECTED, text, step)
    elif decision == Decision.RETURN:
        text = _reason(reason, required=True, what="需要修改的内容")
        _transition(training, TrainingStatus.PENDING, status=TrainingStatus.RETURNED)
        _record(training, actor, TrainingAction.RETURNED, text, step)
    else:
        text = _reason(reason, required=False)
        last = step.position + 1 == len(training.review_steps)
        _transition(training, TrainingStatus.PENDING, **({"status": TrainingStatus.FILED, "step_index": None}
                                                          if last else {"step_index": step.position + 1}))
        _record(training, actor, TrainingAction.APPROVED, text, step)
        if last:
            _file(training, actor)
    audit.record(actor, "training.decide", object_type="training", object_id=training.id, label=training.title,
                 org=training.org, reason=text, after={"decision": decision, "step": step.label,
                                                       "status": training.status.value})
    return training


def decide_many(actor: User, ids: Iterable[Any], decision: str, reason: Any) -> list[Training]:
    """Decide several trainings at once; one refusal refuses them all (the caller rolls back)."""
    ids = [value for value in ids if str(value).strip()]
    if not ids:
        raise InvalidInput({"ids": "请至少选择一项培训申报。"})
    return [decide(actor, value, decision, reason) for value in dict.fromkeys(str(v).strip() for v in ids)]


def _file(training: Training, actor: User) -> None:
    """Compute every attendee's hours against their own year and post them, once per attendee row.

    The attendees' rows are locked in id order first: two filings that share a person (this training and another
    one, or a declaration) then compute that person's caps one after the other, never both from the same "before".
    """
    rule_set = rule_set_of_org(training.org, training.year)
    kind = rule_set.kinds[training.kind]
    attendees = sorted(training.attendees, key=lambda a: a.user_id)
    if attendees:
        db.session.execute(sa.select(User.id).where(User.id.in_([a.user_id for a in attendees]))
                           .order_by(User.id).with_for_update())
    for attendee in attendees:
        person = attendee.user
        if attendee.posted_at is not None or ledger.is_year_voided(person.id, training.year):
            continue  # posted already; or 第二十一条 voided the year: nothing more is credited to it
        outcome = compute(rule_set, kind.id, attendee_facts(kind, training, attendee.days),
                          credited_this_year(person, training.year, rule_set))
        attendee.hours, attendee.outcome, attendee.posted_at = outcome.hours, outcome_json(outcome), utcnow()
        postings = [ledger.Posting(Category(category), hours) for category, hours in outcome.by_category.items()
                    if hours > 0]
        ledger.post(person, year=training.year, source_type=SourceType.TRAINING, source_id=attendee.id,
                    postings=postings, kind=kind.id, earned_on=training.end_date,
                    description=f"培训申报：{training.title}（{training.org.name}）", posted_by=actor)
        notify_on.training_filed(person, training, outcome.hours)
    db.session.flush()
    _record(training, actor, TrainingAction.FILED, None)


def _transition(training: Training, expected: TrainingStatus, **values) -> None:
    """Change the state only if nobody else changed it since it was read (two approvals cannot both win)."""
    result = db.session.execute(
        sa.update(Training).where(Training.id == training.id, Training.version == training.version,
                                  Training.status == expected)
        .values(version=Training.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(f"培训“{training.title}”刚刚已被他人处理，请刷新后查看。")
    db.session.refresh(training)


def _record(training: Training, actor: User, action: TrainingAction, reason: str | None,
            step: TrainingReviewStep | None = None) -> None:
    db.session.add(TrainingDecision(training_id=training.id, step_index=step.position if step else None,
                                    step_label=step.label if step else None, action=action, reason=reason,
                                    actor_id=actor.id, actor_org_id=(admin_org(actor) or actor.org).id))
    db.session.flush()


def _reason(value: Any, required: bool, what: str = "说明") -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput({"reason": f"请填写{what}。"})
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput({"reason": f"{what}最多 {MAX_REASON_CHARS} 字。"})
    return text or None


# ------------------------------------------------------------------------------------------------ lists


def review_queue_condition(actor: User):
    """The condition "waiting for the actor's organisation at its step"."""
    home = scope_org(actor, Permission.REVIEW_DECLARATIONS)
    if home is None:
        return sa.false()
    at_home = (sa.select(TrainingReviewStep.id)
               .where(TrainingReviewStep.training_id == Training.id, TrainingReviewStep.position == Training.step_index,
                      TrainingReviewStep.org_id == home.id).exists())
    return (Training.status == TrainingStatus.PENDING) & at_home


def review_queue_query(actor: User, filters: ListFilters | None = None, kind: str | None = None, q: str | None = None):
    """The trainings waiting for the actor, oldest first, by kind, submission date and a search on title or declarer."""
    query = (sa.select(Training).join(Org, Training.org_id == Org.id).where(review_queue_condition(actor))
             .order_by(Training.id))
    if kind:
        query = query.where(Training.kind == kind)
    if q:
        query = query.where(sa.or_(Training.title.contains(q, autoescape=True), Org.name.contains(q, autoescape=True)))
    return (filters or ListFilters()).apply(query, moment=Training.created_at)


def declared_by_org(actor: User, limit: int = 200) -> list[Training]:
    """The trainings the actor's base or unit declared, newest first."""
    org = declarer_org(actor)
    return list(db.session.scalars(sa.select(Training).where(Training.org_id == org.id)
                                   .order_by(Training.id.desc()).limit(limit)))
