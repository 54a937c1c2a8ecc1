"""Demo data of trainings declared with a roster: the demo base has declared a training its competent department
can approve (then the city bureau's 审验), after which each attendee sees the hours on their yearly page."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from lms.accounts.models import Role, User
from lms.extensions import db
from lms.ledger.service import china_today
from lms.plans import trainings
from lms.plans.training_models import Training

DEMO_TRAINING_TITLE = "全市护理新技术线下培训班"


def _roster(people: list[User]) -> bytes:
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = trainings.SHEET
    sheet.append([column.header for column in trainings.COLUMNS])
    for person in people:
        sheet.append([person.name, person.id_number, ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def seed_demo_training(base_admin: User, keep_out: set[str] = frozenset()) -> str | None:
    """Declare, as the demo base, a two-day training with a roster of the unit's learners (not those in
    ``keep_out``, whose demo year must stay as it is); it waits for the department. Safe to run again."""
    if db.session.scalar(sa.select(Training.id).where(Training.title == DEMO_TRAINING_TITLE)):
        return None
    unit = db.session.scalar(sa.select(User.org_id).where(User.login == "unit_admin"))
    people = [person for person in db.session.scalars(
        sa.select(User).where(User.org_id == unit, User.role == Role.LEARNER, User.id_number.is_not(None))
        .order_by(User.id)) if person.login not in keep_out and person.is_approved][:5]
    if not people:
        return None
    today = china_today()
    end = max(dt.date(today.year, 1, 2), today - dt.timedelta(days=7))
    end = min(end, today)
    start = end - dt.timedelta(days=1) if end.day > 1 or end.month > 1 else end
    training = trainings.declare(base_admin, title=DEMO_TRAINING_TITLE, kind_id="org_training",
                                 start_date=start, end_date=end, hours_per_day="6", category="professional",
                                 roster=_roster(people), roster_name="参训人员名单.xlsx",
                                 # The base runs the course for the 市卫健委 it answers to, the health sector's
                                 # 行业主管部门: 第十一条（一） counts it as an industry department's training.
                                 facts={"organiser": "industry"})
    db.session.commit()
    step = training.current_step
    return (f"{training.title}（{len(people)} 人，等待{step.org.name}{step.label}）" if step
            else training.title)
