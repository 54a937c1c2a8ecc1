"""The review queue of a step: what waits for the admin's organisation, narrowed by kind, unit, dates, hours and
applicant, searched, a page at a time (admin manual 5.2 "条件查询、批量通过\\驳回"). Shared by the page and the API.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from lms.accounts.models import User
from lms.core.errors import InvalidInput
from lms.core.queues import ListFilters
from lms.core.validation import clean_text
from lms.declarations.models import Declaration
from lms.declarations.service import review_queue_condition
from lms.extensions import db
from lms.orgs.models import Org

MAX_HOURS = Decimal("9999")


@dataclasses.dataclass(frozen=True)
class QueueFilters:
    """The queue's own filters on top of the shared ones (applicant name, ID-number suffix, submission dates)."""

    kind: str = ""
    unit_id: int | None = None
    hours_min: Decimal | None = None
    hours_max: Decimal | None = None
    q: str = ""

    @classmethod
    def parse(cls, args: Mapping) -> QueueFilters:
        """Read the queue filters from query arguments; a malformed one is a 422 with a Chinese message."""
        unit = clean_text(args.get("unit_id"))
        if unit and not unit.isdigit():
            raise InvalidInput({"unit_id": "单位编号应为整数。"})
        low, high = _hours(args.get("hours_min"), "hours_min"), _hours(args.get("hours_max"), "hours_max")
        if low is not None and high is not None and low > high:
            raise InvalidInput({"hours_max": "学时上限不能小于下限。"})
        return cls(kind=clean_text(args.get("kind"))[:40], unit_id=int(unit) if unit else None, hours_min=low,
                   hours_max=high, q=clean_text(args.get("q"))[:50])


def _hours(raw, field: str) -> Decimal | None:
    text = clean_text(raw)
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput({field: "学时应为数字，如 8 或 2.5。"}) from None
    if not value.is_finite() or not 0 <= value <= MAX_HOURS:
        raise InvalidInput({field: f"学时应在 0 到 {MAX_HOURS} 之间。"})
    return value


def queue_query(actor: User, filters: ListFilters, queue: QueueFilters):
    """Select the declarations waiting for the actor's step, oldest first, narrowed by every filter given."""
    query = (sa.select(Declaration).join(User, Declaration.user_id == User.id)
             .where(review_queue_condition(actor)).order_by(Declaration.id))
    if queue.kind:
        query = query.where(Declaration.kind == queue.kind)
    if queue.unit_id is not None:
        # The applicant's unit or anything under a chosen organisation (a department narrows to its units).
        chosen = db.session.get(Org, queue.unit_id)
        query = query.where(sa.false()) if chosen is None else query.join(Org, User.org_id == Org.id).where(
            Org.path.startswith(chosen.path))
    if queue.hours_min is not None:
        query = query.where(Declaration.hours >= queue.hours_min)
    if queue.hours_max is not None:
        query = query.where(Declaration.hours <= queue.hours_max)
    if queue.q:
        query = query.where(sa.or_(Declaration.title.contains(queue.q, autoescape=True),
                                   User.name.contains(queue.q, autoescape=True),
                                   User.id_number == queue.q.upper()))
    return filters.apply(query, name=User.name, id_number=User.id_number, moment=Declaration.created_at)


def queue_kinds(actor: User) -> list[tuple[str, str]]:
    """The kinds present in the actor's queue, for the kind filter's choices."""
    return [(kind, label) for kind, label in db.session.execute(
        sa.select(Declaration.kind, sa.func.min(Declaration.kind_label))
        .where(review_queue_condition(actor)).group_by(Declaration.kind).order_by(Declaration.kind))]


def queue_units(actor: User) -> list[tuple[int, str]]:
    """The applicants' units present in the actor's queue, for the unit filter's choices."""
    return [(org_id, name) for org_id, name in db.session.execute(
        sa.select(Org.id, Org.name).join(User, User.org_id == Org.id).join(Declaration, Declaration.user_id == User.id)
        .where(review_queue_condition(actor)).group_by(Org.id, Org.name).order_by(Org.name))]
