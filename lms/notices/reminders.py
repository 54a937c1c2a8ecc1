"""Deadline reminders (学时截止提醒): N days before the year's deadline, tell everyone still short what is missing.

Run daily by ``flask notifications remind-deadline`` (cron, a Kubernetes CronJob or the compose scheduler). Each
round (a year and a number of days before its deadline) notifies a person at most once: the notification's
``once_key`` is unique per person, and a run reads only people without it, so a second run, or one that a crash
cut short, sends the rest and nothing twice. People are read in batches in id order from the yearly tallies
(``person_year_hours``, kept at posting time), one query per batch, never one per person.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import ReviewStatus, Role, User
from lms.audit.service import record
from lms.core.clock import china_date
from lms.core.db import utcnow
from lms.extensions import db
from lms.ledger.service import DEFAULT_REGION
from lms.notices.notification_models import DeliveryStatus, Notification, NotificationSetting, SmsDelivery
from lms.notices.notifications import KINDS, SMS_PREFIX, NotificationSettings, path_for, send_after_commit
from lms.orgs.models import Org
from lms.rules import NoRuleSet, RuleSet, rule_set_for
from lms.statistics.models import PersonYearHours, Standing

log = logging.getLogger(__name__)

KIND = "deadline"
ZERO = Decimal("0")


@dataclasses.dataclass(frozen=True)
class Round:
    year: int
    days_before: int
    deadline: dt.date

    @property
    def key(self) -> str:
        return f"deadline:{self.year}:{self.days_before}"


@dataclasses.dataclass
class ReminderResult:
    round: Round | None
    notified: int = 0
    texted: int = 0


def deadline_of(year: int, settings: NotificationSettings | None = None) -> dt.date:
    """The day the year's hours must be complete by (China time)."""
    settings = settings or NotificationSettings.current()
    month, day = (int(part) for part in settings.deadline_month_day.split("-"))
    return dt.date(year, month, day)


def round_for(today: dt.date, year: int | None = None, days_before: int | None = None) -> Round | None:
    """The reminder round due today: the nearest configured day on or before today, while the deadline is ahead.

    A day missed (the scheduler was down) is caught up the next day; a round already sent does nothing more.
    """
    settings = NotificationSettings.current()
    year = year or today.year
    deadline = deadline_of(year, settings)
    if days_before is not None:
        return Round(year, days_before, deadline)
    if today > deadline:
        return None
    due = [days for days in settings.remind_days_before if deadline - dt.timedelta(days=days) <= today]
    return Round(year, min(due), deadline) if due else None


def missing_hours(rule_set: RuleSet, public: Decimal, professional: Decimal) -> tuple[Decimal, Decimal]:
    """Hours still missing per category (公需, 专业); a total above the two minimums counts as 专业 (any kind)."""
    public_min = rule_set.categories["public"].minimum if "public" in rule_set.categories else ZERO
    professional_min = rule_set.categories["professional"].minimum if "professional" in rule_set.categories else ZERO
    missing_public = max(public_min - public, ZERO)
    missing_professional = max(professional_min - professional, ZERO)
    rest = max(rule_set.total_hours - public - professional - missing_public - missing_professional, ZERO)
    return missing_public, missing_professional + rest


def _hours(value: Decimal) -> str:
    return f"{value.normalize():f}"


def reminder_text(due: Round, missing_public: Decimal, missing_professional: Decimal) -> str:
    parts = []
    if missing_public > 0:
        parts.append(f"公需科目 {_hours(missing_public)} 学时")
    if missing_professional > 0:
        parts.append(f"专业科目 {_hours(missing_professional)} 学时")
    return (f"{due.year} 年度继续教育学时将于 {due.deadline:%m月%d日} 截止（还有 {due.days_before} 天），"
            f"您还差{'、'.join(parts)}，请及时学习或申报。")


class _Regions:
    """The rule-set region of a person from their organisation's path: the nearest ancestor that names one."""

    def __init__(self):
        rows = db.session.execute(sa.select(Org.path, Org.region).where(Org.region.is_not(None))).all()
        self._by_path = sorted(rows, key=lambda row: len(row.path), reverse=True)

    def of(self, org_path: str) -> str:
        for path, region in self._by_path:
            if org_path.startswith(path):
                return region
        return DEFAULT_REGION


