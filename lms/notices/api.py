"""Notices over /api/v1: what applies to the caller (with read marks), and the publisher's own notices."""

from __future__ import annotations

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from lms.core.auth import api_user
from lms.core.clock import china_time
from lms.extensions import db
from lms.notices import service
from lms.notices.models import Notice
from lms.orgs.permissions import Permission

blp = Blueprint("notices_api", __name__, url_prefix="/api/v1", description="通知公告")
BEARER = [{"bearer": []}]


class NoticeBody(Schema):
    title = fields.String(load_default=None)
    body = fields.String(load_default=None, metadata={"description": "正文 HTML（只保留安全的子集）"})
    audience = fields.String(load_default=None, metadata={"description": "all、learners、admins 或 bases"})
    publish_date = fields.String(load_default=None, metadata={"description": "发布日期，默认今天"})
    expires_date = fields.String(load_default=None, metadata={"description": "截止日期（含当天），可不填"})
    pinned = fields.Raw(load_default=False, metadata={"description": "是否置顶（true/false）"})


def _notice_json(notice: Notice, *, read: bool | None = None, body: bool = False) -> dict:
    last_day = service.last_day(notice)
    item = {"id": notice.id, "title": notice.title, "org": {"id": notice.org_id, "name": notice.org.name},
            "audience": notice.audience.value, "pinned": notice.pinned,
            "publish_date": china_time(notice.publish_at, "%Y-%m-%d"),
            "expires_date": last_day.isoformat() if last_day else None,
            "attachments": [{"id": a.id, "filename": a.filename, "size_bytes": a.size_bytes,
                             "content_type": a.content_type} for a in notice.attachments]}
    if read is not None:
        item["read"] = read
    if body:
        item["body_html"] = notice.body_html
    return item


def _raw() -> dict:
    return request.get_json(silent=True) or {}


@blp.route("/notices", methods=["GET"])
@blp.doc(security=BEARER)
@api_user()
def notice_list():
    """The notices that apply to the caller, pinned first then newest, each with whether it was read."""
    rows = service.visible_notices(g.api_user)
    return {"items": [_notice_json(n, read=r) for n, r in rows],
            "unread": sum(1 for _, was_read in rows if not was_read)}


@blp.route("/notices/<int:notice_id>", methods=["GET"])
@blp.doc(security=BEARER)
@api_user()
def notice(notice_id: int):
    """One notice with its body; reading it leaves the read mark."""
    item = service.notice_for_reader(g.api_user, notice_id)
    service.mark_read(g.api_user, item)
    db.session.commit()
    return _notice_json(item, read=True, body=True)


@blp.route("/notices/published", methods=["GET"])
@blp.doc(security=BEARER)
@api_user(permission=Permission.PUBLISH_NOTICES)
def published():
    """The caller's organisation's own notices in every state."""
    return {"items": [{**_notice_json(n, body=True), "status": service.status_of(n)}
                      for n in service.published_by(g.api_user)]}


@blp.route("/notices", methods=["POST"])
@blp.doc(security=BEARER)
@blp.arguments(NoticeBody)
@api_user(permission=Permission.PUBLISH_NOTICES)
def publish(_args):
    """Publish a notice of the caller's organisation to its subtree (attachments: on the page)."""
    # The service reads the raw body itself, so that each problem gets its Chinese message.
    item, _keys = service.publish(g.api_user, _raw())
    db.session.commit()
    return _notice_json(item, body=True), 201


@blp.route("/notices/<int:notice_id>", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.arguments(NoticeBody)
@api_user(permission=Permission.PUBLISH_NOTICES)
def edit(_args, notice_id: int):
    """Replace a notice's fields; the body is sanitised again."""
    item, _keys = service.edit(g.api_user, notice_id, _raw())
    db.session.commit()
    return _notice_json(item, body=True)


@blp.route("/notices/<int:notice_id>/withdraw", methods=["POST"])
@blp.doc(security=BEARER)
@api_user(permission=Permission.PUBLISH_NOTICES)
def withdraw(notice_id: int):
    """Withdraw a notice: nobody sees it any more."""
    item = service.withdraw(g.api_user, notice_id)
    db.session.commit()
    return {**_notice_json(item), "status": service.status_of(item)}
