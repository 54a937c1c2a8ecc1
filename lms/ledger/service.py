"""Posting hours to the ledger, exactly once, and reading a person's year from it.

Everything that credits hours goes through ``post``: course credits when a quiz is passed (``credit_course``),
approved declarations (lms.declarations), corrections and 第二十一条 voiding (``adjust``). The unique constraint
on the entry's source makes a repeated posting a no-op, whether it comes from a retry or a concurrent request.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import User
from lms.core.clock import CHINA_TIME
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput
from lms.courses.models import Category, Course, CourseState, Enrollment
from lms.extensions import db
from lms.ledger.models import (
    AdjustmentKind,
    CourseCredit,
    CreditState,
    LedgerAdjustment,
    LedgerEntry,
    Purpose,
    SourceType,
)
from lms.orgs.models import Org
from lms.rules import RuleSet, rule_set_for
from lms.statistics import tally

log = logging.getLogger(__name__)

DEFAULT_REGION = "hubei"
ZERO = Decimal("0.0")


def china_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in China Standard Time: the day (and year) hours are earned in."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(CHINA_TIME).date()


# ------------------------------------------------------------------------------------------------ rule set


def region_of(user: User) -> str:
    """The person's rule-set region: the region of their organisation or its nearest ancestor that has one."""
    return region_of_org(user.org)


def region_of_org(org: Org) -> str:
    """The rule-set region of people of ``org``: its own region or that of its nearest ancestor that has one."""
    org_ids = [int(part) for part in org.path.strip("/").split("/") if part]
    regions = dict(db.session.execute(sa.select(Org.id, Org.region).where(Org.id.in_(org_ids))).all())
    for org_id in reversed(org_ids):
        if regions.get(org_id):
            return regions[org_id]
    return DEFAULT_REGION


def rule_set_of(user: User, year: int) -> RuleSet:
    return rule_set_for(region_of(user), year)


# ------------------------------------------------------------------------------------------------ posting


@dataclass(frozen=True)
class Posting:
    """One category's hours of a source, to be posted as one entry."""

    category: Category
    hours: Decimal


def post(user: User, *, year: int, source_type: SourceType, source_id: int, postings: Iterable[Posting],
         earned_on: dt.date, description: str, purpose: Purpose = Purpose.CREDIT, kind: str | None = None,
         reason: str | None = None, posted_by: User | None = None, allow_other_year: bool = False,
         ) -> list[LedgerEntry]:
    """Post a source's hours, once: return the new entries, or [] when this source was already posted.

    Hours count only in the year they were earned (第十八条): ``year`` must be ``earned_on``'s unless the
    caller assigns them to a deferred year (``allow_other_year``, 第十七条). Runs in a savepoint, so a
    duplicate leaves the caller's transaction usable; the caller commits.
    """
    if year != earned_on.year and not allow_other_year:
        raise InvalidInput({"year": f"学时只在取得的年度有效，不能结转（学时管理办法第十八条）：{earned_on} 取得的学时"
                                    f"不能记入 {year} 年度。"})
    entries = [LedgerEntry(user_id=user.id, year=year, category=p.category, hours=Decimal(p.hours).quantize(ZERO),
                           source_type=source_type, source_id=source_id, purpose=purpose, kind=kind,
                           earned_on=earned_on, description=description[:200], reason=reason,
                           posted_by_id=posted_by.id if posted_by else None)
               for p in postings if Decimal(p.hours).quantize(ZERO) != 0]
    if not entries:
        return []
    try:
        with db.session.begin_nested():
            db.session.add_all(entries)
            db.session.flush()
            tally.record_entries(user, entries, rule_set_of(user, year))
    except IntegrityError:
        log.info("ledger: %s %s %s already posted", source_type, source_id, purpose)
        return []
    return entries


def is_year_voided(user_id: int, year: int) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(
        LedgerAdjustment.user_id == user_id, LedgerAdjustment.year == year,
        LedgerAdjustment.kind == AdjustmentKind.VOID_YEAR))) or False


