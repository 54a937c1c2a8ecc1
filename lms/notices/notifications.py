"""The notification centre (消息中心): what happened to a person's things, in-app and, where wanted, by SMS.

Other services call ``notify`` inside their own transaction: the notification row is flushed with the action,
so a rolled-back action notifies nobody. A text message is a ``SmsDelivery`` row written at the same time and
sent by a background job queued only after the commit (``lms.core.jobs``: RQ with Redis, the app's job thread
in the embedded mode); a provider that fails is retried with backoff and never blocks or undoes the action,
and the row's status and last error are what an admin reads at 短信发送记录.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import sqlalchemy as sa
from flask import current_app, g
from rq import Retry

from lms.accounts.models import User
from lms.audit.service import record
from lms.core.db import utcnow
from lms.core.errors import InvalidInput, NotFound
from lms.core.jobs import NOTIFICATIONS_QUEUE, enqueue
from lms.declarations.evidence import settings_from_config
from lms.extensions import db
from lms.notices.notification_models import DeliveryStatus, Notification, NotificationSetting, SmsDelivery
from lms.notify.sms import SmsNotSent, sms_sender
from lms.orgs.access import within_scope
from lms.orgs.models import Org
from lms.orgs.permissions import Permission

log = logging.getLogger(__name__)

SMS_PREFIX = "【继续教育平台】"
_PENDING_KEY = "lms.notifications.sms_pending"


@dataclasses.dataclass(frozen=True)
class Kind:
    label: str
    # Whether an SMS goes out unless the person turned it off (see the settings page).
    sms_default: bool


# SMS on by default where the person must act or would otherwise not know in time: a registration decided (they
# cannot use the platform before), a declaration sent back or decided (a 补充材料 has to be sent in), a transfer,
# a change of their data or organisation, a password reset by an admin (someone else now knows a password of
# theirs) and the year's deadline. A held viewing session or quiz attempt is decided often and is visible in
# 观看记录 anyway, so it is in-app only unless the person asks for SMS.
KINDS: dict[str, Kind] = {
    "registration": Kind("注册审核结果", True),
    "declaration": Kind("学时申报审核", True),
    "session_review": Kind("观看记录审核", False),
    "attempt_review": Kind("测验记录审核", False),
    "transfer": Kind("人员调转", True),
    "person_change": Kind("个人信息修改审核", True),
    "org_change": Kind("机构信息修改审核", True),
    "password_reset": Kind("管理员重置密码", True),
    "deadline": Kind("学时截止提醒", True),
    # A base's plan decided: the base's admin reads it at work, in-app. Hours from a training's roster: one filing
    # credits dozens of people at once, so in-app unless each asks for SMS (the year's page shows them too).
    "plan": Kind("培训计划审核", False),
    "training": Kind("培训学时入账", False),
}


@dataclasses.dataclass(frozen=True)
class NotificationSettings:
    """Overridden by ``app.config["LMS_NOTIFICATIONS"]`` (a dict)."""

    page_size: int = 20
    # Seconds before each retry of a failed SMS (RQ Retry); three retries cover a provider's outage of minutes.
    sms_retry_intervals: tuple[int, ...] = (30, 300, 1800)
    # The day (China time, "MM-DD") the year's hours must be complete by, and how many days before it to remind.
    deadline_month_day: str = "12-31"
    remind_days_before: tuple[int, ...] = (30, 7)
    remind_batch_size: int = 1000

    @classmethod
    def current(cls) -> NotificationSettings:
        return settings_from_config(cls, "LMS_NOTIFICATIONS")


# ------------------------------------------------------------------------------------------------ notifying


def notify(user: User, kind: str, text: str, link: str | None = None, *, sms: bool = False,
           title: str | None = None, once_key: str | None = None) -> Notification:
    """Write a notification for the person in the caller's transaction; with ``sms``, also text them after commit.

    The SMS goes out only when the person has a phone number and their setting for the kind is on.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    notification = Notification(user_id=user.id, kind=kind, title=(title or KINDS[kind].label)[:60],
                                text=text[:500], link=link, once_key=once_key, created_at=utcnow())
    db.session.add(notification)
    db.session.flush()
    if sms and user.phone and sms_wanted(user.id, kind):
        queue_sms(notification, user)
    return notification


