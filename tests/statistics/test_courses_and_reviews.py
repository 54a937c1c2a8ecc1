"""The bases' per-course figures and the reviewers' weekly figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from lms.accounts.models import Role
from lms.core.db import utcnow
from lms.courses.models import CourseState
from lms.exams.models import Attempt, Quiz
from lms.extensions import db
from lms.ledger.models import CourseCredit, CreditState
from lms.review import service as review
from lms.review.models import ReviewOutcome, SessionReviewDecision
from lms.statistics.courses import course_figures
from lms.tracking.models import CoursewareProgress, HoldState, PlaybackSession
from tests.conftest import login, make_user
from tests.player import enroll, make_course


@pytest.fixture
def course_year(tree):
    course = make_course(tree.base_a, title="数据安全", state=CourseState.PUBLISHED, hours=(1.0,))
    people = [tree.learner_a, tree.learner_b, make_user(tree.unit_a, Role.LEARNER)]
    for person in people:
        enroll(person, course)
    quiz = Quiz(course_id=course.id, draw_count=1, pass_percent=60, time_limit_minutes=10, max_attempts=3)
    db.session.add(quiz)
    db.session.flush()
    for number, (person, passed) in enumerate(((people[0], True), (people[1], False), (people[1], True)), 1):
        db.session.add(Attempt(quiz_id=quiz.id, course_id=course.id, user_id=person.id, number=number,
                               questions=[], pass_percent=60, deadline_at=utcnow(), graded_at=utcnow(),
                               passed=passed, correct_count=1, score_percent=100 if passed else 0))
    for person, state in ((people[0], CreditState.POSTED), (people[1], CreditState.HELD)):
        db.session.add(CourseCredit(user_id=person.id, course_id=course.id, year=course.year, category=course.category,
                                    hours=Decimal("1.0"), earned_on=dt.date.today(), state=state))
    for person, seconds in ((people[0], 2700.0), (people[1], 900.0)):
        db.session.add(CoursewareProgress(user_id=person.id, courseware_id=course.coursewares[0].id,
                                          verified_watch_seconds=seconds))
    db.session.commit()
    return tree, course


def test_a_base_sees_each_course_with_enrolments_completions_pass_rate_and_watch_time(client, course_year):
    tree, course = course_year
    (row,) = course_figures(tree.base_a, course.year)
    assert (row.enrolled, row.completed, row.held, row.attempts, row.passed) == (3, 1, 1, 3, 2)
    assert row.pass_percent == 66.7 and row.watch_hours == Decimal("1.0")
    assert course_figures(tree.unit_a, course.year) == []  # a unit runs no courses
    login(client, tree.admins["base_a"])
    page = client.get("/statistics/courses").get_data(as_text=True)
    assert "数据安全" in page and "66.7%" in page
    login(client, tree.admins["unit_b"])
    assert client.get(f"/statistics/courses?org_id={tree.base_a.id}").status_code == 403


def test_reviewers_see_holds_releases_and_voids_per_week(client, tree):
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,))
    now = utcnow()
    sessions = []
    for days_ago, person in ((0, tree.learner_a), (8, tree.learner_a), (8, tree.learner_b)):
        moment = now - dt.timedelta(days=days_ago)
        session = PlaybackSession(public_id=f"s{len(sessions)}-{days_ago}", user_id=person.id,
                                  courseware_id=course.coursewares[0].id, started_at=moment, held_at=moment,
                                  hold_state=HoldState.HELD)
        db.session.add(session)
        sessions.append(session)
    db.session.flush()
    db.session.add(SessionReviewDecision(session_id=sessions[1].id, decision=ReviewOutcome.RELEASE, reason="正常",
                                         reviewer_id=tree.reviewer.id, decided_at=now))
    db.session.add(SessionReviewDecision(session_id=sessions[2].id, decision=ReviewOutcome.VOID, reason="代刷",
                                         reviewer_id=tree.reviewer.id, decided_at=now))
    db.session.commit()
    weeks = review.weekly_figures(tree.reviewer, weeks=4)
    assert len(weeks) == 4 and weeks[0].monday.weekday() == 0
    assert sum(w.held for w in weeks) == 3 and (weeks[0].released, weeks[0].voided) == (1, 1)
    # The city's HR admin looks at its own subtree only: unit B is under the county, still inside the city.
    city_weeks = review.weekly_figures(tree.admins["city"], weeks=4)
    assert sum(w.held for w in city_weeks) == 3
    login(client, tree.reviewer)
    page = client.get("/review/weekly").get_data(as_text=True)
    assert "每周审核情况" in page
    login(client, tree.learner_a)
    assert client.get("/review/weekly").status_code == 403
