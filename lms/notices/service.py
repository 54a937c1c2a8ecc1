"""The rules of notices (信息发布): who publishes, what the body may contain, who sees what, read marks.

An HR bureau or competent department holding ``PUBLISH_NOTICES`` publishes to its own subtree; a person sees
a notice when it comes from an organisation on their path to the root (their own or an ancestor), is meant
for their audience, its publish day has come, it has not expired and was not withdrawn. The body is sanitised
with nh3 on every write, so what is stored is what is shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import nh3
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import Role, User
from lms.audit.service import record
from lms.core.clock import CHINA_TIME, china_date
from lms.core.db import utcnow
from lms.core.errors import InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.notices import attachments
from lms.notices.models import Notice, NoticeAttachment, NoticeAudience, NoticeRead
from lms.orgs.access import require
from lms.orgs.models import Org, OrgKind
from lms.orgs.permissions import Permission

TITLE_MAX = 120
BODY_MAX = 50_000
ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h2", "h3", "h4",
                "table", "caption", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def sanitise_body(html: str) -> str:
    """Keep only the safe subset of HTML: no script, style, event handler, or link other than http(s)/mailto."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=ALLOWED_URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow", strip_comments=True).strip()


def audience_of(user: User) -> NoticeAudience:
    """Name the audience a person belongs to: learners, bases, or the admins of units, departments and bureaus."""
    if user.role == Role.LEARNER:
        return NoticeAudience.LEARNERS
    if user.role == Role.BASE_ADMIN:
        return NoticeAudience.BASES
    return NoticeAudience.ADMINS


def _live(now: dt.datetime):
    return sa.and_(Notice.withdrawn_at.is_(None), Notice.publish_at <= now,
                   sa.or_(Notice.expires_at.is_(None), Notice.expires_at > now))


def _ordered(query):
    return query.order_by(Notice.pinned.desc(), Notice.publish_at.desc(), Notice.id.desc())


def visible_condition(user: User, now: dt.datetime | None = None):
    """A SQL condition: the notice is live, from the person's organisation or an ancestor, for their audience."""
    return sa.and_(_live(now or utcnow()), Notice.org_id.in_(user.org.ancestor_ids),
                   Notice.audience.in_([NoticeAudience.ALL, audience_of(user)]))


def visible_notices(user: User, now: dt.datetime | None = None) -> list[tuple[Notice, bool]]:
    """Return the notices that apply to the person, pinned first then newest, each with whether they read it."""
    read = sa.exists().where(NoticeRead.notice_id == Notice.id, NoticeRead.user_id == user.id)
    rows = db.session.execute(_ordered(sa.select(Notice, read).where(visible_condition(user, now)))).all()
    return [(notice, bool(was_read)) for notice, was_read in rows]


def unread_count(user: User, now: dt.datetime | None = None) -> int:
    """Count the notices that apply to the person and that they have not opened."""
    read = sa.exists().where(NoticeRead.notice_id == Notice.id, NoticeRead.user_id == user.id)
    return db.session.scalar(sa.select(sa.func.count(Notice.id)).where(visible_condition(user, now), ~read)) or 0


def _public_condition(now: dt.datetime):
    province_hr = sa.select(Org.id).where(Org.kind == OrgKind.PROVINCE_HR, Org.parent_id.is_(None))
    return sa.and_(_live(now), Notice.audience == NoticeAudience.ALL, Notice.org_id.in_(province_hr))


def public_notices(now: dt.datetime | None = None, limit: int = 10) -> list[Notice]:
    """Return the province's current public notices (province HR bureau, audience all) for the logged-out home."""
    return list(db.session.scalars(_ordered(sa.select(Notice).where(_public_condition(now or utcnow())))
                                   .limit(limit)))


