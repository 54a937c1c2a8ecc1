"""Helpers for tests that need a learner who has finished a course."""

from __future__ import annotations

from lms.core.db import utcnow
from lms.extensions import db
from lms.tracking.models import CoursewareProgress


def mark_watched(user, course) -> None:
    """Record every courseware of the course as complete for the learner, as a flush would after watching."""
    for courseware in course.coursewares:
        db.session.add(CoursewareProgress(user_id=user.id, courseware_id=courseware.id, completed_at=utcnow(),
                                          verified_watch_seconds=float(courseware.labelled_hours) * 2700))
    db.session.commit()
