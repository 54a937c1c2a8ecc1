"""The demo's notifications: its decided declarations already left theirs; the year's deadline reminder adds one
telling each demo learner still short what is missing (the demo can be seeded on any day, so the round is 'today')."""

from __future__ import annotations

import sqlalchemy as sa

from lms.core.clock import china_date
from lms.core.db import utcnow
from lms.extensions import db
from lms.notices.notification_models import Notification
from lms.notices.reminders import deadline_of, remind_deadline


def seed_demo_notifications() -> str | None:
    """Send the demo learners the deadline reminder once (nothing when a reminder was ever sent, or past the day)."""
    if db.session.scalar(sa.select(Notification.id).where(Notification.kind == "deadline").limit(1)):
        return None
    today = china_date(utcnow())
    days_left = (deadline_of(today.year) - today).days
    if days_left < 0:
        return None
    result = remind_deadline(today, year=today.year, days_before=days_left)
    return f"{today.year} 年度学时截止提醒已发给 {result.notified} 位尚未达标的人员"
