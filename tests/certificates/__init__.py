"""Helpers for certificate tests: a learner's year filled from the ledger, posted as approved declarations would be."""

from __future__ import annotations

import itertools
from decimal import Decimal

from lms.courses.models import Category
from lms.extensions import db
from lms.ledger import service
from lms.ledger.models import SourceType

_source_ids = itertools.count(1000)


def post_hours(user, category: Category, hours, description: str = "线下培训（学时申报）") -> None:
    """Post one declaration's hours in the current year to the learner's ledger and commit."""
    today = service.china_today()
    service.post(user, year=today.year, source_type=SourceType.DECLARATION, source_id=next(_source_ids),
                 postings=[service.Posting(category, Decimal(str(hours)))], earned_on=today,
                 description=description)
    db.session.commit()


def meet_requirement(user, public=30, professional=60) -> int:
    """Post enough hours for the current year's requirement (by default exactly 30 + 60) and return the year."""
    post_hours(user, Category.PUBLIC, public, "公需科目线下培训")
    post_hours(user, Category.PROFESSIONAL, professional, "学术会议")
    return service.china_today().year
