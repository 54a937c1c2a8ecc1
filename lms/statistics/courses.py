"""Each course's figures for the base that runs it (and the admins above): enrolments, completions, quiz pass
rate and verified watch time. A base has hundreds of courses at most; each figure is one grouped query."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import sqlalchemy as sa

from lms.core.replica import read_session
from lms.courses.models import Course, Courseware, Enrollment
from lms.exams.models import Attempt
from lms.ledger.models import CourseCredit, CreditState
from lms.orgs.models import Org
from lms.tracking.models import CoursewareProgress


@dataclasses.dataclass(frozen=True)
class CourseFigures:
    course: Course
    base_name: str
    enrolled: int
    completed: int  # hours posted to the ledger
    held: int  # quiz passed, a session still under review
    attempts: int  # graded quiz attempts
    passed: int
    watch_hours: Decimal  # verified watch time, in real hours

    @property
    def pass_percent(self) -> float:
        return round(100 * self.passed / self.attempts, 1) if self.attempts else 0.0

    @property
    def completion_percent(self) -> float:
        return round(100 * self.completed / self.enrolled, 1) if self.enrolled else 0.0


def course_figures(root: Org, year: int) -> list[CourseFigures]:
    """The courses of a year run by bases in ``root``'s subtree, each with its figures."""
    reader = read_session()
    courses = reader.execute(
        sa.select(Course, Org.name).join(Org, Course.base_id == Org.id)
        .where(Org.path.like(root.path + "%"), Course.year == year).order_by(Org.name, Course.title)).all()
    ids = [course.id for course, _ in courses]
    if not ids:
        return []
    enrolled = dict(reader.execute(sa.select(Enrollment.course_id, sa.func.count())
                                       .where(Enrollment.course_id.in_(ids)).group_by(Enrollment.course_id)).all())
    credits: dict[tuple[int, str], int] = {
        (course_id, CreditState(state).value): count for course_id, state, count in reader.execute(
            sa.select(CourseCredit.course_id, CourseCredit.state, sa.func.count())
            .where(CourseCredit.course_id.in_(ids)).group_by(CourseCredit.course_id, CourseCredit.state))}
    attempts = {course_id: (graded, passed or 0) for course_id, graded, passed in reader.execute(
        sa.select(Attempt.course_id, sa.func.count(),
                  sa.func.sum(sa.case((Attempt.passed.is_(True), 1), else_=0)))
        .where(Attempt.course_id.in_(ids), Attempt.graded_at.is_not(None)).group_by(Attempt.course_id))}
    watched = dict(reader.execute(
        sa.select(Courseware.course_id, sa.func.sum(CoursewareProgress.verified_watch_seconds))
        .join(Courseware, Courseware.id == CoursewareProgress.courseware_id)
        .where(Courseware.course_id.in_(ids)).group_by(Courseware.course_id)).all())
    return [CourseFigures(course, base_name, enrolled.get(course.id, 0),
                          credits.get((course.id, CreditState.POSTED.value), 0),
                          credits.get((course.id, CreditState.HELD.value), 0),
                          *attempts.get(course.id, (0, 0)),
                          (Decimal(watched.get(course.id) or 0) / 3600).quantize(Decimal("0.1")))
            for course, base_name in courses]
