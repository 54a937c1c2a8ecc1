"""The ledger: exactly-once posting (a database constraint), append-only entries, held credits, voiding."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from lms.accounts.models import Role
from lms.core.db import utcnow
from lms.core.errors import Conflict, InvalidInput
from lms.courses.models import Category
from lms.extensions import db
from lms.ledger import service
from lms.ledger.models import AdjustmentKind, CourseCredit, CreditState, LedgerEntry, Purpose, SourceType
from lms.orgs.models import OrgKind
from lms.tracking.models import HoldState, PlaybackSession
from tests.conftest import make_org, make_user
from tests.ledger import mark_watched
from tests.player import make_published_course


def _entries(user):
    return db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.user_id == user.id)).all()


def test_a_passed_course_posts_its_labelled_hours_once(tree):
    course = make_published_course(tree.base_a, hours=(1.5, 2.0), category=Category.PROFESSIONAL)
    mark_watched(tree.learner_a, course)
    credit = service.credit_course(tree.learner_a, course)
    again = service.credit_course(tree.learner_a, course)
    db.session.commit()
    assert again.id == credit.id and credit.state == CreditState.POSTED
    [entry] = _entries(tree.learner_a)
    assert (entry.category, entry.hours) == (Category.PROFESSIONAL, Decimal("3.5"))
    assert entry.source_type == SourceType.COURSE
    assert entry.year == service.china_today().year and "《" in entry.description


def test_the_database_refuses_a_second_posting_of_one_source(tree):
    kwargs = dict(year=2026, source_type=SourceType.DECLARATION, source_id=7, earned_on=dt.date(2026, 5, 1),
                  description="学术会议", postings=[service.Posting(Category.PROFESSIONAL, Decimal(12))])
    assert len(service.post(tree.learner_a, **kwargs)) == 1
    assert service.post(tree.learner_a, **kwargs) == []  # the savepoint rolled back; the session is usable
    db.session.commit()
    db.session.add(LedgerEntry(user_id=tree.learner_a.id, year=2026, category=Category.PROFESSIONAL,
                               hours=Decimal(12), source_type=SourceType.DECLARATION, source_id=7,
                               purpose=Purpose.CREDIT, earned_on=dt.date(2026, 5, 1), description="x"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert len(_entries(tree.learner_a)) == 1


def test_entries_cannot_be_edited(tree):
    service.post(tree.learner_a, year=2026, source_type=SourceType.DECLARATION, source_id=1,
                 earned_on=dt.date(2026, 3, 1), description="培训", postings=[service.Posting(Category.PUBLIC, 8)])
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as connection:
            connection.execute(sa.update(LedgerEntry).values(hours=80))
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(sa.delete(LedgerEntry))
    assert [e.hours for e in _entries(tree.learner_a)] == [Decimal(8)]


def test_hours_do_not_carry_over_to_another_year(tree):
    with pytest.raises(InvalidInput, match="第十八条"):
        service.post(tree.learner_a, year=2027, source_type=SourceType.DECLARATION, source_id=2,
                     earned_on=dt.date(2026, 12, 31), description="x", postings=[service.Posting(Category.PUBLIC, 1)])
    assert _entries(tree.learner_a) == []


def test_the_year_is_china_time(app):
    assert service.china_today(dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC)) == dt.date(2027, 1, 1)
    assert service.china_today(dt.datetime(2026, 12, 31, 15, 59)) == dt.date(2026, 12, 31)


def test_concurrent_submissions_and_retries_post_one_entry(app, tree):
    course = make_published_course(tree.base_a, hours=(1.0,))
    mark_watched(tree.learner_a, course)
    user_id, course_id = tree.learner_a.id, course.id
    barrier, errors = threading.Barrier(8), []

    def submit():
        from lms.accounts.models import User
        from lms.courses.models import Course

        with app.app_context():
            try:
                barrier.wait()
                for _ in range(3):  # a job retried after each attempt
                    service.credit_course(db.session.get(User, user_id), db.session.get(Course, course_id))
                    db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # SQLite serialises writers; a writer that waited too long reports "locked" and posts nothing, never twice.
    assert all("locked" in str(e) for e in errors), errors
    assert len(_entries(tree.learner_a)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CourseCredit)) == 1


def _held_session(user, courseware):
    session = PlaybackSession(public_id=f"sid-{courseware.id}-{user.id}", user_id=user.id,
                              courseware_id=courseware.id, started_at=utcnow(), hold_state=HoldState.HELD,
                              credited_seconds=100)
    db.session.add(session)
    db.session.commit()
    return session


def test_a_held_session_holds_the_credit_until_released(tree):
    course = make_published_course(tree.base_a, hours=(1.0,))
    mark_watched(tree.learner_a, course)
    session = _held_session(tree.learner_a, course.coursewares[0])
    credit = service.credit_course(tree.learner_a, course)
    db.session.commit()
    assert credit.state == CreditState.HELD and "审核" in credit.state_reason and _entries(tree.learner_a) == []
    session.hold_state = HoldState.RELEASED
    service.settle_course_credits(tree.learner_a.id)
    service.settle_course_credits(tree.learner_a.id)
    db.session.commit()
    assert credit.state == CreditState.POSTED and len(_entries(tree.learner_a)) == 1


def test_a_voided_session_that_breaks_the_watch_requirement_voids_the_credit(tree):
    from lms.tracking.models import CoursewareProgress

    course = make_published_course(tree.base_a, hours=(1.0,))
    mark_watched(tree.learner_a, course)
    session = _held_session(tree.learner_a, course.coursewares[0])
    credit = service.credit_course(tree.learner_a, course)
    db.session.commit()
    session.hold_state = HoldState.VOIDED
    db.session.scalar(sa.select(CoursewareProgress)).completed_at = None  # what recompute_progress would do
    service.settle_course_credits(tree.learner_a.id)
    db.session.commit()
    assert credit.state == CreditState.VOIDED and _entries(tree.learner_a) == []


def test_voiding_a_year_zeroes_it_keeps_the_record_and_blocks_later_credits(tree):
    learner, unit_admin = tree.learner_a, tree.admins["unit_a"]
    year = service.china_today().year
    for source_id, (category, hours) in enumerate([(Category.PUBLIC, 10), (Category.PROFESSIONAL, 24)], 1):
        service.post(learner, year=year, source_type=SourceType.DECLARATION, source_id=source_id,
                     earned_on=service.china_today(), description="申报", postings=[service.Posting(category, hours)])
    adjustment = service.adjust(learner, year=year, kind=AdjustmentKind.VOID_YEAR, reason="会议证明系伪造",
                                decided_by=unit_admin, reference="declaration:2")
    db.session.commit()
    assert service.balances(learner.id, year) == {Category.PUBLIC: 0, Category.PROFESSIONAL: 0}
    assert len(_entries(learner)) == 4 and adjustment.decided_by_id == unit_admin.id
    with pytest.raises(Conflict):
        service.adjust(learner, year=year, kind=AdjustmentKind.VOID_YEAR, reason="再次", decided_by=unit_admin)
    course = make_published_course(tree.base_a, hours=(1.0,))
    mark_watched(learner, course)
    assert service.credit_course(learner, course).state == CreditState.VOIDED
    summary = service.year_summary(learner, year)
    assert summary.voided and not summary.met


def test_a_correction_needs_a_reason_and_nonzero_hours(tree):
    kwargs = dict(year=2026, kind=AdjustmentKind.CORRECTION, decided_by=tree.admins["unit_a"])
    with pytest.raises(InvalidInput):
        service.adjust(tree.learner_a, reason=" ", postings=[service.Posting(Category.PUBLIC, 1)], **kwargs)
    with pytest.raises(InvalidInput):
        service.adjust(tree.learner_a, reason="补录", postings=[service.Posting(Category.PUBLIC, 0)], **kwargs)
    service.adjust(tree.learner_a, reason="补录", postings=[service.Posting(Category.PUBLIC, -1.5)], **kwargs)
    db.session.commit()
    assert service.balances(tree.learner_a.id, 2026)[Category.PUBLIC] == Decimal("-1.5")


def test_the_year_summary_reads_the_requirement_from_the_rule_set(tree):
    year = service.china_today().year
    service.post(tree.learner_a, year=year, source_type=SourceType.DECLARATION, source_id=3,
                 earned_on=service.china_today(), description="x", kind="conference",
                 postings=[service.Posting(Category.PROFESSIONAL, 60)])
    service.post(tree.learner_a, year=year, source_type=SourceType.DECLARATION, source_id=4,
                 earned_on=service.china_today(), description="x", postings=[service.Posting(Category.PUBLIC, 30)])
    db.session.commit()
    summary = service.year_summary(tree.learner_a, year)
    assert [(c.category, c.hours, c.minimum, c.percent) for c in summary.categories] == [
        ("public", 30, 30, 100), ("professional", 60, 60, 100)]
    assert summary.total.hours == 90 and summary.total.minimum == 90 and summary.met
    assert service.credited_by_kind(tree.learner_a.id, year) == {"conference": Decimal(60)}


def test_a_region_is_inherited_down_the_tree(tree):
    assert service.region_of(tree.learner_b) == "hubei"
    tree.county.region = "hunan"
    db.session.commit()
    assert service.region_of(tree.learner_b) == "hunan" and service.region_of(tree.learner_a) == "hubei"
    assert service.rule_set_of(tree.learner_b, 2026).id == "hunan-2026"
    other = make_user(make_org(OrgKind.UNIT, tree.dept_a), Role.LEARNER)
    assert service.region_of(other) == "hubei"
