"""继教综合统计 (admin manual 5.4.1) and the people search (5.4.3), read from the tallies of ``lms.statistics.tally``.

A subtree's figures are sums over its organisations' tally rows: a province is some 22,000 rows, never the
ledger. ``plain_figures`` computes the same numbers from the ledger and the people themselves; the tests hold
the two equal and the benchmark measures the difference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal

import sqlalchemy as sa

from lms.accounts.models import Role, User
from lms.accounts.title_series import TITLE_LEVELS
from lms.core.errors import InvalidInput, NotAllowed
from lms.core.idcard import mask_id_number
from lms.core.replica import read_session
from lms.core.validation import clean_text
from lms.courses.models import Category
from lms.extensions import db
from lms.ledger.models import AdjustmentKind, LedgerAdjustment, LedgerEntry
from lms.ledger.service import china_today, region_of_org, rule_set_of
from lms.orgs.access import admin_org, has_permission
from lms.orgs.departments import member_condition
from lms.orgs.models import Org, OrgKind, ReviewStatus
from lms.orgs.permissions import Permission
from lms.rules import default_rule_sets, rule_set_for
from lms.statistics.models import OrgPeopleCount, OrgYearSourceHours, OrgYearTally, PersonYearHours, Standing
from lms.statistics.tally import COUNTED, source_of, standing_of

FIRST_YEAR = 2020


@dataclasses.dataclass
class Figures:
    """One subtree's numbers for a year."""

    org_id: int
    name: str
    kind: str
    registered: int = 0
    approved: int = 0
    pending: int = 0
    disabled: int = 0
    standings: dict[str, int] = dataclasses.field(default_factory=lambda: {s.value: 0 for s in Standing})
    hours: dict[tuple[str, str], Decimal] = dataclasses.field(default_factory=dict)  # (category, source) → hours

    def add(self, other: Figures) -> None:
        for name in ("registered", "approved", "pending", "disabled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, value in other.standings.items():
            self.standings[key] += value
        for key, value in other.hours.items():
            self.hours[key] = self.hours.get(key, Decimal(0)) + value

    def subtract(self, other: Figures) -> None:
        for name in ("registered", "approved", "pending", "disabled"):
            setattr(self, name, getattr(self, name) - getattr(other, name))
        for key, value in other.standings.items():
            self.standings[key] -= value
        for key, value in other.hours.items():
            self.hours[key] = self.hours.get(key, Decimal(0)) - value

    def finish(self) -> Figures:
        """Everyone approved and not counted in a standing has no hours this year."""
        counted = sum(v for k, v in self.standings.items() if k != Standing.NONE)
        self.standings[Standing.NONE.value] = max(0, self.approved - counted)
        self.hours = {key: value for key, value in self.hours.items() if value}
        return self

    def category_hours(self, category: Category) -> Decimal:
        return sum((v for (c, _), v in self.hours.items() if c == category.value), Decimal(0))

    @property
    def met_percent(self) -> float:
        return round(100 * self.standings[Standing.MET.value] / self.approved, 1) if self.approved else 0.0

    def comparable(self) -> tuple:
        """The numbers only (the tests compare tallies with the plain query)."""
        return (self.registered, self.approved, self.pending, self.disabled, dict(self.standings),
                {k: v.quantize(Decimal("0.1")) for k, v in self.hours.items()})

    def as_dict(self) -> dict:
        return {
            "org_id": self.org_id, "name": self.name, "kind": self.kind,
            "people": {"registered": self.registered, "approved": self.approved, "pending": self.pending,
                       "disabled": self.disabled},
            "standings": dict(self.standings), "met_percent": self.met_percent,
            "hours": {c.value: str(self.category_hours(c)) for c in Category},
            "hours_by_source": [{"category": c, "source": s, "label": source_label(s), "hours": str(h)}
                                for (c, s), h in sorted(self.hours.items())],
        }


@dataclasses.dataclass
class Report:
    root: Figures
    year: int
    children: list[Figures]  # each direct child's subtree, then the root's own people as "本级" when it has any


def source_label(source: str) -> str:
    if source.startswith("declaration:"):
        kind = source.split(":", 1)[1]
        labels = {rule_set.kinds[kind].label for rule_set in default_rule_sets().values() if kind in rule_set.kinds}
        return f"学时申报（{'、'.join(sorted(labels)) or kind}）"
    return {"course": "网络课程", "adjustment": "更正与作废", "training": "培训申报（名单）"}.get(source, source)


# ------------------------------------------------------------------------------------------------ scope

def statistics_root(actor: User, org_id=None) -> Org:
    """The organisation whose subtree the actor asks about: their own, or one inside it (else 403, never empty)."""
    home = admin_org(actor)
    if home is None or not has_permission(actor, Permission.VIEW_STATISTICS):
        raise NotAllowed(f"当前账号没有“{Permission.VIEW_STATISTICS.label}”权限。")
    if org_id in (None, ""):
        return home
    try:
        org = db.session.get(Org, int(org_id))
    except (TypeError, ValueError):
        raise InvalidInput({"org_id": "单位编号应为数字。"}) from None
    if org is None or not org.path.startswith(home.path):
        raise NotAllowed("所选单位不在本单位管辖范围内。")
    return org


def scope_and_year(actor: User, args: Mapping) -> tuple[Org, int]:
    """The organisation (``org_id``, default the actor's own) and year (``year``, default this year) asked about."""
    return statistics_root(actor, args.get("org_id")), parse_year(args.get("year"))


def home_progress(actor: User) -> Figures | None:
    """This year's figures of the admin's own subtree for the home page, when they may see statistics."""
    if not has_permission(actor, Permission.VIEW_STATISTICS):
        return None
    return report(admin_org(actor), china_today().year).root


def parse_as_of(raw) -> dt.date | None:
    """The day of 截至日期 (a past day), or None for the present."""
    text = clean_text(raw)
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput({"as_of": "截至日期格式应为 YYYY-MM-DD。"}) from None
    today = china_today()
    if day > today:
        raise InvalidInput({"as_of": "截至日期不能晚于今天。"})
    return None if day == today else day


def parse_year(raw) -> int:
    if raw in (None, ""):
        return china_today().year
    try:
        year = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput({"year": "年度应为四位数字，如 2026。"}) from None
    if not FIRST_YEAR <= year <= china_today().year + 1:
        raise InvalidInput({"year": f"年度应在 {FIRST_YEAR}–{china_today().year + 1} 之间。"})
    return year


# ------------------------------------------------------------------------------------------------ figures

def report(root: Org, year: int) -> Report:
    """The comprehensive statistics of ``root``'s subtree, broken down by direct child (drill-down).

    The tallies are rolled up, so this reads one row per table for the root and one per child.
    """
    reader = read_session()
    children = reader.execute(sa.select(Org.id, Org.name, Org.kind).where(Org.parent_id == root.id)
                                  .order_by(Org.id)).all()
    figures = {root.id: Figures(root.id, root.name, root.kind.value)}
    for child in children:
        figures[child.id] = Figures(child.id, child.name, OrgKind(child.kind).value)
    ids = list(figures)
    for row in reader.execute(sa.select(OrgPeopleCount).where(OrgPeopleCount.org_id.in_(ids))).scalars():
        target = figures[row.org_id]
        target.registered, target.approved, target.pending, target.disabled = (
            row.registered, row.approved, row.pending, row.disabled)
    for row in reader.scalars(sa.select(OrgYearTally).where(OrgYearTally.org_id.in_(ids),
                                                                OrgYearTally.year == year)):
        for standing in COUNTED:
            figures[row.org_id].standings[standing.value] = getattr(row, standing.value)
    for row in reader.scalars(sa.select(OrgYearSourceHours).where(OrgYearSourceHours.org_id.in_(ids),
                                                                      OrgYearSourceHours.year == year)):
        figures[row.org_id].hours[(row.category, row.source)] = Decimal(row.hours)
    total = figures.pop(root.id)
    own = Figures(root.id, f"{root.name}（本级）", root.kind.value)
    own.add(total)
    for child in figures.values():
        own.subtract(child)
    listed = [child.finish() for child in figures.values()]
    if own.registered or any(own.hours.values()):
        listed.append(own.finish())
    return Report(total.finish(), year, listed)


def plain_figures(root: Org, year: int) -> Figures:
    """The same subtree total computed from the ledger and the people, with no tallies (tests and benchmark)."""
    pattern = root.path + "%"
    figures = Figures(root.id, root.name, root.kind.value)
    people = db.session.execute(
        sa.select(User.status, User.disabled_at.is_not(None), sa.func.count()).join(Org, User.org_id == Org.id)
        .where(Org.path.like(pattern), User.role == Role.LEARNER)
        .group_by(User.status, User.disabled_at.is_not(None)))
    for status, disabled, count in people:
        figures.registered += count
        figures.disabled += count if disabled else 0
        figures.approved += count if status == ReviewStatus.APPROVED else 0
        figures.pending += count if status == ReviewStatus.PENDING else 0
    members = sa.select(User.id).join(Org, User.org_id == Org.id).where(Org.path.like(pattern))
    balances = db.session.execute(
        sa.select(LedgerEntry.user_id, LedgerEntry.category, sa.func.sum(LedgerEntry.hours))
        .where(LedgerEntry.year == year, LedgerEntry.user_id.in_(members))
        .group_by(LedgerEntry.user_id, LedgerEntry.category)).all()
    voided = set(db.session.scalars(sa.select(LedgerAdjustment.user_id).where(
        LedgerAdjustment.year == year, LedgerAdjustment.kind == AdjustmentKind.VOID_YEAR,
        LedgerAdjustment.user_id.in_(members))))
    per_person: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for user_id, category, hours in balances:
        per_person[user_id][Category(category).value] += Decimal(hours)
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(set(per_person) | voided)))}
    for user_id in set(per_person) | voided:
        held = per_person.get(user_id, {})
        standing = standing_of(held.get("public", Decimal(0)), held.get("professional", Decimal(0)),
                               user_id in voided, rule_set_of(users[user_id], year))
        figures.standings[standing.value] += 0 if standing == Standing.NONE else 1
    for entry in db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.year == year,
                                                                 LedgerEntry.user_id.in_(members))):
        key = (entry.category.value, source_of(entry))
        figures.hours[key] = figures.hours.get(key, Decimal(0)) + entry.hours
    return figures.finish()


