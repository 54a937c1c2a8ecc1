"""The demo data: quizzes and filed declarations that leave the demo learner one 公需 course from a certificate.

The demo's videos go through the real pipeline (about a minute), so here its courses are plain ones with the
demo titles; ``flask --app lms demo-data`` itself is what the README's first command runs.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from lms.accounts.models import User
from lms.courses.models import Category, Course, CourseState
from lms.demo import DEMO_COURSES, seed_demo_data, seed_demo_declarations, seed_demo_quizzes
from lms.exams import service as exams
from lms.extensions import db
from lms.ledger import service as ledger
from tests.player import make_course


def test_the_demo_learner_needs_only_the_public_course_to_complete_the_year(app):
    logins = seed_demo_data()
    db.session.commit()
    users = {login: db.session.scalar(sa.select(User).where(User.login == login))
             for login in ("base_admin", "unit_admin", "dept_admin", logins[-1].login)}
    for category, title, _description, lectures in DEMO_COURSES:
        make_course(users["base_admin"].org, title=title, category=Category(category), state=CourseState.PUBLISHED,
                    hours=[hours for _title, _minutes, hours in lectures])

    assert len(seed_demo_quizzes(users["base_admin"])) == 2
    assert seed_demo_quizzes(users["base_admin"]) == []
    learner = users[logins[-1].login]
    assert len(seed_demo_declarations(learner, users["unit_admin"], users["dept_admin"])) == 2
    assert seed_demo_declarations(learner, users["unit_admin"], users["dept_admin"]) == []

    for _category, title, _description, _lectures in DEMO_COURSES:
        course_id = db.session.scalar(sa.select(Course.id).where(Course.title == title))
        quiz = exams.quiz_of(course_id)
        assert quiz.is_open and exams.bank_size(course_id) >= quiz.draw_count
    summary = ledger.year_summary(learner, ledger.china_today().year)
    hours = {c.category: c.hours for c in summary.categories}
    public_course_hours = sum(Decimal(h) for _t, _m, h in DEMO_COURSES[0][3])
    assert hours == {"public": Decimal("29.8"), "professional": Decimal(60)} and not summary.met
    assert hours["public"] + public_course_hours >= 30
