"""The filters every admin list shares (name, ID-number suffix, date range, page), parsed once.

People lists, registration queues and declaration queues each add their own filters on top.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping

import sqlalchemy as sa

from lms.core.clock import CHINA_TIME
from lms.core.errors import InvalidInput
from lms.core.validation import clean_text

_SUFFIX = re.compile(r"[0-9X]{4,6}")
PER_PAGE_MAX = 200


@dataclasses.dataclass(frozen=True)
class ListFilters:
    name: str = ""
    id_suffix: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    page: int = 1
    per_page: int = 50

    @classmethod
    def parse(cls, args: Mapping) -> ListFilters:
        """Read the shared filters from query arguments; a malformed one is a 422 with a Chinese message."""
        suffix = clean_text(args.get("id_suffix")).upper()
        if suffix and not _SUFFIX.fullmatch(suffix):
            raise InvalidInput({"id_suffix": "身份证号后几位应为 4–6 位数字（末位可为 X）。"})
        page, per_page = _positive(args.get("page"), 1, "page"), _positive(args.get("per_page"), 50, "per_page")
        if per_page > PER_PAGE_MAX:
            raise InvalidInput({"per_page": f"每页最多 {PER_PAGE_MAX} 条。"})
        return cls(name=clean_text(args.get("name"))[:50], id_suffix=suffix, since=_date(args.get("since"), "since"),
                   until=_date(args.get("until"), "until"), page=page, per_page=per_page)

    def apply(self, query, *, name=None, id_number=None, moment=None):
        """Narrow a query by the filters on the given columns (a filter without its column is ignored)."""
        if self.name and name is not None:
            query = query.where(name.contains(self.name, autoescape=True))
        if self.id_suffix and id_number is not None:
            query = query.where(id_number.endswith(self.id_suffix))
        if moment is not None and self.since:
            query = query.where(moment >= utc_start_of(self.since))
        if moment is not None and self.until:
            query = query.where(moment < utc_start_of(self.until + dt.timedelta(days=1)))
        return query

    def paginate(self, db, query):
        """One page of the query, as Flask-SQLAlchemy's pagination."""
        return db.paginate(query, page=self.page, per_page=self.per_page, error_out=False)


def utc_start_of(day: dt.date) -> dt.datetime:
    """The naive-UTC moment a China date begins (rows store naive UTC; people type China dates)."""
    return dt.datetime.combine(day, dt.time(), CHINA_TIME).astimezone(dt.UTC).replace(tzinfo=None)


def _date(raw, field: str) -> dt.date | None:
    text = clean_text(raw)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput({field: "日期格式应为 YYYY-MM-DD。"}) from None


def _positive(raw, default: int, field: str) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput({field: "应为正整数。"}) from None
    if value < 1:
        raise InvalidInput({field: "应为正整数。"})
    return value


def total_of(db, query) -> int:
    """Count a query's rows without loading them."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


def page_filters(args: Mapping) -> tuple[dict, ListFilters]:
    """A page's filters: a malformed one is flashed in Chinese and the list shown unfiltered (a page never 422s)."""
    from flask import flash

    from lms.core.errors import ServiceError

    args = dict(args)
    try:
        return args, ListFilters.parse(args)
    except ServiceError as error:
        flash(error.message, "error")
        return {}, ListFilters()