# ------------------------------------------------------------------------------------------------ people (5.4.3)

STANDING_FILTERS = {s.value: s for s in Standing}
PEOPLE_FILTERS = ("name", "id_suffix", "title_series", "title_level", "standing", "min_hours", "max_hours", "unit_id",
                  "department_id")


def people_query(actor: User, root: Org, year: int, args: Mapping):
    """Select the learners of ``root``'s subtree with their year's hours, by the filters of 专技人员信息查询."""
    hours = PersonYearHours
    query = (sa.select(User.id, User.name, User.id_number, User.title_series, User.professional_post, User.org_id,
                       Org.name.label("org_name"),
                       sa.func.coalesce(hours.public_hours, 0).label("public_hours"),
                       sa.func.coalesce(hours.professional_hours, 0).label("professional_hours"),
                       sa.func.coalesce(hours.standing, Standing.NONE.value).label("standing"))
             .join(Org, User.org_id == Org.id)
             .outerjoin(hours, sa.and_(hours.user_id == User.id, hours.year == year))
             .where(Org.path.like(root.path + "%"), User.role == Role.LEARNER,
                    User.status == ReviewStatus.APPROVED)
             .order_by(Org.path, User.name, User.id))
    name = clean_text(args.get("name"))
    if name:
        query = query.where(User.name.contains(name, autoescape=True))
    suffix = clean_text(args.get("id_suffix")).upper()
    if suffix:
        if not (4 <= len(suffix) <= 6 and suffix[:-1].isdigit() and (suffix[-1].isdigit() or suffix[-1] == "X")):
            raise InvalidInput({"id_suffix": "身份证号后几位应为 4–6 位数字（末位可为 X）。"})
        query = query.where(User.id_number.endswith(suffix))
    series = clean_text(args.get("title_series"))
    if series:
        query = query.where(User.title_series == series)
    level = clean_text(args.get("title_level"))
    if level:
        if level not in (*TITLE_LEVELS, UNRATED):
            raise InvalidInput({"title_level": "职称级别应为正高级、副高级、中级、初级或未评定。"})
        query = query.where(User.title_level.is_(None) if level == UNRATED else User.title_level == level)
    standing = clean_text(args.get("standing"))
    if standing:
        if standing not in STANDING_FILTERS:
            raise InvalidInput({"standing": "达标情况应为已达标、接近达标、未达标、无学时或学时作废。"})
        column = sa.func.coalesce(hours.standing, Standing.NONE.value)
        query = query.where(column == standing)
    total = sa.func.coalesce(hours.public_hours, 0) + sa.func.coalesce(hours.professional_hours, 0)
    for field in ("min_hours", "max_hours"):
        raw = clean_text(args.get(field))
        if raw:
            try:
                value = Decimal(raw)
            except ArithmeticError:
                raise InvalidInput({field: "学时应为数字。"}) from None
            if not value.is_finite() or value < 0 or value > 10000:
                raise InvalidInput({field: "学时应在 0–10000 之间。"})
            query = query.where(total >= value if field == "min_hours" else total <= value)
    unit_id = args.get("unit_id")
    if unit_id not in (None, ""):
        unit = statistics_root(actor, unit_id)
        if not unit.path.startswith(root.path):
            raise NotAllowed("所选单位不在本单位管辖范围内。")
        query = query.where(Org.path.like(unit.path + "%"))
    department_id = args.get("department_id")
    if department_id not in (None, ""):
        query = query.where(member_condition(actor, Permission.VIEW_STATISTICS, department_id, User.id))
    return query


