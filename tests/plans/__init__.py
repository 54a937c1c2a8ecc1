"""Helpers for the yearly-work tests: roster workbooks and declaring a training through the service."""

from __future__ import annotations

import io

from openpyxl import Workbook

from lms.plans import trainings

HEADER = ("姓名", "身份证号码", "出勤天数")


def roster_bytes(rows, header=HEADER) -> bytes:
    """A roster workbook as a declarer fills in the template: one row per attendee."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = trainings.SHEET
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def person_row(user, days=""):
    return (user.name, user.id_number, days)


# The training's own facts each roster kind asks (declared once on the training form).
TRAINING_FACTS = {"org_training": {"organiser": "hr"}, "training_or_meeting": {"activity": "training"}}


def declare_training(actor, people, *, title="全省公需科目集中培训班", kind="org_training", start="2026-04-01",
                     end="2026-04-02", hours_per_day="8", category="public", rows=None, facts=None):
    """Declare a training with a roster of ``people`` (all days attended) through the service; the caller commits."""
    data = roster_bytes(rows if rows is not None else [person_row(p) for p in people])
    return trainings.declare(actor, title=title, kind_id=kind, start_date=start, end_date=end,
                             hours_per_day=hours_per_day, category=category, roster=data, roster_name="名单.xlsx",
                             facts=TRAINING_FACTS.get(kind, {}) if facts is None else facts)
