"""The demo's Hunan unit: a learner under Hunan's table whose 2024 paper was declared inside the 核认 window."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from lms.accounts.models import User
from lms.courses.models import Category
from lms.declarations.demo import HUNAN_LEARNER_LOGIN, PAPER_TITLE, WINDOW_DAY
from lms.declarations.models import Declaration, DeclarationStatus
from lms.declarations.windows import window_problem
from lms.demo import seed_demo_data, seed_demo_hunan
from lms.extensions import db
from lms.ledger import service as ledger


def test_the_demo_hunan_learner_has_a_2024_paper_filed_through_the_window(app):
    seed_demo_data()
    db.session.commit()
    lines = seed_demo_hunan()
    assert seed_demo_hunan()[-1] == lines[-1]  # safe to run again
    learner = db.session.scalar(sa.select(User).where(User.login == HUNAN_LEARNER_LOGIN))
    [declaration] = db.session.scalars(sa.select(Declaration).where(Declaration.user_id == learner.id)).all()
    assert (declaration.title, declaration.year, declaration.rule_set_id) == (PAPER_TITLE, 2024, "hunan-2026")
    assert declaration.status == DeclarationStatus.FILED
    assert ledger.balances(learner.id, 2024)[Category.PROFESSIONAL] == 30
    # Another 2024 declaration outside the window is refused with its dates (the demo may be seeded on any day).
    rule_set = ledger.rule_set_of(learner, 2024)
    assert "2026-05-25 至 2026-07-25" in window_problem(rule_set, 2024, dt.date(2026, 12, 8))
    assert window_problem(rule_set, 2024, WINDOW_DAY) is None