def queue_sms(notification: Notification, user: User) -> SmsDelivery:
    """Write the delivery row of a notification; its job is queued once the transaction commits."""
    delivery = SmsDelivery(notification_id=notification.id, user_id=user.id, phone=user.phone,
                           text=(SMS_PREFIX + notification.text)[:500], status=DeliveryStatus.QUEUED)
    db.session.add(delivery)
    db.session.flush()
    send_after_commit([delivery.id])
    return delivery


def send_after_commit(delivery_ids: list[int]) -> None:
    """Queue the deliveries' jobs once the current transaction commits; forget them if it rolls back."""
    session = db.session()
    pending = session.info.setdefault(_PENDING_KEY, [])
    if not pending:
        sa.event.listen(session, "after_commit", _on_commit, once=True)
        sa.event.listen(session, "after_rollback", _on_rollback, once=True)
    pending.extend(delivery_ids)


def _on_commit(session) -> None:
    for delivery_id in session.info.pop(_PENDING_KEY, []):
        start_delivery(delivery_id)


def _on_rollback(session) -> None:
    session.info.pop(_PENDING_KEY, None)  # the deliveries rolled back with the action


def start_delivery(delivery_id: int) -> None:
    """Queue the job that sends one delivery (with retries); a queue that is down leaves the row QUEUED."""
    intervals = list(NotificationSettings.current().sms_retry_intervals)
    try:
        enqueue(send_delivery, delivery_id, job_id=f"sms-delivery-{delivery_id}", queue=NOTIFICATIONS_QUEUE,
                timeout_s=60, retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                retry_in_thread=True)
    except Exception:
        # The action is committed; `flask notifications resend` queues the row again.
        log.exception("sms delivery %s could not be queued", delivery_id)


def send_delivery(delivery_id: int) -> None:
    """The job: send one delivery unless it was sent; record each attempt; raise on failure so that it is retried."""
    delivery = db.session.get(SmsDelivery, delivery_id)
    if delivery is None or delivery.status == DeliveryStatus.SENT:
        return
    delivery.attempts += 1
    delivery.attempted_at = utcnow()
    try:
        sms_sender().send(delivery.phone, delivery.text, purpose=f"notification:{delivery.notification.kind}",
                          user_id=delivery.user_id)
    except SmsNotSent as error:
        retries = len(NotificationSettings.current().sms_retry_intervals)
        delivery.last_error = str(error)[:300]
        delivery.status = DeliveryStatus.FAILED if delivery.attempts > retries else DeliveryStatus.QUEUED
        db.session.commit()
        raise
    delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, utcnow(), None
    db.session.commit()


def resend_failed(limit: int = 10_000) -> int:
    """Queue every failed delivery again (after a provider's long outage); return how many."""
    ids = list(db.session.scalars(sa.select(SmsDelivery.id).where(SmsDelivery.status == DeliveryStatus.FAILED)
                                  .order_by(SmsDelivery.id).limit(limit)))
    if ids:
        db.session.execute(sa.update(SmsDelivery).where(SmsDelivery.id.in_(ids))
                           .values(status=DeliveryStatus.QUEUED, attempts=0))
        send_after_commit(ids)
        db.session.commit()
    return len(ids)


def deliveries_query(actor: User, status: str | None = None) -> sa.Select:
    """Select the deliveries to people of the actor's subtree, newest first, optionally of one status."""
    query = (sa.select(SmsDelivery).join(User, User.id == SmsDelivery.user_id).join(Org, Org.id == User.org_id)
             .where(within_scope(Org.path, actor, Permission.VIEW_SMS_DELIVERIES))
             .order_by(SmsDelivery.created_at.desc(), SmsDelivery.id.desc()))
    if status:
        try:
            query = query.where(SmsDelivery.status == DeliveryStatus(status))
        except ValueError:
            raise InvalidInput({"status": "发送状态无效。"}) from None
    return query


# ------------------------------------------------------------------------------------------------ settings


def sms_wanted(user_id: int, kind: str) -> bool:
    """Whether the person wants an SMS for the kind: their own choice, else the kind's default."""
    chosen = db.session.scalar(sa.select(NotificationSetting.sms).where(NotificationSetting.user_id == user_id,
                                                                        NotificationSetting.kind == kind))
    return KINDS[kind].sms_default if chosen is None else chosen