def shortfall(public: Decimal, professional: Decimal, rule_set) -> Decimal:
    """How many hours are still missing for the year (each category's minimum and the total)."""
    minimums = {cid: c.minimum for cid, c in rule_set.categories.items()}
    missing_public = max(Decimal(0), minimums.get("public", Decimal(0)) - public)
    missing_professional = max(Decimal(0), minimums.get("professional", Decimal(0)) - professional)
    by_total = max(Decimal(0), rule_set.total_hours - public - professional)
    return max(by_total, missing_public + missing_professional).quantize(Decimal("0.1"))


@dataclasses.dataclass(frozen=True)
class PersonRow:
    id: int
    name: str
    id_number: str
    title_series: str | None
    professional_post: str | None
    org_name: str
    public: Decimal
    professional: Decimal
    standing: Standing
    missing: Decimal

    @property
    def total(self) -> Decimal:
        return self.public + self.professional

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)


def person_rows(rows, year: int):
    """Turn ``people_query`` rows into PersonRow, with how many hours each person still lacks."""
    rule_sets: dict[int, object] = {}
    tenth = Decimal("0.1")
    for user_id, name, id_number, series, post, org_id, org_name, public, professional, standing in rows:
        if org_id not in rule_sets:
            rule_sets[org_id] = rule_set_for(region_of_org(db.session.get(Org, org_id)), year)
        public, professional = Decimal(public).quantize(tenth), Decimal(professional).quantize(tenth)
        standing = Standing(standing)
        missing = Decimal(0) if standing in (Standing.MET, Standing.VOIDED) else \
            shortfall(public, professional, rule_sets[org_id])
        yield PersonRow(user_id, name, id_number, series, post, org_name, public, professional, standing, missing)