def notice_for_reader(user: User | None, notice_id: Any) -> Notice:
    """Return a notice the person (or, logged out, the public) may read; anything else is 'not found'."""
    now = utcnow()
    condition = visible_condition(user, now) if user is not None else _public_condition(now)
    try:
        wanted = int(notice_id)
    except (TypeError, ValueError):
        wanted = None
    notice = db.session.scalar(sa.select(Notice).where(Notice.id == wanted, condition)) if wanted else None
    if notice is None:
        raise NotFound("通知不存在、尚未发布、已过期或不面向您。")
    return notice


def mark_read(user: User, notice: Notice) -> None:
    """Record that the person opened the notice, once however often (or concurrently) they open it."""
    exists = sa.select(NoticeRead.id).where(NoticeRead.notice_id == notice.id, NoticeRead.user_id == user.id)
    if db.session.scalar(exists) is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.add(NoticeRead(notice_id=notice.id, user_id=user.id))
    except IntegrityError:
        pass  # a concurrent open of the same notice wrote the mark first


# ------------------------------------------------------------------------------------------------ publishers


def _china_day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), CHINA_TIME).astimezone(dt.UTC).replace(tzinfo=None)


def _date(value: Any, field: str, label: str) -> dt.date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput({field: f"{label}“{text[:20]}”不是有效日期（格式 2026-12-31）。"}) from None


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "on", "yes", "y")


def parse_fields(raw: dict, today: dt.date | None = None) -> dict:
    """Check a notice's fields; return them ready to store, or raise InvalidInput naming every problem."""
    problems: dict[str, str] = {}
    title = str(raw.get("title") or "").strip()
    if not title:
        problems["title"] = "请填写通知标题。"
    elif len(title) > TITLE_MAX:
        problems["title"] = f"标题不能超过 {TITLE_MAX} 个字。"
    body_raw = str(raw.get("body") or "")
    body = sanitise_body(body_raw) if len(body_raw) <= BODY_MAX else ""
    if len(body_raw) > BODY_MAX:
        problems["body"] = f"正文不能超过 {BODY_MAX} 个字符。"
    elif not nh3.clean(body, tags=set()).strip():
        problems["body"] = "请填写通知正文。"
    try:
        audience = NoticeAudience(str(raw.get("audience") or ""))
    except ValueError:
        audience = None
        problems["audience"] = "请选择通知对象：所有人、专业技术人员、管理员或继续教育基地。"
    publish_on = expires_on = None
    try:
        publish_on = _date(raw.get("publish_date"), "publish_date", "发布日期") or today or china_date(utcnow())
        expires_on = _date(raw.get("expires_date"), "expires_date", "截止日期")
    except InvalidInput as problem:
        problems.update(problem.fields)
    if publish_on and expires_on and expires_on < publish_on:
        problems["expires_date"] = "截止日期不能早于发布日期。"
    if problems:
        raise InvalidInput(problems)
    return {"title": title, "body_html": body, "audience": audience, "pinned": _flag(raw.get("pinned")),
            "publish_at": _china_day_start(publish_on),
            "expires_at": _china_day_start(expires_on + dt.timedelta(days=1)) if expires_on else None}


def _publisher_org(actor: User) -> Org:
    return require(actor, Permission.PUBLISH_NOTICES)


def own_notice(actor: User, notice_id: Any) -> Notice:
    """Return a notice of the actor's own organisation for editing; refuse any other in Chinese."""
    home = _publisher_org(actor)
    try:
        notice = db.session.get(Notice, int(notice_id))
    except (TypeError, ValueError):
        notice = None
    if notice is None:
        raise NotFound("通知不存在。")
    if notice.org_id != home.id:
        raise NotAllowed("只能修改、撤回本单位发布的通知。")
    return notice


def published_by(actor: User) -> list[Notice]:
    """Return every notice of the actor's organisation, withdrawn ones too, pinned first then newest."""
    home = _publisher_org(actor)
    return list(db.session.scalars(_ordered(sa.select(Notice).where(Notice.org_id == home.id))))


