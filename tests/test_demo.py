"""The demo data: quizzes and filed declarations that leave the demo learner one 公需 course from a certificate.

The demo's videos go through the real pipeline (about a minute), so here its courses are plain ones with the
demo titles; ``flask --app lms demo-data`` itself is what the README's first command runs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from lms.accounts.models import User
from lms.core.db import utcnow
from lms.courses.models import Category, Course, CourseState
from lms.demo import (
    DEMO_COURSES,
    HELD_LEARNER_LOGIN,
    HELD_PLAYBACK,
    seed_demo_data,
    seed_demo_declarations,
    seed_demo_held_session,
    seed_demo_quizzes,
)
from lms.exams import service as exams
from lms.extensions import db
from lms.ledger import service as ledger
from lms.review import service as review
from lms.tracking.models import HoldState, PlaybackSession, PlaybackState
from tests.player import make_course, make_published_course


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


def test_the_demo_held_session_is_played_through_the_real_rules_and_waits_for_review(app):
    seed_demo_data()
    db.session.commit()
    base_admin, reviewer = (db.session.scalar(sa.select(User).where(User.login == login))
                            for login in ("base_admin", "reviewer"))
    learner = db.session.scalar(sa.select(User).where(User.login == HELD_LEARNER_LOGIN))
    _category, title, _description, lectures = DEMO_COURSES[1]
    make_published_course(base_admin.org, title=title, category=Category.PROFESSIONAL,
                          hours=[hours for _t, _m, hours in lectures], write_files=False)

    made = seed_demo_held_session(learner)
    assert made and "待审核" in made
    assert seed_demo_held_session(learner) is None  # once
    [session] = db.session.scalars(sa.select(PlaybackSession).where(PlaybackSession.user_id == learner.id)).all()
    assert session.hold_state == HoldState.HELD and session.state == PlaybackState.CLOSED
    honest_s = sum(seconds for seconds, rate, _back in HELD_PLAYBACK if rate == 1)
    earned = session.credited_seconds + session.pending_seconds
    # The double-speed stretch earned nothing; each honest stretch all but about an interval.
    assert honest_s - 15 <= earned <= honest_s
    events = [e.type for e in session.events]
    assert events.count("rate") >= 3 and {"held", "rate_setting", "seek"} <= set(events)
    assert any(point[3] == "rate" for point in session.trace)
    # The reviewer finds it at the head of the queue; the clock was simulated, the session is an hour old.
    assert [s.id for s in review.queue_page(reviewer, review.QueueFilters()).items] == [session.id]
    assert dt.timedelta(minutes=50) < utcnow() - session.started_at < dt.timedelta(minutes=70)


def test_the_demo_city_sees_its_units_at_every_stage_and_the_units_have_certificates_to_print(app):
    from lms.certificates.batches import subtree_query
    from lms.demo import seed_demo_staff_progress
    from lms.statistics import service as statistics

    seed_demo_data()
    db.session.commit()
    dept_admin, city_admin = (db.session.scalar(sa.select(User).where(User.login == login))
                              for login in ("dept_admin", "city_admin"))
    summary = seed_demo_staff_progress(dept_admin)
    assert summary == ["荆州市中心医院：5 人，1 人已达标", "荆州市第一人民医院：6 人，4 人已达标",
                       "荆州市妇幼保健院：5 人，0 人已达标"]
    assert seed_demo_staff_progress(dept_admin) == summary  # safe to run again
    year = ledger.china_today().year
    city = statistics.report(city_admin.org, year)
    (department,) = [row for row in city.children if row.name == dept_admin.org.name]
    assert department.standings["met"] == 5 and department.standings["close"] >= 2
    units = {row.name: row for row in statistics.report(dept_admin.org, year).children}
    assert units["荆州市妇幼保健院"].met_percent == 0 and units["荆州市第一人民医院"].met_percent > 60
    _root, certificates = subtree_query(city_admin, year)
    assert len(db.session.scalars(certificates).all()) == 5


def test_the_demo_has_a_second_unit_admin_who_confirms_a_transfer_from_the_first(app):
    from lms.demo import TRANSFER_UNIT, seed_demo_staff_progress
    from lms.transfers import service as transfers

    logins = seed_demo_data()
    db.session.commit()
    seed_demo_staff_progress(db.session.scalar(sa.select(User).where(User.login == "dept_admin")))
    unit_admin, unit2_admin, learner = (db.session.scalar(sa.select(User).where(User.login == login))
                                        for login in ("unit_admin", "unit2_admin", logins[-1].login))
    assert unit2_admin.org.name == TRANSFER_UNIT
    (target,) = transfers.target_units(unit_admin, "第一人民医院")
    transfer = transfers.start_transfer(unit_admin, learner.id, to_org_id=target.id, note="演示调转")
    transfers.confirm_transfer(unit2_admin, transfer.id)
    db.session.commit()
    assert learner.org_id == unit2_admin.org_id


def test_the_demo_has_a_transfer_asked_for_by_the_second_unit_for_the_first_to_answer(app):
    from lms.demo import seed_demo_staff_progress, seed_demo_transfer_request
    from lms.transfers import service as transfers

    seed_demo_data()
    db.session.commit()
    seed_demo_staff_progress(db.session.scalar(sa.select(User).where(User.login == "dept_admin")))
    line = seed_demo_transfer_request()
    assert line and "赵敏" in line
    assert seed_demo_transfer_request() is None  # safe to run again
    unit_admin = db.session.scalar(sa.select(User).where(User.login == "unit_admin"))
    (waiting,) = transfers.awaiting(unit_admin)
    assert waiting.person_name == "赵敏" and waiting.answer_due_at is not None
    transfers.confirm_transfer(unit_admin, waiting.id)
    db.session.commit()
    assert waiting.user.org.name == "荆州市第一人民医院"


def test_the_district_reviewer_sees_only_the_districts_held_session(app):
    from lms.demo import COUNTY_LEARNER_LOGIN, HELD_LEARNER_LOGIN, seed_demo_addresses
    seed_demo_data()
    db.session.commit()
    base_admin = db.session.scalar(sa.select(User).where(User.login == "base_admin"))
    _category, title, _description, lectures = DEMO_COURSES[1]
    make_published_course(base_admin.org, title=title, category=Category.PROFESSIONAL,
                          hours=[hours for _t, _m, hours in lectures], write_files=False)
    for login in (HELD_LEARNER_LOGIN, COUNTY_LEARNER_LOGIN):
        seed_demo_held_session(db.session.scalar(sa.select(User).where(User.login == login)))
    assert seed_demo_addresses() and not seed_demo_addresses()
    reviewer = db.session.scalar(sa.select(User).where(User.login == "county_reviewer"))
    queue = review.queue_query(reviewer, review.QueueFilters())
    held = db.session.scalars(queue).all()
    assert [s.user.login for s in held] == [COUNTY_LEARNER_LOGIN]
    assert held[0].hold_state == HoldState.HELD
    review.decide_sessions(reviewer, [held[0].id], "release", "核实为本人学习")
    db.session.commit()


def test_the_demo_held_quiz_attempt_is_taken_through_the_real_rules_and_waits_in_the_quiz_review_queue(app):
    from lms.demo import seed_demo_held_attempt
    from lms.exams.models import Attempt
    from lms.ledger.models import CourseCredit, CreditState
    from lms.review import attempts as attempt_review

    seed_demo_data()
    db.session.commit()
    base_admin, reviewer = (db.session.scalar(sa.select(User).where(User.login == login))
                            for login in ("base_admin", "reviewer"))
    learner = db.session.scalar(sa.select(User).where(User.login == HELD_LEARNER_LOGIN))
    _category, title, _description, lectures = DEMO_COURSES[0]
    make_published_course(base_admin.org, title=title, category=Category.PUBLIC,
                          hours=[hours for _t, _m, hours in lectures], write_files=False)
    seed_demo_quizzes(base_admin)

    made = seed_demo_held_attempt(learner)
    assert made and "待审核" in made
    assert seed_demo_held_attempt(learner) is None  # once
    [attempt] = db.session.scalars(sa.select(Attempt).where(Attempt.user_id == learner.id)).all()
    assert attempt.passed and attempt.hold_state == HoldState.HELD
    credit = db.session.scalar(sa.select(CourseCredit).where(CourseCredit.user_id == learner.id))
    assert credit.state == CreditState.HELD
    assert [a.id for a in attempt_review.held_attempts(reviewer)] == [attempt.id]
    assert all(row.fast for row in attempt_review.evidence(reviewer, attempt.id).timeline)


def test_the_demo_learner_has_a_title_change_the_unit_admin_approves(app):
    from lms.accounts import changes
    from lms.demo import seed_demo_person_change

    logins = seed_demo_data()
    db.session.commit()
    learner = db.session.scalar(sa.select(User).where(User.login == logins[-1].login))
    unit_admin = db.session.scalar(sa.select(User).where(User.login == "unit_admin"))
    assert "副高级" in seed_demo_person_change(learner)
    assert seed_demo_person_change(learner) is None  # idempotent
    db.session.commit()
    [change] = db.session.scalars(changes.review_queue(unit_admin)).all()
    changes.approve_change(unit_admin, change.id)
    db.session.commit()
    assert (learner.title_level, learner.professional_post) == ("副高级", "副主任医师")


def test_the_demo_has_internal_departments_and_a_move_waiting_for_both_departments(app):
    from lms.demo import MOVE_TARGET, seed_demo_staff_progress, seed_demo_structure
    from lms.orgs import moves
    from lms.orgs.departments import department_tree
    from lms.orgs.models import MoveStatus

    seed_demo_data()
    db.session.commit()
    dept_admin, dept2_admin, unit_admin, school_admin = (
        db.session.scalar(sa.select(User).where(User.login == login))
        for login in ("dept_admin", "dept2_admin", "unit_admin", "unit3_admin"))
    seed_demo_staff_progress(dept_admin)
    summary = seed_demo_structure()
    assert seed_demo_structure() == summary  # safe to run again
    nodes = {node.department.name: node for node in department_tree(unit_admin.org)}
    assert set(nodes) == {"内科", "心内科", "消化内科", "外科", "护理部"}
    assert nodes["心内科"].depth == 1 and nodes["心内科"].members == 2 and nodes["外科"].members == 2
    (move,) = moves.awaiting(dept_admin)
    assert moves.awaiting(dept2_admin) == [move] and move.org_id == school_admin.org_id
    assert move.to_parent.name == MOVE_TARGET and move.status == MoveStatus.PENDING
    moves.approve_move(dept2_admin, move.id)
    moves.approve_move(dept_admin, move.id)
    db.session.commit()
    assert db.session.get(User, school_admin.id).org.parent.name == MOVE_TARGET


def test_the_demo_learner_finds_notifications_of_the_filed_declarations_and_the_deadline(app):
    from lms.notices import notifications
    from lms.notices.demo import seed_demo_notifications
    from lms.notices.notification_models import Notification

    logins = seed_demo_data()
    db.session.commit()
    learner, unit_admin, dept_admin = (db.session.scalar(sa.select(User).where(User.login == login))
                                       for login in (logins[-1].login, "unit_admin", "dept_admin"))
    seed_demo_declarations(learner, unit_admin, dept_admin)
    assert seed_demo_notifications() is not None
    assert seed_demo_notifications() is None  # idempotent
    titles = db.session.scalars(sa.select(Notification.title).where(Notification.user_id == learner.id)).all()
    assert titles.count("学时申报已入账") == 2 and titles.count("学时截止提醒") == 1
    [reminder] = db.session.scalars(sa.select(Notification.text).where(Notification.user_id == learner.id,
                                                                      Notification.kind == "deadline")).all()
    assert "公需科目 0.2 学时" in reminder and "专业科目" not in reminder
    assert notifications.unread_count(learner) == 3
    runner = app.extensions.get("lms.jobs")
    if runner is not None:
        runner.shutdown(wait=True)