def sms_choices(user_id: int) -> dict[str, bool]:
    """Every kind with whether an SMS goes out for it to the person."""
    chosen = dict(db.session.execute(sa.select(NotificationSetting.kind, NotificationSetting.sms)
                                     .where(NotificationSetting.user_id == user_id)).all())
    return {kind: chosen.get(kind, info.sms_default) for kind, info in KINDS.items()}


def save_sms_choices(user: User, wanted: Any) -> dict[str, bool]:
    """Keep the person's SMS choice for every kind (the kinds listed in ``wanted`` on, the rest off)."""
    if not isinstance(wanted, list | tuple | set) or any(not isinstance(k, str) for k in wanted):
        raise InvalidInput({"sms": "短信设置无效，请重新选择。"})
    unknown = sorted(set(wanted) - set(KINDS))
    if unknown:
        raise InvalidInput({"sms": f"没有这种消息：{'、'.join(unknown)}。"})
    before = sms_choices(user.id)
    after = {kind: kind in wanted for kind in KINDS}
    rows = {row.kind: row for row in db.session.scalars(
        sa.select(NotificationSetting).where(NotificationSetting.user_id == user.id).with_for_update())}
    for kind, on in after.items():
        row = rows.get(kind)
        if row is None:
            db.session.add(NotificationSetting(user_id=user.id, kind=kind, sms=on, updated_at=utcnow()))
        elif row.sms != on:
            row.sms, row.updated_at = on, utcnow()
    db.session.flush()
    if before != after:
        record(user, "notification.settings", object_type="user", object_id=user.id, label=user.name,
               org=user.org, before={k: v for k, v in before.items() if v != after[k]},
               after={k: v for k, v in after.items() if v != before[k]})
    return after


# ------------------------------------------------------------------------------------------------ reading


def _mine(user: User):
    return Notification.user_id == user.id


def unread_count(user: User) -> int:
    """Count the person's unread notifications."""
    return db.session.scalar(sa.select(sa.func.count(Notification.id))
                             .where(_mine(user), Notification.read_at.is_(None))) or 0


def header_counts(user: User) -> tuple[int, int]:
    """Return (unread notices, unread notifications) for the page header, one query per request."""
    cached = g.get("lms_header_counts")
    if cached is not None and cached[0] == user.id:
        return cached[1]
    from lms.notices.models import Notice, NoticeRead
    from lms.notices.service import visible_condition

    read = sa.exists().where(NoticeRead.notice_id == Notice.id, NoticeRead.user_id == user.id)
    notices = sa.select(sa.func.count(Notice.id)).where(visible_condition(user), ~read).scalar_subquery()
    notifications = (sa.select(sa.func.count(Notification.id))
                     .where(_mine(user), Notification.read_at.is_(None)).scalar_subquery())
    row = db.session.execute(sa.select(notices, notifications)).one()
    counts = (int(row[0] or 0), int(row[1] or 0))
    g.lms_header_counts = (user.id, counts)
    return counts


def forget_header_counts() -> None:
    """Drop the request's cached counts (after marking something read in the same request)."""
    g.pop("lms_header_counts", None)


def notifications_page(user: User, page: int = 1, unread_only: bool = False):
    """The person's notifications, newest first, one page of them."""
    query = sa.select(Notification).where(_mine(user))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    return db.paginate(query, page=max(1, page), per_page=NotificationSettings.current().page_size,
                       error_out=False)


def notification_for(user: User, notification_id: Any) -> Notification:
    """Return one of the person's own notifications; anyone else's is 'not found'."""
    try:
        wanted = int(notification_id)
    except (TypeError, ValueError):
        wanted = None
    notification = db.session.get(Notification, wanted) if wanted else None
    if notification is None or notification.user_id != user.id:
        raise NotFound("消息不存在。")
    return notification


def mark_read(user: User, notification_id: Any) -> Notification:
    """Mark one of the person's notifications read (the first time only)."""
    notification = notification_for(user, notification_id)
    db.session.execute(sa.update(Notification).where(Notification.id == notification.id,
                                                     Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.refresh(notification)
    forget_header_counts()
    return notification


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the person read; return how many."""
    changed = db.session.execute(sa.update(Notification).where(_mine(user), Notification.read_at.is_(None))
                                 .values(read_at=utcnow())).rowcount
    forget_header_counts()
    return changed


def path_for(endpoint: str, **values) -> str:
    """Build a link inside the platform without a request (jobs and the CLI notify too)."""
    return current_app.url_map.bind("").build(endpoint, values)