def adjust(user: User, *, year: int, kind: AdjustmentKind, reason: str, decided_by: User,
           postings: Iterable[Posting] = (), reference: str | None = None) -> LedgerAdjustment:
    """Record an administrator's correction or 第二十一条 voiding and post its entries; the caller commits.

    Voiding posts, per category, the negative of the year's balance, so the year sums to zero and the
    entries it cancelled stay readable. The year stays voided: ``credit_course`` posts nothing more to it.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": "请填写原因。"})
    today = china_today()
    if kind == AdjustmentKind.VOID_YEAR:
        if is_year_voided(user.id, year):
            raise Conflict(f"{user.name} {year} 年度的学时已经作废。")
        totals = balances(user.id, year)
        postings = [Posting(category, -hours) for category, hours in totals.items() if hours]
    else:
        postings = list(postings)
        if not postings or all(Decimal(p.hours) == 0 for p in postings):
            raise InvalidInput({"hours": "更正的学时不能为 0。"})
    adjustment = LedgerAdjustment(user_id=user.id, year=year, kind=kind, reason=reason, reference=reference,
                                  decided_by_id=decided_by.id)
    try:
        with db.session.begin_nested():
            db.session.add(adjustment)
    except IntegrityError as exc:
        raise Conflict(f"{user.name} {year} 年度的学时已经作废。") from exc
    post(user, year=year, source_type=SourceType.ADJUSTMENT, source_id=adjustment.id, postings=postings,
         earned_on=today if today.year == year else dt.date(year, 12, 31), description=kind.label,
         purpose=Purpose.REVERSAL if kind == AdjustmentKind.VOID_YEAR else Purpose.CREDIT, reason=reason,
         posted_by=decided_by, allow_other_year=True)
    if kind == AdjustmentKind.VOID_YEAR:
        tally.mark_voided(user, year)
    return adjustment


# ------------------------------------------------------------------------------------------------ courses


def course_hours(course: Course) -> Decimal:
    return sum((cw.labelled_hours for cw in course.coursewares), ZERO).quantize(ZERO)


def held_session_count(user_id: int, course: Course) -> int:
    from lms.tracking.models import HoldState, PlaybackSession

    return db.session.scalar(sa.select(sa.func.count()).select_from(PlaybackSession).where(
        PlaybackSession.user_id == user_id, PlaybackSession.hold_state == HoldState.HELD,
        PlaybackSession.courseware_id.in_([cw.id for cw in course.coursewares]))) or 0


def watch_requirement_met(user_id: int, course: Course) -> bool:
    """Every courseware of the course is complete (SPEC §3 invariant 9), counting only sessions not held."""
    from lms.tracking.models import CoursewareProgress

    ids = [cw.id for cw in course.coursewares]
    if not ids:
        return False
    done = db.session.scalar(sa.select(sa.func.count()).select_from(CoursewareProgress).where(
        CoursewareProgress.user_id == user_id, CoursewareProgress.courseware_id.in_(ids),
        CoursewareProgress.completed_at.is_not(None))) or 0
    return done == len(ids)


def credit_course(user: User, course: Course, *, attempt_id: int | None = None,
                  now: dt.datetime | None = None) -> CourseCredit:
    """Claim a course's hours for a learner who passed its quiz; post them unless a session waits for review.

    Exactly once: the claim is unique per person and course and its entry unique per claim, so concurrent
    submissions and retried jobs return the one existing claim. The caller commits.
    """
    existing = _course_credit(user.id, course.id)
    if existing is not None:
        return existing
    earned_on = china_today(now)
    credit = CourseCredit(user_id=user.id, course_id=course.id, year=earned_on.year, category=course.category,
                          hours=course_hours(course), earned_on=earned_on, state=CreditState.HELD,
                          attempt_id=attempt_id)
    try:
        with db.session.begin_nested():
            db.session.add(credit)
    except IntegrityError:
        return _course_credit(user.id, course.id)
    _settle(credit, user)
    return credit


def settle_course_credits(user_id: int) -> list[CourseCredit]:
    """Re-decide a learner's held course credits after a review: post, keep holding, or void. Caller commits."""
    user = db.session.get(User, user_id)
    held = db.session.scalars(sa.select(CourseCredit).where(
        CourseCredit.user_id == user_id, CourseCredit.state == CreditState.HELD)).all()
    for credit in held:
        _settle(credit, user)
    return list(held)


