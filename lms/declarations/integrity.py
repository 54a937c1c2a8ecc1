"""诚信档案 (学时管理办法第二十一条): a declaration found false is kept on the person's integrity record for 3 years.

Voiding (``service.void``) makes the record in the same transaction; the record is read by the HR bureaus above
the person (permission ``VIEW_INTEGRITY_RECORDS`` over the person's organisation) and by the title-review
interface (``lms.interop``). The retention is a setting, ``app.config["LMS_INTEGRITY_RECORD_YEARS"]`` (default 3,
第二十一条 "记录期限为3年"); each record keeps its own expiry date, so changing the setting changes only later records.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app

from lms.accounts.models import Role, User
from lms.audit import service as audit
from lms.core.errors import NotFound
from lms.declarations.integrity_models import IntegrityRecord
from lms.declarations.models import Declaration
from lms.extensions import db
from lms.ledger.service import china_today
from lms.orgs.access import admin_org, require
from lms.orgs.permissions import Permission

ARTICLE = "学时管理办法第二十一条"
DEFAULT_RETENTION_YEARS = 3


def retention_years() -> int:
    """The years a record is kept, from the setting (a whole number of at least 1)."""
    years = current_app.config.get("LMS_INTEGRITY_RECORD_YEARS", DEFAULT_RETENTION_YEARS)
    if isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise ValueError("LMS_INTEGRITY_RECORD_YEARS 设置无效：应为不小于 1 的整数（年）。")
    return years


def expiry_for(found_on: dt.date, years: int) -> dt.date:
    """The last day a record found on ``found_on`` is shown: ``years`` years later, less a day."""
    return found_on + relativedelta(years=years) - dt.timedelta(days=1)


def record_false_declaration(declaration: Declaration, actor: User, reason: str,
                             today: dt.date | None = None) -> IntegrityRecord:
    """Put a declaration found false on the person's integrity record (called by ``service.void``; caller commits)."""
    found_on = today or china_today()
    record = IntegrityRecord(user_id=declaration.user_id, declaration_id=declaration.id, year=declaration.year,
                             reason=reason, article=ARTICLE, found_by_id=actor.id,
                             found_by_org_id=(admin_org(actor) or actor.org).id, found_on=found_on,
                             expires_on=expiry_for(found_on, retention_years()))
    db.session.add(record)
    db.session.flush()
    audit.record(actor, "integrity.record", object_type="integrity_record", object_id=record.id,
                 label=f"{declaration.user.name}：{declaration.title}", org=declaration.user.org, reason=reason,
                 after={"declaration": declaration.id, "year": declaration.year,
                        "expires_on": record.expires_on.isoformat()})
    return record


def active_records(user_id: int, today: dt.date | None = None, years: tuple[int, int] | None = None,
                   ) -> list[IntegrityRecord]:
    """The person's records still within their retention, newest first; ``years`` narrows to declaration years."""
    today = today or china_today()
    query = sa.select(IntegrityRecord).where(IntegrityRecord.user_id == user_id, IntegrityRecord.expires_on >= today)
    if years is not None:
        query = query.where(IntegrityRecord.year.between(*years))
    return list(db.session.scalars(query.order_by(IntegrityRecord.found_at.desc(), IntegrityRecord.id.desc())))


def all_records(user_id: int) -> list[IntegrityRecord]:
    """Every record of the person, expired ones too (for the HR page, which marks them)."""
    return list(db.session.scalars(sa.select(IntegrityRecord).where(IntegrityRecord.user_id == user_id)
                                   .order_by(IntegrityRecord.found_at.desc(), IntegrityRecord.id.desc())))


def person_for_viewer(actor: User, person_id: int) -> User:
    """Return a learner whose record the actor may read: HR bureaus above the person only; others are refused."""
    person = db.session.get(User, person_id)
    if person is None or person.role != Role.LEARNER:
        raise NotFound("人员不存在。")
    require(actor, Permission.VIEW_INTEGRITY_RECORDS, person.org,
            message=f"{person.name}不在本辖区内，或当前账号没有“{Permission.VIEW_INTEGRITY_RECORDS.label}”权限。")
    return person


def is_active(record: IntegrityRecord, today: dt.date | None = None) -> bool:
    return record.expires_on >= (today or china_today())


def as_json(record: IntegrityRecord) -> dict:
    """A record as the HR API and the title-review interface give it."""
    return {"id": record.id, "year": record.year, "declaration_id": record.declaration_id,
            "declaration_title": record.declaration.title, "reason": record.reason, "article": record.article,
            "found_by_org": record.found_by_org.name, "found_on": record.found_on.isoformat(),
            "expires_on": record.expires_on.isoformat()}