def _snapshot(notice: Notice) -> dict:
    return {"title": notice.title, "audience": notice.audience.value, "pinned": notice.pinned,
            "publish_at": notice.publish_at.isoformat(),
            "expires_at": notice.expires_at.isoformat() if notice.expires_at else None,
            "attachments": len(notice.attachments)}


def _store(notice: Notice, checked: list) -> list[str]:
    rows = [NoticeAttachment(notice_id=notice.id, key=attachments.new_key(notice.id, f.extension),
                             filename=f.filename, content_type=f.content_type, size_bytes=f.size) for f in checked]
    db.session.add_all(rows)
    db.session.flush()
    stored: list[str] = []
    try:
        for row, file in zip(rows, checked, strict=True):
            attachments.put(row.key, file)
            stored.append(row.key)
    except BaseException:
        attachments.delete_quietly(stored)
        raise
    db.session.expire(notice, ["attachments"])
    return stored


def publish(actor: User, raw: dict, uploads: list[attachments.Upload] | None = None) -> tuple[Notice, list[str]]:
    """Publish a notice of the actor's organisation to its subtree; return it and the storage keys written."""
    home = _publisher_org(actor)
    fields = parse_fields(raw)
    checked = attachments.check_attachments(uploads or [], 0, attachments.AttachmentSettings.current())
    notice = Notice(org_id=home.id, created_by_id=actor.id, **fields)
    db.session.add(notice)
    db.session.flush()
    keys = _store(notice, checked)
    record(actor, "notice.publish", object_type="notice", object_id=notice.id, label=notice.title, org=home,
           after=_snapshot(notice))
    return notice, keys


def edit(actor: User, notice_id: Any, raw: dict,
         uploads: list[attachments.Upload] | None = None) -> tuple[Notice, list[str]]:
    """Change a notice of the actor's organisation (the body sanitised again); new attachments are added."""
    notice = own_notice(actor, notice_id)
    if notice.withdrawn_at is not None:
        raise InvalidInput({"notice": "通知已撤回，不能再修改。"})
    fields = parse_fields(raw)
    checked = attachments.check_attachments(uploads or [], len(notice.attachments),
                                            attachments.AttachmentSettings.current())
    before = _snapshot(notice)
    for name, value in fields.items():
        setattr(notice, name, value)
    notice.updated_at = utcnow()
    keys = _store(notice, checked)
    record(actor, "notice.edit", object_type="notice", object_id=notice.id, label=notice.title, org=notice.org,
           before=before, after=_snapshot(notice))
    return notice, keys


def withdraw(actor: User, notice_id: Any) -> Notice:
    """Withdraw a notice of the actor's organisation: nobody sees it any more; it stays in the publisher's list."""
    notice = own_notice(actor, notice_id)
    if notice.withdrawn_at is not None:
        raise InvalidInput({"notice": "通知已经撤回。"})
    notice.withdrawn_at = utcnow()
    record(actor, "notice.withdraw", object_type="notice", object_id=notice.id, label=notice.title,
           org=notice.org)
    return notice


def status_of(notice: Notice, now: dt.datetime | None = None) -> str:
    """Say where a notice stands for its publisher: withdrawn, scheduled, expired or published."""
    now = now or utcnow()
    if notice.withdrawn_at is not None:
        return "已撤回"
    if notice.publish_at > now:
        return "待发布"
    if notice.expires_at is not None and notice.expires_at <= now:
        return "已过期"
    return "已发布"


def last_day(notice: Notice) -> dt.date | None:
    """The China day a notice is shown through (its expiry date as the publisher entered it)."""
    return china_date(notice.expires_at - dt.timedelta(days=1)) if notice.expires_at else None


def attachment_of(notice: Notice, attachment_id: Any) -> NoticeAttachment:
    """Return one attachment of a notice the reader may already read."""
    for item in notice.attachments:
        if str(item.id) == str(attachment_id):
            return item
    raise NotFound("附件不存在。")