def attempt_hold_state(credit: CourseCredit):
    """Return the review state of the quiz attempt a credit was earned by (lms.exams.integrity), or None."""
    from lms.exams.models import Attempt

    if credit.attempt_id is None:
        return None
    return db.session.scalar(sa.select(Attempt.hold_state).where(Attempt.id == credit.attempt_id))


def _settle(credit: CourseCredit, user: User) -> None:
    from lms.tracking.models import HoldState

    course = credit.course
    attempt_state = attempt_hold_state(credit)
    if attempt_state == HoldState.HELD:
        credit.state, credit.state_reason = CreditState.HELD, "本课程测验记录正在审核，审核通过后自动入账"
        return
    if attempt_state == HoldState.VOIDED:
        credit.state, credit.state_reason = CreditState.VOIDED, "测验记录经审核作废，不予入账"
        credit.settled_at = utcnow()
        return
    if held_session_count(user.id, course):
        credit.state, credit.state_reason = CreditState.HELD, "本课程有观看记录正在审核，审核通过后自动入账"
        return
    if not watch_requirement_met(user.id, course):
        credit.state, credit.state_reason = CreditState.VOIDED, "观看记录经审核作废，观看时长不再满足要求"
        credit.settled_at = utcnow()
        return
    if is_year_voided(user.id, credit.year):
        credit.state, credit.state_reason = CreditState.VOIDED, "该年度学时已按第二十一条作废"
        credit.settled_at = utcnow()
        return
    post(user, year=credit.year, source_type=SourceType.COURSE, source_id=credit.id,
         postings=[Posting(credit.category, credit.hours)], earned_on=credit.earned_on,
         description=f"网络课程《{course.title}》")
    credit.state, credit.state_reason, credit.settled_at = CreditState.POSTED, None, utcnow()


def reverse_course_credit(credit: CourseCredit, reason: str) -> list[LedgerEntry]:
    """Take back a posted course credit whose quiz attempt a reviewer voided afterwards: a reversal entry, once."""
    if credit.state != CreditState.POSTED:
        return []
    user = db.session.get(User, credit.user_id)
    entries = post(user, year=credit.year, source_type=SourceType.COURSE, source_id=credit.id,
                   postings=[Posting(credit.category, -credit.hours)], earned_on=credit.earned_on,
                   description=f"网络课程《{credit.course.title}》测验记录经审核作废", purpose=Purpose.REVERSAL,
                   reason=reason)
    credit.state, credit.state_reason, credit.settled_at = CreditState.VOIDED, "测验记录经审核作废，已冲销", utcnow()
    return entries


def _course_credit(user_id: int, course_id: int) -> CourseCredit | None:
    return db.session.scalar(sa.select(CourseCredit).where(CourseCredit.user_id == user_id,
                                                           CourseCredit.course_id == course_id))


# ------------------------------------------------------------------------------------------------ reading


def entries(user_id: int, year: int) -> list[LedgerEntry]:
    return list(db.session.scalars(sa.select(LedgerEntry).where(
        LedgerEntry.user_id == user_id, LedgerEntry.year == year).order_by(LedgerEntry.posted_at, LedgerEntry.id)))


def balances(user_id: int, year: int) -> dict[Category, Decimal]:
    """The year's hours per category, summed from the ledger (every category present, zero when empty)."""
    rows = db.session.execute(sa.select(LedgerEntry.category, sa.func.sum(LedgerEntry.hours)).where(
        LedgerEntry.user_id == user_id, LedgerEntry.year == year).group_by(LedgerEntry.category)).all()
    totals = {category: ZERO for category in Category}
    for category, hours in rows:
        totals[Category(category)] = Decimal(hours).quantize(ZERO)
    return totals


@dataclass(frozen=True)
class CategoryProgress:
    category: str
    label: str
    hours: Decimal
    minimum: Decimal

    @property
    def percent(self) -> int:
        return 100 if self.minimum <= 0 else min(100, int(self.hours * 100 / self.minimum))

    @property
    def met(self) -> bool:
        return self.hours >= self.minimum

    @property
    def remaining(self) -> Decimal:
        """Hours still missing to the minimum (zero once met)."""
        return max(self.minimum - self.hours, ZERO).quantize(ZERO)