def remind_deadline(today: dt.date | None = None, *, year: int | None = None,
                    days_before: int | None = None) -> ReminderResult:
    """Send the round due today (or the one named) to every approved learner still short; return the counts."""
    today = today or china_date(utcnow())
    due = round_for(today, year, days_before)
    result = ReminderResult(due)
    if due is None:
        return result
    settings = NotificationSettings.current()
    regions, rule_sets = _Regions(), {}
    last_id, collisions = 0, 0
    while True:
        rows = _batch(due, last_id, settings.remind_batch_size)
        if not rows:
            break
        last_id = rows[-1].id
        try:
            notified, texted = _notify_batch(due, rows, regions, rule_sets)
            db.session.commit()
        except IntegrityError:
            # Another run wrote some of this batch first; read it again, without them.
            db.session.rollback()
            collisions += 1
            if collisions > 3:
                raise
            last_id = rows[0].id - 1
            continue
        result.notified += notified
        result.texted += texted
    record(None, "notification.remind_deadline", object_type="reminder_round", label=due.key,
           after={"year": due.year, "days_before": due.days_before, "notified": result.notified,
                  "texted": result.texted})
    db.session.commit()
    return result


def _batch(due: Round, after_id: int, size: int) -> list:
    already = sa.exists().where(Notification.user_id == User.id, Notification.once_key == due.key)
    hours = sa.and_(PersonYearHours.user_id == User.id, PersonYearHours.year == due.year)
    return db.session.execute(
        sa.select(User.id, User.phone, Org.path, PersonYearHours.public_hours, PersonYearHours.professional_hours)
        .join(Org, Org.id == User.org_id).outerjoin(PersonYearHours, hours)
        .where(User.role == Role.LEARNER, User.status == ReviewStatus.APPROVED, User.disabled_at.is_(None),
               Org.status == ReviewStatus.APPROVED, Org.disabled_at.is_(None), User.id > after_id,
               sa.or_(PersonYearHours.standing.is_(None),
                      PersonYearHours.standing.not_in([Standing.MET, Standing.VOIDED])),
               ~already)
        .order_by(User.id).limit(size)).all()


def _notify_batch(due: Round, rows: list, regions: _Regions, rule_sets: dict) -> tuple[int, int]:
    now, link = utcnow(), path_for("ledger.year_page")
    notifications, phones = [], {}
    for row in rows:
        region = regions.of(row.path)
        if region not in rule_sets:
            try:
                rule_sets[region] = rule_set_for(region, due.year)
            except NoRuleSet:
                rule_sets[region] = None
        rule_set = rule_sets[region]
        if rule_set is None:
            continue
        public, professional = missing_hours(rule_set, Decimal(row.public_hours or 0),
                                             Decimal(row.professional_hours or 0))
        if public <= 0 and professional <= 0:
            continue
        notifications.append({"user_id": row.id, "kind": KIND, "title": KINDS[KIND].label,
                              "text": reminder_text(due, public, professional), "link": link,
                              "once_key": due.key, "created_at": now})
        if row.phone:
            phones[row.id] = row.phone
    if not notifications:
        return 0, 0
    ids = db.session.scalars(sa.insert(Notification).returning(Notification.id, sort_by_parameter_order=True),
                             notifications).all()
    chosen = dict(db.session.execute(sa.select(NotificationSetting.user_id, NotificationSetting.sms).where(
        NotificationSetting.kind == KIND, NotificationSetting.user_id.in_(list(phones)))).all())
    texted = {user_id for user_id in phones if chosen.get(user_id, KINDS[KIND].sms_default)}
    deliveries = [{"notification_id": notification_id, "user_id": item["user_id"], "phone": phones[item["user_id"]],
                   "text": (SMS_PREFIX + item["text"])[:500], "status": DeliveryStatus.QUEUED, "attempts": 0,
                   "created_at": now}
                  for notification_id, item in zip(ids, notifications, strict=True)
                  if item["user_id"] in texted]
    if deliveries:
        delivery_ids = db.session.scalars(
            sa.insert(SmsDelivery).returning(SmsDelivery.id, sort_by_parameter_order=True), deliveries).all()
        send_after_commit(list(delivery_ids))
    return len(notifications), len(deliveries)