# ------------------------------------------------------------------------------------------------ series (5.4.2)

UNRATED = "未评定"
LEVELS = (*TITLE_LEVELS, UNRATED)  # the columns of the level breakdown, highest first


@dataclasses.dataclass
class SeriesRow:
    series: str
    standings: dict[str, int]
    # People per title level (正高级 … 初级, 未评定) in the series, whatever their standing.
    levels: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(LEVELS, 0))

    @property
    def people(self) -> int:
        return sum(self.standings.values())

    @property
    def met_percent(self) -> float:
        return round(100 * self.standings[Standing.MET.value] / self.people, 1) if self.people else 0.0


def series_distribution(root: Org, year: int) -> list[SeriesRow]:
    """职称系列分布: the subtree's approved learners per title series and level, with where they stand in the year."""
    standing = sa.func.coalesce(PersonYearHours.standing, Standing.NONE.value)
    rows = read_session().execute(
        sa.select(User.title_series, User.title_level, standing, sa.func.count())
        .join(Org, User.org_id == Org.id)
        .outerjoin(PersonYearHours, sa.and_(PersonYearHours.user_id == User.id, PersonYearHours.year == year))
        .where(Org.path.like(root.path + "%"), User.role == Role.LEARNER, User.status == ReviewStatus.APPROVED)
        .group_by(User.title_series, User.title_level, standing))
    by_series: dict[str, SeriesRow] = {}
    for series, level, where, count in rows:
        name = series or "未填写"
        row = by_series.setdefault(name, SeriesRow(name, {s.value: 0 for s in Standing}))
        row.standings[Standing(where).value] += count
        row.levels[level if level in TITLE_LEVELS else UNRATED] += count
    return sorted(by_series.values(), key=lambda r: (-r.people, r.series))


def count_of(query) -> int:
    """How many rows a statistics query has, counted where statistics are read."""
    return read_session().scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