@dataclass(frozen=True)
class YearSummary:
    """A person's year against the rule set's requirement, every number from the ledger."""

    user_id: int
    year: int
    rule_set: RuleSet
    categories: list[CategoryProgress]
    total: CategoryProgress
    voided: bool
    entries: list[LedgerEntry] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return not self.voided and self.total.met and all(c.met for c in self.categories)


def year_summary(user: User, year: int) -> YearSummary:
    rule_set = rule_set_of(user, year)
    totals = balances(user.id, year)
    categories = [CategoryProgress(cid, cat.label, totals.get(Category(cid), ZERO), cat.minimum)
                  for cid, cat in rule_set.categories.items()]
    total = CategoryProgress("total", "合计", sum((c.hours for c in categories), ZERO), rule_set.total_hours)
    return YearSummary(user.id, year, rule_set, categories, total, is_year_voided(user.id, year),
                       entries(user.id, year))


def credited_by_kind(user_id: int, year: int) -> dict[str, Decimal]:
    """Declared hours already credited in the year per rule-set kind (for ``lms.rules.CreditedThisYear``)."""
    rows = db.session.execute(sa.select(LedgerEntry.kind, sa.func.sum(LedgerEntry.hours)).where(
        LedgerEntry.user_id == user_id, LedgerEntry.year == year, LedgerEntry.kind.is_not(None))
        .group_by(LedgerEntry.kind)).all()
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for kind, hours in rows:
        totals[kind] += Decimal(hours)
    return dict(totals)


def entry_years(user_id: int) -> list[int]:
    """The years in which the person has ledger entries, newest first (for the yearly page's year links)."""
    return list(db.session.scalars(sa.select(LedgerEntry.year).where(LedgerEntry.user_id == user_id)
                                   .distinct().order_by(LedgerEntry.year.desc())))


@dataclass(frozen=True)
class NextStep:
    """One thing the learner can do next for the year; ``action`` names it for the page, which links it."""

    action: str  # certificate, claim_certificate, continue_course, choose_course, declare
    text: str
    course_id: int | None = None
    category: str | None = None


NEXT_COURSES_SHOWN = 3


def next_steps(user: User, summary: YearSummary, *, has_certificate: bool) -> list[NextStep]:
    """Say what the learner can do next this year: claim or view the certificate once the requirement is met;
    otherwise continue enrolled courses not yet credited in a category still short, choose new ones, declare."""
    if summary.voided:
        return []
    if summary.met:
        if has_certificate:
            return [NextStep("certificate", "本年度学时已达到要求，可查看或下载年度学时证明。")]
        return [NextStep("claim_certificate", "本年度学时已达到要求，可以申领年度学时证明。")]
    short = [c for c in summary.categories if not c.met] or summary.categories  # only the total is short
    short_ids = {c.category for c in short}
    credited = set(db.session.scalars(sa.select(CourseCredit.course_id).where(CourseCredit.user_id == user.id)))
    unfinished = db.session.scalars(
        sa.select(Course).join(Enrollment, Enrollment.course_id == Course.id)
        .where(Enrollment.user_id == user.id, Course.state == CourseState.PUBLISHED,
               Course.category.in_([Category(c) for c in short_ids]))
        .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())).all()
    unfinished = [c for c in unfinished if c.id not in credited]
    steps = [NextStep("continue_course", f"继续学习《{course.title}》（{course.category.label}，"
                                         f"{course_hours(course)} 学时）", course_id=course.id)
             for course in unfinished[:NEXT_COURSES_SHOWN]]
    for progress in short:
        remaining = progress.remaining if not progress.met else summary.total.remaining
        steps.append(NextStep("choose_course", f"到课程目录选修{progress.label}课程（还差 {remaining} 学时）。",
                              category=progress.category))
    steps.append(NextStep("declare", "参加了线下培训、学术会议等，可以在学时申报中申报学时。"))
    return steps
